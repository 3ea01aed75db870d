import { constants, readFileSync } from 'node:fs';
import { access, mkdir } from 'node:fs/promises';
import type { AddressInfo } from 'node:net';
import { serve, type ServerType } from '@hono/node-server';
import type { Logger } from 'pino';
import { configWarnings, type Config } from './config.js';
import { ListenerError } from '../core/errors.js';
import { createControlPlane } from '../http/control-plane.js';
import { healthFigures, healthLine, type HealthCounters } from '../http/health-line.js';
import { createMetrics } from '../http/metrics.js';
import { RateHistory } from '../http/rate-history.js';
import {
  logArchiveEvent,
  logBackfillEvent,
  logFillEvent,
  logJournalDamage,
  logJournalEvent,
  logSessionEvent,
  STARTING_MESSAGE,
} from './log.js';
import { ListenerService } from './service.js';
import { LocalFileQueue } from '../sinks/local-file-queue.js';
import { LocalFolderStore } from '../sinks/local-folder-store.js';
import type { FillQueue, ObjectStore } from '../sinks/types.js';

export interface RunningService {
  service: ListenerService;
  /** The control plane's bound port (useful with HTTP_PORT=0). */
  httpPort: number;
  /** Graceful stop: Logout, flush, close. Resolves when done. */
  stop(): Promise<void>;
}

/** Wiring only: config → sinks → service → control plane. */
export async function startListener(config: Config, parentLog: Logger): Promise<RunningService> {
  // Every line names its listener: a fleet's logs can share a group and still be told apart.
  const log = parentLog.child({ listener: config.listenerName });
  await assertUsableSpool(config.spoolDir);
  // The AWS SDK loads only when an AWS sink is configured: it is most of the start-up time.
  const store: ObjectStore =
    config.archive.kind === 's3'
      ? new (await import('../sinks/s3-store.js')).S3Store({
          bucket: config.archive.bucket,
          prefix: config.archive.prefix,
        })
      : new LocalFolderStore(config.archive.dir);
  const queue: FillQueue =
    config.fills.kind === 'sqs'
      ? new (await import('../sinks/sqs-queue.js')).SqsQueue({ queueUrl: config.fills.queueUrl })
      : new LocalFileQueue(config.fills.path);
  const sessionLog = log.child({ component: 'session' });
  const archiveLog = log.child({ component: 'archive' });
  const fillLog = log.child({ component: 'fills' });
  const journalLog = log.child({ component: 'journal' });
  const controlLog = log.child({ component: 'control' });
  log.info(
    {
      host: config.fix.host,
      port: config.fix.port,
      targetCompId: config.fix.targetCompId,
      senderCompId: config.fix.apiKey,
      archive: store.location,
      fills: queue.location,
      spoolDir: config.spoolDir,
    },
    STARTING_MESSAGE,
  );
  for (const warning of configWarnings(config)) log.warn({ code: 'W_CONFIG_HOLES' }, warning);
  const service = await ListenerService.start({
    fix: {
      host: config.fix.host,
      port: config.fix.port,
      targetCompId: config.fix.targetCompId,
      apiKey: config.fix.apiKey,
      privateKey: config.fix.privateKey,
      heartbeatS: config.fix.heartbeatS,
      ...(config.fix.extraCa === undefined ? {} : { extraCa: config.fix.extraCa }),
      ...(config.fix.messageRetentionHours === undefined
        ? {}
        : { messageRetentionHours: config.fix.messageRetentionHours }),
    },
    ...(config.dropCopy === undefined
      ? {}
      : {
          dropCopy: {
            ...config.dropCopy,
            ...(config.fix.extraCa === undefined ? {} : { extraCa: config.fix.extraCa }),
          },
        }),
    listener: config.listenerName,
    spoolDir: config.spoolDir,
    store,
    queue,
    archive: {
      graceMs: config.archiveGraceMs,
      flushMs: config.archiveFlushMs,
      maxObjectBytes: config.archiveMaxObjectBytes,
      gzip: config.archiveGzip,
    },
    ...(config.archiveParquet ? { parquet: { graceMs: config.archiveGraceMs } } : {}),
    onParquetLossy: (value) =>
      archiveLog.warn(
        { execId: value.execId, column: value.column, value: value.value },
        'value the Parquet table cannot hold exactly: null there, kept in the JSONL and raw',
      ),
    onSessionEvent: (event) => logSessionEvent(sessionLog, event),
    onArchiveEvent: (event) => logArchiveEvent(archiveLog, event),
    onFillEvent: (event) => logFillEvent(fillLog, event),
    onBackfillEvent: (event) => logBackfillEvent(log.child({ component: 'backfill' }), event),
    onJournalDamage: (damage) => logJournalDamage(journalLog, damage),
    onJournalEvent: (event) => logJournalEvent(journalLog, event),
    onFatal: (error) => {
      log.fatal({ code: error.code, err: error }, 'fatal: exiting so the orchestrator restarts the task');
      process.exitCode = 1;
      setImmediate(() => process.exit(1));
    },
  });
  // The status page's charts: the running counters sampled at a steady pace.
  const rates = new RateHistory();
  const sampleRates = () => rates.sample(Date.now(), service.counters());
  sampleRates();
  const rateTimer = setInterval(sampleRates, rates.intervalMs);
  rateTimer.unref();
  const app = createControlPlane({
    target: service,
    rates,
    listener: config.listenerName,
    fleet: config.fleetStatusUrls,
    metrics: createMetrics(() => service.status(), { listener: config.listenerName }),
    ...(config.controlToken === undefined ? {} : { controlToken: config.controlToken }),
    version: packageVersion(),
    startedAt: Date.now(),
    onReconnectRequest: ({ caller, outcome }) =>
      outcome === 'unauthorized'
        ? controlLog.warn({ caller, outcome }, 'POST /reconnect refused: no valid bearer token')
        : controlLog.info({ caller, outcome }, 'POST /reconnect'),
  });
  let server: ServerType;
  try {
    server = await listen(app.fetch, config.httpPort, config.httpHost);
  } catch (cause) {
    clearInterval(rateTimer);
    // A port in use is a setting to change, reported like every other one (exit 2), not a crash.
    await service
      .stop()
      .catch((error: unknown) =>
        log.error(
          { code: (error as { code?: string }).code ?? null, err: error },
          'stop after the control plane could not listen failed',
        ),
      );
    const code = (cause as NodeJS.ErrnoException).code ?? 'unknown';
    throw configProblem(`HTTP_PORT ${config.httpPort} on ${config.httpHost} cannot be used (${code})`, cause);
  }
  const httpPort = (server.address() as AddressInfo).port;
  log.info({ httpHost: config.httpHost, httpPort }, 'control plane listening');
  // What /readyz says, in the log at a steady pace: CloudWatch alarms on it (as metrics when
  // METRICS_NAMESPACE is set), and a reader of the log alone sees when and why it changed.
  const healthLog = log.child({ component: 'health' });
  let lastCounters: HealthCounters | undefined;
  const healthTimer = setInterval(() => {
    const status = service.status();
    const figures = healthFigures(status, undefined, lastCounters);
    lastCounters = status.counters;
    healthLog.info(healthLine(figures, config.metricsNamespace, Date.now(), config.listenerName), 'health');
  }, config.healthLogIntervalMs);
  healthTimer.unref();
  let stopping: Promise<void> | undefined;
  return {
    service,
    httpPort,
    stop: () =>
      (stopping ??= (async () => {
        clearInterval(healthTimer);
        clearInterval(rateTimer);
        await service.stop();
        await queue.close?.();
        await new Promise<void>((resolve) => server.close(() => resolve()));
      })()),
  };
}

