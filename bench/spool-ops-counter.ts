/**
 * Counts the file operations a process makes under one folder (the listener's SPOOL_DIR), from
 * the outside: node:fs and node:fs/promises functions and the FileHandle prototype are wrapped
 * (and `close`, which each handle holds itself), then `syncBuiltinESMExports()` makes ES modules' named imports (`import { open } from
 * 'node:fs/promises'`, as src does) see the wrappers. Install it before the service's modules
 * load (bench/spool-ops-preload.ts), so nothing keeps an unwrapped function.
 *
 * What is counted is the call the code makes (≈ the system call), not the NFS requests it becomes
 * on EFS: the client may add a LOOKUP or GETATTR, or answer a stat from its cache. One call is one
 * operation, except where Node makes several for one call on our behalf: `writeFile`/`appendFile`
 * on a path are an open (a creation when the file was absent), a write and a close; `readFile` an
 * open, a read and a close; `rm` an lstat and an unlink; `mkdir {recursive}` on a folder that is
 * there already is the mkdir that fails and a stat. Calls Node makes inside another counted call
 * (`writeFile`'s open, `rm`'s lstat, `writeFileSync`'s openSync…) are not counted again: an
 * AsyncLocalStorage marks them. To tell a create from an open of a file that is there, the counter
 * asks the original `existsSync` first (an access() of its own, not counted).
 *
 * Writes are data operations. A write on a file opened with O_DSYNC (or O_SYNC) is counted apart:
 * it is durable when it returns, a write and an fsync in one request. Everything else but reads is
 * a metadata operation (fsync, rename, open, close, unlink, mkdir, stat, truncate, readdir…).
 * Handles and fds are followed from their open: a handle opened elsewhere is not counted.
 */
import { AsyncLocalStorage } from 'node:async_hooks';
import fs, { constants, promises as fsp } from 'node:fs';
import type { FileHandle } from 'node:fs/promises';
import { syncBuiltinESMExports } from 'node:module';
import { relative, resolve, sep } from 'node:path';
import { fileURLToPath } from 'node:url';

/** The kinds of operation counted; `creates` and `opens` are disjoint (an open that made the file is a create). */
export const OP_KINDS = [
  'writes',
  'dsyncWrites',
  'fsyncs',
  'renames',
  'creates',
  'opens',
  'closes',
  'unlinks',
  'mkdirs',
  'stats',
  'truncates',
  'readdirs',
  'other',
  'reads',
] as const;
export type OpKind = (typeof OP_KINDS)[number];

/** Data operations: writes with or without O_DSYNC. */
export const DATA_KINDS: readonly OpKind[] = ['writes', 'dsyncWrites'];
/** Metadata operations: everything but data writes and reads. */
export const METADATA_KINDS: readonly OpKind[] = OP_KINDS.filter((k) => k !== 'reads' && !DATA_KINDS.includes(k));

export type OpCounts = Record<OpKind, number>;

export interface SpoolOps {
  counts: OpCounts;
  /** Bytes the data writes carried. */
  writtenBytes: number;
  /** Σ max(bytes, `meterMinBytes`) over the data writes: what a meter with that minimum per write sees. */
  meteredWriteBytes: number;
  /** Data and metadata operations per file, keyed by its path under the root with digits as `#`. */
  byFile: Record<string, { data: number; metadata: number }>;
}

interface Tracked {
  key: string;
  dsync: boolean;
}

let root: string | undefined;
let meterMinBytes = 32 * 1024;
let state: SpoolOps = empty();
const handles = new WeakMap<FileHandle, Tracked>();
const fds = new Map<number, Tracked>();
/** Set inside a counted call: what Node does for it on its own is not counted again. */
const inside = new AsyncLocalStorage<true>();
const restore: Array<() => void> = [];
let handleProto: Record<string, unknown> | undefined;

function empty(): SpoolOps {
  return {
    counts: Object.fromEntries(OP_KINDS.map((k) => [k, 0])) as OpCounts,
    writtenBytes: 0,
    meteredWriteBytes: 0,
    byFile: {},
  };
}

/** Counts operations on paths under `dir` from now on (undefined: none). */
export function setSpoolRoot(dir: string | undefined): void {
  root = dir === undefined ? undefined : resolve(dir);
}

/** The smallest size a data write is metered at (default 32 KiB, EFS Elastic throughput's). */
export function setMeterMinBytes(bytes: number): void {
  meterMinBytes = bytes;
}

export function resetSpoolOps(): void {
  state = empty();
}

/** A copy of the counts since the last reset. */
export function spoolOps(): SpoolOps {
  return structuredClone(state);
}

export function sumOf(counts: OpCounts, kinds: readonly OpKind[]): number {
  return kinds.reduce((n, k) => n + counts[k], 0);
}

