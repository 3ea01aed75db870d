// Harness for the second independent exchange: jspurefix (npm, pure TypeScript), run in-process as a
// FIXT.1.1 / FIX.5.0SP2 acceptor on its own TLS listener. Needs nothing but `npm ci`.
//
// What it takes to make jspurefix play Kalshi:
// - Dictionary: jspurefix validates every inbound message against its dictionary, and its Logon
//   (QuickFIX's FIX50SP2.xml) has no ListenerSession(20126), SkipPendingExecReports(21011) or
//   MessageRetentionPeriod(20200), so it would reject our Logon ("invalid tags"). A copy of that
//   dictionary with the three Kalshi fields declared on Logon (bench/jspurefix-kalshi.ts, shared
//   with the bench's jspurefix client) is written to a temp dir; validation stays on.
// - TLS: jspurefix's TLS listener drops any client that presents no certificate unless
//   `rejectUnauthorized` is false, even with `requestCert` false. Kalshi does not use client
//   certificates, so the acceptor runs with both off. Key and certificate are handed over in memory
//   (`nodeTlsServerOptions`); its `key`/`cert` file paths resolve against jspurefix's package root.
// - Port: the listener binds the configured port on all interfaces and exposes no address, so it is
//   given port 0 and the bound port is read from its (private) server.
// - Identity: TargetCompID `*` makes jspurefix adopt each client's SenderCompID on Logon and open
//   that client's session store: tests use distinct API keys against one listener. The stores are
//   jspurefix's in-memory ones, kept per client across connections, so a reconnecting client resumes
//   its sequence numbers (KalshiRT). (Its file store persists them with unserialised async writes,
//   which a client reconnecting within milliseconds can overtake.)
// - Resend: jspurefix replays only what the application put in the session's message store; this
//   harness stores nothing, so a ResendRequest is answered with one SequenceReset-GapFill.
//
// Loading jspurefix and parsing the dictionary take a few seconds and ~300 MB: start one acceptor
// per test file.

import { constants, verify, type KeyObject } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import type { AddressInfo, Server } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type {
  FixEntity,
  IFixSessionStore,
  IJsFixConfig,
  IJsFixLogger,
  ILooseObject,
  ISessionDescription,
  MsgView,
} from 'jspurefix';
import { jspurefix, kalshiDictionary } from '../../bench/jspurefix-kalshi.js';

/** One line the exchange sent or received, SOH shown as `|`. */
export interface WireLine {
  direction: 'recv' | 'sent';
  /** The client's CompID: SenderCompID(49) of what was received, TargetCompID(56) of what was sent. */
  peer: string;
  text: string;
}

/** One logged-on FIX session on the exchange side (one per client connection). */
export interface ExchangePeer {
  /** The client's SenderCompID. */
  readonly compId: string;
  /** The jspurefix session state name (e.g. ActiveNormalSession, ConfirmingLogout). */
  state(): string;
  /**
   * Whether jspurefix has ended this session (its onStopped ran). Its state name is no guide: a
   * session that confirmed the client's Logout stays `ConfirmingLogout` after it stopped.
   */
  ended(): boolean;
  /** Encodes and sends an application message through jspurefix (e.g. `8` with an object body). */
  sendApplication(msgType: string, body: ILooseObject): void;
  /** A TestRequest(1) with this TestReqID. */
  testRequest(id: string): void;
  /** Skips `count` outbound sequence numbers: the next message goes out with a gap before it. */
  skipSequenceNumbers(count: number): void;
  /** Exchange-initiated Logout with this Text; jspurefix then waits for the client's confirmation. */
  logout(text: string): void;
}

export interface JspurefixAcceptorOptions {
  /** Exchange CompID (tag 56 in the client's messages), e.g. `KalshiRT`. */
  senderCompId: string;
  /** Heartbeat interval the exchange keeps and announces in its Logon reply. */
  heartBtIntS: number;
  /** PEM key and certificate of the TLS listener. */
  certificate: { key: string; cert: string };
  /** Public half of the clients' API key: a Logon whose RawData(96) does not verify is refused. */
  publicKey: KeyObject;
}

