import { describe, expect, it } from 'vitest';
import { systemClock } from '../../src/core/clock.js';
import type { ExecutionReportRecord } from '../../src/core/record.js';
import { DeadLetterBox } from '../../src/pipeline/dead-letters.js';
import { FillLanes, type LaneEntry } from '../../src/pipeline/fill-lanes.js';
import { FillPublisher } from '../../src/pipeline/fill-publisher.js';
import { Journal } from '../../src/pipeline/journal.js';
import type { FillQueue, QueueMessage, QueueSendFailure } from '../../src/sinks/types.js';
import { Gate } from '../helpers/gate.js';
import { makeRecord, tempDir } from '../helpers/records.js';

interface Entry extends LaneEntry {
  solo: boolean;
}

const entry = (lsn: number, group: string, more: Partial<Entry> = {}): Entry => ({
  lsn,
  group,
  bytes: 1,
  notBefore: 0,
  solo: false,
  ...more,
});

const lanesOf = (...entries: Entry[]): FillLanes<Entry> => {
  const lanes = new FillLanes<Entry>({ alone: (e) => e.solo });
  for (const e of entries) lanes.add(e, 0);
  return lanes;
};

/** Gathers and commits a batch; its LSNs (empty when nothing can go). */
const take = (lanes: FillLanes<Entry>, now = 0, maxEntries = 10, maxBytes = 1000): Entry[] => {
  const batch = lanes.gather(now, maxEntries, maxBytes) ?? [];
  if (batch.length > 0) lanes.commit();
  return batch;
};
const lsns = (batch: Entry[]) => batch.map((e) => e.lsn);

