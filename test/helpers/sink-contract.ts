import { randomBytes } from 'node:crypto';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { FillQueue, ObjectStore, QueueMessage } from '../../src/sinks/types.js';

/**
 * One suite of the behaviours src/sinks/types.ts promises, run against every implementation (as
 * QuickFIX/J's AbstractMessageStoreTest runs one suite against each MessageStore): what the
 * pipeline relies on must hold for the local default and for the AWS adapter alike. A harness
 * gives the suite a fresh implementation per test and a reader's view of what it wrote.
 */

/** An object as a reader of the store finds it. */
export interface StoredObject {
  body: Buffer;
  contentType: string | undefined;
  contentEncoding: string | undefined;
}

export interface ObjectStoreHarness {
  store: ObjectStore;
  /** The `location` it must name: `s3://bucket/prefix/` or `file:///dir/`. */
  location: string;
  /** The object under `key` (relative to the store's location), or undefined when there is none. */
  read(key: string): Promise<StoredObject | undefined>;
  /** Every key under the store's location, relative to it, sorted. */
  keys(): Promise<string[]>;
  /**
   * Whether the store refuses to replace an existing key (S3's `If-None-Match: *`): then a second
   * write of a key answers `exists` and leaves the first bytes. A store that ignores the header
   * overwrites the key (with the same bytes, as the archive's keys are deterministic for their
   * content) and answers `created` again: src/sinks/s3-store.ts accepts that.
   */
  conditionalWrites: boolean;
  /** Which of the write's options the store keeps, for a reader to see. */
  keeps: { contentType: boolean; contentEncoding: boolean };
  /** A store of the same kind whose writes fail, the `code` its errors carry, and a repair. */
  broken(): Promise<{ store: ObjectStore; code: string; repair(): Promise<void>; read(key: string): Promise<unknown> }>;
  close?(): Promise<void>;
}

/** A message as a consumer of the queue gets it. */
export interface DeliveredMessage {
  body: string;
  /** Undefined where the queue keeps bodies only (the local JSONL file). */
  attributes: Record<string, string> | undefined;
  /** Undefined where the queue keeps no groups. */
  groupId: string | undefined;
}

export interface FillQueueHarness {
  queue: FillQueue;
  /** The `location` it must name: the queue URL or `file:///path`. */
  location: string;
  /** The documented batch limits of this kind of queue. */
  limits: { maxBatchEntries: number; maxBatchBytes: number };
  /**
   * Everything delivered so far, in delivery order, taken off the queue: waits for at least
   * `atLeast` messages, then for the queue to stay empty (so a duplicate past that count shows).
   */
  receive(atLeast: number): Promise<DeliveredMessage[]>;
  /** A second instance on the same queue, as a restarted process opens it. */
  reopen(): FillQueue;
  /** A queue of the same kind whose sends fail, the `code` its errors carry, a repair, and its reader. */
  broken(): Promise<{
    queue: FillQueue;
    code: string;
    repair(): Promise<void>;
    receive(atLeast: number): Promise<DeliveredMessage[]>;
  }>;
  close?(): Promise<void>;
}

const KEY = 'exec_reports/listener=default/dt=2026-11-23/hour=22/000000000001-000000000003-3.jsonl.gz';
const OTHER_KEY = 'exec_reports_parquet/listener=default/dt=2026-11-23/hour=22/000000000001-000000000003-3.parquet';
const JSONL = { contentType: 'application/x-ndjson', contentEncoding: 'gzip' };
const PARQUET = { contentType: 'application/vnd.apache.parquet' };

/** Every byte value, several times: what a gzip or Parquet object holds, not text. */
const binary = (): Buffer => Buffer.concat([Buffer.from(Array.from({ length: 256 }, (_, i) => i)), randomBytes(4096)]);

/**
 * A fresh harness from `factory` for each test of the suite that calls this, closed after the test
 * (`release` first: what the harness's subject holds open). The getter gives the current test's.
 */
