import { DuckDBInstance } from '@duckdb/node-api';
import fc from 'fast-check';
import { mkdirSync, readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { describe, expect, it } from 'vitest';
import { buildHourParquet, planHour, type ArchiveObject } from '../../src/app/parquet-build.js';
import { LocalFolderStore } from '../../src/sinks/local-folder-store.js';
import { makeRecord, tempDir } from '../helpers/records.js';

const HOUR = '2026-11-23T09';
const JSONL_DIR = 'exec_reports/listener=default/dt=2026-11-23/hour=09';
const PARQUET_DIR = 'exec_reports_parquet/listener=default/dt=2026-11-23/hour=09';
const pad = (n: number) => String(n).padStart(12, '0');

/** A JSONL object of the hour holding LSNs first..last, as the archive writer names and writes it. */
function writeJsonl(root: string, first: number, last: number): void {
  mkdirSync(join(root, JSONL_DIR), { recursive: true });
  const lines = [];
  for (let lsn = first; lsn <= last; lsn++) lines.push(JSON.stringify(makeRecord(lsn)));
  writeFileSync(
    join(root, JSONL_DIR, `${pad(first)}-${pad(last)}-${last - first + 1}.jsonl.gz`),
    gzipSync(`${lines.join('\n')}\n`),
  );
}

async function parquetIds(root: string): Promise<string[]> {
  const db = await DuckDBInstance.create(':memory:');
  const connection = await db.connect();
  const rows = (
    await connection.runAndReadAll(`SELECT exec_id FROM read_parquet('${root}/${PARQUET_DIR}/*.parquet')`)
  ).getRowObjectsJS();
  connection.closeSync();
  return rows.map((r) => r['exec_id'] as string).sort();
}

const build = (root: string, maxRecords?: number) =>
  buildHourParquet({
    source: { kind: 'file', dir: root },
    store: new LocalFolderStore(root),
    listener: 'default',
    hour: HOUR,
    ...(maxRecords === undefined ? {} : { maxRecords }),
  });

const object = (first: number, last: number, count = last - first + 1): ArchiveObject => ({
  key: `k/${pad(first)}-${pad(last)}-${count}`,
  first,
  last,
  count,
});

describe('planHour', () => {
  it('builds every JSONL object when the hour has no Parquet yet, in pieces of at most maxRecords', () => {
    // Prepare
    const jsonl = [object(21, 30), object(1, 10), object(11, 20)];
    // Act
    const plan = planHour(jsonl, [], 20);
    // Assess: journal order, two pieces, nothing removed.
    expect(plan.build.map((piece) => piece.map((o) => o.first))).toEqual([[1, 11], [21]]);
    expect(plan.remove).toEqual([]);
  });

  it('builds only the objects no Parquet object holds', () => {
    // Prepare: 1–20 built; 21–30 arrived since (a late report of the closed hour).
    const jsonl = [object(1, 10), object(11, 20), object(21, 30)];
    // Act
    const plan = planHour(jsonl, [object(1, 20)], 1000);
    // Assess
    expect(plan.build.map((piece) => piece.map((o) => o.first))).toEqual([[21]]);
    expect(plan).toMatchObject({ remove: [], covered: 2 });
  });

  it('rebuilds the hour whole when a JSONL object landed inside a built range', () => {
    // Prepare: 1–30 was built from two objects (count 20); 11–20 landed after.
    const jsonl = [object(1, 10), object(11, 20), object(21, 30)];
    const built = object(1, 30, 20);
    // Act
    const plan = planHour(jsonl, [built], 1000);
    // Assess: everything again, the old object removed after.
    expect(plan.build.map((piece) => piece.map((o) => o.first))).toEqual([[1, 11, 21]]);
    expect(plan.remove).toEqual([built.key]);
  });

  it('never holds a record twice nor misses one, whatever the order objects land and builds run', () => {
    fc.assert(
      fc.property(
        // Disjoint LSN runs of one hour (gaps: other hours' LSNs), written in any order, with a
        // build after any of them.
        fc.array(fc.tuple(fc.integer({ min: 0, max: 5 }), fc.integer({ min: 1, max: 6 })), {
          minLength: 1,
          maxLength: 12,
        }),
        fc.func(fc.nat()),
        fc.array(fc.boolean(), { minLength: 12, maxLength: 12 }),
        fc.integer({ min: 1, max: 15 }),
        (runs, order, buildAfter, maxRecords) => {
          let next = 1;
          const all = runs.map(([gap, count]) => {
            const first = next + gap;
            next = first + count;
            return object(first, first + count - 1);
          });
          const pending = [...all].sort((a, b) => order(a.first) - order(b.first) || a.first - b.first);
          const landed: ArchiveObject[] = [];
          // Each Parquet object with the JSONL records it was built from.
          let parquet: Array<{ object: ArchiveObject; records: number[] }> = [];
          const runBuild = () => {
            const plan = planHour(
              landed,
              parquet.map((p) => p.object),
              maxRecords,
            );
            const built = plan.build.map((piece) => {
              const records = piece.flatMap((o) => Array.from({ length: o.count }, (_, i) => o.first + i));
              return { object: object(piece[0]!.first, piece.at(-1)!.last, records.length), records };
            });
            const keys = new Set(built.map((b) => b.object.key));
            parquet = [...parquet.filter((p) => !plan.remove.includes(p.object.key) || keys.has(p.object.key))];
            for (const b of built) if (!parquet.some((p) => p.object.key === b.object.key)) parquet.push(b);
            // Assess: the Parquet objects hold every landed record exactly once.
            const held = parquet.flatMap((p) => p.records).sort((a, b) => a - b);
            const expected = landed.flatMap((o) => Array.from({ length: o.count }, (_, i) => o.first + i));
            expect(held).toEqual(expected.sort((a, b) => a - b));
          };
          pending.forEach((o, i) => {
            landed.push(o);
            if (buildAfter[i] === true) runBuild();
          });
          runBuild();
        },
      ),
      { numRuns: 300 },
    );
  });
});

describe('buildHourParquet', () => {
  it('writes nothing the second time: every JSONL object is held already', async () => {
    // Prepare
    const root = tempDir('parquet-');
    writeJsonl(root, 1, 40);
    writeJsonl(root, 41, 60);
    await build(root);
    // Act
    const again = await build(root);
    // Assess
    expect(again).toMatchObject({ written: [], removed: [], covered: 2 });
    expect(await parquetIds(root)).toEqual(Array.from({ length: 60 }, (_, i) => makeRecord(i + 1).exec_id).sort());
  });

  it('builds a late object of a closed hour on its own, and the whole hour once when one lands inside a range', async () => {
    // Prepare: 1–10 and 21–30 built as one object; 31–35 arrives late, then 11–20 lands inside.
    const root = tempDir('parquet-');
    writeJsonl(root, 1, 10);
    writeJsonl(root, 21, 30);
    await build(root);
    writeJsonl(root, 31, 35);
    // Act
    const late = await build(root);
    writeJsonl(root, 11, 20);
    const whole = await build(root);
    // Assess: every record once, the stale objects gone.
    expect(late.written.map((w) => w.key)).toEqual([`${PARQUET_DIR}/${pad(31)}-${pad(35)}-5.parquet`]);
    expect(whole.written.map((w) => w.key)).toEqual([`${PARQUET_DIR}/${pad(1)}-${pad(35)}-35.parquet`]);
    expect(whole.removed.sort()).toEqual([
      `${PARQUET_DIR}/${pad(1)}-${pad(30)}-20.parquet`,
      `${PARQUET_DIR}/${pad(31)}-${pad(35)}-5.parquet`,
    ]);
    expect(readdirSync(join(root, PARQUET_DIR))).toEqual([`${pad(1)}-${pad(35)}-35.parquet`]);
    expect(await parquetIds(root)).toEqual(Array.from({ length: 35 }, (_, i) => makeRecord(i + 1).exec_id).sort());
  });

  it('cuts an hour into objects of at most maxRecords records, each named for its range', async () => {
    // Prepare
    const root = tempDir('parquet-');
    for (let first = 1; first <= 50; first += 10) writeJsonl(root, first, first + 9);
    // Act
    const result = await build(root, 20);
    // Assess
    expect(result.written.map((w) => [w.key.slice(PARQUET_DIR.length + 1), w.records])).toEqual([
      [`${pad(1)}-${pad(20)}-20.parquet`, 20],
      [`${pad(21)}-${pad(40)}-20.parquet`, 20],
      [`${pad(41)}-${pad(50)}-10.parquet`, 10],
    ]);
    expect((await parquetIds(root)).length).toBe(50);
  });

  it('writes nothing for an hour without JSONL objects', async () => {
    // Act
    const result = await build(tempDir('parquet-'));
    // Assess
    expect(result).toMatchObject({ hour: HOUR, written: [], removed: [], covered: 0 });
  });
});
