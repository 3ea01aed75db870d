import { describe, expect, it, vi } from 'vitest';
import { DeadLetterBox } from '../../src/pipeline/dead-letters.js';
import { FillPublisher, type FillPublisherOptions } from '../../src/pipeline/fill-publisher.js';
import { Journal } from '../../src/pipeline/journal.js';
import type { FillQueue, QueueMessage, QueueSendFailure } from '../../src/sinks/types.js';
import { Gate } from '../helpers/gate.js';
import { ManualClock, settle } from '../helpers/manual-clock.js';
import { makeRecord, tempDir } from '../helpers/records.js';

/**
 * The fill publisher's waits on an injected clock that only the test moves: the linger, the
 * back-off before a retry, the once-a-second cursor save and the stop deadline each fire at their
 * millisecond. The journal is a real one on disk, so the test waits (in real time, briefly) for
 * its I/O, never for the clock: nothing time-driven happens unless the clock is moved.
 */

/** A queue in memory that records each batch at the clock's time; holds (until released) or fails those told to. */
class ClockedQueue extends Gate implements FillQueue {
  readonly location = 'memory://fills';
  readonly fifo = true;
  readonly maxBatchBytes = 262_144;
  readonly maxBatchEntries = 10;
  /** Each batch offered: when (ms since the test's start) and its fills' symbols. */
  readonly batches: Array<{ atMs: number; symbols: string[] }> = [];
  readonly #clock: ManualClock;
  readonly #t0: number;
  readonly #hold: (batch: number) => boolean;
  readonly #fail: (batch: number) => boolean;

  constructor(clock: ManualClock, options: { hold?: (batch: number) => boolean; fail?: (batch: number) => boolean }) {
    super();
    this.#clock = clock;
    this.#t0 = clock.now();
    this.#hold = options.hold ?? (() => false);
    this.#fail = options.fail ?? (() => false);
  }

