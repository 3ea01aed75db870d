import { constants, readFileSync } from 'node:fs';
import { access, mkdir } from 'node:fs/promises';
import type { Logger } from 'pino';
import { configWarnings, type Config } from './config.js';
import { bindControlPort, type ControlPort } from './control-port.js';
import { isListenerError, ListenerError } from '../core/errors.js';
import { healthFigures, healthLine, type HealthCounters } from '../http/health-line.js';
import { RateHistory } from '../http/rate-history.js';
import {
  logArchiveEvent,
  logParquetEvent,
  logBackfillEvent,
  logFillEvent,
  logJournalDamage,
  logJournalEvent,
  logSessionEvent,
  STARTING_MESSAGE,
} from './log.js';
import { ListenerService } from './service.js';
import { childParquetRunner } from './parquet-builds.js';
import { LocalFileQueue } from '../sinks/local-file-queue.js';
import { LocalFolderStore } from '../sinks/local-folder-store.js';
import { DeferredFillQueue, DeferredObjectStore, s3Location, sqsQueueShape } from './deferred-sinks.js';
import { describeHolder, lockSpool, type SpoolLock } from './spool-lock.js';

export interface RunningService {
  service: ListenerService;
  /** The control plane's bound port (useful with HTTP_PORT=0). */
  httpPort: number;
  /** Graceful stop: Logout, flush, close. Resolves when done. */
  stop(): Promise<void>;
}

/**
 * How long what loads after the first Logon (control plane, AWS SDK) waits for it, from the start
 * of the sinks, before it loads anyway: /healthz must answer, and the sinks must deliver, even
 * when the exchange cannot be reached or the start is slow.
 */
export const LOGON_WAIT_MS = 1000;

/**
 * Wiring only: spool lock → control plane port → sinks → service → control plane. The spool is
 * locked and the port bound before anything connects to the exchange, so a second listener on the
 * same spool, or a start on a port in use, exits 2 without logging on. The control plane's handler
 * (hono and prom-client: about a third of the start-up time in imports) and the AWS SDK are loaded
 * once the first Logon is on the wire, so they do not delay it; requests that come before wait for
 * the handler. startListener resolves when the control plane serves and the sinks are loaded.
 * Nothing is lost meanwhile: the control plane's metrics and pages read the service's own totals
 * when asked, and the sinks' writes wait for their SDK. `onServiceStarted` gets the graceful stop
 * as soon as there is a service to stop.
 */