export interface JspurefixAcceptor {
  /** TLS port (jspurefix listens on all interfaces; clients use 127.0.0.1). */
  readonly port: number;
  /** Every message the exchange sent or received, all clients, in order. */
  readonly lines: readonly WireLine[];
  /** Messages exchanged with one client, in order (across its reconnects). */
  linesFor(peer: string, direction?: WireLine['direction']): string[];
  /** The live session for a client once its Logon was accepted (the latest one after a reconnect). */
  peer(compId: string): ExchangePeer | undefined;
  /** How many Logons from this client the exchange accepted. */
  logons(compId: string): number;
  /** jspurefix's own log, most recent lines, for failure messages. */
  log(): string;
  stop(): Promise<void>;
}

/** Kalshi's scheme, checked here independently of src/: RSA-PSS SHA-256, salt 32, base64 in 96. */
function verifyKalshiLogon(view: MsgView, publicKey: KeyObject): boolean {
  const signature = view.getString(96);
  if (signature === null) return false;
  const payload = [52, 'A', 34, 49, 56]
    .map((tag) => (typeof tag === 'string' ? tag : (view.getString(tag) ?? '')))
    .join('\x01');
  try {
    return verify(
      'sha256',
      Buffer.from(payload, 'utf8'),
      { key: publicKey, padding: constants.RSA_PKCS1_PSS_PADDING, saltLength: 32 },
      Buffer.from(signature, 'base64'),
    );
  } catch {
    return false; // malformed signature: refused like a wrong one
  }
}

