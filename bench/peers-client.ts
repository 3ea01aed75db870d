/** The listener process's handle on peers.ts: fork it, send it commands, await its replies. */
import { generateKeyPairSync, type KeyObject } from 'node:crypto';
import { ChildChannel } from './child-channel.js';

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
  readonly #channel: ChildChannel<PeerCommand, PeerReply>;
  /** The listener's key; the simulator gets the public half to check the Logon signature. */
  readonly privateKey: KeyObject;
  readonly #publicKeyPem: string;
  address!: PeersAddress;

  private constructor() {
    const keys = generateKeyPairSync('rsa', { modulusLength: 2048 });
    this.privateKey = keys.privateKey;
    this.#publicKeyPem = keys.publicKey.export({ type: 'spki', format: 'pem' }).toString();
    this.#channel = new ChildChannel(new URL('./peers.js', import.meta.url), 'peers');
  }

  static async start(): Promise<Peers> {
    const peers = new Peers();
    const ready = await peers.#channel.send({ cmd: 'start', publicKeyPem: peers.#publicKeyPem });
    if (ready.type !== 'ready') throw new Error(`peers did not start: ${JSON.stringify(ready)}`);
    peers.address = { fix: ready.fix, aws: ready.aws };
    return peers;
  }

  /** Emits `count` reports as fast as possible; resolves when all are generated (not yet read). */
  async emit(count: number, batch = 500): Promise<{ generated: number; fills: number }> {
    const reply = await this.#channel.send({ cmd: 'emit', count, batch });
    if (reply.type !== 'emitted') throw new Error(`emit failed: ${JSON.stringify(reply)}`);
    return reply;
  }

  async setRate(perSecond: number): Promise<void> {
    await this.#channel.send({ cmd: 'rate', perSecond });
  }

  async stats(): Promise<{ generated: number; fills: number; rssBytes: number }> {
    const reply = await this.#channel.send({ cmd: 'stats' });
    if (reply.type !== 'stats') throw new Error(`stats failed: ${JSON.stringify(reply)}`);
    return reply;
  }

  async stop(): Promise<void> {
    await this.#channel.send({ cmd: 'stop' }).catch(() => undefined);
    await this.#channel.end(5000);
  }
}