export function isSpoolOpsCounterInstalled(): boolean {
  return restore.length > 0;
}

function pathOf(value: unknown): string | undefined {
  if (typeof value === 'string') return resolve(value);
  if (value instanceof URL) return value.protocol === 'file:' ? resolve(fileURLToPath(value)) : undefined;
  if (Buffer.isBuffer(value)) return resolve(value.toString());
  return undefined;
}

/** The file's key under the root, or undefined when it is not under it. */
function keyOf(value: unknown): string | undefined {
  if (root === undefined) return undefined;
  const path = pathOf(value);
  if (path === undefined || (path !== root && !path.startsWith(root + sep))) return undefined;
  // Numbers (segments, pids) as #; the session file's API key (a UUID) as <key>.
  const key = relative(root, path)
    .replace(/[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}/gi, '<key>')
    .replace(/\d+/g, '#');
  return key === '' ? '.' : key;
}

function count(kind: OpKind, key: string, n = 1): void {
  state.counts[kind] += n;
  if (kind === 'reads') return;
  const file = (state.byFile[key] ??= { data: 0, metadata: 0 });
  if (DATA_KINDS.includes(kind)) file.data += n;
  else file.metadata += n;
}

function countWrite(tracked: Tracked, bytes: number): void {
  count(tracked.dsync ? 'dsyncWrites' : 'writes', tracked.key);
  state.writtenBytes += bytes;
  state.meteredWriteBytes += Math.max(bytes, meterMinBytes);
}

/** Open flags as a number (string flags as Node maps them; `s` is O_SYNC). */
function flagsOf(flags: unknown): { create: boolean; dsync: boolean } {
  if (typeof flags === 'number')
    return { create: (flags & constants.O_CREAT) !== 0, dsync: (flags & (constants.O_DSYNC ?? 0)) !== 0 };
  const text = typeof flags === 'string' ? flags : 'r';
  return { create: /^[wa]/.test(text), dsync: text.includes('s') };
}

/** Counts an open (a create when it may make a file that is not there yet) and returns what to track. */
function countOpen(path: unknown, flags: unknown): Tracked | undefined {
  const key = keyOf(path);
  if (key === undefined) return undefined;
  const { create, dsync } = flagsOf(flags);
  count(create && !originalExistsSync(pathOf(path)!) ? 'creates' : 'opens', key);
  return { key, dsync };
}

function byteLengthOf(data: unknown, offsetOrOptions?: unknown, length?: unknown): number {
  if (typeof data === 'string') return Buffer.byteLength(data);
  if (Array.isArray(data)) return (data as ArrayBufferView[]).reduce((n, b) => n + b.byteLength, 0);
  if (ArrayBuffer.isView(data)) {
    if (typeof length === 'number') return length;
    if (typeof offsetOrOptions === 'object' && offsetOrOptions !== null) {
      const o = offsetOrOptions as { offset?: number; length?: number };
      return o.length ?? data.byteLength - (o.offset ?? 0);
    }
    return data.byteLength - (typeof offsetOrOptions === 'number' ? offsetOrOptions : 0);
  }
  return 0;
}

type AnyFn = (this: unknown, ...args: unknown[]) => unknown;

/**
 * Runs the original inside the "counted" context; a callback argument is let out of it, so what
 * the caller does next is counted as its own.
 */
function callCounted(original: AnyFn, self: unknown, args: unknown[]): unknown {
  const last = args.length - 1;
  const callback = args[last];
  if (typeof callback === 'function')
    args[last] = (...result: unknown[]) => inside.exit(() => (callback as AnyFn)(...result));
  return inside.run(true, () => original.apply(self, args));
}

/**
 * Replaces `target[name]` with a wrapper that asks `classify` (with the call's arguments) what to
 * count, and when it returns a function, calls it with the original's result (the sync return
 * value, the promise's value, or the callback's arguments after the error) — for opens.
 */
function wrap(
  target: Record<string, unknown>,
  name: string,
  classify: (args: unknown[], self: unknown) => boolean | ((result: unknown) => void),
  restorable = true,
): void {
  const original = target[name];
  if (typeof original !== 'function') return;
  const wrapper = function (this: unknown, ...args: unknown[]): unknown {
    if (inside.getStore() === true) return (original as AnyFn).apply(this, args);
    const counted = classify(args, this);
    if (counted === false) return (original as AnyFn).apply(this, args);
    if (counted === true) return callCounted(original as AnyFn, this, args);
    const last = args.length - 1;
    const callback = args[last];
    if (typeof callback === 'function')
      args[last] = (error: unknown, ...result: unknown[]) => {
        if (error == null) counted(result[0]);
        (callback as AnyFn).call(undefined, error, ...result);
      };
    const result = callCounted(original as AnyFn, this, args);
    if (result instanceof Promise)
      return result.then((value: unknown) => {
        counted(value);
        return value;
      });
    if (typeof callback !== 'function') counted(result);
    return result;
  };
  Object.defineProperty(wrapper, 'name', { value: name });
  target[name] = wrapper;
  if (restorable) restore.push(() => (target[name] = original));
}

