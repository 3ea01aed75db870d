import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { describe, expect, it } from 'vitest';
import { buildParquetCommand } from '../../src/app/build-parquet-command.js';
import { makeRecord, tempDir } from '../helpers/records.js';

/** An archive folder with one JSONL object of hour 09 for listener `a` (unreadable when `bad`). */
function archive(bad = false): string {
  const root = tempDir('build-parquet-');
  const folder = join(root, 'exec_reports/listener=a/dt=2026-11-23/hour=09');
  mkdirSync(folder, { recursive: true });
  const lines = [1, 2].map((n) => JSON.stringify(makeRecord(n))).join('\n');
  writeFileSync(join(folder, '000000000001-000000000002-2.jsonl.gz'), bad ? 'torn' : gzipSync(`${lines}\n`));
  return root;
}

async function run(args: string[], env: NodeJS.ProcessEnv): Promise<{ code: number | string; lines: unknown[] }> {
  let text = '';
  const code = await buildParquetCommand(args, env, (t) => (text += t)).catch(
    (refusal: { exitCode: number; message: string }) => `${refusal.exitCode}: ${refusal.message}`,
  );
  return {
    code,
    lines: text
      .split('\n')
      .filter(Boolean)
      .map((l) => JSON.parse(l) as unknown),
  };
}

describe('buildParquetCommand', () => {
  it('builds each hour and prints one JSON line an hour, exit 0', async () => {
    // Prepare
    const root = archive();
    // Act
    const { code, lines } = await run(['--hours', '2026-11-23T09,2026-11-23T10', '--listener', 'a'], {
      ARCHIVE_URL: `file://${root}/`,
    });
    // Assess
    expect(code).toBe(0);
    expect(lines).toEqual([
      expect.objectContaining({ hour: '2026-11-23T09', written: [expect.objectContaining({ records: 2 })] }),
      expect.objectContaining({ hour: '2026-11-23T10', written: [] }),
    ]);
  });

  it('prints the failed hour with its error and the others, exit 1', async () => {
    // Act
    const { code, lines } = await run(['--hours', '2026-11-23T09,2026-11-23T10', '--listener', 'a'], {
      ARCHIVE_URL: `file://${archive(true)}/`,
    });
    // Assess
    expect(code).toBe('1: 1 of 2 hour(s) failed');
    expect(lines[0]).toEqual({
      hour: '2026-11-23T09',
      error: expect.objectContaining({ code: 'Z_DATA_ERROR' }) as unknown,
    });
    expect(lines[1]).toMatchObject({ hour: '2026-11-23T10', written: [] });
  });

  it('refuses bad hours and a missing ARCHIVE_URL with exit 2, naming each', async () => {
    // Act
    const { code, lines } = await run(['--hours', '2026-11-23T9,nope'], {});
    // Assess
    expect(code).toMatch(/^2: /);
    expect(code).toContain('2026-11-23T9 is not a UTC hour');
    expect(code).toContain('nope is not a UTC hour');
    expect(code).toContain('ARCHIVE_URL is required');
    expect(lines).toEqual([]);
  });

  it('refuses a call without --hours', async () => {
    // Act
    const { code } = await run([], { ARCHIVE_URL: 'file:///tmp/x/' });
    // Assess
    expect(code).toMatch(/^2: .*--hours is required/);
  });
});
