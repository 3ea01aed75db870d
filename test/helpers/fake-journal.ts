import { ConsumerLoop, type ConsumerLoopOptions } from '../../src/pipeline/consumer-loop.js';

/** A journal that announces durable LSNs when the test says so (what a ConsumerLoop listens to). */
export function fakeJournal() {
  const listeners = new Set<(lsn: number) => void>();
  return {
    onDurable(listener: (lsn: number) => void) {
      listeners.add(listener);
      return () => listeners.delete(listener);
    },
    durable(lsn: number) {
      for (const listener of listeners) listener(lsn);
    },
    get listeners() {
      return listeners.size;
    },
  };
}

/** The sink a test loop runs for, as /status would name it. */
export const SINK = { name: 'archive', location: 'file:///archive/' };

/**
 * A ConsumerLoop on a fresh fakeJournal, ticking each second; `body` is handed the loop so it can
 * sleep and watch `running`. A failure is rethrown unless `options` brings its own onFailure, so
 * a test that does not expect one never passes over it. `options` also brings a clock, a retry…
 */
export function loopOnFakeJournal(
  body: (loop: ConsumerLoop) => Promise<void>,
  options: Partial<Omit<ConsumerLoopOptions, 'journal' | 'body'>> = {},
) {
  const journal = fakeJournal();
  const loop: ConsumerLoop = new ConsumerLoop({
    journal,
    sink: SINK,
    tickMs: 1000,
    body: () => body(loop),
    onFailure: (error) => {
      throw error;
    },
    ...options,
  });
  return { journal, loop };
}