export async function startJspurefixAcceptor(opts: JspurefixAcceptorOptions): Promise<JspurefixAcceptor> {
  const jsfix = jspurefix();
  const work = await mkdtemp(join(tmpdir(), 'jspurefix-acceptor-'));
  const lines: WireLine[] = [];
  const peers = new Map<string, ExchangePeer>();
  const logonCounts = new Map<string, number>();
  const log: string[] = [];

  const record = (text: string): void => {
    log.push(text);
    if (log.length > 400) log.splice(0, log.length - 300);
  };
  const logger = (type: string): IJsFixLogger => ({
    info: (message) => record(`${type} info: ${message}`),
    warning: (message) => record(`${type} warning: ${message}`),
    debug: () => undefined,
    error: (e) => record(`${type} error: ${e.message}`),
  });
  class CapturingLogFactory extends jsfix.JsFixLoggerFactory {
    override logger(type: string): IJsFixLogger {
      return logger(type);
    }
    override plain(fileName: string): IJsFixLogger {
      return logger(fileName);
    }
  }

  const wire = (direction: WireLine['direction'], text: string): void => {
    const peer = new RegExp(`\\|${direction === 'recv' ? 49 : 56}=([^|]*)\\|`).exec(text)?.[1] ?? '?';
    lines.push({ direction, peer, text });
  };

  class ExchangeSession extends jsfix.AsciiSession implements ExchangePeer {
    compId = '?';
    #ended = false;

    constructor(config: IJsFixConfig) {
      super(config);
    }

    state(): string {
      return this.stateString();
    }

    ended(): boolean {
      return this.#ended;
    }

    sendApplication(msgType: string, body: ILooseObject): void {
      this.send(msgType, body);
    }

    testRequest(id: string): void {
      const request = this.config.factory?.testRequest(id);
      if (request !== undefined) this.send(jsfix.MsgType.TestRequest, request);
    }

    skipSequenceNumbers(count: number): void {
      const transmitter = this.transport?.transmitter as { msgSeqNum: number } | undefined;
      if (transmitter === undefined) throw new Error('no transport');
      transmitter.msgSeqNum += count;
    }

    logout(text: string): void {
      // What FixSession.sessionLogout does, with our Text instead of jspurefix's fixed one.
      this.setState(jsfix.SessionState.WaitingLogoutConfirm);
      this.sessionState.logoutSentAt = new Date();
      this.sendLogout(text);
    }

    protected override onLogon(view: MsgView): boolean {
      return verifyKalshiLogon(view, opts.publicKey);
    }

    protected override onReady(view: MsgView): void {
      this.compId = view.getString(49) ?? '?';
      peers.set(this.compId, this);
      logonCounts.set(this.compId, (logonCounts.get(this.compId) ?? 0) + 1);
    }

    protected override onApplicationMsg(): void {
      // A listener sends no application messages; whatever arrives is in `lines`.
    }

    protected override onDecoded(_msgType: string, txt: string): void {
      wire('recv', txt);
    }

    protected override onEncoded(_msgType: string, txt: string): void {
      wire('sent', txt);
    }

    protected override onStopped(error?: Error): void {
      this.#ended = true;
      record(`session ${this.compId} stopped${error ? `: ${error.message}` : ''}`);
    }
  }

  const description = {
    application: {
      type: 'acceptor',
      name: 'jspurefix-exchange',
      protocol: 'ascii',
      dictionary: await kalshiDictionary(work),
      tcp: {
        host: '127.0.0.1',
        port: 0,
        tls: {
          requestCert: false,
          rejectUnauthorized: false,
          nodeTlsServerOptions: { key: opts.certificate.key, cert: opts.certificate.cert },
        },
      },
    },
    BeginString: 'FIXT.1.1',
    SenderCompId: opts.senderCompId,
    TargetCompID: jsfix.AsciiSession.WildcardCompId,
    HeartBtInt: opts.heartBtIntS,
    ResetSeqNumFlag: false,
    Logon: { DefaultApplVerID: '9' },
  } as unknown as ISessionDescription;

  const system = new jsfix.SessionContainer();
  system.registerGlobal(new CapturingLogFactory());
  const container = await system.makeSystem(description);
  // Each accepted connection's scope copies this factory: one store per SessionId, for the run.
  const stores = new Map<string, IFixSessionStore>();
  container.resolve<IJsFixConfig>(jsfix.DITokens.IJsFixConfig).sessionStoreFactory = {
    create: (id) => {
      const store = stores.get(id.toString()) ?? new jsfix.MemorySessionStore(id);
      stores.set(id.toString(), store);
      return store;
    },
  };
  container.register(jsfix.DITokens.FixSession, {
    useFactory: (c) => new ExchangeSession(c.resolve<IJsFixConfig>(jsfix.DITokens.IJsFixConfig)),
  });
  const listener = container.resolve<FixEntity>(jsfix.DITokens.FixEntity);
  // start() binds synchronously and resolves only once the listener is stopped.
  const running = listener.start().then(
    () => undefined,
    (error: unknown) => record(`listener failed: ${String(error)}`),
  );
  let stopped = false;
  const stop = async (): Promise<void> => {
    if (stopped) return;
    stopped = true;
    (listener as unknown as { stop(): void }).stop();
    await running;
    await rm(work, { recursive: true, force: true });
  };

  let port: number;
  try {
    const server = (listener as unknown as { acceptor?: { server?: Server } }).acceptor?.server;
    if (server === undefined) throw new Error('jspurefix TcpAcceptorListener no longer exposes acceptor.server');
    if (!server.listening) {
      await new Promise<void>((resolve, reject) => {
        server.once('listening', resolve);
        server.once('error', reject);
      });
    }
    port = (server.address() as AddressInfo).port;
  } catch (error) {
    await stop();
    throw error;
  }

  return {
    port,
    lines,
    linesFor: (peer, direction) =>
      lines.filter((l) => l.peer === peer && (direction === undefined || l.direction === direction)).map((l) => l.text),
    peer: (compId) => peers.get(compId),
    logons: (compId) => logonCounts.get(compId) ?? 0,
    log: () => log.slice(-40).join('\n'),
    stop,
  };
}
