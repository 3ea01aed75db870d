import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { open } from 'node:fs/promises';
import { join } from 'node:path';
import { gunzipSync } from 'node:zlib';
import { afterAll, beforeAll, describe, expect, it, onTestFailed, vi } from 'vitest';
import type { KalshiSimulator } from '../../src/sim/simulator.js';
import { tempDir } from '../helpers/records.js';
import { API_KEY, startSimulator, testKeys } from '../helpers/sim.js';

// A real full disk: SPOOL_DIR on an 8 MiB tmpfs, filled by a file beside the journal until the
// kernel answers ENOSPC, then emptied. Mounting needs root (CI runs as root); `npm test` has the
// same story with ENOSPC injected (test/integration/disk-full-service.test.ts).
const CLI = join(import.meta.dirname, '../../src/app/cli.ts');
const root = tempDir('tmpfs-');
const spool = join(root, 'spool');
let sim: KalshiSimulator | undefined;

beforeAll(() => {
  mkdirSync(spool);
  const mounted = spawnSync('mount', ['-t', 'tmpfs', '-o', 'size=8m', 'tmpfs', spool], { encoding: 'utf8' });
  if (mounted.status !== 0)
    throw new Error(`npm run test:system mounts a tmpfs and needs root: mount said ${mounted.stderr.trim()}`);
});

afterAll(async () => {
  await sim?.stop();
  spawnSync('umount', [spool]);
  rmSync(root, { recursive: true, force: true });
});

interface Listener {
  output: () => string;
  child: ChildProcess;
  exited: Promise<number | null>;
  httpPort: Promise<number>;
}

