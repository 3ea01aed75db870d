import { ListenerSession, type ListenerSessionOptions, type SessionEvent } from '../../src/fix/session.js';
import { settle } from './manual-clock.js';
import { duplexPair, MemoryPeer } from './memory-peer.js';
import { API_KEY, testKeys } from './sim.js';

/**
 * A ListenerSession on in-memory streams, with what it did kept for the test: the session driver
 * tests (fake timers) and the timer tests (an injected clock) drive it the same way.
 */
export interface Driven {
  session: ListenerSession;
  peers: MemoryPeer[];
  events: SessionEvent[];
  /** ExecIDs of the application messages delivered. */
  reports: string[];
  /** Connection attempts made. */
  attempts(): number;
  /** The peer of the newest connection. */
  peer(): MemoryPeer;
  errors(): string[];
  states(): string[];
  delays(): number[];
}

/**
 * How the in-memory connection opens: `answers` connects at once; `silent` never connects (SYNs
 * dropped); `tcpOnly` is a TLS socket whose TCP connects and whose handshake never ends.
 */
export type Opening = 'answers' | 'silent' | 'tcpOnly';

/** A session to `fix.test` (KalshiNR unless told), HeartBtInt 3 s, jitter-free back-off. */
export function drive(options: Partial<ListenerSessionOptions> = {}, opening: Opening = 'answers'): Driven {
  const peers: MemoryPeer[] = [];
  const events: SessionEvent[] = [];
  const reports: string[] = [];
  const target = options.targetCompId ?? 'KalshiNR';
  const session = new ListenerSession({
    host: 'fix.test',
    port: 8228,
    senderCompId: API_KEY,
    targetCompId: target,
    privateKey: testKeys().privateKey,
    heartbeatIntervalS: 3,
    random: () => 0,
    ...options,
    connect: () => {
      const [ours, theirs] = duplexPair();
      peers.push(new MemoryPeer(theirs, target, API_KEY));
      // A TLS socket is told apart by its `encrypted` property: it is ready at `secureConnect`.
      if (opening === 'tcpOnly') Object.assign(ours, { encrypted: true });
      if (opening !== 'silent') setImmediate(() => ours.emit('connect'));
      return ours;
    },
    onApplicationMessage: (message) => reports.push(message.get(17)!),
    onEvent: (event) => events.push(event),
  });
  return {
    session,
    peers,
    events,
    reports,
    attempts: () => peers.length,
    peer: () => peers.at(-1)!,
    errors: () => events.flatMap((e) => (e.kind === 'error' ? [e.error.code] : [])),
    states: () => events.flatMap((e) => (e.kind === 'state' ? [e.to] : [])),
    delays: () => events.flatMap((e) => (e.kind === 'reconnect_scheduled' ? [e.delayMs] : [])),
  };
}

/** Connects and answers the Logon: the session is active once this returns. */
export async function loggedOn(d: Driven, heartbeatS = 3): Promise<MemoryPeer> {
  d.session.start();
  await settle();
  const peer = d.peer();
  peer.logon(heartbeatS);
  await settle();
  if (d.session.state !== 'active') throw new Error(`the session is ${d.session.state} after its Logon`);
  return peer;
}
