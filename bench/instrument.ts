/**
 * Stage timing for the end-to-end runs, from the outside: the harness wraps a few prototype
 * methods in its own process instead of adding timers to src. Each wrapper costs two
 * performance.now() calls (~50 ns), small next to what it measures.
 *
 *   FixDecoder.push      everything synchronous after a socket read: framing, the session layer,
 *                        decodeExecutionReport and Journal.append (the service's callback runs inside)
 *   Journal.append       JSON.stringify of the record, CRC32, frame copy, dedupe check
 *   FileHandle.writev / write / read / datasync
 *                        wall time of the file I/O the journal and the sinks await (off the event
 *                        loop: it shows as latency, not CPU), attributed by the file's path
 *   GC                   pause time from a PerformanceObserver on 'gc' entries
 *
 * It also remembers, per ExecID, when the socket chunk holding it was read (high resolution), for
 * the latency section.
 */
import { readlinkSync } from 'node:fs';
import { open, type FileHandle } from 'node:fs/promises';
import { devNull } from 'node:os';
import { performance, PerformanceObserver } from 'node:perf_hooks';
import { FixDecoder } from '../src/fix/decoder.js';
import { Journal } from '../src/pipeline/journal.js';
import type { ExecutionReportRecord } from '../src/core/record.js';

export interface IoStats {
  calls: number;
  ms: number;
  bytes: number;
}

export interface StageStats {
  chunks: number;
  chunkBytes: number;
  /** ms inside FixDecoder.push (includes append). */
  pushMs: number;
  appends: number;
  /** ms inside Journal.append. */
  appendMs: number;
  /** performance.now() of the first and last append since reset. */
  firstAppendAt: number;
  lastAppendAt: number;
  /** By file kind: journal segment, dedupe log, cursors, fills file, archive objects, other. */
  io: Record<string, { write: IoStats; read: IoStats; sync: IoStats }>;
  gcMs: number;
  gcCount: number;
}

let stats: StageStats = empty();
let currentChunkAt = 0;
/** exec_id → performance.now() of the socket read that brought it (only while tracking). */
export const readAtByExecId = new Map<string, number>();
/** (journal LSN, read time) of every report appended while tracking, oldest first. */
export const appended: { lsns: number[]; readAt: number[]; execIds: string[]; head: number } = {
  lsns: [],
  readAt: [],
  execIds: [],
  head: 0,
};
/**
 * Called after every timed call that makes bytes durable, with the file kind and its wall time
 * (ms): fdatasync/fsync, and writes (the journal's segment is written O_DSYNC, so its write is
 * where the disk's time goes; the hook's user picks the kind it measures).
 */
export const ioHooks: { durable?: (kind: string, ms: number, call: 'write' | 'sync') => void } = {};
let trackReads = false;
let installed = false;

function empty(): StageStats {
  return {
    chunks: 0,
    chunkBytes: 0,
    pushMs: 0,
    appends: 0,
    appendMs: 0,
    firstAppendAt: 0,
    lastAppendAt: 0,
    io: {},
    gcMs: 0,
    gcCount: 0,
  };
}

export function resetStages(): void {
  stats = empty();
}

export function stageStats(): StageStats {
  return stats;
}

/** Start (or stop) remembering read times per ExecID for latency measurement. */
export function trackReadTimes(on: boolean): void {
  trackReads = on;
  if (!on) {
    readAtByExecId.clear();
    appended.lsns = [];
    appended.readAt = [];
    appended.execIds = [];
    appended.head = 0;
  }
}

function kindOf(path: string): string {
  if (/\/journal\/seg-\d+\.log$/.test(path)) return 'journal segment';
  if (path.endsWith('/journal/dedupe.log')) return 'journal dedupe log';
  if (path.includes('/journal/dedupe/')) return 'journal dedupe chunks';
  if (path.includes('/journal/')) return 'cursors and state';
  if (path.endsWith('.jsonl')) return 'fills file';
  if (path.includes('/archive/')) return 'archive objects';
  return 'other';
}

const kinds = new WeakMap<FileHandle, string>();

