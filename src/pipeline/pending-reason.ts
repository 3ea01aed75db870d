/** What the reason reads of an archive writer's open bucket. */
export interface OpenBucket {
  /** The end of the bucket's hour (epoch ms). */
  hourEndMs: number;
  firstReceivedMs: number;
  /** When the bucket is written (the writer's rule: flush after its first record, or its hour's close + grace). */
  dueMs: number;
}

export interface PendingReason {
  /** In words, for a person: why the records are not in an object yet. */
  reason: string;
  /** When the next object is due (epoch ms), null when it waits on the store rather than the clock. */
  nextWriteAt: number | null;
}

/**
 * Why an archive writer holds records, from its open buckets: the answer to "why is the Parquet
 * sink pending?", which writes an hour only once it closes (plus grace) and so holds up to an hour
 * and more on purpose. The earliest-due bucket decides; an object the store keeps refusing comes
 * first. Undefined when nothing is held.
 */
export function pendingReason(
  buckets: Iterable<OpenBucket>,
  options: { graceMs: number; now: number; stalledSince?: number | undefined; unread: number },
): PendingReason | undefined {
  const { graceMs, now } = options;
  if (options.stalledSince !== undefined)
    return {
      reason: `the store refused the last object (since ${clock(options.stalledSince)}): retrying it`,
      nextWriteAt: null,
    };
  let next: OpenBucket | undefined;
  for (const bucket of buckets) if (next === undefined || bucket.dueMs < next.dueMs) next = bucket;
  if (next === undefined)
    return options.unread > 0 ? { reason: 'reading new records from the journal', nextWriteAt: null } : undefined;
  const due = { nextWriteAt: next.dueMs };
  const hour = `hour ${clock(next.hourEndMs - 3600_000, 'hour')}`;
  const closesAt = next.hourEndMs + graceMs;
  if (next.dueMs <= now) return { reason: `writing an object (due ${clock(next.dueMs)})`, ...due };
  if (next.firstReceivedMs >= closesAt)
    return { reason: `late reports of ${hour}, closed: batched until ${clock(next.dueMs)}`, ...due };
  if (next.dueMs >= closesAt)
    return {
      reason: `waiting for ${hour} to close${graceMs > 0 ? ` + ${span(graceMs)} grace` : ''} (object at ${clock(next.dueMs)})`,
      ...due,
    };
  return { reason: `batching: next object at ${clock(next.dueMs)}`, ...due };
}

/** "14:00 UTC" (an hour) or "15:05:00 UTC" (a moment). */
export function clock(ms: number, precision: 'hour' | 'second' = 'second'): string {
  const iso = new Date(ms).toISOString();
  return `${precision === 'hour' ? iso.slice(11, 16) : iso.slice(11, 19)} UTC`;
}

/** "5 min", "90 s", "2 h". */
export function span(ms: number): string {
  const s = Math.round(ms / 1000);
  if (s < 120) return `${s} s`;
  if (s < 7200) return `${Math.round(s / 60)} min`;
  return `${Math.round(s / 3600)} h`;
}
