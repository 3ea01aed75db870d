import { DeleteObjectCommand, GetObjectCommand, ListObjectsV2Command, type S3Client } from '@aws-sdk/client-s3';
import { readdir, readFile, unlink } from 'node:fs/promises';
import { join } from 'node:path';
import { gunzipSync } from 'node:zlib';
import type { ExecutionReportRecord } from '../core/record.js';
import { DEFAULT_LISTENER } from '../core/env-checks.js';

export type ArchiveSource =
  { kind: 'file'; dir: string } | { kind: 's3'; bucket: string; prefix: string; client: S3Client };

/**
 * The keys of one hour of a table for a listener, in journal order (object names are LSN ranges):
 * its `listener=` partition. Keys outside one (a layout no release wrote) are not the archive.
 */
export async function hourKeys(
  source: ArchiveSource,
  table: string,
  listener: string,
  dt: string,
  hour: string,
): Promise<string[]> {
  return listObjects(source, `${table}/listener=${listener}/dt=${dt}/hour=${hour}/`);
}

/** Every archived record of a listener whose hour partition overlaps [from, to], read hour by hour. */
export async function readArchive(
  source: ArchiveSource,
  from: Date,
  to: Date,
  listener = DEFAULT_LISTENER,
): Promise<ExecutionReportRecord[]> {
  return (await readArchiveLines(source, from, to, listener)).map((entry) => entry.record);
}

/**
 * The archive lines of every hour overlapping [from, to], in archive order: hour by hour, objects
 * by the journal range in their names, lines as written (journal order).
 */
export async function readArchiveLines(
  source: ArchiveSource,
  from: Date,
  to: Date,
  listener = DEFAULT_LISTENER,
): Promise<Array<{ line: string; record: ExecutionReportRecord }>> {
  const out: Array<{ line: string; record: ExecutionReportRecord }> = [];
  for (let hour = Math.floor(from.getTime() / 3600_000) * 3600_000; hour <= to.getTime(); hour += 3600_000) {
    const iso = new Date(hour).toISOString();
    const keys = await hourKeys(source, 'exec_reports', listener, iso.slice(0, 10), iso.slice(11, 13));
    for (const body of await objectsIn(source, keys))
      for (const line of body.split('\n'))
        if (line.length > 0) out.push({ line, record: JSON.parse(line) as ExecutionReportRecord });
  }
  return out;
}

async function objectsIn(source: ArchiveSource, hourKeys: string[]): Promise<string[]> {
  const keys = hourKeys.filter((key) => /\.jsonl(\.gz)?$/.test(key));
  const bodies: string[] = [];
  for (const key of keys) bodies.push(decode(key, await readObject(source, key)));
  return bodies;
}

/** The keys under `prefix` (relative to the archive's own prefix), sorted. */
export async function listObjects(source: ArchiveSource, prefix: string): Promise<string[]> {
  if (source.kind === 'file') {
    let names: string[];
    try {
      names = await readdir(join(source.dir, prefix));
    } catch {
      return [];
    }
    return names
      .filter((n) => !n.includes('.partial'))
      .map((n) => `${prefix}${n}`)
      .sort();
  }
  const keys: string[] = [];
  let token: string | undefined;
  do {
    const page = await source.client.send(
      new ListObjectsV2Command({
        Bucket: source.bucket,
        Prefix: `${source.prefix}${prefix}`,
        ContinuationToken: token,
      }),
    );
    for (const object of page.Contents ?? []) keys.push(object.Key!.slice(source.prefix.length));
    token = page.NextContinuationToken;
  } while (token !== undefined);
  return keys.sort();
}

export async function readObject(source: ArchiveSource, key: string): Promise<Buffer> {
  if (source.kind === 'file') return readFile(join(source.dir, key));
  const got = await source.client.send(new GetObjectCommand({ Bucket: source.bucket, Key: `${source.prefix}${key}` }));
  return Buffer.from(await got.Body!.transformToByteArray());
}

export async function deleteObject(source: ArchiveSource, key: string): Promise<void> {
  if (source.kind === 'file') await unlink(join(source.dir, key));
  else await source.client.send(new DeleteObjectCommand({ Bucket: source.bucket, Key: `${source.prefix}${key}` }));
}

/** A JSONL object's text (gunzipped when its name says so). */
export function decode(name: string, bytes: Buffer): string {
  return (name.endsWith('.gz') ? gunzipSync(bytes) : bytes).toString('utf8');
}