function harnessPerTest<H extends { close?(): Promise<void> }>(
  factory: () => Promise<H>,
  release?: (harness: H) => Promise<void> | undefined,
): () => H {
  let harness: H | undefined;
  beforeEach(async () => {
    harness = await factory();
  });
  afterEach(async () => {
    if (harness !== undefined) await release?.(harness);
    await harness?.close?.();
    harness = undefined;
  });
  return () => {
    if (harness === undefined) throw new Error('a sink harness exists only while a test runs');
    return harness;
  };
}

export function objectStoreContract(name: string, factory: () => Promise<ObjectStoreHarness>): void {
  describe(`ObjectStore contract: ${name}`, () => {
    const h = harnessPerTest(factory);

    it('names its location in the documented form', () => {
      expect(h().store.location).toBe(h().location);
    });

    it('writes a new key: created, and a reader finds exactly those bytes under exactly that key', async () => {
      // Prepare
      const body = binary();
      // Act
      const result = await h().store.putIfAbsent(KEY, body, JSONL);
      // Assess
      expect(result).toBe('created');
      expect((await h().read(KEY))?.body.equals(body)).toBe(true);
      expect(await h().keys()).toEqual([KEY]);
    });

    it('answers a second write of the same key (a retry after a crash) without a second object', async () => {
      // Prepare
      const body = binary();
      // Act
      const first = await h().store.putIfAbsent(KEY, body, JSONL);
      const again = await h().store.putIfAbsent(KEY, Buffer.from(body), JSONL);
      // Assess
      expect([first, again]).toEqual(['created', h().conditionalWrites ? 'exists' : 'created']);
      expect((await h().read(KEY))?.body.equals(body)).toBe(true);
      expect(await h().keys()).toEqual([KEY]);
    });

    it('never replaces an object where it refuses existing keys; else the last write holds the key', async () => {
      // Prepare
      const first = Buffer.from('first bytes\n');
      const second = Buffer.from('other bytes\n');
      // Act
      await h().store.putIfAbsent(KEY, first, JSONL);
      const result = await h().store.putIfAbsent(KEY, second, JSONL);
      // Assess
      expect(result).toBe(h().conditionalWrites ? 'exists' : 'created');
      expect((await h().read(KEY))?.body.toString()).toBe((h().conditionalWrites ? first : second).toString());
    });

    it('keeps each key apart: writing one key never answers for another', async () => {
      // Act
      const results = [
        await h().store.putIfAbsent(KEY, Buffer.from('jsonl'), JSONL),
        await h().store.putIfAbsent(OTHER_KEY, Buffer.from('parquet'), PARQUET),
      ];
      // Assess
      expect(results).toEqual(['created', 'created']);
      expect(await h().keys()).toEqual([KEY, OTHER_KEY].sort());
      expect((await h().read(OTHER_KEY))?.body.toString()).toBe('parquet');
    });

    it('keeps the content type and encoding it is given, where it keeps them at all', async () => {
      // Act
      await h().store.putIfAbsent(KEY, binary(), JSONL);
      await h().store.putIfAbsent(OTHER_KEY, binary(), PARQUET);
      const jsonl = await h().read(KEY);
      const parquet = await h().read(OTHER_KEY);
      // Assess
      expect(jsonl?.contentType).toBe(h().keeps.contentType ? JSONL.contentType : undefined);
      expect(parquet?.contentType).toBe(h().keeps.contentType ? PARQUET.contentType : undefined);
      expect(jsonl?.contentEncoding).toBe(h().keeps.contentEncoding ? JSONL.contentEncoding : undefined);
      expect(parquet?.contentEncoding).toBeUndefined();
    });

    it('writes an empty object', async () => {
      // Act
      const result = await h().store.putIfAbsent(KEY, Buffer.alloc(0), JSONL);
      // Assess
      expect(result).toBe('created');
      expect((await h().read(KEY))?.body.length).toBe(0);
    });

    it('rejects a write it cannot make with a stable code, leaves no object, and takes the key once repaired', async () => {
      // Prepare
      const broken = await h().broken();
      // Act
      const error = await broken.store.putIfAbsent(KEY, Buffer.from('x'), JSONL).then(
        () => undefined,
        (e: unknown) => e as Error & { code?: unknown },
      );
      const leftBehind = await broken.read(KEY);
      await broken.repair();
      const retried = await broken.store.putIfAbsent(KEY, Buffer.from('x'), JSONL);
      // Assess
      expect(error).toBeInstanceOf(Error);
      expect(error?.code).toBe(broken.code);
      expect(leftBehind).toBeUndefined();
      expect(retried).toBe('created');
      expect(await broken.read(KEY)).toBeDefined();
    });
  });
}

