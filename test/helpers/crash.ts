import { DuckDBInstance } from '@duckdb/node-api';
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { gunzipSync } from 'node:zlib';
import { afterAll, describe, expect, it, vi } from 'vitest';
import type { KalshiSimulator } from '../../src/sim/simulator.js';
import { childParquetRunner } from '../../src/app/parquet-builds.js';
import { drainQueue, readArchive, startAws } from './aws.js';
import { tempDir } from './records.js';
import { API_KEY, startSimulator, testKeys } from './sim.js';
import { builtPath } from './spawn.js';

/**
 * The crash suite: the service in a child process (test/fixtures/listener-child.ts, as built into
 * dist/), SIGKILLed again and again while the simulator streams, then checked for every ExecID
 * exactly once in each sink. `npm test` runs it with a few kills (test/integration/crash.test.ts),
 * `npm run test:system` with many (test/system/crash.test.ts): the same body, more kill points.
 */
export interface CrashSuiteOptions {
  /**
   * The run with the local archive folder, its Parquet copy and the local fill log: how many kills,
   * and the least it must have seen (reports the simulator generated, and objects of each kind in
   * the archive: written all along, not only at the last clean stop).
   */
  local: { kills: number; moreReportsThan: number; moreObjectsThan: number };
  /** The run with S3 and SQS FIFO (fauxqs). */
  aws: { kills: number; moreReportsThan: number };
}

const CHILD = builtPath('test/fixtures/listener-child.ts');

/** What the child runs with: the simulator's KalshiRT port and a spool under `root`. */
function childConfig(address: Awaited<ReturnType<typeof startSimulator>>['address'], root: string) {
  return {
    host: address.host,
    port: address.ports.KalshiRT!,
    ca: address.ca,
    apiKey: API_KEY,
    privateKeyPem: testKeys().privateKey.export({ type: 'pkcs8', format: 'pem' }),
    spoolDir: join(root, 'spool'),
    archiveDir: join(root, 'archive'),
    fillsFile: join(root, 'fills.jsonl'),
  };
}

function spawnChild(config: object): {
  child: ChildProcess;
  loggedOn: Promise<void>;
  exited: Promise<number | null>;
  output: () => string;
} {
  const child = spawn(process.execPath, [CHILD, JSON.stringify(config)], { stdio: ['ignore', 'pipe', 'pipe'] });
  let output = '';
  let markLoggedOn: () => void = () => undefined;
  const loggedOn = new Promise<void>((resolve) => (markLoggedOn = resolve));
  child.stdout.on('data', (chunk: Buffer) => {
    output += chunk.toString();
    if (output.includes('logon')) markLoggedOn();
  });
  child.stderr.on('data', (chunk: Buffer) => (output += chunk.toString()));
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  return { child, loggedOn, exited, output: () => output };
}

function walk(dir: string): string[] {
  if (!existsSync(dir)) return [];
  return readdirSync(dir).flatMap((name) => {
    const path = join(dir, name);
    return statSync(path).isDirectory() ? walk(path) : [path];
  });
}

function idsIn(lines: string[]): string[] {
  return lines.filter((l) => l.length > 0).map((l) => (JSON.parse(l) as { exec_id: string }).exec_id);
}

/** Deterministic pseudo-random kill delays, so a failure reproduces. */
function delays(count: number, seed: number): number[] {
  let x = seed;
  return Array.from({ length: count }, () => {
    x = (x * 1103515245 + 12345) % 2 ** 31;
    return 30 + (x % 600);
  });
}

async function killRepeatedly(sim: KalshiSimulator, config: object, kills: number, seed: number): Promise<void> {
  let streaming = false;
  for (const delay of delays(kills, seed)) {
    const run = spawnChild(config);
    await Promise.race([run.loggedOn, run.exited]);
    if (!streaming) {
      sim.setRate(150);
      streaming = true;
    }
    // Not a wait for anything: the kill lands this long after the logon, wherever the run has got
    // to (right after logon, mid-stream, mid-write), at points that differ from kill to kill.
    await new Promise((resolve) => setTimeout(resolve, delay));
    run.child.kill('SIGKILL');
    await run.exited;
  }
  const last = spawnChild(config);
  await last.loggedOn;
  sim.setRate(0);
  // The session delivers in sequence order: once the last report generated is durable, every one is.
  const lastExecId = sim.generated(API_KEY).at(-1)!.execId;
  await vi.waitFor(() => expect(last.output()).toContain(`durable ${lastExecId}\n`), { timeout: 30_000, interval: 50 });
  last.child.kill('SIGTERM');
  expect(await last.exited).toBe(0);
}

/** A run's time: starting the peers, then each kill (a start, a logon, up to 630 ms), with room for a busy machine. */
const budget = (kills: number) => 60_000 + kills * 8_000;

