/**
 * One FIX client in a process of its own (client-process.ts), driven over the fork IPC channel:
 * the listener (the real ListenerService, as bench/listener.ts wires it), the floor
 * (floor-client.ts) or jspurefix (jspurefix-client.ts). Alone in its process, each one's
 * `process.cpuUsage()` (all threads) and RSS are its own, measured the same way for all three,
 * and several can run side by side against their own peers.
 */
import { ChildChannel } from './child-channel.js';
import type { ArchiveKind, FillsKind } from './listener.js';
import type { Peers, PeersAddress } from './peers-client.js';

export type ClientSpec =
  | {
      kind: 'listener';
      archive: ArchiveKind;
      fills: FillsKind;
      /** The typed Parquet copy (default on, as deployed). */
      parquet?: boolean;
      lingerMs?: number;
    }
  | { kind: 'floor' }
  | { kind: 'jspurefix' };

/** Running totals in the client's process at one instant. */
export interface ClientSample {
  /** process.cpuUsage(): this process, all its threads, µs. */
  userUs: number;
  systemUs: number;
  /** CPU µs of the processes it started (the listener's Parquet builder), running total; null without /proc. */
  childrenUs: number | null;
  /** Reports durable (listener: in the journal; floor: messages in its file; jspurefix: reports in its file). */
  reports: number;
  /** Fills the listener's fill sink took (0 for the references). */
  fills: number;
  rssBytes: number;
  /** Highest RSS since the last sample that asked for tracking (100 ms sampler), else the current RSS. */
  peakRssBytes: number;
  /** performance.now() in the client (ms): intervals only. */
  at: number;
}

export type ClientCommand =
  | { cmd: 'start'; spec: ClientSpec; address: PeersAddress; privateKeyPem: string }
  | { cmd: 'sample'; trackPeak?: boolean }
  | { cmd: 'wait'; reports: number; fills: number; timeoutMs: number }
  | { cmd: 'stop' };

export type ClientReply =
  { type: 'ready'; startMs: number } | { type: 'sample'; sample: ClientSample } | { type: 'error'; message: string };

export class BenchClient {
  readonly #channel: ChildChannel<ClientCommand, ClientReply>;
  readonly spec: ClientSpec;
  #stopped = false;

  private constructor(spec: ClientSpec) {
    this.spec = spec;
    this.#channel = new ChildChannel(new URL('./client-process.js', import.meta.url), `client ${spec.kind}`);
  }

  /** Forks the client's process and resolves once it is logged on to the simulator in `peers`. */
  static async start(spec: ClientSpec, peers: Peers): Promise<BenchClient> {
    const client = new BenchClient(spec);
    try {
      const privateKeyPem = peers.privateKey.export({ type: 'pkcs8', format: 'pem' }).toString();
      const reply = await client.#channel.send({ cmd: 'start', spec, address: peers.address, privateKeyPem });
      if (reply.type !== 'ready') throw new Error(`client did not start: ${JSON.stringify(reply)}`);
      return client;
    } catch (error) {
      client.#channel.kill();
      throw error;
    }
  }

  async sample(trackPeak = false): Promise<ClientSample> {
    const reply = await this.#channel.send({ cmd: 'sample', trackPeak });
    if (reply.type !== 'sample') throw new Error(`sample failed: ${JSON.stringify(reply)}`);
    return reply.sample;
  }

  /** Resolves once `reports` are durable and `fills` sent (totals since the client started). */
  async waitFor(reports: number, fills: number, timeoutMs: number): Promise<ClientSample> {
    const reply = await this.#channel.send({ cmd: 'wait', reports, fills, timeoutMs });
    if (reply.type !== 'sample') throw new Error(`wait failed: ${JSON.stringify(reply)}`);
    return reply.sample;
  }

  /**
   * Stops the client as it stops for real (the listener: service.stop(), its archive flushed;
   * the references: Logout, the file's last write durable) and samples it then; the process exits.
   */
  async stop(): Promise<ClientSample> {
    this.#stopped = true;
    const reply = await this.#channel.send({ cmd: 'stop' });
    await this.#channel.end(5000);
    if (reply.type !== 'sample') throw new Error(`stop failed: ${JSON.stringify(reply)}`);
    return reply.sample;
  }

  /** Ends the client, gracefully if it answers within 15 s (unmeasured: cleanup), else by signal. */
  async kill(): Promise<void> {
    if (this.#channel.gone) return;
    if (!this.#stopped && !this.#channel.busy)
      await Promise.race([this.stop().catch(() => undefined), new Promise((resolve) => setTimeout(resolve, 15_000))]);
    this.#channel.kill('SIGKILL');
    await this.#channel.end(5000, 'SIGKILL');
  }
}
