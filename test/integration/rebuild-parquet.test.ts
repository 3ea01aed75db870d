import { DuckDBInstance } from '@duckdb/node-api';
import { mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { CommandRefusal } from '../../src/app/cli-command.js';
import { rebuildParquet, rebuildParquetCommand } from '../../src/app/rebuild-parquet-command.js';
import { listObjects } from '../../src/reconcile/archive-reader.js';
import { S3Store } from '../../src/sinks/s3-store.js';
import { s3Client, startAws, type AwsPeer } from '../helpers/aws.js';
import { makeRecord, tempDir } from '../helpers/records.js';

const PARTITION = 'listener=default/dt=2026-11-23/hour=09';
const NOW = () => Date.parse('2026-11-24T00:00:00Z');

/** An archive folder with an hour in three JSONL objects and two Parquet objects already there. */
function archiveFolder(): string {
  const root = tempDir('archive-');
  const jsonl = join(root, 'exec_reports', PARTITION);
  mkdirSync(jsonl, { recursive: true });
  const object = (first: number, count: number) =>
    Array.from({ length: count }, (_, i) =>
      JSON.stringify(makeRecord(first + i, { transact_time: '2026-11-23T09:15:00.123456Z' })),
    ).join('\n') + '\n';
  writeFileSync(join(jsonl, '000000000001-000000000040-40.jsonl.gz'), gzipSync(object(1, 40)));
  writeFileSync(join(jsonl, '000000000041-000000000070-30.jsonl.gz'), gzipSync(object(41, 30)));
  writeFileSync(join(jsonl, '000000000071-000000000075-5.jsonl'), object(71, 5));
  const parquet = join(root, 'exec_reports_parquet', PARTITION);
  mkdirSync(parquet, { recursive: true });
  writeFileSync(join(parquet, '000000000001-000000000070-70.parquet'), 'stale');
  writeFileSync(join(parquet, '000000000071-000000000075-5.parquet'), 'stale');
  return root;
}

describe('rebuild-parquet', () => {
  describe('rebuildParquetCommand, on a local archive', () => {
    it('builds one object for the hour from every JSONL object, and with --replace removes the others', async () => {
      // Prepare
      const root = archiveFolder();
      const lines: string[] = [];
      const env = { ARCHIVE_URL: `file://${root}` };

      // Act
      const refused = await rebuildParquetCommand(['--hour', '2026-11-23T09'], env, (t) => lines.push(t), NOW).catch(
        (error: unknown) => error,
      );
      const code = await rebuildParquetCommand(
        ['--hour', '2026-11-23T09', '--replace'],
        env,
        (t) => lines.push(t),
        NOW,
      );

      // Assess
      expect(refused).toMatchObject({ exitCode: 1 });
      expect((refused as Error).message).toMatch(/2 other Parquet object\(s\) already hold this hour/);
      expect(code).toBe(0);
      expect(JSON.parse(lines[0]!)).toMatchObject({
        hour: '2026-11-23T09',
        jsonlObjects: 3,
        records: 75,
        parquetKey: `exec_reports_parquet/${PARTITION}/000000000001-000000000075-75.parquet`,
        result: 'created',
        removed: [
          `exec_reports_parquet/${PARTITION}/000000000001-000000000070-70.parquet`,
          `exec_reports_parquet/${PARTITION}/000000000071-000000000075-5.parquet`,
        ],
      });
      expect(readdirSync(join(root, 'exec_reports_parquet', PARTITION))).toEqual([
        '000000000001-000000000075-75.parquet',
      ]);
      const db = await DuckDBInstance.create(':memory:');
      const connection = await db.connect();
      const rows = (
        await connection.runAndReadAll(
          `SELECT count(*) AS n, count(DISTINCT exec_id) AS ids FROM read_parquet('${root}/exec_reports_parquet/*/*/*/*.parquet')`,
        )
      ).getRowObjectsJS();
      connection.closeSync();
      expect(rows).toEqual([{ n: 75n, ids: 75n }]);
    });

    it('refuses a malformed hour, an hour the listener may still be writing, and a bad --listener, with exit 2', async () => {
      // Prepare
      const lines: string[] = [];
      const env = { ARCHIVE_URL: `file://${tempDir()}` };

      // Act
      const refusal = (args: string[]) =>
        rebuildParquetCommand(args, env, (t) => lines.push(t), NOW).then(
          (code) => ({ exitCode: code, message: '' }),
          (error: unknown) => error as CommandRefusal,
        );
      const bad = await refusal(['--hour', '2026-11-23 09:00']);
      const recent = await refusal(['--hour', '2026-11-23T23']);
      const listener = await refusal(['--hour', '2026-11-23T09', '--listener', 'a/b']);

      // Assess
      expect([bad, recent, listener].map((r) => r.exitCode)).toEqual([2, 2, 2]);
      expect(lines).toEqual([]);
      expect(bad.message).toMatch(/--hour must be a UTC hour/);
      expect(recent.message).toMatch(/ended less than an hour ago/);
      expect(listener.message).toMatch(/--listener may hold letters, digits, - and _ only/);
    });
  });

  describe('rebuildParquet, on S3 (fauxqs)', () => {
    let peer: AwsPeer;
    beforeAll(async () => {
      peer = await startAws();
    });
    afterAll(async () => {
      await peer.stop();
    });

    it('reads, writes and removes through the S3 API under the archive prefix', async () => {
      // Prepare: the same hour, uploaded.
      const bucket = await peer.newBucket();
      const client = s3Client(peer.endpoint);
      const store = new S3Store({ bucket, prefix: 'kfl/', client });
      const root = archiveFolder();
      for (const table of ['exec_reports', 'exec_reports_parquet'])
        for (const name of readdirSync(join(root, table, PARTITION)))
          await store.putIfAbsent(`${table}/${PARTITION}/${name}`, readFileSync(join(root, table, PARTITION, name)), {
            contentType: 'application/octet-stream',
          });
      const source = { kind: 's3' as const, bucket, prefix: 'kfl/', client };

      // Act
      const result = await rebuildParquet({
        source,
        store,
        dt: '2026-11-23',
        hour: '09',
        replace: true,
        listener: 'default',
      });

      // Assess
      expect(result).toMatchObject({ records: 75, result: 'created' });
      expect(await listObjects(source, `exec_reports_parquet/${PARTITION}/`)).toEqual([
        `exec_reports_parquet/${PARTITION}/000000000001-000000000075-75.parquet`,
      ]);
      client.destroy();
    });
  });
});
