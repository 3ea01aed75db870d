import { isListenerError } from '../core/errors.js';
import { CommandRefusal, parseCommand, type CommandSpec, type Command } from './cli-command.js';
import { loadConfig, type Config } from './config.js';
import { createLogger } from './log.js';
import { installLifecycle, startListener, type RunningService } from './main.js';

export const RUN = {
  name: 'run',
  synopsis: '',
  description:
    "Runs the service, configured from the environment (the README's configuration table lists every\n" +
    'variable), until SIGTERM or SIGINT: Logout, flush, exit 0. Every configuration problem is listed at\n' +
    'once, with exit 2, before anything connects.',
  options: {},
  environment: [
    ['FIX_HOST, FIX_PORT', 'the Kalshi FIX gateway (required)'],
    ['FIX_TARGET_COMP_ID', 'KalshiNR or KalshiRT'],
    ['FIX_API_KEY', 'the API key ID: SenderCompID (required)'],
    ['FIX_PRIVATE_KEY(_FILE)', 'its RSA private key, PEM or a path to it (required)'],
    ['FIX_DC_*', 'the drop copy (KalshiDC) that fills gaps'],
    ['ARCHIVE_URL', 's3://bucket/prefix/ or file:///dir (required)'],
    ['FILLS_QUEUE_URL', 'an SQS queue URL or file:///path.jsonl (required)'],
    ['SPOOL_DIR, HTTP_PORT, …', 'see the README'],
  ],
} as const satisfies CommandSpec;

/** `kalshi-fix-listener run`: the service from the environment, until a signal. */
export async function runCommand(args: string[], env: NodeJS.ProcessEnv): Promise<number | undefined> {
  parseCommand(RUN, args);
  return serveUntilSignal([configFrom(env)], () => Promise.resolve());
}

/** The validated configuration, or a refusal (exit 2) listing every problem. */
export function configFrom(env: Record<string, string | undefined>): Config {
  try {
    return loadConfig(env);
  } catch (error) {
    if (isListenerError(error, 'ERR_CONFIG')) throw new CommandRefusal(error.message, { code: 'ERR_CONFIG' });
    throw error;
  }
}

/**
 * Starts the listeners and leaves the process to live until a signal (undefined: no exit code).
 * A spool or a port that cannot be used is refused like an environment problem, once the
 * listeners already started are stopped and `cleanup` has run.
 */
export async function serveUntilSignal(configs: Config[], cleanup: () => Promise<void>): Promise<undefined> {
  const log = createLogger(configs[0]!.logLevel);
  // Signals may arrive while the services are still starting: the holder is filled as each
  // service starts (before its control plane listens), so a signal then stops it gracefully too.
  const holder: { running: RunningService[]; starting: (() => Promise<void>) | undefined } = {
    running: [],
    starting: undefined,
  };
  installLifecycle(
    () => {
      const stops = [
        ...holder.running.map((r) => () => r.stop()),
        ...(holder.starting === undefined ? [] : [holder.starting]),
      ];
      return stops.length === 0
        ? undefined
        : {
            stop: async () => {
              await Promise.all(stops.map((stop) => stop()));
              await cleanup();
            },
          };
    },
    log,
    configs[0]!.shutdownTimeoutMs,
  );
  try {
    for (const config of configs) {
      holder.running.push(await startListener(config, log, (stop) => (holder.starting = stop)));
      holder.starting = undefined;
    }
  } catch (error) {
    holder.starting = undefined;
    if (isListenerError(error, 'ERR_CONFIG')) {
      await Promise.all(holder.running.map((r) => r.stop()));
      await cleanup();
      throw new CommandRefusal(error.message, { code: 'ERR_CONFIG', cause: error });
    }
    throw error;
  }
  return undefined;
}

export const COMMAND: Command = { spec: RUN, main: (args, io) => runCommand(args, io.env) };
