import { describe, expect, it } from 'vitest';
import { sleep } from '../../src/core/clock.js';
import { ListenerError } from '../../src/core/errors.js';
import { loopOnFakeJournal } from '../helpers/fake-journal.js';
import type { ConsumerLoop, ConsumerLoopOptions } from '../../src/pipeline/consumer-loop.js';
import { ManualClock, settle } from '../helpers/manual-clock.js';

/**
 * The consumer loop's tick, sleeps and back-off pauses on an injected clock that only the test
 * moves (Node's timers stay real): every wake-up is asserted at its millisecond, with no waiting.
 */

/** A loop whose body records, in ms since the start, when each round begins, and then waits with `wait`. */
function recordingLoop(
  wait: (loop: ConsumerLoop, clock: ManualClock) => Promise<void>,
  options: Partial<ConsumerLoopOptions> = {},
) {
  const clock = new ManualClock();
  const t0 = clock.now();
  const rounds: number[] = [];
  const { journal, loop } = loopOnFakeJournal(
    async (l) => {
      while (l.running) {
        rounds.push(clock.now() - t0);
        await wait(l, clock);
      }
    },
    { clock, ...options },
  );
  return { clock, journal, loop, rounds };
}

describe('ConsumerLoop on an injected clock', () => {
  it('wakes at each tick of the clock, and its tick does not hold the process', async () => {
    // Prepare
    const { clock, loop, rounds } = recordingLoop((l) => l.sleep(), { tickMs: 250 });

    // Act
    loop.start();
    await settle();
    const armed = clock.timers();
    await clock.advance(749);
    const before = [...rounds];
    await clock.advance(1);

    // Assess
    expect(armed).toEqual([{ inMs: 250, everyMs: 250, ref: false }]);
    expect(before).toEqual([0, 250, 500]);
    expect(rounds).toEqual([0, 250, 500, 750]);
    await loop.stop();
    expect(clock.pending).toBe(0);
  });

  it('ends sleep(ms) at ms; a durable record ends it sooner', async () => {
    // Prepare
    const { clock, journal, loop, rounds } = recordingLoop((l) => l.sleep(300), { tickMs: 60_000 });
    loop.start();
    await settle();

    // Act
    await clock.advance(650);
    journal.durable(1);
    await settle();

    // Assess: rounds at 300 and 600 from the sleeps, 650 from the record.
    expect(rounds).toEqual([0, 300, 600, 650]);
    await loop.stop();
  });

  it('does not lose a wake-up that comes while the body is busy: its next sleep returns at once, not at the tick', async () => {
    // Prepare: each round works 100 ms on the clock (a read, a cursor save), then sleeps.
    const { clock, journal, loop, rounds } = recordingLoop(async (l, c) => {
      await sleep(c, 100);
      await l.sleep();
    });
    loop.start();

    // Act: a record becomes durable halfway through the first round.
    await clock.advance(50);
    journal.durable(1);
    await clock.advance(949);

    // Assess: a second round as soon as the first ends, none more until the tick.
    expect(rounds).toEqual([0, 100]);
    await clock.advance(1);
    expect(rounds).toEqual([0, 100, 1000]);
    // The round under way ends on the clock: stop waits for it.
    const stopping = loop.stop();
    await clock.advance(100);
    await stopping;
  });

  it('waits a full back-off on the clock before running a body the spool refused; ticks and records do not cut it short', async () => {
    // Prepare: the body fails twice for a full disk; the wait is fixed at 400 ms.
    const clock = new ManualClock();
    const t0 = clock.now();
    const runs: number[] = [];
    const retries: Array<[string, number, number]> = [];
    const { journal, loop } = loopOnFakeJournal(
      async (l) => {
        runs.push(clock.now() - t0);
        if (runs.length <= 2) throw new ListenerError('ERR_JOURNAL_DISK_FULL', 'no space left on the spool');
        while (l.running) await l.sleep();
      },
      {
        tickMs: 100,
        clock,
        retry: { initialMs: 400, maxMs: 400, floorMs: 400 },
        onRetry: (error, delayMs, attempt) => retries.push([error.code, delayMs, attempt]),
      },
    );

    // Act
    loop.start();
    await settle();
    await clock.advance(200);
    journal.durable(1);
    await clock.advance(199);
    const before = [...runs];
    await clock.advance(1);
    await clock.advance(400);

    // Assess
    expect(before).toEqual([0]);
    expect(runs).toEqual([0, 400, 800]);
    expect(retries).toEqual([
      ['ERR_JOURNAL_DISK_FULL', 400, 1],
      ['ERR_JOURNAL_DISK_FULL', 400, 2],
    ]);
    expect(loop.status.lastError).toEqual({
      code: 'ERR_JOURNAL_DISK_FULL',
      message: 'no space left on the spool',
      at: t0 + 400,
    });
    await loop.stop();
  });

  it('starts its back-off afresh when the body ran over a minute on the clock before failing', async () => {
    // Prepare: waits equal to the doubling ceiling (the floor is the cap); the third run lasts 61 s.
    const clock = new ManualClock();
    const delays: number[] = [];
    let runs = 0;
    const { loop } = loopOnFakeJournal(
      async (l) => {
        runs++;
        if (runs === 3) await sleep(clock, 61_000);
        if (runs <= 4) throw new ListenerError('ERR_JOURNAL_CURSOR', 'cursor not saved');
        while (l.running) await l.sleep();
      },
      {
        clock,
        retry: { initialMs: 100, maxMs: 10_000, floorMs: 10_000 },
        onRetry: (_error, delayMs) => delays.push(delayMs),
      },
    );

    // Act: the third run fails at 300 + 61 000 ms.
    loop.start();
    await clock.advance(100 + 200 + 61_000 + 99);
    const afterLongRun = { delays: [...delays], runs };
    await clock.advance(1);
    const afterFourth = { delays: [...delays], runs };
    await clock.advance(200);

    // Assess: 100, 200, then 100 again (not 400) after the long run, and doubling from there.
    expect(afterLongRun).toEqual({ delays: [100, 200, 100], runs: 3 });
    expect(afterFourth).toEqual({ delays: [100, 200, 100, 200], runs: 4 });
    expect(runs).toBe(5);
    await loop.stop();
  });

  it('takes its readings from `now` when one is given, and its timers from the clock', async () => {
    // Prepare: a caller that passes a reading alone (the archive writer does).
    const clock = new ManualClock();
    const t0 = clock.now();
    const runs: number[] = [];
    const { loop } = loopOnFakeJournal(
      async (l) => {
        runs.push(clock.now() - t0);
        if (runs.length === 1) throw new ListenerError('ERR_JOURNAL_DISK_FULL', 'no space left on the spool');
        while (l.running) await l.sleep();
      },
      { clock, now: () => 42, retry: { initialMs: 50, maxMs: 50, floorMs: 50 } },
    );

    // Act
    loop.start();
    await clock.advance(50);

    // Assess
    expect(loop.status.lastError?.at).toBe(42);
    expect(runs).toEqual([0, 50]);
    await loop.stop();
  });

  it('ends a back-off pause at once on stop, without the clock moving, and leaves no timer behind', async () => {
    // Prepare
    const { clock, loop, rounds } = recordingLoop((l) => l.pause(60_000));
    loop.start();
    await settle();

    // Act
    await loop.stop();

    // Assess
    expect(rounds).toEqual([0]);
    expect(clock.pending).toBe(0);
  });
});
