import { describe, expect, it } from 'vitest';
import { pendingReason, type OpenBucket } from '../../src/pipeline/pending-reason.js';

const HOUR_14 = Date.parse('2026-11-30T14:00:00.000Z');
const H = 3600_000;
const GRACE = 5 * 60_000;

/** A bucket of hour 14 whose first record came at `first` and is due at `due`. */
const bucket = (first: number, due: number, hourStart = HOUR_14): OpenBucket => ({
  hourEndMs: hourStart + H,
  firstReceivedMs: first,
  dueMs: due,
});

describe('pendingReason', () => {
  it('says the Parquet copy waits for the hour to close, plus grace, and when its object comes', () => {
    // Prepare: a bucket due at the hour's close + grace (flush is infinite for Parquet).
    const now = HOUR_14 + 20 * 60_000;
    // Act
    const why = pendingReason([bucket(HOUR_14 + 60_000, HOUR_14 + H + GRACE)], { graceMs: GRACE, now, unread: 3 });
    // Assess
    expect(why).toEqual({
      reason: 'waiting for hour 14:00 UTC to close + 5 min grace (object at 15:05:00 UTC)',
      nextWriteAt: HOUR_14 + H + GRACE,
    });
  });

  it('names the earliest-due bucket: the closing hour before the open one', () => {
    // Prepare: hour 13 within its grace, hour 14 open.
    const now = HOUR_14 + 2 * 60_000;
    const hour13 = bucket(HOUR_14 - 10 * 60_000, HOUR_14 + GRACE, HOUR_14 - H);
    const hour14 = bucket(HOUR_14 + 60_000, HOUR_14 + H + GRACE);
    // Act
    const why = pendingReason([hour14, hour13], { graceMs: GRACE, now, unread: 0 });
    // Assess
    expect(why?.reason).toBe('waiting for hour 13:00 UTC to close + 5 min grace (object at 14:05:00 UTC)');
  });

  it('says the JSONL archive batches until its flush time', () => {
    // Act
    const why = pendingReason([bucket(HOUR_14 + 60_000, HOUR_14 + 65_000)], {
      graceMs: GRACE,
      now: HOUR_14 + 62_000,
      unread: 0,
    });
    // Assess
    expect(why).toEqual({ reason: 'batching: next object at 14:01:05 UTC', nextWriteAt: HOUR_14 + 65_000 });
  });

  it('tells late reports of a closed hour, an object being written, a refusing store, and the journal being read', () => {
    // Prepare
    const afterClose = HOUR_14 + H + GRACE + 1000;
    const late = bucket(afterClose, afterClose + 60_000);
    // Act
    const lateWhy = pendingReason([late], { graceMs: GRACE, now: afterClose + 10, unread: 0 });
    const due = pendingReason([late], { graceMs: GRACE, now: afterClose + 60_000, unread: 0 });
    const refused = pendingReason([late], {
      graceMs: GRACE,
      now: afterClose + 90_000,
      stalledSince: afterClose + 61_000,
      unread: 0,
    });
    const reading = pendingReason([], { graceMs: GRACE, now: afterClose, unread: 12 });
    const nothing = pendingReason([], { graceMs: GRACE, now: afterClose, unread: 0 });
    // Assess
    expect(lateWhy?.reason).toBe('late reports of hour 14:00 UTC, closed: batched until 15:06:01 UTC');
    expect(due).toEqual({ reason: 'writing an object (due 15:06:01 UTC)', nextWriteAt: afterClose + 60_000 });
    expect(refused).toEqual({
      reason: 'the store refused the last object (since 15:06:02 UTC): retrying it',
      nextWriteAt: null,
    });
    expect(reading).toEqual({ reason: 'reading new records from the journal', nextWriteAt: null });
    expect(nothing).toBeUndefined();
  });

  it('leaves out the grace when there is none', () => {
    // Act
    const why = pendingReason([bucket(HOUR_14 + 1, HOUR_14 + H)], { graceMs: 0, now: HOUR_14 + 2, unread: 0 });
    // Assess
    expect(why?.reason).toBe('waiting for hour 14:00 UTC to close (object at 15:00:00 UTC)');
  });
});
