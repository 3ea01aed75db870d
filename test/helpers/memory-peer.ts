import { Duplex } from 'node:stream';
import { FixDecoder } from '../../src/fix/decoder.js';
import { encodeMessage, type Field } from '../../src/fix/encoder.js';
import type { FixMessage } from '../../src/fix/message.js';
import { formatUtcTimestamp } from '../../src/fix/time.js';

/** Two connected in-memory streams: what one writes, the other reads; destroying one closes both. */
export function duplexPair(): [Duplex, Duplex] {
  const sides: Duplex[] = [];
  const make = (other: () => Duplex): Duplex =>
    new Duplex({
      read() {},
      write(chunk: Buffer, _encoding, callback) {
        other().push(chunk);
        callback();
      },
      final(callback) {
        other().push(null);
        callback();
      },
    });
  sides.push(
    make(() => sides[1]!),
    make(() => sides[0]!),
  );
  const [a, b] = sides as [Duplex, Duplex];
  a.once('close', () => b.destroy());
  b.once('close', () => a.destroy());
  return [a, b];
}

/**
 * The exchange's end of one in-memory connection: reads what the listener sends (decoded) and
 * writes frames back with its own MsgSeqNum. No socket, no TLS: timers are the test's to drive.
 */
export class MemoryPeer {
  readonly received: FixMessage[] = [];
  seq = 1;
  /** Answer the listener's Logout with a Logout (default); false plays a peer that never does. */
  answerLogout = true;
  readonly #socket: Duplex;
  readonly #target: string;
  readonly #sender: string;

  constructor(socket: Duplex, sender: string, target: string) {
    this.#socket = socket;
    this.#sender = sender;
    this.#target = target;
    // A Logout is answered with a Logout, as any engine does.
    const decoder = new FixDecoder({
      onMessage: (m) => {
        this.received.push(m);
        if (m.msgType === '5' && this.answerLogout && !socket.destroyed) {
          this.send('5');
          socket.end();
        }
      },
      onError: () => undefined,
    });
    socket.on('data', (chunk: Buffer) => decoder.push(chunk));
    socket.on('error', () => undefined);
  }

  /** MsgTypes received, in order. */
  get types(): string[] {
    return this.received.map((m) => m.msgType);
  }

  get closed(): boolean {
    return this.#socket.destroyed;
  }

  send(msgType: string, body: readonly Field[] = [], options: { seq?: number; possDup?: boolean } = {}): void {
    const seq = options.seq ?? this.seq;
    this.seq = seq + 1;
    this.#socket.write(
      encodeMessage(
        msgType,
        {
          senderCompId: this.#sender,
          targetCompId: this.#target,
          msgSeqNum: seq,
          sendingTime: formatUtcTimestamp(Date.now()),
          ...(options.possDup === true ? { possDup: true } : {}),
        },
        body,
      ),
    );
  }

  /** Raw bytes, e.g. the start of a frame that never ends. */
  write(bytes: string): void {
    this.#socket.write(Buffer.from(bytes, 'latin1'));
  }

  logon(heartbeatS: number, options: { reset?: boolean } = {}): void {
    this.send('A', [[98, 0], [108, heartbeatS], ...(options.reset === true ? ([[141, 'Y']] as const) : [])]);
  }

  report(execId: string): void {
    this.send('8', [
      [17, execId],
      [150, 'F'],
    ]);
  }

  close(): void {
    this.#socket.destroy();
  }
}