/** A fill as the publisher sends it: the ExecID as attribute and deduplication id, the symbol as group. */
function fill(n: number, symbol: string, options: { id?: string; bodyBytes?: number } = {}): QueueMessage {
  const execId = `${1000 + n};${n}`;
  // Not ASCII only: the body is the archive line, UTF-8, with whatever Text Kalshi sent.
  const text = 'Kalshi — é ✓';
  const head = Buffer.byteLength(JSON.stringify({ exec_id: execId, symbol, n, text, pad: '' }));
  const pad = Math.max(0, (options.bodyBytes ?? 0) - head);
  return {
    id: options.id ?? `m${n}`,
    body: JSON.stringify({ exec_id: execId, symbol, n, text, pad: 'x'.repeat(pad) }),
    groupId: `default:${symbol}`,
    deduplicationId: execId,
    attributes: {
      exec_id: { type: 'String', value: execId },
      symbol: { type: 'String', value: symbol },
      schema_version: { type: 'Number', value: '1' },
    },
  };
}

/** What SQS counts of a message against the batch limit: the body, and each attribute's name, type and value. */
function messageBytes(m: QueueMessage): number {
  return (
    Buffer.byteLength(m.body) +
    Object.entries(m.attributes).reduce(
      (sum, [name, a]) => sum + Buffer.byteLength(name) + Buffer.byteLength(a.type) + Buffer.byteLength(a.value),
      0,
    )
  );
}

const execIdOf = (m: DeliveredMessage) => (JSON.parse(m.body) as { exec_id: string }).exec_id;

