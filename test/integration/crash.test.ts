import { DuckDBInstance } from '@duckdb/node-api';
import { spawn, type ChildProcess } from 'node:child_process';
import { readdirSync, readFileSync, existsSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { gunzipSync } from 'node:zlib';
import { afterAll, describe, expect, it, vi } from 'vitest';
import type { KalshiSimulator } from '../../src/sim/simulator.js';
import { drainQueue, readArchive, startAws } from '../helpers/aws.js';
import { tempDir } from '../helpers/records.js';
import { API_KEY, startSimulator, testKeys } from '../helpers/sim.js';

const CHILD = join(import.meta.dirname, '../fixtures/listener-child.ts');
let sim: KalshiSimulator | undefined;
afterAll(async () => sim?.stop());

/** What test/fixtures/listener-child.ts runs with: the simulator's KalshiRT port and a spool under `root`. */
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
  const child = spawn(process.execPath, ['--import', 'tsx', CHILD, JSON.stringify(config)], {
    stdio: ['ignore', 'pipe', 'pipe'],
  });
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

async function killRepeatedly(config: object, kills: number, seed: number): Promise<void> {
  let streaming = false;
  for (const delay of delays(kills, seed)) {
    const run = spawnChild(config);
    await Promise.race([run.loggedOn, run.exited]);
    if (!streaming) {
      sim!.setRate(150);
      streaming = true;
    }
    await new Promise((resolve) => setTimeout(resolve, delay));
    run.child.kill('SIGKILL');
    await run.exited;
  }
  const last = spawnChild(config);
  await last.loggedOn;
  sim!.setRate(0);
  // The session delivers in sequence order: once the last report generated is durable, every one is.
  const lastExecId = sim!.generated(API_KEY).at(-1)!.execId;
  await vi.waitFor(() => expect(last.output()).toContain(`durable ${lastExecId}\n`), { timeout: 30_000, interval: 50 });
  last.child.kill('SIGTERM');
  expect(await last.exited).toBe(0);
}

describe('ListenerService under SIGKILL', () => {
  it(
    'holds every ExecID exactly once in the archive, its Parquet copy and the fill log after 24 kills while the simulator streams',
    { timeout: 240_000 },
    async () => {
      // Prepare
      const started = await startSimulator({ ports: { KalshiRT: 0 }, seed: 7 });
      sim = started.sim;
      const root = tempDir('crash-');
      // The Parquet copy in small objects, so kills land in its writes too.
      const config = { ...childConfig(started.address, root), parquetObjectBytes: 48 * 1024 };
      // Act: kill at 24 points, some right after logon, some mid-stream; reports never stop.
      // Reports start once the first run has logged on: before that no session exists to hold them.
      await killRepeatedly(config, 24, 42);
      const generated = sim.generated(API_KEY);
      // Assess: compare sets, and that nothing appears twice.
      const objects = walk(config.archiveDir).filter((p) => p.endsWith('.jsonl.gz'));
      const archived = idsIn(objects.flatMap((p) => gunzipSync(readFileSync(p)).toString('utf8').split('\n')));
      const fills = idsIn(readFileSync(config.fillsFile, 'utf8').split('\n'));
      const expectedAll = generated.map((r) => r.execId);
      // Objects were written all along (ARCHIVE_FLUSH_S), not only at the last clean stop (which
      // writes one per open hour): kills landed between runs' writes (19 to 40 objects seen here).
      expect(objects.length).toBeGreaterThan(5);
      const expectedFills = generated.filter((r) => r.execType === 'F').map((r) => r.execId);
      expect(generated.length).toBeGreaterThan(500);
      expect(archived.length).toBe(new Set(archived).size);
      expect(fills.length).toBe(new Set(fills).size);
      expect(new Set(archived)).toEqual(new Set(expectedAll));
      expect(new Set(fills)).toEqual(new Set(expectedFills));
      expect(walk(config.archiveDir).filter((p) => p.includes('.partial'))).toEqual([]);
      // The Parquet copy: every ExecID exactly once too, across its objects.
      const db = await DuckDBInstance.create(':memory:');
      const connection = await db.connect();
      const typed = (
        await connection.runAndReadAll(
          `SELECT exec_id FROM read_parquet('${config.archiveDir}/exec_reports_parquet/*/*/*.parquet')`,
        )
      )
        .getRowObjectsJS()
        .map((r) => r['exec_id'] as string);
      connection.closeSync();
      expect(walk(config.archiveDir).filter((p) => p.endsWith('.parquet')).length).toBeGreaterThan(5);
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
    'holds every ExecID exactly once in S3 and every fill once on SQS FIFO after 10 kills',
    { timeout: 180_000 },
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
      await killRepeatedly(config, 10, 99);
      // Assess
      const generated = sim.generated(API_KEY);
      const archived = idsIn(
        [...(await readArchive(peer.endpoint, bucket)).values()].flatMap((text) => text.split('\n')),
      );
      const fills = (
        await drainQueue(peer.endpoint, queueUrl, generated.filter((r) => r.execType === 'F').length, 20_000)
      ).map((m) => (JSON.parse(m.Body!) as { exec_id: string }).exec_id);
      await peer.stop();
      expect(generated.length).toBeGreaterThan(200);
      expect(archived.length).toBe(new Set(archived).size);
      expect(fills.length).toBe(new Set(fills).size);
      expect(new Set(archived)).toEqual(new Set(generated.map((r) => r.execId)));
      expect(new Set(fills)).toEqual(new Set(generated.filter((r) => r.execType === 'F').map((r) => r.execId)));
    },
  );
});