const originalExistsSync = fs.existsSync;

/** One path operation (two paths for rename, link, copyFile: counted when either is under the root). */
function pathOp(kind: OpKind, twoPaths = false) {
  return (args: unknown[]) => {
    const key = keyOf(args[0]) ?? (twoPaths ? keyOf(args[1]) : undefined);
    if (key === undefined) return false;
    count(kind, twoPaths ? (keyOf(args[1]) ?? key) : key);
    return true;
  };
}

/** An operation on an fd (fs.write, fs.fsyncSync…): counted when the fd was opened under the root. */
function fdOp(kind: OpKind | 'write') {
  return (args: unknown[]) => {
    const tracked = typeof args[0] === 'number' ? fds.get(args[0]) : undefined;
    if (tracked === undefined) return false;
    if (kind === 'write') countWrite(tracked, byteLengthOf(args[1], args[2], args[3]));
    else count(kind, tracked.key);
    return true;
  };
}

/** What an fd or a FileHandle given in place of a path was opened as (undefined: not under the root). */
function trackedTarget(target: unknown): Tracked | undefined {
  if (typeof target === 'number') return fds.get(target);
  if (typeof target === 'object' && target !== null) return handles.get(target as FileHandle);
  return undefined;
}

/** writeFile / appendFile on a path: open (or create), write, close; on an fd or handle: the write. */
function wholeFileWrite(append: boolean) {
  return (args: unknown[]) => {
    const target = args[0];
    const tracked = trackedTarget(target);
    if (tracked !== undefined) {
      countWrite(tracked, byteLengthOf(args[1]));
      return true;
    }
    const options = args[2];
    const flag = typeof options === 'object' && options !== null ? (options as { flag?: string }).flag : undefined;
    const opened = countOpen(target, flag ?? (append ? 'a' : 'w'));
    if (opened === undefined) return false;
    const bytes = byteLengthOf(args[1]);
    if (bytes > 0) countWrite(opened, bytes);
    if (typeof options === 'object' && options !== null && (options as { flush?: boolean }).flush === true)
      count('fsyncs', opened.key);
    count('closes', opened.key);
    return true;
  };
}

function readWholeFile(args: unknown[]): boolean {
  const tracked = trackedTarget(args[0]);
  if (tracked !== undefined) {
    count('reads', tracked.key);
    return true;
  }
  const key = keyOf(args[0]);
  if (key === undefined) return false;
  count('opens', key);
  count('reads', key);
  count('closes', key);
  return true;
}

/** rm: Node's lstat, then the unlink when there was something to remove. */
function rm(args: unknown[]): boolean {
  const key = keyOf(args[0]);
  if (key === undefined) return false;
  const there = originalExistsSync(pathOf(args[0])!);
  count('stats', key);
  if (there) count('unlinks', key);
  return true;
}

function mkdir(args: unknown[]): boolean {
  const key = keyOf(args[0]);
  if (key === undefined) return false;
  count('mkdirs', key);
  const options = args[1];
  const recursive = typeof options === 'object' && options !== null && (options as { recursive?: boolean }).recursive;
  if (recursive === true && originalExistsSync(pathOf(args[0])!)) count('stats', key);
  return true;
}

function trackFd(tracked: Tracked | undefined) {
  return tracked === undefined
    ? false
    : (fd: unknown) => {
        if (typeof fd === 'number') fds.set(fd, tracked);
      };
}

/** The FileHandle prototype, patched the first time an open under the root returns a handle. */
function trackHandle(tracked: Tracked | undefined) {
  return tracked === undefined
    ? false
    : (handle: unknown) => {
        const h = handle as FileHandle;
        if (handleProto === undefined) patchFileHandle(Object.getPrototypeOf(h) as Record<string, unknown>);
        handles.set(h, tracked);
        fds.set(h.fd, tracked);
        // close is the one method each handle holds itself (a bound arrow function), not its prototype.
        const closing = handleOp('close');
        wrap(h as unknown as Record<string, unknown>, 'close', (args) => closing(args, h), false);
      };
}

function handleOp(kind: OpKind | 'write' | 'close') {
  return (args: unknown[], self: unknown) => {
    const handle = self as FileHandle;
    const tracked = handles.get(handle);
    if (tracked === undefined) return false;
    if (kind === 'write') countWrite(tracked, byteLengthOf(args[0], args[1], args[2]));
    else if (kind === 'close') {
      count('closes', tracked.key);
      fds.delete(handle.fd);
      handles.delete(handle);
    } else count(kind, tracked.key);
    return true;
  };
}