describe('FillLanes', () => {
  it('gathers the oldest fills across groups in LSN order, several of one group in a batch', () => {
    // Prepare
    const lanes = lanesOf(entry(1, 'A'), entry(2, 'B'), entry(3, 'A'), entry(4, 'C'), entry(5, 'A'), entry(6, 'B'));
    // Act
    const first = take(lanes, 0, 4);
    // Assess
    expect(lsns(first)).toEqual([1, 2, 3, 4]);
    expect(lanes.size).toBe(2);
  });

  it('passes over a group while its batch is in flight; releasing it makes its next fills ready', () => {
    // Prepare
    const lanes = lanesOf(entry(1, 'A'), entry(2, 'A'), entry(3, 'B'), entry(4, 'A'), entry(5, 'B'));
    const inFlight = take(lanes, 0, 2);
    // Act
    const whileLocked = take(lanes);
    lanes.add(entry(6, 'A'), 0);
    const stillLocked = take(lanes);
    lanes.release(inFlight, 0);
    const afterRelease = take(lanes);
    // Assess
    expect(lsns(inFlight)).toEqual([1, 2]);
    expect(lsns(whileLocked)).toEqual([3, 5]);
    expect(lsns(stillLocked)).toEqual([]);
    expect(lanes.gather(0, 10, 1000)).toBeUndefined();
    expect(lsns(afterRelease)).toEqual([4, 6]);
  });

  it("puts a retried fill back ahead of its group's newer fills and holds the group until its back-off passes, while others go", () => {
    // Prepare: A's batch (1, 3) is in flight when A's 5 and B's 2, 4 arrive.
    const lanes = lanesOf(entry(1, 'A'), entry(3, 'A'));
    const inFlight = take(lanes);
    for (const e of [entry(2, 'B'), entry(4, 'B'), entry(5, 'A')]) lanes.add(e, 0);
    // Act: 3 failed (1 landed): due at 100.
    const retried = inFlight[1]!;
    retried.notBefore = 100;
    lanes.putBack(retried, 0);
    lanes.release(inFlight, 0);
    const beforeDue = take(lanes, 50);
    const dueAt = lanes.nextDueAt();
    const atDue = take(lanes, 100);
    // Assess
    expect(lsns(beforeDue)).toEqual([2, 4]);
    expect(dueAt).toBe(100);
    expect(lsns(atDue)).toEqual([3, 5]);
    expect(lanes.nextDueAt()).toBeUndefined();
  });

  it('keeps retried fills in LSN order when they come back in several calls with different due times', () => {
    // Prepare: a batch of A's 1, 2, 3; 2 comes back first (its dead letter failed), then 1 and 3.
    const lanes = lanesOf(entry(1, 'A'), entry(2, 'A'), entry(3, 'A'));
    const [one, two, three] = take(lanes);
    lanes.add(entry(4, 'A'), 0);
    // Act
    two!.notBefore = 10;
    lanes.putBack(two!, 0);
    one!.notBefore = three!.notBefore = 20;
    lanes.putBack(one!, 0);
    lanes.putBack(three!, 0);
    lanes.release([one!, two!, three!], 0);
    // Assess: the group waits for its head (due at 20), whatever a later fill's due time.
    expect(lanes.nextDueAt()).toBe(20);
    expect(lsns(take(lanes, 15))).toEqual([]);
    expect(lsns(take(lanes, 20))).toEqual([1, 2, 3, 4]);
  });

  it('stops a group at a fill that is not due yet, within one batch', () => {
    // Prepare
    const lanes = lanesOf(entry(1, 'A'), entry(2, 'A', { notBefore: 50 }), entry(3, 'B'));
    // Act
    const batch = take(lanes, 10);
    // Assess
    expect(lsns(batch)).toEqual([1, 3]);
  });

  it('sends a fill that must travel alone only first and by itself; its group waits behind it, others do not', () => {
    // Prepare
    const lanes = lanesOf(entry(1, 'B'), entry(2, 'A', { solo: true }), entry(3, 'A'), entry(4, 'C'), entry(5, 'B'));
    // Act
    const first = take(lanes);
    lanes.release(first, 0);
    const second = take(lanes);
    const third = take(lanes);
    // Assess
    expect(lsns(first)).toEqual([1, 4, 5]);
    expect(lsns(second)).toEqual([2]);
    expect(lsns(third)).toEqual([]);
    lanes.release(second, 0);
    expect(lsns(take(lanes))).toEqual([3]);
  });

  it('ends a batch at the byte limit, and lets a first fill over it go alone', () => {
    // Prepare
    const lanes = lanesOf(
      entry(1, 'A', { bytes: 600 }),
      entry(2, 'B', { bytes: 500 }),
      entry(3, 'C', { bytes: 100 }),
      entry(4, 'D', { bytes: 5000 }),
    );
    // Act
    const first = take(lanes);
    const second = take(lanes);
    const third = take(lanes);
    // Assess: 3 would have fitted beside 1, but a batch ends at its first misfit, as the old scan did.
    expect(lsns(first)).toEqual([1]);
    expect(lsns(second)).toEqual([2, 3]);
    expect(lsns(third)).toEqual([4]);
  });

  it('leaves every group as it was when a gathered batch is cancelled', () => {
    // Prepare
    const lanes = lanesOf(entry(1, 'A'), entry(2, 'B', { solo: true }), entry(3, 'A'), entry(4, 'C'));
    // Act
    const gathered = lsns(lanes.gather(0, 10, 1000)!);
    lanes.cancel();
    // Assess
    expect(gathered).toEqual([1, 3, 4]);
    expect(lanes.size).toBe(4);
    expect(lsns(take(lanes, 0, 2))).toEqual([1, 3]);
    expect(lsns(take(lanes))).toEqual([2]);
    expect(() => {
      lanes.gather(0, 10, 1000);
      lanes.gather(0, 10, 1000);
    }).toThrow(/commit or cancel/);
  });

  it('finds the oldest waiting fill whatever its group is doing, and forgets a group once it is empty and released', () => {
    // Prepare: A in flight with 3 behind it; B held by a back-off; C ready.
    const lanes = lanesOf(entry(1, 'A'), entry(3, 'A'), entry(5, 'C'));
    lanes.add(entry(4, 'B', { notBefore: 100 }), 0);
    const inFlight = take(lanes, 0, 1);
    // Act / Assess
    expect(lanes.oldest()?.lsn).toBe(3);
    expect(lanes.groups).toBe(3);
    lanes.release(inFlight, 0);
    const rest = take(lanes, 100);
    expect(lsns(rest)).toEqual([3, 4, 5]);
    expect(lanes.oldest()).toBeUndefined();
    expect(lanes.groups).toBe(3);
    lanes.release(rest, 100);
    expect(lanes.groups).toBe(0);
  });
});

