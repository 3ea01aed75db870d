/** The listener process's handle on peers.ts: fork it, send it commands, await its replies. */
import { fork, type ChildProcess } from 'node:child_process';
import { generateKeyPairSync, type KeyObject } from 'node:crypto';
import { fileURLToPath } from 'node:url';

export type PeerCommand =
  | { cmd: 'start'; publicKeyPem: string }
  | { cmd: 'emit'; count: number; batch: number }
  | { cmd: 'rate'; perSecond: number }
  | { cmd: 'stats' }
  | { cmd: 'stop' };

export interface PeersAddress {
  fix: { host: string; port: number; ca: string };
  aws: { endpoint: string; bucket: string; queueUrl: string };
}

/** What a listener (or a reference client) needs of the peers: where they are, and its key. */
export interface PeersHandle {
  readonly address: PeersAddress;
  readonly privateKey: KeyObject;
}

export type PeerReply =
  | ({ type: 'ready' } & PeersAddress)
  | { type: 'emitted'; generated: number; fills: number }
  | { type: 'stats'; generated: number; fills: number; rssBytes: number }
  | { type: 'ok' }
  | { type: 'error'; message: string };

export class Peers implements PeersHandle {
  readonly #child: ChildProcess;
  /** The listener's key; the simulator gets the public half to check the Logon signature. */
  readonly privateKey: KeyObject;
  readonly #publicKeyPem: string;
  address!: PeersAddress;
  #waiting: ((reply: PeerReply) => void) | undefined;
  #exited: Promise<void>;

  private constructor() {
    const keys = generateKeyPairSync('rsa', { modulusLength: 2048 });
    this.privateKey = keys.privateKey;
    this.#child = fork(fileURLToPath(new URL('./peers.js', import.meta.url)), [], {
      execArgv: [],
      stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
    });
    this.#child.on('message', (reply: PeerReply) => {
      const waiter = this.#waiting;
      this.#waiting = undefined;
      waiter?.(reply);
    });
    this.#exited = new Promise((resolve) => this.#child.once('exit', () => resolve()));
    this.#publicKeyPem = keys.publicKey.export({ type: 'spki', format: 'pem' }).toString();
  }

  static async start(): Promise<Peers> {
    const peers = new Peers();
    const ready = await peers.#send({ cmd: 'start', publicKeyPem: peers.#publicKeyPem });
    if (ready.type !== 'ready') throw new Error(`peers did not start: ${JSON.stringify(ready)}`);
    peers.address = { fix: ready.fix, aws: ready.aws };
    return peers;
  }

  /** Emits `count` reports as fast as possible; resolves when all are generated (not yet read). */
  async emit(count: number, batch = 500): Promise<{ generated: number; fills: number }> {
    const reply = await this.#send({ cmd: 'emit', count, batch });
    if (reply.type !== 'emitted') throw new Error(`emit failed: ${JSON.stringify(reply)}`);
    return reply;
  }

  async setRate(perSecond: number): Promise<void> {
    await this.#send({ cmd: 'rate', perSecond });
  }

  async stats(): Promise<{ generated: number; fills: number; rssBytes: number }> {
    const reply = await this.#send({ cmd: 'stats' });
    if (reply.type !== 'stats') throw new Error(`stats failed: ${JSON.stringify(reply)}`);
    return reply;
  }

  async stop(): Promise<void> {
    if (this.#child.connected) await this.#send({ cmd: 'stop' }).catch(() => undefined);
    await Promise.race([this.#exited, new Promise((resolve) => setTimeout(resolve, 5000))]);
    if (this.#child.exitCode === null) this.#child.kill();
  }

  #send(command: PeerCommand): Promise<PeerReply> {
    if (this.#waiting !== undefined) throw new Error('one peers command at a time');
    return new Promise((resolve, reject) => {
      this.#waiting = (reply) =>
        reply.type === 'error' ? reject(new Error(`peers: ${reply.message}`)) : resolve(reply);
      this.#child.send(command);
    });
  }
}
