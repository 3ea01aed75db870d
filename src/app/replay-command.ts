import { Backoff } from '../core/backoff.js';
import { sleep, systemClock, type Clock } from '../core/clock.js';
import type { ExecutionReportRecord } from '../core/record.js';
import { fillQueueMessage } from '../pipeline/fill-message.js';
import { DEFAULT_LISTENER } from '../core/env-checks.js';
import { readArchiveLines, type ArchiveSource } from '../reconcile/archive-reader.js';
import { LocalFileQueue } from '../sinks/local-file-queue.js';
import type { FillQueue, QueueMessage } from '../sinks/types.js';
import { parseCommand, usageError, type CommandSpec, type Command, type Print } from './cli-command.js';
import { archiveAccess, archiveUrlFrom, listenerFrom, RANGE_OPTIONS, timeRange } from './command-args.js';
import { parseFillsUrl } from './config.js';

export interface ReplaySummary {
  from: string;
  to: string;
  symbol: string | null;
  listener: string;
  queue: string;
  dryRun: boolean;
  /** Archive lines read for the hours of the range. */
  read: number;
  /** Fills in the range (and of the symbol). */
  selected: number;
  sent: number;
  /** Copies of an ExecID already selected, and fills too large for the queue even shrunk. */
  skipped: number;
  failed: Array<{ execId: string; code: string; message: string }>;
}

const MAX_ATTEMPTS = 8;

/**
 * Sends the archived fills of [from, to] to a queue again, exactly as the publisher sent them:
 * the same body, attributes, FIFO group (`listener:symbol`) and deduplication id (the ExecID), in
 * archive order within each group. A batch holds at most one fill per group, so a fill is sent
 * only once the one before it in its group was accepted: order holds through throttling and
 * retries. A fill the queue refuses for itself is reported and its group goes on.
 */
export async function replayFills(input: {
  source: ArchiveSource;
  queue: FillQueue;
  from: Date;
  to: Date;
  symbol?: string;
  /** Whose fills (default `default`): read from its partition, sent with its attribute and groups. */
  listener?: string;
  dryRun?: boolean;
  onProgress?: (sent: number, total: number) => void;
  retryBaseMs?: number;
  /** The waits between retries of a throttled batch (default: the real clock). */
  clock?: Clock;
}): Promise<ReplaySummary> {
  const listener = input.listener ?? DEFAULT_LISTENER;
  const lines = await readArchiveLines(input.source, input.from, input.to, listener);
  const seen = new Set<string>();
  const groups = new Map<string, Array<{ record: ExecutionReportRecord; message: QueueMessage }>>();
  let selected = 0;
  let skipped = 0;
  for (const { line, record } of lines) {
    const at = Date.parse(record.transact_time ?? record.received_at);
    if (record.exec_type !== 'F' || at < input.from.getTime() || at > input.to.getTime()) continue;
    if (input.symbol !== undefined && record.symbol !== input.symbol) continue;
    selected++;
    if (seen.has(record.exec_id)) {
      skipped++;
      continue;
    }
    seen.add(record.exec_id);
    const { message, fitted, group } = fillQueueMessage(line, () => record, input.queue, `r${selected}`, listener);
    if (fitted === undefined) {
      skipped++;
      continue;
    }
    let queue = groups.get(group);
    if (queue === undefined) groups.set(group, (queue = []));
    queue.push({ record, message });
  }
  const summary: ReplaySummary = {
    from: input.from.toISOString(),
    to: input.to.toISOString(),
    symbol: input.symbol ?? null,
    listener,
    queue: input.queue.location,
    dryRun: input.dryRun === true,
    read: lines.length,
    selected,
    sent: 0,
    skipped,
    failed: [],
  };
  const total = [...groups.values()].reduce((sum, g) => sum + g.length, 0);
  if (input.dryRun === true) return summary;
  const heads = new Map([...groups.keys()].map((group) => [group, 0]));
  const backoff = new Backoff({ initialMs: input.retryBaseMs ?? 200, maxMs: 10_000 });
  let attempts = 0;
  while (heads.size > 0) {
    const batch: Array<{ group: string; record: ExecutionReportRecord; message: QueueMessage }> = [];
    let bytes = 0;
    for (const [group, head] of heads) {
      const next = groups.get(group)![head]!;
      const size = Buffer.byteLength(next.message.body) + 256;
      if (
        batch.length === input.queue.maxBatchEntries ||
        (batch.length > 0 && bytes + size > input.queue.maxBatchBytes)
      )
        break;
      batch.push({ group, ...next });
      bytes += size;
    }
    const failures = new Map((await input.queue.sendBatch(batch.map((b) => b.message))).map((f) => [f.id, f]));
    let retry = false;
    for (const { group, record, message } of batch) {
      const failure = failures.get(message.id);
      if (failure !== undefined && !failure.senderFault) {
        retry = true;
        continue;
      }
      if (failure !== undefined)
        summary.failed.push({ execId: record.exec_id, code: failure.code, message: failure.message });
      else summary.sent++;
      const head = heads.get(group)! + 1;
      if (head === groups.get(group)!.length) heads.delete(group);
      else heads.set(group, head);
    }
    input.onProgress?.(summary.sent + summary.failed.length, total);
    if (!retry) {
      attempts = 0;
      backoff.reset();
      continue;
    }
    if (++attempts >= MAX_ATTEMPTS) {
      // Throttling or an outage that does not pass: stop, and say where.
      for (const [group, head] of heads) {
        const next = groups.get(group)![head]!;
        summary.failed.push({
          execId: next.record.exec_id,
          code: 'ERR_SQS_SEND',
          message: 'not sent: retries exhausted',
        });
      }
      break;
    }
    await sleep(input.clock ?? systemClock, backoff.next());
  }
  return summary;
}