export async function startListener(
  config: Config,
  parentLog: Logger,
  onServiceStarted?: (stop: () => Promise<void>) => void,
): Promise<RunningService> {
  // Every line names its listener: a fleet's logs can share a group and still be told apart.
  const log = parentLog.child({ listener: config.listenerName });
  await assertUsableSpool(config.spoolDir);
  const lock = await lockSpoolOrExplain(config.spoolDir, log);
  let port: ControlPort;
  try {
    port = await bindControlPort(config.httpPort, config.httpHost);
  } catch (cause) {
    lock.release();
    // A port in use is a setting to change, reported like every other one (exit 2), not a crash.
    const code = (cause as NodeJS.ErrnoException).code ?? 'unknown';
    throw configProblem(`HTTP_PORT ${config.httpPort} on ${config.httpHost} cannot be used (${code})`, cause);
  }
  let firstAttemptDone!: () => void;
  const firstAttempt = new Promise<void>((resolve) => (firstAttemptDone = resolve));
  // What the Logon need not wait for loads once it is on the wire (or the first attempt failed):
  // the control plane, and the AWS SDK when an AWS sink is configured (it takes longer to import
  // than everything before the Logon together). The wait is bounded from here, so no write the
  // start itself made could wait for the Logon.
  const afterLogon = settledOrAfter(firstAttempt, LOGON_WAIT_MS);
  const { archive, fills } = config;
  const store =
    archive.kind === 's3'
      ? new DeferredObjectStore(
          s3Location(archive.bucket, archive.prefix),
          afterLogon,
          async () =>
            new (await import('../sinks/s3-store.js')).S3Store({ bucket: archive.bucket, prefix: archive.prefix }),
        )
      : new LocalFolderStore(archive.dir);
  const queue =
    fills.kind === 'sqs'
      ? new DeferredFillQueue(
          sqsQueueShape(fills.queueUrl),
          afterLogon,
          async () => new (await import('../sinks/sqs-queue.js')).SqsQueue({ queueUrl: fills.queueUrl }),
        )
      : new LocalFileQueue(fills.path);
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
      connectTimeoutMs: config.fix.connectTimeoutMs,
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
    journal: { lingerMs: config.journalLingerMs },
    fills: { batchWaitMs: config.fillsBatchWaitMs },
    store,
    queue,
    archive: {
      graceMs: config.archiveGraceMs,
      flushMs: config.archiveFlushMs,
      timeOutlierMs: config.archiveTimeOutlierMs,
      maxObjectBytes: config.archiveMaxObjectBytes,
      gzip: config.archiveGzip,
    },
    ...(config.archiveParquet
      ? { parquet: { run: childParquetRunner({ archiveUrl: store.location, listener: config.listenerName }) } }
      : {}),
    onParquetEvent: (event) => logParquetEvent(archiveLog, event),
    onParquetLossy: (value) =>
      archiveLog.warn(
        { execId: value.execId, column: value.column, value: value.value },
        'value the Parquet table cannot hold exactly: null there, kept in the JSONL and raw',
      ),
    onSessionEvent: (event) => {
      logSessionEvent(sessionLog, event);
      // `connected` is emitted just before the Logon is written, in the same tick: whoever awaits
      // firstAttempt runs after it. `disconnected`: the first attempt failed.
      if (event.kind === 'connected' || event.kind === 'disconnected') firstAttemptDone();
    },
    onArchiveEvent: (event) => logArchiveEvent(archiveLog, event),
    onFillEvent: (event) => logFillEvent(fillLog, event),
    onBackfillEvent: (event) => logBackfillEvent(log.child({ component: 'backfill' }), event),
    onJournalDamage: (damage) => logJournalDamage(journalLog, damage),
    onSpoolFileDamage: (error) =>
      (error.code === 'ERR_SPOOL_LINE_DAMAGED' ? journalLog.error.bind(journalLog) : journalLog.warn.bind(journalLog))(
        { code: error.code, path: error.details?.['path'], damage: error.details?.['damage'] },
        error.message,
      ),
    onExecIdConflict: (conflict) =>
      journalLog.warn(
        { code: 'ERR_EXEC_ID_CONFLICT', execId: conflict.execId, lsn: conflict.lsn, fields: conflict.fields },
        'a report reused a journaled ExecID with different content: parked as a dead letter, not journaled',
      ),
    onJournalEvent: (event) => logJournalEvent(journalLog, event),
    onFatal: (error) => {
      log.fatal({ code: error.code, err: error }, 'fatal: exiting so the orchestrator restarts the task');
      process.exitCode = 1;
      setImmediate(() => process.exit(1));
    },
  }).catch(async (error: unknown) => {
    // Nothing runs on the spool or serves on the port: both go to whoever starts next.
    await port.close();
    lock.release();
    throw error;
  });
  // The status page's charts: the running counters sampled at a steady pace.
  const rates = new RateHistory();
  const sampleRates = () => rates.sample(Date.now(), service.counters());
  sampleRates();
  const rateTimer = setInterval(sampleRates, rates.intervalMs);
  rateTimer.unref();
  // What the stop closes, once it exists.
  const late: { healthTimer?: NodeJS.Timeout } = {};
  let stopping: Promise<void> | undefined;
  const stop = () =>
    (stopping ??= (async () => {
      clearInterval(late.healthTimer);
      clearInterval(rateTimer);
      await service.stop();
      await queue.close?.();
      await port.close();
      // Last, once nothing writes to the spool any more. A stop that failed keeps it until the
      // process exits, and the next start is told the holder did not stop cleanly.
      lock.release();
    })());
  // From here a signal stops the service gracefully, control plane or not.
  onServiceStarted?.(stop);
  await afterLogon;
  const [{ createControlPlane }, { createMetrics }, { getRequestListener }] = await Promise.all([
    import('../http/control-plane.js'),
    import('../http/metrics.js'),
    import('@hono/node-server'),
  ]);
  const app = createControlPlane({
    target: service,
    rates,
    listener: config.listenerName,
    fleet: config.fleetStatusUrls,
    metrics: createMetrics(() => service.status(), { listener: config.listenerName }),
    ...(config.controlToken === undefined ? {} : { controlToken: config.controlToken }),
    reconnectMinIntervalMs: config.reconnectMinIntervalMs,
    version: packageVersion(),
    startedAt: Date.now(),
    onReconnectRequest: ({ caller, outcome }) =>
      outcome === 'unauthorized'
        ? controlLog.warn({ caller, outcome }, 'POST /reconnect refused: no valid bearer token')
        : controlLog.info({ caller, outcome }, 'POST /reconnect'),
  });
  port.serve(getRequestListener(app.fetch, { hostname: config.httpHost }));
  const httpPort = port.port;
  log.info({ httpHost: config.httpHost, httpPort }, 'control plane listening');
  // Stopped while the control plane was loading: the stop closes the port, nothing more to start.
  if (stopping !== undefined) return { service, httpPort, stop };
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
  late.healthTimer = healthTimer;
  // An AWS adapter that cannot load fails the start, as it did when it loaded first.
  try {
    await Promise.all([store, queue].flatMap((sink) => ('loaded' in sink ? [sink.loaded] : [])));
  } catch (error) {
    await stop().catch((stopError: unknown) =>
      log.error(
        { code: (stopError as { code?: string }).code ?? null, err: stopError },
        'stop after an AWS sink could not load failed',
      ),
    );
    throw error;
  }
  return { service, httpPort, stop };
}

