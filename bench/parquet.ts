/**
 * Section — the typed (Parquet) copy of an hour against its JSONL: bytes stored, bytes each saved
 * query reads, and encode CPU per record.
 *
 * An hour of simulator reports (the decode corpus: OrderFlow, seed 7) is decoded into records and
 * written as the archive writes it: `.jsonl.gz` (gzip, default level) and `.parquet` (the
 * service's encoder: typed columns, ZSTD). A query on the JSONL table reads the whole object; on
 * the Parquet table it reads the footer and the column chunks of the columns it names in the row
 * groups it cannot rule out (Athena's "data scanned"), summed from the file's own metadata. The
 * one-order query is averaged over 200 orders: only row groups whose order_id min/max holds the
 * order are read.
 */
import { performance } from 'node:perf_hooks';
import { compress, init } from '@bokuweb/zstd-wasm';
import { parquetMetadata } from 'hyparquet';
import type { ColumnName, ExecutionReportRecord } from '../src/core/record.js';
import { FixDecoder } from '../src/fix/decoder.js';
import { decodeExecutionReport } from '../src/fix/execution-report.js';
import { jsonlFormat } from '../src/pipeline/archive-format.js';
import { LineBuffer } from '../src/core/line-buffer.js';
import { encodeParquet, ZSTD_LEVEL } from '../src/pipeline/parquet-encode.js';
import { buildCorpus } from './fixtures.js';
import { round } from './timing.js';

export interface ParquetOptions {
  records: number;
}

export const DEFAULT_PARQUET_OPTIONS: ParquetOptions = { records: 36_000 };

/** The columns each saved query reads (partitions cost no bytes). */
const QUERIES: Record<string, readonly ColumnName[]> = {
  'fills-per-symbol-per-hour': ['exec_type', 'symbol', 'last_qty'],
  'order-life-by-order-id': [
    'order_id',
    'transact_time',
    'exec_type',
    'ord_status',
    'cl_ord_id',
    'price',
    'last_qty',
    'last_px',
    'leaves_qty',
    'cum_qty',
    'text',
    'exec_id',
    'msg_seq_num',
  ],
  'duplicate-exec-ids': ['exec_id', 'source'],
};

export interface ParquetResult {
  records: number;
  jsonlGzBytes: number;
  parquetBytes: number;
  parquetToJsonlGz: number;
  encodeMicrosPerRecord: number;
  queries: Array<{ name: string; parquetBytesRead: number; jsonlGzBytesRead: number; fewerBytes: number }>;
}

export async function runParquet(options: ParquetOptions = DEFAULT_PARQUET_OPTIONS): Promise<ParquetResult> {
  await init();
  const corpus = buildCorpus(options.records);
  const records: ExecutionReportRecord[] = [];
  const decoder = new FixDecoder({
    onMessage: (message) =>
      records.push(decodeExecutionReport(message, { receivedAt: Date.UTC(2026, 10, 23, 14), source: 'live' })),
    onError: (error) => {
      throw error;
    },
  });
  for (const chunk of corpus.chunks) decoder.push(chunk);
  const lines = records.map((r) => JSON.stringify(r));
  const jsonlGz = await jsonlFormat(true).encode(LineBuffer.of(lines));
  // Median of three encodes, from the records the worker would parse.
  const times: number[] = [];
  let parquet: Uint8Array = new Uint8Array(0);
  for (let i = 0; i < 3; i++) {
    const start = performance.now();
    parquet = encodeParquet(
      lines.map((l) => JSON.parse(l) as ExecutionReportRecord),
      { compress: (b) => compress(b, ZSTD_LEVEL) },
    );
    times.push(performance.now() - start);
  }
  times.sort((a, b) => a - b);
  const metadata = parquetMetadata(
    parquet.buffer.slice(parquet.byteOffset, parquet.byteOffset + parquet.byteLength) as ArrayBuffer,
  );
  // Per row group: the bytes of each top-level column, and its order_id range.
  const groups = metadata.row_groups.map((group) => {
    const bytes = new Map<string, number>();
    let range = { min: '', max: '\uffff' };
    for (const column of group.columns) {
      const meta = column.meta_data!;
      const top = meta.path_in_schema[0]!;
      bytes.set(top, (bytes.get(top) ?? 0) + Number(meta.total_compressed_size));
      if (top === 'order_id' && meta.statistics !== undefined)
        range = { min: String(meta.statistics.min_value), max: String(meta.statistics.max_value) };
    }
    return { bytes, range };
  });
  const footer = metadata.metadata_length;
  const bytesRead = (columns: readonly ColumnName[], orderId?: string) =>
    footer +
    groups
      .filter((g) => orderId === undefined || (g.range.min <= orderId && orderId <= g.range.max))
      .reduce((sum, g) => sum + columns.reduce((t, c) => t + (g.bytes.get(c) ?? 0), 0), 0);
  const orders = [...new Set(records.map((r) => r.order_id ?? ''))];
  const sample = Array.from({ length: 200 }, (_, i) => orders[Math.floor((i * orders.length) / 200)]!);
  return {
    records: records.length,
    jsonlGzBytes: jsonlGz.length,
    parquetBytes: parquet.length,
    parquetToJsonlGz: round(parquet.length / jsonlGz.length, 3),
    encodeMicrosPerRecord: round((times[1]! * 1000) / records.length, 1),
    queries: Object.entries(QUERIES).map(([name, columns]) => {
      const read =
        name === 'order-life-by-order-id'
          ? Math.round(sample.reduce((sum, id) => sum + bytesRead(columns, id), 0) / sample.length)
          : bytesRead(columns);
      return {
        name,
        parquetBytesRead: read,
        jsonlGzBytesRead: jsonlGz.length,
        fewerBytes: round(jsonlGz.length / read, 1),
      };
    }),
  };
}