export const REPLAY = {
  name: 'replay',
  synopsis: '--from ISO --to ISO --queue URL [--symbol S] [--listener NAME] [--dry-run]',
  description:
    'Sends the archived fills of [from, to] to a queue again, exactly as the publisher sent them (same body,\n' +
    'attributes, FIFO group and deduplication id, in archive order). A progress bar on a terminal (stderr),\n' +
    'a JSON summary on stdout. Exit 0 when every selected fill was sent, 1 when some failed, 2 on bad input.',
  options: {
    ...RANGE_OPTIONS,
    queue: { type: 'string', value: 'URL', help: 'an SQS queue URL or file:///path.jsonl (required)' },
    symbol: { type: 'string', value: 'S', help: 'only the fills of this symbol' },
    listener: { type: 'string', value: 'NAME', help: 'whose fills (default: LISTENER_NAME, then default)' },
    'dry-run': { type: 'boolean', help: 'count what would be sent, send nothing' },
  },
  environment: [
    ['ARCHIVE_URL', 's3://bucket/prefix/ or file:///dir (required)'],
    ['AWS_REGION, AWS_ENDPOINT_URL_*', "the AWS SDK's own, for an S3 archive or an SQS queue"],
  ],
} as const satisfies CommandSpec;

/**
 * `kalshi-fix-listener replay`, ARCHIVE_URL from the environment. Exit 0 when every selected fill
 * was sent, 1 when some failed; a CommandRefusal (exit 2) on bad input.
 */
export async function replayCommand(
  args: string[],
  env: NodeJS.ProcessEnv,
  out: Print,
  progress: NodeJS.WriteStream | undefined = process.stderr.isTTY ? process.stderr : undefined,
): Promise<number> {
  const values = parseCommand(REPLAY, args);
  const problems: string[] = [];
  const { from, to } = timeRange(values, problems);
  const listener = listenerFrom(values.listener, env, problems);
  if (values.queue === undefined) problems.push('--queue is required (an SQS queue URL or file:///path.jsonl)');
  const archiveUrl = archiveUrlFrom(env, problems);
  const queueUrl = values.queue === undefined ? undefined : parseFillsUrl(values.queue, problems);
  if (problems.length > 0 || archiveUrl === undefined || queueUrl === undefined) throw usageError(problems);
  const { source } = archiveAccess(archiveUrl, env);
  const queue: FillQueue =
    queueUrl.kind === 'sqs'
      ? new (await import('../sinks/sqs-queue.js')).SqsQueue({ queueUrl: queueUrl.queueUrl })
      : new LocalFileQueue(queueUrl.path);
  const summary = await replayFills({
    source,
    queue,
    from,
    to,
    ...(values.symbol === undefined ? {} : { symbol: values.symbol }),
    listener,
    dryRun: values['dry-run'] === true,
    onProgress: (done, total) => {
      if (progress === undefined || total === 0) return;
      const width = 30;
      const filled = Math.round((done / total) * width);
      progress.write(`\rreplay [${'#'.repeat(filled)}${'.'.repeat(width - filled)}] ${done}/${total}`);
      if (done === total) progress.write('\n');
    },
  });
  await queue.close?.();
  out(`${JSON.stringify(summary, null, 2)}\n`);
  return summary.failed.length === 0 ? 0 : 1;
}

export const COMMAND: Command = { spec: REPLAY, main: (args, io) => replayCommand(args, io.env, io.out) };
