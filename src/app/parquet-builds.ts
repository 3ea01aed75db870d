import { fork } from 'node:child_process';
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { Backoff, type BackoffPolicy } from '../core/backoff.js';
import { asListenerError, ListenerError } from '../core/errors.js';
import { systemClock, type Clock, type TimerHandle } from '../core/clock.js';
import type { SinkStatus } from '../core/status.js';
import { clock, span } from '../pipeline/pending-reason.js';
import type { HourParquetResult } from './parquet-build.js';

/** One hour's outcome: what was built, or why not. */
export type HourOutcome = HourParquetResult | { hour: string; error: { code: string; message: string } };

/**
 * Builds the Parquet copy of the given hours (`YYYY-MM-DDTHH`) from their JSONL objects. The
 * service's runner is a child process (`childParquetRunner`), so the encoder's CPU and memory
 * never touch the listener's thread or heap; aborting stops it.
 */
export type ParquetRunner = (hours: string[], signal: AbortSignal) => Promise<HourOutcome[]>;

export type ParquetBuildEvent =
  | { kind: 'parquet_built'; result: HourParquetResult }
  | { kind: 'parquet_build_failed'; hours: string[]; error: ListenerError; retryInMs: number };

export interface ParquetBuildsOptions {
  run: ParquetRunner;
  /** Where the objects go, for /status. */
  location: string;
  /** The archive's grace: an hour's last JSONL object is written by its end plus this. */
  graceMs: number;
  /**
   * How long after that the hour is built (default 60 s): the JSONL writer's last object of the
   * hour has landed by then, so the hour is one build, not two.
   */
  settleMs?: number;
  /** How often due hours are looked for (default 60 s). */
  tickMs?: number;
  /**
   * Hours before the start that are checked once at start (default 24): a build the last process
   * did not get to (it was stopped, or crashed) is done now. A check of an hour already built
   * lists its two folders and writes nothing.
   */
  lookbackHours?: number;
  /** Waits after a failed build (default 1 min doubling to 30 min). */
  retry?: BackoffPolicy;
  /** The tick and every reading (default the system clock). */
  clock?: Clock;
  onEvent?: (event: ParquetBuildEvent) => void;
}

const HOUR_MS = 3600_000;

/**
 * The typed Parquet copy (DESIGN.md §3), off the listener's path: the JSONL writer tells it which
 * hours got an object, and once such an hour has closed (its end, the grace, the settle time) it
 * is built by the runner, one run at a time, from the hour's JSONL objects. Which records an hour's
 * Parquet holds is decided from the objects' names alone (`planHour`), so nothing is kept on the
 * spool for it, and a crash anywhere repeats a build that writes nothing twice.
 */
export class ParquetBuilds {
  readonly #options: ParquetBuildsOptions;
  readonly #clock: Clock;
  readonly #settleMs: number;
  readonly #backoff: Backoff;
  /** Hours owed a build (`YYYY-MM-DDTHH`) → when they are due (epoch ms). */
  readonly #due = new Map<string, number>();
  #timer: TimerHandle | undefined;
  #running: Promise<void> | undefined;
  #abort: AbortController | undefined;
  #retryAt = 0;
  /** The hours the running build was given. */
  #building: string[] = [];
  /** The hour the clock was in at the last tick: each new one is owed its build. */
  #current: string | undefined;
  #lastSuccessAt: number | undefined;
  #lastError: SinkStatus['lastError'];
  #failures = 0;
  #objects = 0;

  constructor(options: ParquetBuildsOptions) {
    this.#options = options;
    this.#clock = options.clock ?? systemClock;
    this.#settleMs = options.settleMs ?? 60_000;
    this.#backoff = new Backoff(options.retry ?? { initialMs: 60_000, maxMs: 30 * 60_000, floorMs: 30_000 });
  }

