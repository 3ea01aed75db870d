/**
 * Holds whoever awaits it until the test lets them through: a fake's send that must hang in
 * flight awaits `untilReleased()`, and the test counts what hangs (`held`) and lets it all go.
 */
export class Gate {
  readonly #held: Array<() => void> = [];

  /** Resolves at the next release(). */
  untilReleased(): Promise<void> {
    return new Promise<void>((resolve) => this.#held.push(resolve));
  }

  /** How many are waiting at the gate. */
  get held(): number {
    return this.#held.length;
  }

  /** Lets every waiter through; later arrivals wait for the next release. */
  release(): void {
    for (const resolve of this.#held.splice(0)) resolve();
  }
}
