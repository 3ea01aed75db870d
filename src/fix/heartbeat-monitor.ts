/** What the heartbeat clock asks for at one tick. */
export type LivenessAction = 'none' | 'heartbeat' | 'test_request' | 'timeout';

/**
 * Liveness of one logged-on FIX session (kalshi-fix-margin.md §3). It counts complete messages,
 * never bytes: a peer that trickles one endless frame is as silent as one that sends nothing, and
 * is dropped as surely. Pure: the driver feeds it times and runs its answer.
 *
 * - nothing received for 1.2 × HeartBtInt: send a TestRequest (once until answered);
 * - nothing received for 2 × HeartBtInt: the connection is dead;
 * - nothing sent for HeartBtInt: send a Heartbeat (at the last tick before it is due, not after).
 */
export class HeartbeatMonitor {
  readonly intervalMs: number;
  #lastReceivedAt: number | undefined;
  #lastSentAt: number | undefined;
  #pending: string | undefined;
  #counter = 0;

  constructor(heartbeatIntervalS: number) {
    this.intervalMs = heartbeatIntervalS * 1000;
  }

  /** How often the driver should tick: often enough to act within a quarter interval. */
  get tickMs(): number {
    return Math.max(50, Math.min(1000, this.intervalMs / 4));
  }

  /** The TestReqID we are waiting for, if any. */
  get pendingTestRequest(): string | undefined {
    return this.#pending;
  }

  /** When the last complete message arrived (epoch ms of its chunk), across connections. */
  get lastReceivedAt(): number | undefined {
    return this.#lastReceivedAt;
  }

  get lastSentAt(): number | undefined {
    return this.#lastSentAt;
  }

  /** Logged on: the Logon was sent and its reply received, both already told. */
  start(): void {
    this.#pending = undefined;
  }

  /** A complete message arrived (its chunk was read at `at`). */
  received(at: number): void {
    this.#lastReceivedAt = at;
  }

  sent(at: number): void {
    this.#lastSentAt = at;
  }

  /** A Heartbeat arrived; it answers our TestRequest if it echoes its id. */
  heartbeat(testReqId: string | undefined): void {
    if (this.#pending !== undefined && testReqId === this.#pending) this.#pending = undefined;
  }

  silentFor(now: number): number {
    return now - (this.#lastReceivedAt ?? now);
  }

  tick(now: number): LivenessAction {
    const silentFor = this.silentFor(now);
    if (silentFor >= 2 * this.intervalMs) return 'timeout';
    if (silentFor >= 1.2 * this.intervalMs && this.#pending === undefined) {
      this.#pending = `TEST-${++this.#counter}`;
      return 'test_request';
    }
    // Due when waiting for the next tick would send it late: a peer probes at 1.2 × HeartBtInt,
    // and a quarter-interval tick could otherwise put our Heartbeat at 1.25 ×.
    return now - (this.#lastSentAt ?? now) + this.tickMs > this.intervalMs ? 'heartbeat' : 'none';
  }
}