export function crashSuite({ local, aws }: CrashSuiteOptions): void {
  let sim: KalshiSimulator | undefined;
  afterAll(async () => sim?.stop());

  describe('ListenerService under SIGKILL', () => {
    it(
      `holds every ExecID exactly once in the archive, its Parquet copy and the fill log after ${local.kills} kills while the simulator streams`,
      { timeout: budget(local.kills) },
      async () => {
        // Prepare
        const started = await startSimulator({ ports: { KalshiRT: 0 }, seed: 7 });
        sim = started.sim;
        const root = tempDir('crash-');
        const config = childConfig(started.address, root);
        // Act: kill at `local.kills` points, some right after logon, some mid-stream; reports never
        // stop. Reports start once the first run has logged on: before that no session exists to
        // hold them.
        await killRepeatedly(sim, config, local.kills, 42);
        const generated = sim.generated(API_KEY);
        // Assess: compare sets, and that nothing appears twice.
        const objects = walk(config.archiveDir).filter((p) => p.endsWith('.jsonl.gz'));
        const archived = idsIn(objects.flatMap((p) => gunzipSync(readFileSync(p)).toString('utf8').split('\n')));
        const fills = idsIn(readFileSync(config.fillsFile, 'utf8').split('\n'));
        const expectedAll = generated.map((r) => r.execId);
        // Objects were written all along (ARCHIVE_FLUSH_S), not only at the last clean stop (which
        // writes one per open hour): kills landed between runs' writes (19 to 40 objects seen
        // after 24 kills).
        expect(objects.length).toBeGreaterThan(local.moreObjectsThan);
        const expectedFills = generated.filter((r) => r.execType === 'F').map((r) => r.execId);
        expect(generated.length).toBeGreaterThan(local.moreReportsThan);
        expect(archived.length).toBe(new Set(archived).size);
        expect(fills.length).toBe(new Set(fills).size);
        expect(new Set(archived)).toEqual(new Set(expectedAll));
        expect(new Set(fills)).toEqual(new Set(expectedFills));
        expect(walk(config.archiveDir).filter((p) => p.includes('.partial'))).toEqual([]);
        // The Parquet copy, built from those objects by the builder the service runs (a child
        // process) in objects of 50 records: three builds killed partway, then one to the end and
        // one more, which writes nothing. Every ExecID exactly once, across its objects.
        const hours = [
          ...new Set(objects.map((p) => /dt=(\d{4}-\d\d-\d\d)\/hour=(\d\d)/.exec(p)!.slice(1, 3).join('T'))),
        ];
        const build = childParquetRunner({
          archiveUrl: `file://${config.archiveDir}/`,
          listener: 'default',
          maxRecords: 50,
        });
        for (const afterMs of [400, 700, 1000]) {
          const abort = new AbortController();
          const timer = setTimeout(() => abort.abort(), afterMs);
          await build(hours, abort.signal).catch(() => undefined);
          clearTimeout(timer);
        }
        const finished = await build(hours, new AbortController().signal);
        const again = await build(hours, new AbortController().signal);
        const db = await DuckDBInstance.create(':memory:');
        const connection = await db.connect();
        const typed = (
          await connection.runAndReadAll(
            `SELECT exec_id FROM read_parquet('${config.archiveDir}/exec_reports_parquet/*/*/*/*.parquet')`,
          )
        )
          .getRowObjectsJS()
          .map((r) => r['exec_id'] as string);
        connection.closeSync();
        expect(finished.every((o) => !('error' in o))).toBe(true);
        expect(again.map((o) => ('written' in o ? o.written.length : o.error.code))).toEqual(hours.map(() => 0));
        // A build killed mid-write left its object's temporary file: the next build of that key took it over.
        expect(walk(config.archiveDir).filter((p) => p.includes('.partial'))).toEqual([]);
        expect(walk(config.archiveDir).filter((p) => p.endsWith('.parquet')).length).toBeGreaterThan(
          local.moreObjectsThan,
        );
        expect(typed.length).toBe(new Set(typed).size);
        expect(new Set(typed)).toEqual(new Set(expectedAll));
        // A kill can only tear the last write, which was never acknowledged: never reported as damage.
        const journalDir = join(config.spoolDir, 'journal');
        expect(readdirSync(journalDir).filter((n) => n.includes('.damaged-'))).toEqual([]);
        const holes = existsSync(join(config.spoolDir, 'holes.jsonl'))
          ? readFileSync(join(config.spoolDir, 'holes.jsonl'), 'utf8')
          : '';
        expect(holes).not.toContain('journal ');
      },
    );

    it(
      `holds every ExecID exactly once in S3 and every fill once on SQS FIFO after ${aws.kills} kills`,
      { timeout: budget(aws.kills) },
      async () => {
        // Prepare
        await sim?.stop();
        const started = await startSimulator({ ports: { KalshiRT: 0 }, seed: 11 });
        sim = started.sim;
        const peer = await startAws();
        const bucket = await peer.newBucket();
        const queueUrl = await peer.newFifoQueue();
        const root = tempDir('crash-aws-');
        const config = { ...childConfig(started.address, root), aws: { endpoint: peer.endpoint, bucket, queueUrl } };
        // Act
        await killRepeatedly(sim, config, aws.kills, 99);
        // Assess
        const generated = sim.generated(API_KEY);
        const archived = idsIn(
          [...(await readArchive(peer.endpoint, bucket)).values()].flatMap((text) => text.split('\n')),
        );
        const fills = (
          await drainQueue(peer.endpoint, queueUrl, generated.filter((r) => r.execType === 'F').length, 20_000)
        ).map((m) => (JSON.parse(m.Body!) as { exec_id: string }).exec_id);
        await peer.stop();
        expect(generated.length).toBeGreaterThan(aws.moreReportsThan);
        expect(archived.length).toBe(new Set(archived).size);
        expect(fills.length).toBe(new Set(fills).size);
        expect(new Set(archived)).toEqual(new Set(generated.map((r) => r.execId)));
        expect(new Set(fills)).toEqual(new Set(generated.filter((r) => r.execType === 'F').map((r) => r.execId)));
      },
    );
  });
}