function kindOfHandle(handle: FileHandle): string {
  let kind = kinds.get(handle);
  if (kind === undefined) {
    try {
      kind = kindOf(readlinkSync(`/proc/self/fd/${handle.fd}`));
    } catch {
      kind = 'other';
    }
    kinds.set(handle, kind);
  }
  return kind;
}

function ioOf(kind: string): StageStats['io'][string] {
  return (stats.io[kind] ??= {
    write: { calls: 0, ms: 0, bytes: 0 },
    read: { calls: 0, ms: 0, bytes: 0 },
    sync: { calls: 0, ms: 0, bytes: 0 },
  });
}

function byteLength(value: unknown): number {
  if (typeof value === 'string') return Buffer.byteLength(value);
  if (Array.isArray(value)) return (value as Uint8Array[]).reduce((n, b) => n + b.byteLength, 0);
  return value instanceof Uint8Array ? value.byteLength : 0;
}

/** Installs the wrappers once per process. */
export async function installStageTiming(): Promise<void> {
  if (installed) return;
  installed = true;

  new PerformanceObserver((list) => {
    for (const entry of list.getEntries()) {
      stats.gcMs += entry.duration;
      stats.gcCount++;
    }
  }).observe({ entryTypes: ['gc'] });

  // eslint-disable-next-line @typescript-eslint/unbound-method -- wrapped and re-bound with .call(this)
  const push = FixDecoder.prototype.push;
  FixDecoder.prototype.push = function (this: FixDecoder, chunk: Uint8Array): void {
    const start = (currentChunkAt = performance.now());
    push.call(this, chunk);
    stats.pushMs += performance.now() - start;
    stats.chunks++;
    stats.chunkBytes += chunk.byteLength;
  };

  // eslint-disable-next-line @typescript-eslint/unbound-method -- wrapped and re-bound with .call(this)
  const append = Journal.prototype.append;
  Journal.prototype.append = function (this: Journal, record: ExecutionReportRecord) {
    const start = performance.now();
    const result = append.call(this, record);
    const end = performance.now();
    stats.appendMs += end - start;
    if (stats.appends++ === 0) stats.firstAppendAt = start;
    stats.lastAppendAt = end;
    if (trackReads) {
      readAtByExecId.set(record.exec_id, currentChunkAt);
      if (!result.duplicate) {
        appended.lsns.push(result.lsn);
        appended.readAt.push(currentChunkAt);
        appended.execIds.push(record.exec_id);
      }
    }
    return result;
  };

  // FileHandle is not exported as a class; its prototype is reachable from any handle.
  const probe = await open(devNull, 'r');
  const handleProto = Object.getPrototypeOf(probe) as Record<
    'writev' | 'write' | 'read' | 'datasync' | 'sync',
    (this: FileHandle, ...args: unknown[]) => Promise<unknown>
  >;
  await probe.close();
  const read = handleProto.read;
  handleProto.read = async function (this: FileHandle, ...args: unknown[]) {
    const start = performance.now();
    const result = (await read.apply(this, args)) as { bytesRead: number };
    const io = ioOf(kindOfHandle(this)).read;
    io.calls++;
    io.ms += performance.now() - start;
    io.bytes += result.bytesRead;
    return result;
  };
  // Writes and syncs: time each call and charge it to the file it touched.
  const timed = (method: 'writev' | 'write' | 'datasync' | 'sync', stat: 'write' | 'sync') => {
    const original = handleProto[method];
    handleProto[method] = async function (this: FileHandle, ...args: unknown[]) {
      const start = performance.now();
      try {
        return await original.apply(this, args);
      } finally {
        const kind = kindOfHandle(this);
        const io = ioOf(kind)[stat];
        const ms = performance.now() - start;
        io.calls++;
        io.ms += ms;
        ioHooks.durable?.(kind, ms, stat);
        if (stat === 'write') io.bytes += byteLength(args[0]);
      }
    };
  };
  timed('writev', 'write');
  timed('write', 'write');
  timed('datasync', 'sync');
  timed('sync', 'sync');
}