  async sendBatch(messages: readonly QueueMessage[]): Promise<QueueSendFailure[]> {
    this.batches.push({
      atMs: this.#clock.now() - this.#t0,
      symbols: messages.map((m) => m.attributes['symbol']!.value),
    });
    const n = this.batches.length;
    if (this.#fail(n)) throw new Error('ServiceUnavailable');
    if (this.#hold(n)) await this.untilReleased();
    return [];
  }
}

let journaled = 0;

/** Appends one fill of `symbol` and waits until it is durable. */
async function appendFill(journal: Journal, symbol: string): Promise<void> {
  // Even record numbers are fills (makeRecord); each call its own ExecID.
  journal.append(makeRecord(2 * journaled++, { symbol }));
  await journal.flush();
}

interface Rig {
  clock: ManualClock;
  journal: Journal;
  queue: ClockedQueue;
  publisher: FillPublisher;
  /** Cursor saves: when (ms since the start) and through which LSN. */
  saves: Array<[atMs: number, through: number]>;
}

async function rig(
  queueOptions: ConstructorParameters<typeof ClockedQueue>[1],
  options: Partial<FillPublisherOptions> = {},
): Promise<Rig> {
  const clock = new ManualClock();
  const t0 = clock.now();
  const journal = await Journal.open({ dir: tempDir() });
  const saves: Rig['saves'] = [];
  const save = journal.saveCursor.bind(journal);
  journal.saveCursor = (sink, state) => {
    saves.push([clock.now() - t0, state.through]);
    return save(sink, state);
  };
  const queue = new ClockedQueue(clock, queueOptions);
  const publisher = new FillPublisher({
    journal,
    queue,
    deadLetters: await DeadLetterBox.open({ dir: tempDir() }),
    clock,
    ...options,
  });
  return { clock, journal, queue, publisher, saves };
}

/** Waits (real time, polling) for the journal's and the queue's I/O; the clock stays where it is. */
async function until(condition: () => boolean): Promise<void> {
  await vi.waitFor(() => expect(condition(), String(condition)).toBe(true), { timeout: 5000, interval: 2 });
}

/**
 * Stops the publisher, moving the clock in 10 ms steps meanwhile: stop() polls what is left to
 * drain on the clock, so it returns only as the clock moves (or at once when nothing is left).
 */
async function stopOnClock(r: Rig): Promise<void> {
  let stopped = false;
  const stopping = r.publisher.stop().then(() => (stopped = true));
  for (let i = 0; i < 1000 && !stopped; i++) await r.clock.advance(10);
  await stopping;
  await r.journal.close();
}

/** Whether a one-shot timer of `ms` is armed: the loop is asleep, waiting for the clock. */
const armed = (clock: ManualClock, ms: number) => clock.timers().some((t) => t.everyMs === undefined && t.inMs === ms);

/**
 * A started publisher holding fill A back, part of a batch that may wait `batchWaitMs` for more;
 * it returns once the wait's timer is armed, so whatever the test does next meets a loop asleep.
 */
async function holdingA(batchWaitMs: number): Promise<Rig> {
  const r = await rig({}, { batchWaitMs });
  await appendFill(r.journal, 'A');
  await r.publisher.start();
  await until(() => armed(r.clock, batchWaitMs));
  return r;
}

describe('FillPublisher on an injected clock', () => {
  it('lingers lingerMs with a part-full batch while another is in flight, then sends it', async () => {
    // Prepare: A1 goes at once and hangs in flight; B1 arrives behind it.
    const r = await rig({ hold: (n) => n === 1 }, { lingerMs: 50, maxInFlight: 2 });
    await appendFill(r.journal, 'A');
    await r.publisher.start();
    await until(() => r.queue.held === 1);
    await appendFill(r.journal, 'B');
    await until(() => armed(r.clock, 50));

    // Act
    await r.clock.advance(49);
    const before = r.queue.batches.length;
    await r.clock.advance(1);
    await until(() => r.queue.batches.length === 2);

    // Assess
    expect(before).toBe(1);
    expect(r.queue.batches).toEqual([
      { atMs: 0, symbols: ['A'] },
      { atMs: 50, symbols: ['B'] },
    ]);
    r.queue.release();
    await stopOnClock(r);
  });

  it('sends a fill at once when no batch is in flight, however long lingerMs is', async () => {
    // Prepare
    const r = await rig({}, { lingerMs: 60_000 });
    await appendFill(r.journal, 'A');

    // Act
    await r.publisher.start();
    await until(() => r.publisher.sent === 1);

    // Assess
    expect(r.queue.batches).toEqual([{ atMs: 0, symbols: ['A'] }]);
    await stopOnClock(r);
  });

  it('holds a part-full batch batchWaitMs from its oldest fill with nothing in flight, gathering what arrives', async () => {
    // Prepare: A, then B 100 ms later; the batch may wait 250 ms for more.
    const r = await holdingA(250);
    await r.clock.advance(100);
    await appendFill(r.journal, 'B');
    await until(() => armed(r.clock, 150));

    // Act
    await r.clock.advance(149);
    const before = r.queue.batches.length;
    await r.clock.advance(1);
    await until(() => r.publisher.sent === 2);

    // Assess: one request for both, when the oldest fill's wait was over.
    expect(before).toBe(0);
    expect(r.queue.batches).toEqual([{ atMs: 250, symbols: ['A', 'B'] }]);
    await stopOnClock(r);
  });

  it('sends a full batch at once, however long batchWaitMs is', async () => {
    // Prepare: ten fills, SQS's most a batch holds.
    const r = await rig({}, { batchWaitMs: 60_000 });
    for (const symbol of 'ABCDEFGHIJ') await appendFill(r.journal, symbol);

    // Act
    await r.publisher.start();
    await until(() => r.publisher.sent === 10);

    // Assess
    expect(r.queue.batches).toEqual([{ atMs: 0, symbols: [...'ABCDEFGHIJ'] }]);
    await stopOnClock(r);
  });

  it('sends a held batch at once when stopped', async () => {
    // Prepare
    const r = await holdingA(60_000);

    // Act
    await stopOnClock(r);

    // Assess: sent within the stop, not a minute later.
    expect(r.queue.batches).toEqual([{ atMs: 0, symbols: ['A'] }]);
  });

  it('sends a failed batch again exactly when its back-off ends', async () => {
    // Prepare: the first send fails; the back-off is fixed at 300 ms.
    const r = await rig({ fail: (n) => n === 1 }, { retry: { initialMs: 300, maxMs: 300, floorMs: 300 } });
    await appendFill(r.journal, 'A');
    await r.publisher.start();
    await until(() => r.queue.batches.length === 1 && armed(r.clock, 300));

    // Act
    await r.clock.advance(299);
    const before = r.queue.batches.length;
    await r.clock.advance(1);
    await until(() => r.publisher.sent === 1);

    // Assess
    expect(before).toBe(1);
    expect(r.queue.batches.map((b) => b.atMs)).toEqual([0, 300]);
    expect(r.publisher.status().consecutiveFailures).toBe(0);
    await stopOnClock(r);
  });

  it('saves the cursor at most once a second: a position reached 100 ms after a save is saved at the second', async () => {
    // Prepare: A1 sent and its cursor saved at 0 ms.
    const r = await rig({});
    await appendFill(r.journal, 'A');
    await r.publisher.start();
    await until(() => r.saves.length === 1);
    await r.clock.advance(100);
    await appendFill(r.journal, 'B');
    await until(() => r.publisher.sent === 2 && armed(r.clock, 900));

    // Act
    await r.clock.advance(899);
    const before = r.saves.length;
    await r.clock.advance(1);
    await until(() => r.saves.length === 2);

    // Assess
    expect(before).toBe(1);
    expect(r.saves).toEqual([
      [0, 1],
      [1000, 2],
    ]);
    await stopOnClock(r);
  });

  describe('stop', () => {
    it('gives up draining at drainMs on the clock when the queue keeps failing, without sending again', async () => {
      // Prepare: every send fails; the retry would be due only after 30 s.
      const r = await rig({ fail: () => true }, { retry: { initialMs: 30_000, maxMs: 30_000, floorMs: 30_000 } });
      await appendFill(r.journal, 'A');
      await r.publisher.start();
      await until(() => r.queue.batches.length === 1 && armed(r.clock, 30_000));
      let stopped = false;

      // Act
      const stopping = r.publisher.stop({ drainMs: 1000 }).then(() => (stopped = true));
      await r.clock.advance(999);
      await settle();
      const before = stopped;
      await r.clock.advance(10);
      await stopping;

      // Assess: stopped at the deadline, the fill left for the next start, no timer left running.
      expect(before).toBe(false);
      expect(r.queue.batches).toHaveLength(1);
      expect(r.publisher.status().pendingRecords).toBe(1);
      expect(r.saves).toEqual([]);
      expect(r.clock.pending).toBe(0);
      await r.journal.close();
    });

    it('returns before the deadline once what was journaled is sent, and saves the cursor then', async () => {
      // Prepare: A1 hangs in flight.
      const r = await rig({ hold: () => true });
      await appendFill(r.journal, 'A');
      await r.publisher.start();
      await until(() => r.queue.held === 1);
      let stopped = false;

      // Act
      const stopping = r.publisher.stop({ drainMs: 5000 }).then(() => (stopped = true));
      await r.clock.advance(100);
      const before = stopped;
      r.queue.release();
      await until(() => r.saves.length === 1);
      await r.clock.advance(10);
      await until(() => stopped);
      await stopping;

      // Assess: the loop saved the position as soon as the batch landed (a second had passed
      // since the last save); stop saw nothing left at its next poll, 10 ms on.
      expect(before).toBe(false);
      expect(r.publisher.sent).toBe(1);
      expect(r.saves).toEqual([[100, 1]]);
      expect(r.clock.pending).toBe(0);
      await r.journal.close();
    });
  });
});