function patchFileHandle(proto: Record<string, unknown>): void {
  handleProto = proto;
  wrap(proto, 'write', handleOp('write'));
  wrap(proto, 'writev', handleOp('write'));
  wrap(proto, 'writeFile', handleOp('write'));
  wrap(proto, 'appendFile', handleOp('write'));
  wrap(proto, 'sync', handleOp('fsyncs'));
  wrap(proto, 'datasync', handleOp('fsyncs'));
  wrap(proto, 'truncate', handleOp('truncates'));
  wrap(proto, 'stat', handleOp('stats'));
  wrap(proto, 'read', handleOp('reads'));
  wrap(proto, 'readv', handleOp('reads'));
  wrap(proto, 'readFile', handleOp('reads'));
  for (const name of ['chmod', 'chown', 'utimes']) wrap(proto, name, handleOp('other'));
}

/**
 * Wraps node:fs (sync and callback forms) and node:fs/promises, and syncs the ES module exports.
 * Synchronous, so a module imported first can install it before any other module is evaluated.
 * FileHandle's prototype is wrapped at the first open under the root (it is reachable only from a
 * handle); every handle counted comes from such an open.
 */
export function installSpoolOpsCounter(): void {
  if (isSpoolOpsCounterInstalled()) return;
  const sync = fs as unknown as Record<string, unknown>;
  const promises = fsp as unknown as Record<string, unknown>;
  const pathKinds: Array<[string, OpKind, boolean?]> = [
    ['rename', 'renames', true],
    ['unlink', 'unlinks'],
    ['rmdir', 'unlinks'],
    ['stat', 'stats'],
    ['lstat', 'stats'],
    ['statfs', 'stats'],
    ['access', 'stats'],
    ['exists', 'stats'],
    ['realpath', 'stats'],
    ['readdir', 'readdirs'],
    ['opendir', 'readdirs'],
    ['truncate', 'truncates'],
    ['chmod', 'other'],
    ['chown', 'other'],
    ['utimes', 'other'],
    ['lutimes', 'other'],
    ['readlink', 'other'],
    ['link', 'other', true],
    ['symlink', 'other', true],
    ['copyFile', 'other', true],
    ['cp', 'other', true],
  ];
  for (const [name, kind, twoPaths] of pathKinds) {
    wrap(sync, name, pathOp(kind, twoPaths));
    wrap(sync, `${name}Sync`, pathOp(kind, twoPaths));
    wrap(promises, name, pathOp(kind, twoPaths));
  }
  for (const target of [sync, promises]) {
    wrap(target, 'rm', rm);
    wrap(target, 'mkdir', mkdir);
    wrap(target, 'writeFile', wholeFileWrite(false));
    wrap(target, 'appendFile', wholeFileWrite(true));
    wrap(target, 'readFile', readWholeFile);
  }
  wrap(sync, 'rmSync', rm);
  wrap(sync, 'mkdirSync', mkdir);
  wrap(sync, 'writeFileSync', wholeFileWrite(false));
  wrap(sync, 'appendFileSync', wholeFileWrite(true));
  wrap(sync, 'readFileSync', readWholeFile);

  wrap(sync, 'open', (args) => trackFd(countOpen(args[0], typeof args[1] === 'function' ? 'r' : args[1])));
  wrap(sync, 'openSync', (args) => trackFd(countOpen(args[0], args[1])));
  wrap(promises, 'open', (args) => trackHandle(countOpen(args[0], args[1])));
  for (const suffix of ['', 'Sync']) {
    wrap(sync, `write${suffix}`, fdOp('write'));
    wrap(sync, `writev${suffix}`, fdOp('write'));
    wrap(sync, `fsync${suffix}`, fdOp('fsyncs'));
    wrap(sync, `fdatasync${suffix}`, fdOp('fsyncs'));
    wrap(sync, `ftruncate${suffix}`, fdOp('truncates'));
    wrap(sync, `fstat${suffix}`, fdOp('stats'));
    wrap(sync, `read${suffix}`, fdOp('reads'));
    wrap(sync, `readv${suffix}`, fdOp('reads'));
    wrap(sync, `fchmod${suffix}`, fdOp('other'));
    wrap(sync, `futimes${suffix}`, fdOp('other'));
    wrap(sync, `close${suffix}`, (args) => {
      const fd = args[0];
      const tracked = typeof fd === 'number' ? fds.get(fd) : undefined;
      if (tracked === undefined) return false;
      count('closes', tracked.key);
      fds.delete(fd as number);
      return true;
    });
  }
  syncBuiltinESMExports();
}

/** Puts every original back (tests). */
export function uninstallSpoolOpsCounter(): void {
  while (restore.length > 0) restore.pop()!();
  handleProto = undefined;
  fds.clear();
  syncBuiltinESMExports();
}
