import { GetObjectCommand, ListObjectsV2Command, type S3Client } from '@aws-sdk/client-s3';
import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { gunzipSync } from 'node:zlib';
import type { ExecutionReportRecord } from '../core/record.js';

export type ArchiveSource =
  { kind: 'file'; dir: string } | { kind: 's3'; bucket: string; prefix: string; client: S3Client };

/** Every archived record whose hour partition overlaps [from, to], read hour by hour. */
export async function readArchive(source: ArchiveSource, from: Date, to: Date): Promise<ExecutionReportRecord[]> {
  const out: ExecutionReportRecord[] = [];
  for (let hour = Math.floor(from.getTime() / 3600_000) * 3600_000; hour <= to.getTime(); hour += 3600_000) {
    const iso = new Date(hour).toISOString();
    const partition = `exec_reports/dt=${iso.slice(0, 10)}/hour=${iso.slice(11, 13)}/`;
    for (const body of await objectsIn(source, partition)) {
      for (const line of body.split('\n')) if (line.length > 0) out.push(JSON.parse(line) as ExecutionReportRecord);
    }
  }
  return out;
}

async function objectsIn(source: ArchiveSource, partition: string): Promise<string[]> {
  if (source.kind === 'file') {
    let names: string[];
    try {
      names = await readdir(join(source.dir, partition));
    } catch {
      return [];
    }
    return Promise.all(
      names
        .filter((n) => /\.jsonl(\.gz)?$/.test(n))
        .map(async (n) => decode(n, await readFile(join(source.dir, partition, n)))),
    );
  }
  const bodies: string[] = [];
  let token: string | undefined;
  do {
    const page = await source.client.send(
      new ListObjectsV2Command({
        Bucket: source.bucket,
        Prefix: `${source.prefix}${partition}`,
        ContinuationToken: token,
      }),
    );
    for (const object of page.Contents ?? []) {
      const got = await source.client.send(new GetObjectCommand({ Bucket: source.bucket, Key: object.Key! }));
      bodies.push(decode(object.Key!, Buffer.from(await got.Body!.transformToByteArray())));
    }
    token = page.NextContinuationToken;
  } while (token !== undefined);
  return bodies;
}

function decode(name: string, bytes: Buffer): string {
  return (name.endsWith('.gz') ? gunzipSync(bytes) : bytes).toString('utf8');
}