  /**
   * Owes the current hour a build once it closes, and the last `lookbackHours` closed hours a
   * check a settle time from now (not during the start and the session's logon); then looks for
   * due hours every tick, and owes each new hour its build as the clock reaches it.
   */
  start(): void {
    const now = this.#clock.now();
    const current = Math.floor(now / HOUR_MS) * HOUR_MS;
    for (let n = 1; n <= (this.#options.lookbackHours ?? 24); n++)
      this.#due.set(hourOf(current - n * HOUR_MS), now + this.#settleMs);
    this.#timer = this.#clock.setInterval(() => this.#tick(), this.#options.tickMs ?? 60_000, { ref: false });
    this.#tick();
  }

  /** The JSONL writer wrote an object under `dt=YYYY-MM-DD/hour=HH`: that hour is owed a build. */
  noteObject(partition: string): void {
    const match = /dt=(\d{4}-\d{2}-\d{2})\/hour=(\d{2})/.exec(partition);
    if (match !== null) this.#owe(`${match[1]}T${match[2]}`);
  }

  /** Owes the hour a build once it has closed, or a settle time from now for one closed already. */
  #owe(hour: string): void {
    if (!this.#due.has(hour)) this.#due.set(hour, Math.max(this.#closes(hour), this.#clock.now() + this.#settleMs));
  }

  /** When the hour is built: its end, the archive's grace, the settle time. */
  #closes(hour: string): number {
    return Date.parse(`${hour}:00:00Z`) + HOUR_MS + this.#options.graceMs + this.#settleMs;
  }

  /** Hours owed a build (those being built among them), oldest first. */
  get pendingHours(): string[] {
    return [...new Set([...this.#due.keys(), ...this.#building])].sort();
  }

  /** Objects written since the start. */
  get objectsWritten(): number {
    return this.#objects;
  }

  /** Resolves when no build is running (tests, the bench). */
  async idle(): Promise<void> {
    while (this.#running !== undefined) await this.#running;
  }

  /** Stops looking, and stops a build under way (what it wrote stays; the next start finishes it). */
  async stop(): Promise<void> {
    this.#clock.clearInterval(this.#timer);
    this.#timer = undefined;
    this.#abort?.abort();
    await this.idle();
  }

  status(): SinkStatus {
    const now = this.#clock.now();
    const due = [...this.#due.values()];
    const overdue = due.filter((at) => at <= now);
    const next = due.length === 0 ? null : Math.max(Math.min(...due), this.#retryAt);
    return {
      name: 'parquet',
      location: this.#options.location,
      lastSuccessAt: this.#lastSuccessAt,
      lastError: this.#lastError,
      consecutiveFailures: this.#failures,
      lagSeconds: overdue.length === 0 ? 0 : Math.round((now - Math.min(...overdue)) / 1000),
      // The records are in the JSONL objects already: the copy owes hours, not records.
      pendingRecords: 0,
      deadLetters: 0,
      pendingReason: this.#reason(now),
      nextWriteAt: next,
    };
  }

  /**
   * Why the copy holds hours, in words: the newest hour owed (the one a person asks about), and
   * how many earlier ones wait with it.
   */
  #reason(now: number): string | null {
    const hours = this.pendingHours;
    const newest = hours.at(-1);
    if (newest === undefined) return null;
    const earlier = hours.length - 1;
    const others = earlier === 0 ? '' : `; ${earlier} earlier hour(s) owed a build too`;
    if (this.#running !== undefined) return `building ${hours.join(', ')} from their JSONL objects`;
    if (this.#retryAt > now) return `the last build failed: retrying at ${clock(this.#retryAt)}${others}`;
    const due = this.#due.get(newest) ?? now;
    const grace = this.#options.graceMs > 0 ? ` + ${span(this.#options.graceMs)} grace` : '';
    if (due === this.#closes(newest) && due > now)
      return `waiting for hour ${newest.slice(11)}:00 UTC to close${grace} (built from its JSONL at ${clock(due)})${others}`;
    return `hour ${newest.slice(11)}:00 UTC of ${newest.slice(0, 10)} built from its JSONL at ${clock(due)}${others}`;
  }

  #tick(): void {
    if (this.#timer === undefined) return;
    const now = this.#clock.now();
    const current = hourOf(now);
    if (current !== this.#current) {
      this.#current = current;
      this.#owe(current);
    }
    if (this.#running !== undefined) return;
    if (now < this.#retryAt) return;
    const hours = [...this.#due].filter(([, at]) => at <= now).map(([hour]) => hour);
    if (hours.length === 0) return;
    hours.sort();
    // Out of the owed set while they build: an object the JSONL writer lands meanwhile owes its
    // hour a build of its own (the running one may have listed the folder before it).
    for (const hour of hours) this.#due.delete(hour);
    this.#building = hours;
    this.#running = this.#build(hours).finally(() => {
      this.#running = undefined;
      this.#building = [];
    });
  }

  async #build(hours: string[]): Promise<void> {
    const abort = (this.#abort = new AbortController());
    let failed: string[] = [];
    let error: ListenerError | undefined;
    try {
      const outcomes = await this.#options.run(hours, abort.signal);
      const answered = new Set<string>();
      for (const outcome of outcomes) {
        answered.add(outcome.hour);
        if ('error' in outcome) {
          failed.push(outcome.hour);
          error ??= new ListenerError('ERR_PARQUET_BUILD', `Parquet build of ${outcome.hour} failed`, {
            details: { hour: outcome.hour, cause: `${outcome.error.code}: ${outcome.error.message}` },
          });
        } else {
          this.#objects += outcome.written.filter((w) => w.result === 'created').length;
          this.#options.onEvent?.({ kind: 'parquet_built', result: outcome });
        }
      }
      const unanswered = hours.filter((h) => !answered.has(h));
      if (unanswered.length > 0) {
        failed.push(...unanswered);
        error ??= new ListenerError('ERR_PARQUET_BUILD', 'the Parquet builder did not answer for every hour', {
          details: { hours: unanswered },
        });
      }
    } catch (cause) {
      failed = hours;
      error = asListenerError(cause, 'ERR_PARQUET_BUILD', 'Parquet build failed');
    } finally {
      this.#abort = undefined;
    }
    // What was not built is owed again (due at once: the retry wait holds it back).
    const now = this.#clock.now();
    for (const hour of abort.signal.aborted ? hours : failed) if (!this.#due.has(hour)) this.#due.set(hour, now);
    if (error === undefined) {
      this.#failures = 0;
      this.#backoff.reset();
      this.#lastSuccessAt = this.#clock.now();
      return;
    }
    if (abort.signal.aborted) return;
    this.#failures++;
    const retryInMs = this.#backoff.next();
    this.#retryAt = this.#clock.now() + retryInMs;
    this.#lastError = { message: error.message, at: this.#clock.now(), code: error.code };
    this.#options.onEvent?.({ kind: 'parquet_build_failed', hours: failed, error, retryInMs });
  }
}

function hourOf(ms: number): string {
  return new Date(ms).toISOString().slice(0, 13);
}

/** How long one child run may take before it is stopped and counted a failure. */
const CHILD_DEADLINE_MS = 30 * 60_000;

/**
 * Runs `kalshi-fix-listener build-parquet` as a child process of this one: its own heap, its own
 * JIT, its CPU off the listener's thread. It answers one JSON line per hour on stdout and exits
 * when this process goes away (its IPC channel closes).
 */
export function childParquetRunner(input: {
  archiveUrl: string;
  listener: string | undefined;
  env?: NodeJS.ProcessEnv;
  /** Records an object holds at most (default 25,000): the child's memory. */
  maxRecords?: number;
}): ParquetRunner {
  // Under the test runner this module is TypeScript: the child runs the build beside it when
  // there is one (the tests build it first), else the source through the same loader.
  const built = fileURLToPath(new URL('../../dist/src/app/cli.js', import.meta.url));
  const fromSource = import.meta.url.endsWith('.ts') && !existsSync(built);
  const cli = import.meta.url.endsWith('.ts')
    ? fromSource
      ? fileURLToPath(new URL('./cli.ts', import.meta.url))
      : built
    : fileURLToPath(new URL('./cli.js', import.meta.url));
  return (hours, signal) =>
    new Promise<HourOutcome[]>((resolve, reject) => {
      const args = ['build-parquet', '--hours', hours.join(',')];
      if (input.listener !== undefined) args.push('--listener', input.listener);
      if (input.maxRecords !== undefined) args.push('--max-records', String(input.maxRecords));
      const child = fork(cli, args, {
        env: { ...(input.env ?? process.env), ARCHIVE_URL: input.archiveUrl, KFL_EXIT_WITH_PARENT: '1' },
        execArgv: fromSource ? ['--import', 'tsx'] : [],
        stdio: ['ignore', 'pipe', 'pipe', 'ipc'],
        signal,
        killSignal: 'SIGKILL',
        timeout: CHILD_DEADLINE_MS,
      });
      let stdout = '';
      let stderr = '';
      child.stdout!.on('data', (d: Buffer) => (stdout += d.toString()));
      child.stderr!.on('data', (d: Buffer) => (stderr = (stderr + d.toString()).slice(-4000)));
      child.on('error', (error) => {
        if (error.name !== 'AbortError') reject(error);
      });
      child.on('exit', (code, signalName) => {
        const outcomes: HourOutcome[] = [];
        for (const line of stdout.split('\n'))
          if (line.startsWith('{')) {
            try {
              outcomes.push(JSON.parse(line) as HourOutcome);
            } catch {
              // A line cut by a kill: its hour counts as unanswered and is built again.
            }
          }
        if (outcomes.length > 0 || code === 0 || code === 1) resolve(outcomes);
        else
          reject(
            new ListenerError('ERR_PARQUET_BUILD', `the Parquet builder exited ${signalName ?? code}`, {
              details: { stderr: stderr.trim().split('\n').slice(-5).join('\n') },
            }),
          );
      });
    });
}