/**
 * SIGTERM/SIGINT: stop taking work, Logout, flush the archive's open hours and the fill batches,
 * close the journal, exit 0 — or 1 past the bound. A second signal exits at once.
 */
export function installLifecycle(
  running: () => RunningService | undefined,
  log: Logger,
  shutdownTimeoutMs: number,
): void {
  let signalled = false;
  const onSignal = (signal: NodeJS.Signals) => {
    if (signalled) {
      log.warn({ signal }, 'second signal: exiting now');
      process.exit(1);
    }
    signalled = true;
    log.info({ signal, timeoutMs: shutdownTimeoutMs }, 'shutting down');
    const timer = setTimeout(() => {
      log.error(
        { timeoutMs: shutdownTimeoutMs },
        'shutdown did not finish in time; exiting (the journal keeps what was not flushed)',
      );
      process.exit(1);
    }, shutdownTimeoutMs);
    timer.unref();
    void (running()?.stop() ?? Promise.resolve()).then(
      () => {
        log.info('stopped cleanly');
        process.exit(0);
      },
      (error: unknown) => {
        log.error({ code: (error as { code?: string }).code ?? null, err: error }, 'error during shutdown');
        process.exit(1);
      },
    );
  };
  process.on('SIGTERM', onSignal);
  process.on('SIGINT', onSignal);
  process.on('uncaughtException', (error) => {
    log.fatal({ code: (error as { code?: string }).code ?? null, err: error }, 'uncaught exception');
    process.exit(1);
  });
  process.on('unhandledRejection', (reason) => {
    log.fatal({ code: (reason as { code?: string } | undefined)?.code ?? null, err: reason }, 'unhandled rejection');
    process.exit(1);
  });
}

function listen(fetch: Parameters<typeof serve>[0]['fetch'], port: number, hostname: string): Promise<ServerType> {
  return new Promise((resolve, reject) => {
    const server = serve({ fetch, port, hostname }, () => resolve(server));
    server.once('error', reject);
  });
}

export function packageVersion(): string {
  for (const candidate of ['../../package.json', '../../../package.json']) {
    try {
      return (JSON.parse(readFileSync(new URL(candidate, import.meta.url), 'utf8')) as { version: string }).version;
    } catch {
      // try the next layout (src/app/ under tsx, dist/src/app/ when built)
    }
  }
  return 'unknown';
}

/** A start problem in the same one-message form as the environment's (ERR_CONFIG, exit 2). */
function configProblem(problem: string, cause?: unknown): ListenerError {
  return new ListenerError('ERR_CONFIG', `invalid configuration:\n  - ${problem}`, {
    cause,
    details: { problems: [problem] },
  });
}

/** SPOOL_DIR must exist (or be creatable) and be writable before anything is started on it. */
async function assertUsableSpool(dir: string): Promise<void> {
  try {
    await mkdir(dir, { recursive: true });
    await access(dir, constants.W_OK);
  } catch (cause) {
    const code = (cause as NodeJS.ErrnoException).code ?? 'unknown';
    throw configProblem(`SPOOL_DIR ${dir} is not a writable directory (${code})`, cause);
  }
}
