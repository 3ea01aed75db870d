/**
 * The bytes every decode benchmark reads: ExecutionReports as the listener receives them, made by
 * the simulator's own OrderFlow and the project's encoder, so the mix (≈45 % fills with the fee,
 * position and collateral block) and the sizes are the ones the service meets, not a hand-picked
 * single message repeated.
 */
import { encodeMessage } from '../src/fix/encoder.js';
import { formatUtcTimestamp } from '../src/fix/time.js';
import { OrderFlow } from '../src/sim/order-flow.js';

/** A listener's SenderCompID is its API key ID, so Kalshi's reports carry a UUID as TargetCompID. */
export const BENCH_API_KEY = '5f0c1e2d-3b4a-4c5d-8e6f-7a8b9c0d1e2f';

/** Socket chunk size: one TLS record carries at most 16 KiB of plaintext. */
export const CHUNK_BYTES = 16 * 1024;

export interface Corpus {
  /** One buffer per message, wire bytes. */
  frames: Buffer[];
  /** The same messages back to back, cut into socket-sized chunks (frames straddle the cuts). */
  chunks: Buffer[];
  count: number;
  bytes: number;
  fills: number;
  minFrameBytes: number;
  maxFrameBytes: number;
}

/**
 * `count` reports, deterministic for a seed: the clock starts at a fixed instant and advances 1 ms
 * per report, so two runs produce identical bytes.
 */
export function buildCorpus(count: number, seed = 7): Corpus {
  const flow = new OrderFlow({ seed });
  const start = Date.UTC(2026, 10, 23, 14, 0, 0);
  const frames: Buffer[] = [];
  let fills = 0;
  for (let i = 0; i < count; i++) {
    const now = start + i;
    const report = flow.next(new Date(now));
    if (report.execType === 'F') fills++;
    frames.push(
      encodeMessage(
        '8',
        {
          senderCompId: 'KalshiRT',
          targetCompId: BENCH_API_KEY,
          msgSeqNum: i + 2,
          sendingTime: formatUtcTimestamp(now),
        },
        report.fields,
      ),
    );
  }
  const stream = Buffer.concat(frames);
  const chunks: Buffer[] = [];
  for (let offset = 0; offset < stream.length; offset += CHUNK_BYTES)
    chunks.push(stream.subarray(offset, offset + CHUNK_BYTES));
  const sizes = frames.map((f) => f.length);
  return {
    frames,
    chunks,
    count,
    bytes: stream.length,
    fills,
    minFrameBytes: Math.min(...sizes),
    maxFrameBytes: Math.max(...sizes),
  };
}

/** The fields the key-field benchmarks read, in the order they read them. */
export const KEY_TAGS = { ExecID: 17, ExecType: 150, Symbol: 55, LastQty: 32, LastPx: 31, MsgSeqNum: 34 } as const;