export function fillQueueContract(name: string, factory: () => Promise<FillQueueHarness>): void {
  describe(`FillQueue contract: ${name}`, () => {
    const h = harnessPerTest(factory, (harness) => harness.queue.close?.());

    it('names its location, is FIFO, and states its batch limits', () => {
      expect(h().queue.location).toBe(h().location);
      expect(h().queue.fifo).toBe(true);
      expect({ maxBatchEntries: h().queue.maxBatchEntries, maxBatchBytes: h().queue.maxBatchBytes }).toEqual(
        h().limits,
      );
    });

    it('delivers every message of a batch once, with its body (and attributes and group where kept)', async () => {
      // Prepare
      const batch = [fill(1, 'BTC-PERP'), fill(2, 'ETH-PERP'), fill(3, 'SOL-PERP')];
      // Act
      const failed = await h().queue.sendBatch(batch);
      const got = await h().receive(3);
      // Assess
      expect(failed).toEqual([]);
      expect(got.map(execIdOf).sort()).toEqual(['1001;1', '1002;2', '1003;3']);
      for (const m of got) {
        const sent = batch.find((s) => s.body === m.body)!;
        expect(sent, m.body).toBeDefined();
        if (m.attributes !== undefined)
          expect(m.attributes).toEqual(
            Object.fromEntries(Object.entries(sent.attributes).map(([k, a]) => [k, a.value])),
          );
        if (m.groupId !== undefined) expect(m.groupId).toBe(sent.groupId);
      }
    });

    it('keeps the order of each group across batches', async () => {
      // Prepare: 12 fills over three symbols, sent in three batches.
      const symbols = ['BTC-PERP', 'ETH-PERP', 'SOL-PERP'];
      const all = Array.from({ length: 12 }, (_, n) => fill(n, symbols[n % 3]!));
      // Act
      for (let i = 0; i < all.length; i += 4) expect(await h().queue.sendBatch(all.slice(i, i + 4))).toEqual([]);
      const got = await h().receive(12);
      // Assess
      for (const symbol of symbols) {
        const sent = all.filter((m) => m.groupId === `default:${symbol}`).map((m) => m.body);
        expect(
          got.filter((m) => (JSON.parse(m.body) as { symbol: string }).symbol === symbol).map((m) => m.body),
        ).toEqual(sent);
      }
      expect(got).toHaveLength(12);
    });

    it('delivers a message once when it is sent again with its deduplication id: in the same batch, a later batch, or from a restarted process', async () => {
      // Prepare
      const a = fill(1, 'BTC-PERP');
      const b = fill(2, 'BTC-PERP');
      const c = fill(3, 'ETH-PERP');
      // Act
      expect(await h().queue.sendBatch([a, { ...a, id: 'again' }, b])).toEqual([]);
      expect(await h().queue.sendBatch([{ ...b, id: 'later' }, c])).toEqual([]);
      await h().queue.close?.();
      const restarted = h().reopen();
      const afterRestart = await restarted.sendBatch([{ ...c, id: 'resent' }, fill(4, 'ETH-PERP')]);
      await restarted.close?.();
      const got = await h().receive(4);
      // Assess
      expect(afterRestart).toEqual([]);
      expect(got.map(execIdOf).sort()).toEqual(['1001;1', '1002;2', '1003;3', '1004;4']);
    });

    it('takes a full batch: maxBatchEntries messages filling maxBatchBytes', async () => {
      // Prepare: each message its share of the batch's bytes, attributes included.
      const share = Math.floor(h().queue.maxBatchBytes / h().queue.maxBatchEntries);
      const batch = Array.from({ length: h().queue.maxBatchEntries }, (_, n) => {
        const probe = fill(n, 'BTC-PERP');
        return fill(n, 'BTC-PERP', { bodyBytes: share - (messageBytes(probe) - Buffer.byteLength(probe.body)) });
      });
      const total = batch.reduce((sum, m) => sum + messageBytes(m), 0);
      // Act
      const failed = await h().queue.sendBatch(batch);
      const got = await h().receive(batch.length);
      // Assess
      expect(total).toBeLessThanOrEqual(h().queue.maxBatchBytes);
      expect(total).toBeGreaterThan(h().queue.maxBatchBytes - h().queue.maxBatchEntries * 2);
      expect(failed).toEqual([]);
      expect(got.map(execIdOf)).toEqual(batch.map((m) => (JSON.parse(m.body) as { exec_id: string }).exec_id));
    });

    it('takes one message as large as the publisher makes one (maxBatchBytes less 1 KiB of body)', async () => {
      // Prepare: src/pipeline/fill-message.ts fits a body to maxBatchBytes - 1024.
      const big = fill(1, 'BTC-PERP', { bodyBytes: h().queue.maxBatchBytes - 1024 });
      // Act
      const failed = await h().queue.sendBatch([big]);
      const got = await h().receive(1);
      // Assess
      expect(Buffer.byteLength(big.body)).toBe(h().queue.maxBatchBytes - 1024);
      expect(failed).toEqual([]);
      expect(got.map((m) => m.body)).toEqual([big.body]);
    });

    it('rejects a send it cannot make with a stable code, and delivers that batch once when sent again after the repair', async () => {
      // Prepare
      const broken = await h().broken();
      const batch = [fill(1, 'BTC-PERP'), fill(2, 'ETH-PERP')];
      // Act
      const error = await broken.queue.sendBatch(batch).then(
        () => undefined,
        (e: unknown) => e as Error & { code?: unknown },
      );
      await broken.repair();
      const failed = await broken.queue.sendBatch(batch);
      await broken.queue.close?.();
      const got = await broken.receive(2);
      // Assess
      expect(error).toBeInstanceOf(Error);
      expect(error?.code).toBe(broken.code);
      expect(failed).toEqual([]);
      expect(got.map(execIdOf).sort()).toEqual(['1001;1', '1002;2']);
    });

    it('closes, and a second close is harmless', async () => {
      // Prepare
      expect(await h().queue.sendBatch([fill(1, 'BTC-PERP')])).toEqual([]);
      // Act
      const closed = [await h().queue.close?.(), await h().queue.close?.()];
      // Assess
      expect(closed).toEqual([undefined, undefined]);
      expect((await h().receive(1)).map(execIdOf)).toEqual(['1001;1']);
    });
  });
}
