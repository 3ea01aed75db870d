import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { gunzipSync } from 'node:zlib';
import type { ExecutionReportRecord } from '../../src/core/record.js';

/** Every file under `dir` (none when it does not exist), depth first. */
function filesUnder(dir: string): string[] {
  if (!existsSync(dir)) return [];
  return readdirSync(dir).flatMap((name) => {
    const path = join(dir, name);
    return statSync(path).isDirectory() ? filesUnder(path) : [path];
  });
}

/** Every record of every `.jsonl.gz` object of a local-folder archive, in file order. */
export function archivedRecords(dir: string): ExecutionReportRecord[] {
  return filesUnder(dir)
    .filter((path) => path.endsWith('.jsonl.gz'))
    .flatMap((path) =>
      gunzipSync(readFileSync(path))
        .toString('utf8')
        .split('\n')
        .filter(Boolean)
        .map((line) => JSON.parse(line) as ExecutionReportRecord),
    );
}

/** The ExecIDs of `archivedRecords(dir)`: a record archived twice is there twice. */
export function archivedIds(dir: string): string[] {
  return archivedRecords(dir).map((record) => record.exec_id);
}