/**
 * SIGTERM/SIGINT: stop taking work, Logout, flush the archive's open hours and the fill batches,
 * close the journal, exit 0 — or 1 past the bound. A second signal exits at once.
 */
export function installLifecycle(
  running: () => Pick<RunningService, 'stop'> | undefined,
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

/** Resolves when `promise` does, or after `ms`, whichever comes first. */
async function settledOrAfter(promise: Promise<void>, ms: number): Promise<void> {
  let timer: NodeJS.Timeout | undefined;
  try {
    await Promise.race([promise, new Promise<void>((resolve) => (timer = setTimeout(resolve, ms)))]);
  } finally {
    clearTimeout(timer);
  }
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

/**
 * The spool's lock, or the reason there is none as a start problem (exit 2): another listener
 * holds it (ERR_SPOOL_LOCKED, naming it), or it cannot be taken here (ERR_SPOOL_LOCK_FAILED). A
 * lock file left by a holder that did not stop cleanly is said once, as a warning.
 */
async function lockSpoolOrExplain(dir: string, log: Logger): Promise<SpoolLock> {
  let lock: SpoolLock;
  try {
    lock = await lockSpool(dir);
  } catch (error) {
    if (!isListenerError(error, 'ERR_SPOOL_LOCKED') && !isListenerError(error, 'ERR_SPOOL_LOCK_FAILED')) throw error;
    log.error({ code: error.code, err: error, ...error.details }, error.message);
    const advice =
      error.code === 'ERR_SPOOL_LOCKED'
        ? 'stop that listener first, or give this one a SPOOL_DIR of its own'
        : 'the lock needs flock(1) (util-linux) and a SPOOL_DIR on a file system with flock: a local disk, or NFSv4.1 such as EFS';
    throw configProblem(`${error.message} (${error.code}): ${advice}`, error);
  }
  if (lock.unnamed !== undefined)
    log.warn(
      { code: 'W_SPOOL_LOCK_UNNAMED', err: lock.unnamed, lockFile: lock.path },
      `SPOOL_DIR is locked, but who holds it could not be written to ${lock.path} (${lock.unnamed.code ?? 'unknown'}): a second listener is still refused, only not told who holds it`,
    );
  if (lock.previous !== undefined)
    log.warn(
      { code: 'W_SPOOL_LOCK_LEFT', previous: lock.previous, lockFile: lock.path },
      `SPOOL_DIR was left locked by ${describeHolder(lock.previous)}, which did not stop cleanly (crashed or killed); its lock had ended with it, so the spool is ours now`,
    );
  return lock;
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
