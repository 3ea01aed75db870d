import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { gunzipSync } from 'node:zlib';
import { describe, expect, it, vi } from 'vitest';
import { tempDir } from '../helpers/records.js';
import { spawnTs } from '../helpers/spawn.js';

function files(dir: string): string[] {
  if (!existsSync(dir)) return [];
  return readdirSync(dir).flatMap((name) =>
    statSync(join(dir, name)).isDirectory() ? files(join(dir, name)) : [join(dir, name)],
  );
}

describe('kalshi-fix-listener demo', () => {
  it(
    'streams fills into ./data, archives within seconds, reports status, and on SIGTERM exits 0 with everything flushed',
    { timeout: 60_000 },
    async () => {
      // Prepare: a fresh working directory, as a new user would have.
      const cwd = tempDir('demo-');
      const demo = spawnTs('src/app/cli.ts', ['demo'], {
        cwd,
        env: { ...process.env, HTTP_PORT: '0', LOG_LEVEL: 'info' },
      });
      const archiveDir = (await demo.waitForOutput(/demo: archive objects in (\S+) /))[1]!;
      const announcedAt = Date.now();
      const port = Number((await demo.waitForOutput(/"httpPort":(\d+)/))[1]);
      // The first archive object is there within 10 s of the start (ARCHIVE_FLUSH_S is 5 in the demo).
      await vi.waitFor(
        () => {
          if (!files(archiveDir).some((p) => p.endsWith('.jsonl.gz')))
            throw new Error(`no archive object yet; output:\n${demo.output()}`);
        },
        { timeout: 10_000, interval: 100 },
      );
      const firstObjectAfterMs = Date.now() - announcedAt;
      // Act: wait for fills to land.
      const fillsFile = join(cwd, 'data', 'fills.jsonl');
      await vi.waitFor(
        () => {
          const fills = existsSync(fillsFile) ? readFileSync(fillsFile, 'utf8').split('\n').filter(Boolean) : [];
          if (fills.length < 3) throw new Error(`${fills.length} fills; output:\n${demo.output()}`);
        },
        { timeout: 20_000, interval: 100 },
      );
      const status = (await (await fetch(`http://127.0.0.1:${port}/status`)).json()) as {
        session: { state: string };
        counters: { executionReports: number };
      };
      demo.child.kill('SIGTERM');
      const code = await demo.exited;
      // Assess
      expect(archiveDir).toBe(join(cwd, 'data', 'archive', 'exec_reports'));
      expect(firstObjectAfterMs).toBeLessThan(10_000);
      expect(status.session.state).toBe('active');
      expect(status.counters.executionReports).toBeGreaterThan(0);
      expect(code).toBe(0);
      expect(demo.output()).toMatch(/stopped cleanly/);
      const fills = readFileSync(fillsFile, 'utf8')
        .split('\n')
        .filter(Boolean)
        .map((l) => JSON.parse(l) as { exec_type: string; exec_id: string });
      expect(fills.every((f) => f.exec_type === 'F')).toBe(true);
      // Objects written while running, and the rest at SIGTERM: every report is in one.
      const objects = files(join(cwd, 'data', 'archive')).filter((p) => p.endsWith('.jsonl.gz'));
      expect(objects.length).toBeGreaterThan(0);
      expect(objects[0]).toMatch(/exec_reports\/listener=default\/dt=\d{4}-\d{2}-\d{2}\/hour=\d{2}\//);
      const archived = objects.flatMap((p) =>
        gunzipSync(readFileSync(p))
          .toString('utf8')
          .split('\n')
          .filter(Boolean)
          .map((l) => (JSON.parse(l) as { exec_id: string }).exec_id),
      );
      for (const fill of fills) expect(archived).toContain(fill.exec_id);
      expect(archived.length).toBeGreaterThanOrEqual(status.counters.executionReports);
    },
  );

  it(
    'runs a fleet with --listeners 2: one archive with a partition each, a fills file and a journal each',
    {
      timeout: 60_000,
    },
    async () => {
      // Prepare
      const cwd = tempDir('demo-fleet-');
      // Objects every second, not the demo's 5: what is checked here is where they go.
      const demo = spawnTs('src/app/cli.ts', ['demo', '--listeners', '2'], {
        cwd,
        env: { ...process.env, HTTP_PORT: '0', LOG_LEVEL: 'info', ARCHIVE_FLUSH_S: '1' },
      });
      // Act
      await demo.waitForOutput(/demo: 2 listeners \(listener-1, listener-2\)/);
      const archive = join(cwd, 'data', 'archive', 'exec_reports');
      await vi.waitFor(
        () => {
          for (const name of ['listener-1', 'listener-2']) {
            if (!files(join(archive, `listener=${name}`)).some((p) => p.endsWith('.jsonl.gz')))
              throw new Error(`no archive object of ${name} yet; output:\n${demo.output()}`);
            if (!existsSync(join(cwd, 'data', 'fills', `${name}.jsonl`)))
              throw new Error(`no fill of ${name} yet; output:\n${demo.output()}`);
          }
        },
        { timeout: 20_000, interval: 100 },
      );
      demo.child.kill('SIGTERM');
      const code = await demo.exited;
      // Assess
      expect(code).toBe(0);
      expect(readdirSync(join(cwd, 'data', 'fills')).sort()).toEqual(['listener-1.jsonl', 'listener-2.jsonl']);
      expect(readdirSync(join(cwd, 'data', 'spool')).sort()).toEqual(['listener-1', 'listener-2']);
      const lines = demo
        .output()
        .split('\n')
        .filter((l) => l.startsWith('{'))
        .map((l) => JSON.parse(l) as { listener?: string; msg: string });
      expect(
        lines
          .filter((l) => l.msg === 'logged on')
          .map((l) => l.listener)
          .sort(),
      ).toEqual(['listener-1', 'listener-2']);
    },
  );
});