function startListener(env: Record<string, string>): Listener {
  const child = spawn(process.execPath, ['--import', 'tsx', CLI, 'run'], {
    env: { ...process.env, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  const httpPort = new Promise<number>((resolve) => {
    child.stdout.on('data', (chunk: Buffer) => {
      output += chunk.toString();
      const port = /"httpPort":(\d+)/.exec(output)?.[1];
      if (port !== undefined) resolve(Number(port));
    });
  });
  child.stderr.on('data', (chunk: Buffer) => (output += chunk.toString()));
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  return { child, exited, httpPort, output: () => output };
}

async function get(port: number, path: string): Promise<{ status: number; body: unknown }> {
  const response = await fetch(`http://127.0.0.1:${port}${path}`);
  return { status: response.status, body: await response.json() };
}

type Status = {
  journal: { durableLsn: number; integrity: { stalled: { code: string; path?: string } | null } };
  counters: { executionReports: number };
};

/** Writes a file under the spool until the tmpfs is full (ENOSPC), and returns its path. */
async function fillDisk(): Promise<string> {
  const path = join(spool, 'filler');
  const handle = await open(path, 'w');
  const chunk = Buffer.alloc(64 * 1024, 1);
  try {
    for (;;) await handle.write(chunk);
  } catch (error) {
    expect((error as NodeJS.ErrnoException).code).toBe('ENOSPC');
  } finally {
    await handle.close();
  }
  return path;
}

function idsIn(dir: string, suffix: string, gz: boolean): string[] {
  const walk = (d: string): string[] =>
    existsSync(d)
      ? readdirSync(d).flatMap((n) => (statSync(join(d, n)).isDirectory() ? walk(join(d, n)) : [join(d, n)]))
      : [];
  return walk(dir)
    .filter((p) => p.endsWith(suffix))
    .flatMap((p) => (gz ? gunzipSync(readFileSync(p)) : readFileSync(p)).toString('utf8').split('\n'))
    .filter(Boolean)
    .map((l) => (JSON.parse(l) as { exec_id: string }).exec_id);
}

describe('the listener on a spool that fills up (a real tmpfs)', () => {
  it(
    'stays up and not ready, starts again while full without a crash loop, and resumes by itself: every report archived once',
    { timeout: 120_000 },
    async () => {
      // Prepare: the real CLI on KalshiRT, the spool on the tmpfs, the sinks on the ordinary disk.
      const started = await startSimulator({ ports: { KalshiRT: 0 }, seed: 11 });
      sim = started.sim;
      const keyFile = join(root, 'key.pem');
      const caFile = join(root, 'ca.pem');
      writeFileSync(keyFile, testKeys().privateKey.export({ type: 'pkcs8', format: 'pem' }));
      writeFileSync(caFile, started.address.ca);
      const env = {
        FIX_HOST: started.address.host,
        FIX_PORT: String(started.address.ports.KalshiRT),
        FIX_TARGET_COMP_ID: 'KalshiRT',
        FIX_API_KEY: API_KEY,
        FIX_PRIVATE_KEY_FILE: keyFile,
        FIX_TLS_CA_FILE: caFile,
        FIX_HEARTBEAT_S: '3',
        ARCHIVE_URL: `file://${join(root, 'archive')}`,
        ARCHIVE_GRACE_S: '0',
        FILLS_QUEUE_URL: `file://${join(root, 'fills.jsonl')}`,
        SPOOL_DIR: spool,
        HTTP_PORT: '0',
        LOG_LEVEL: 'info',
      };
      const runs: Listener[] = [];
      // What the listeners logged, for whoever reads a failure.
      onTestFailed(() => {
        for (const run of runs) console.error(run.output().split('\n').slice(-60).join('\n'));
      });
      const first = startListener(env);
      runs.push(first);
      const port = await first.httpPort;
      // Reports start once the session is logged on: before that no session exists to hold them.
      await vi.waitFor(
        async () => expect((await get(port, '/status')).body).toMatchObject({ session: { state: 'active' } }),
        {
          timeout: 20_000,
          interval: 100,
        },
      );
      sim.setRate(100);
      await vi.waitFor(
        async () => expect(((await get(port, '/status')).body as Status).journal.durableLsn).toBeGreaterThan(50),
        {
          timeout: 20_000,
          interval: 100,
        },
      );

      // Act 1: the disk fills while reports keep coming.
      const filler = await fillDisk();
      await vi.waitFor(
        async () =>
          expect(((await get(port, '/status')).body as Status).journal.integrity.stalled?.code).toBe(
            'ERR_JOURNAL_DISK_FULL',
          ),
        { timeout: 20_000, interval: 100 },
      );
      // Assess 1: up, not ready, the cause named with the path.
      await new Promise((resolve) => setTimeout(resolve, 2000));
      expect(first.child.exitCode).toBeNull();
      const readyz = await get(port, '/readyz');
      expect(readyz.status).toBe(503);
      expect(JSON.stringify(readyz.body)).toMatch(/ERR_JOURNAL_DISK_FULL/);

      // Act 2: a stop and a start while the disk is still full.
      first.child.kill('SIGTERM');
      await first.exited;
      const second = startListener(env);
      runs.push(second);
      const secondPort = await second.httpPort;
      await new Promise((resolve) => setTimeout(resolve, 3000));
      // Assess 2: no crash loop; not ready for the same reason once reports arrive.
      expect(second.child.exitCode).toBeNull();
      await vi.waitFor(async () => expect((await get(secondPort, '/readyz')).status).toBe(503), {
        timeout: 10_000,
        interval: 100,
      });

      // Act 3: space returns; later the exchange goes quiet.
      rmSync(filler);
      await vi.waitFor(async () => expect((await get(secondPort, '/readyz')).status).toBe(200), {
        timeout: 30_000,
        interval: 200,
      });
      sim.setRate(0);
      const last =
        sim
          .emitReports(API_KEY, 4)
          .filter((r) => r.execType === 'F')
          .at(-1) ?? sim.emitReports(API_KEY, 1)[0]!;
      await vi.waitFor(
        () => {
          if (last.execType === 'F') expect(idsIn(root, 'fills.jsonl', false)).toContain(last.execId);
          else expect(true).toBe(true);
        },
        { timeout: 20_000, interval: 200 },
      );
      await vi.waitFor(
        async () => {
          const status = (await get(secondPort, '/status')).body as Status;
          const before = status.counters.executionReports;
          await new Promise((resolve) => setTimeout(resolve, 500));
          expect(((await get(secondPort, '/status')).body as Status).counters.executionReports).toBe(before);
        },
        { timeout: 20_000, interval: 100 },
      );
      second.child.kill('SIGTERM');
      expect(await second.exited).toBe(0);

      // Assess 3: every report the exchange generated is archived exactly once; fills likewise.
      const generated = sim.generated(API_KEY);
      const archived = idsIn(join(root, 'archive'), '.jsonl.gz', true);
      expect(new Set(archived).size).toBe(archived.length);
      expect(new Set(archived)).toEqual(new Set(generated.map((r) => r.execId)));
      const fills = idsIn(root, 'fills.jsonl', false);
      expect(new Set(fills).size).toBe(fills.length);
      expect(new Set(fills)).toEqual(new Set(generated.filter((r) => r.execType === 'F').map((r) => r.execId)));
    },
  );
});