/** A FIFO queue in memory that records each batch and holds the ones `hold` picks until released. */
class GateQueue extends Gate implements FillQueue {
  readonly location = 'memory://fills';
  readonly fifo = true;
  readonly maxBatchBytes = 262_144;
  readonly maxBatchEntries: number;
  /** Each batch offered: its fills as `group:label`, and when. */
  readonly batches: Array<{ at: number; fills: string[] }> = [];
  readonly #hold: (groups: string[]) => boolean;
  readonly #fail: (attempt: number, groups: string[]) => boolean;

  constructor(
    maxBatchEntries: number,
    options: { hold?: (groups: string[]) => boolean; fail?: (attempt: number, groups: string[]) => boolean } = {},
  ) {
    super();
    this.maxBatchEntries = maxBatchEntries;
    this.#hold = options.hold ?? (() => false);
    this.#fail = options.fail ?? (() => false);
  }

  async sendBatch(messages: readonly QueueMessage[]): Promise<QueueSendFailure[]> {
    const groups = messages.map((m) => m.groupId!);
    this.batches.push({
      at: Date.now(),
      fills: messages.map((m) => `${m.groupId}:${labels.get(m.attributes['exec_id']!.value)}`),
    });
    if (this.#fail(this.batches.length, groups)) throw new Error('ServiceUnavailable');
    if (this.#hold(groups)) await this.untilReleased();
    return [];
  }

  /** Every fill offered, in the order offered. */
  sent(): string[] {
    return this.batches.flatMap((b) => b.fills);
  }
}

/** exec_id → `symbol` + its number within the symbol, for readable assertions. */
const labels = new Map<string, string>();

/** A journal holding fills of the given symbols, in order: `A` `B` `A` → A1, B1, A2. */
async function journalOf(symbols: string[]): Promise<Journal> {
  const journal = await Journal.open({ dir: tempDir() });
  const counts = new Map<string, number>();
  symbols.forEach((symbol, i) => {
    const k = (counts.get(symbol) ?? 0) + 1;
    counts.set(symbol, k);
    const record: ExecutionReportRecord = makeRecord(2 * i, { symbol });
    labels.set(record.exec_id, `${symbol}${k}`);
    journal.append(record);
  });
  await journal.flush();
  return journal;
}

const inGroup = (fills: string[], group: string) => fills.filter((f) => f.startsWith(`${group}:`));

describe('FillPublisher', () => {
  describe('a message group with a batch in flight', () => {
    it('sends its next batch once that batch settles, not before, however many slots are free', async () => {
      // Prepare: twelve fills of one symbol, then one of another; four slots, ten to a batch; the
      // queue holds every batch.
      const journal = await journalOf([...Array.from({ length: 12 }, () => 'A'), 'B']);
      const queue = new GateQueue(10, { hold: () => true });
      const publisher = new FillPublisher({
        journal,
        queue,
        deadLetters: await DeadLetterBox.open({ dir: tempDir() }),
      });
      const first = Array.from({ length: 10 }, (_, k) => `A:A${k + 1}`);
      // Act: B's fill, behind A's last two, goes out while A's first batch is in flight: the
      // publisher has had a free slot, and passed over A's two (no waiting for it to try).
      await publisher.start();
      await expect.poll(() => queue.held).toBe(2);
      const whileInFlight = queue.batches.map((b) => b.fills);
      queue.release();
      await expect.poll(() => queue.batches.length).toBe(3);
      queue.release();
      await expect.poll(() => publisher.sent).toBe(13);
      await publisher.stop();
      // Assess
      expect(whileInFlight).toEqual([first, ['B:B1']]);
      expect(queue.batches.map((b) => b.fills)).toEqual([first, ['B:B1'], ['A:A11', 'A:A12']]);
      await journal.close();
    });
  });

  describe('many groups with one slow group', () => {
    it("keeps the other groups flowing past the slow group's waiting fills, then sends those in order", async () => {
      // Prepare: S's first batch hangs; 20 other symbols have fills before, between and after S's.
      const others = Array.from({ length: 20 }, (_, g) => `G${g}`);
      const symbols = ['S', 'S', ...others, 'S', ...others, 'S', 'S', ...others];
      const journal = await journalOf(symbols);
      let slowBatches = 0;
      const queue = new GateQueue(2, { hold: (groups) => groups.includes('S') && ++slowBatches === 1 });
      const publisher = new FillPublisher({
        journal,
        queue,
        maxInFlight: 2,
        deadLetters: await DeadLetterBox.open({ dir: tempDir() }),
      });
      // Act
      await publisher.start();
      await expect.poll(() => publisher.sent).toBe(60);
      const whileSlow = publisher.status();
      const offeredWhileSlow = queue.sent();
      queue.release();
      await expect.poll(() => publisher.sent).toBe(65);
      await publisher.stop();
      // Assess: every other fill went while S1-S2 hung, S's three later fills waiting, counted and in order.
      expect(offeredWhileSlow).toHaveLength(62);
      expect(inGroup(offeredWhileSlow, 'S')).toEqual(['S:S1', 'S:S2']);
      expect(whileSlow.pendingRecords).toBe(3);
      expect(inGroup(queue.sent(), 'S')).toEqual(['S:S1', 'S:S2', 'S:S3', 'S:S4', 'S:S5']);
      for (const g of others) expect(inGroup(queue.sent(), g)).toEqual([1, 2, 3].map((k) => `${g}:${g}${k}`));
      expect(queue.batches.every((b) => b.fills.length <= 2)).toBe(true);
      expect((await journal.loadCursor<{ through: number }>('fills'))?.through).toBe(symbols.length);
      await journal.close();
    });

    it('takes the oldest fills first across groups, as they were journaled', async () => {
      // Prepare: one slot, so each batch is gathered with every group unlocked.
      const journal = await journalOf(['A', 'B', 'A', 'C', 'A', 'B', 'D', 'C']);
      const queue = new GateQueue(3);
      const publisher = new FillPublisher({
        journal,
        queue,
        maxInFlight: 1,
        deadLetters: await DeadLetterBox.open({ dir: tempDir() }),
      });
      // Act
      await publisher.start();
      await expect.poll(() => publisher.sent).toBe(8);
      await publisher.stop();
      // Assess
      expect(queue.batches.map((b) => b.fills)).toEqual([
        ['A:A1', 'B:B1', 'A:A2'],
        ['C:C1', 'A:A3', 'B:B2'],
        ['D:D1', 'C:C2'],
      ]);
      await journal.close();
    });
  });

  describe('a group waiting out a back-off', () => {
    it('holds only that group until its retry is due, then sends it ahead of its newer fills', async () => {
      // Prepare: the first batch (R1 alone) fails; back-off fixed at 300 ms.
      const journal = await journalOf(['R', 'B', 'B', 'C', 'R', 'C']);
      const queue = new GateQueue(1, { fail: (attempt) => attempt === 1 });
      const publisher = new FillPublisher({
        journal,
        queue,
        maxInFlight: 1,
        retry: { initialMs: 300, maxMs: 300, floorMs: 300 },
        deadLetters: await DeadLetterBox.open({ dir: tempDir() }),
      });
      // Act
      await publisher.start();
      await expect.poll(() => publisher.sent, { timeout: 5000 }).toBe(6);
      await publisher.stop();
      // Assess
      const order = queue.batches.map((b) => b.fills[0]);
      expect(order).toEqual(['R:R1', 'B:B1', 'B:B2', 'C:C1', 'C:C2', 'R:R1', 'R:R2']);
      expect(queue.batches[5]!.at - queue.batches[0]!.at).toBeGreaterThanOrEqual(299);
      await journal.close();
    });
  });

  describe('status', () => {
    it('counts the lag from the oldest waiting fill, even one behind a batch in flight', async () => {
      // Prepare: A1 hangs with A2 behind it; B1 goes. The clock is the test's.
      let clock = Date.parse('2026-11-24T00:00:00Z');
      const journal = await journalOf(['A', 'A', 'B']);
      const queue = new GateQueue(1, { hold: (groups) => groups.includes('A') });
      const publisher = new FillPublisher({
        journal,
        queue,
        clock: { ...systemClock, now: () => clock },
        deadLetters: await DeadLetterBox.open({ dir: tempDir() }),
      });
      await publisher.start();
      await expect.poll(() => publisher.sent).toBe(1);
      // Act
      clock += 5000;
      const during = publisher.status();
      queue.release();
      await expect.poll(() => queue.held).toBe(1);
      queue.release();
      await expect.poll(() => publisher.sent).toBe(3);
      await publisher.stop();
      // Assess
      expect(during).toMatchObject({ pendingRecords: 1, lagSeconds: 5 });
      expect(publisher.status()).toMatchObject({ pendingRecords: 0, lagSeconds: 0 });
      await journal.close();
    });
  });
});
