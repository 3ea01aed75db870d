#!/usr/bin/env node
import { generateKeyPairSync, randomUUID } from 'node:crypto';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';
import { DEFAULTS, loadConfig, type Config } from './config.js';
import { isListenerError } from '../core/errors.js';
import { createLogger } from './log.js';
import { installLifecycle, startListener, type RunningService } from './main.js';

const USAGE = `kalshi-fix-listener <command>

Commands:
  run      the service, configured from the environment (see README)
  demo [--listeners N]   the service against a local Kalshi simulator, archive and fills under ./data, no AWS needed
  sim      the Kalshi FIX simulator on its own (prints the key, ports and CA it uses)
  keygen [--out kalshi-key] [--force]   an RSA key pair for a Kalshi API key (never over an existing one without --force)
  reconcile --from ISO --to ISO [--listener NAME]   compare archived fills with Kalshi's REST fills
  rebuild-parquet --hour YYYY-MM-DDTHH [--listener NAME] [--replace]   rebuild an hour's Parquet from its JSONL
  replay --from ISO --to ISO [--symbol S] [--listener NAME] --queue URL [--dry-run]   send archived fills to a queue again
`;

async function main(argv: string[]): Promise<number | undefined> {
  const [command, ...rest] = argv;
  switch (command) {
    case 'run':
      return run();
    case 'demo':
      return demo(rest);
    case 'sim':
      return sim(rest);
    case 'keygen':
      // Relative to where the user ran `npm run keygen` (npm runs scripts in the package folder).
      return (await import('./keygen-command.js')).keygenCommand(
        rest,
        process.env['INIT_CWD'] ?? process.cwd(),
        (text) => process.stdout.write(text),
        (text) => process.stderr.write(text),
      );
    case 'reconcile':
      return (await import('./reconcile-command.js')).reconcileCommand(rest, process.env, (text) =>
        process.stdout.write(text),
      );
    case 'rebuild-parquet':
      return (await import('./rebuild-parquet-command.js')).rebuildParquetCommand(rest, process.env, (text) =>
        process.stdout.write(text),
      );
    case 'replay':
      return (await import('./replay-command.js')).replayCommand(rest, process.env, (text) =>
        process.stdout.write(text),
      );
    case 'help':
    case '--help':
      process.stdout.write(USAGE);
      return 0;
    default:
      process.stderr.write(`${command === undefined ? 'no command given' : `unknown command: ${command}`}\n\n${USAGE}`);
      return 2;
  }
}

/** The service from the environment. */
async function run(): Promise<number | undefined> {
  const config = configFrom(process.env);
  return typeof config === 'number' ? config : serveUntilSignal([config], () => Promise.resolve());
}

/** The validated configuration, or exit code 2 after listing every problem. */
function configFrom(env: Record<string, string | undefined>): Config | number {
  try {
    return loadConfig(env);
  } catch (error) {
    if (isListenerError(error, 'ERR_CONFIG')) {
      process.stderr.write(`kalshi-fix-listener: ${error.message}\n`);
      return 2;
    }
    throw error;
  }
}

async function serveUntilSignal(configs: Config[], cleanup: () => Promise<void>): Promise<number | undefined> {
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
    // A spool or a port that cannot be used: reported like an environment problem.
    if (isListenerError(error, 'ERR_CONFIG')) {
      process.stderr.write(`kalshi-fix-listener: ${error.message}\n`);
      await Promise.all(holder.running.map((r) => r.stop()));
      await cleanup();
      return 2;
    }
    throw error;
  }
  return undefined; // the process lives until a signal
}

/** A demo fleet is a handful of listeners on one machine. */
const MAX_DEMO_LISTENERS = 9;

/**
 * The embedded default: simulator + service on loopback, local folder and file sinks. With
 * `--listeners N`, a fleet: N keys at the simulator, N listeners (listener-1…N) writing one archive,
 * each with its own journal, fills file and control plane (HTTP_PORT, HTTP_PORT+1, …).
 */
async function demo(args: string[]): Promise<number | undefined> {
  const { values } = parseArgs({
    args,
    options: {
      data: { type: 'string', default: process.env['DATA_DIR'] ?? 'data' },
      rate: { type: 'string', default: '6' },
      listeners: { type: 'string', default: '1' },
    },
  });
  const count = Number(values.listeners);
  if (!Number.isInteger(count) || count < 1 || count > MAX_DEMO_LISTENERS) {
    process.stderr.write(`kalshi-fix-listener: --listeners must be a whole number from 1 to ${MAX_DEMO_LISTENERS}\n`);
    return 2;
  }
  const data = resolve(values.data);
  const keys = Array.from({ length: count }, () => ({
    apiKey: randomUUID(),
    ...generateKeyPairSync('rsa', { modulusLength: 2048 }),
  }));
  const { KalshiSimulator } = await import('../sim/simulator.js');
  const simulator = new KalshiSimulator({
    accounts: keys.map(({ apiKey, publicKey }) => ({ apiKey, publicKey })),
    ports: { KalshiNR: 0, KalshiRT: 0, KalshiDC: 0 },
    reportsPerSecond: Number(values.rate),
    // ExecIDs start from the clock so a second demo run never collides with the first in the journal.
    firstClock: Math.floor(Date.now() / 1000),
    seed: Date.now() % 2 ** 31,
  });
  const address = await simulator.start();
  const fleet = count > 1;
  const basePort = Number(process.env['HTTP_PORT'] ?? DEFAULTS.HTTP_PORT);
  const names = keys.map((_, i) => (fleet ? `listener-${i + 1}` : undefined));
  const portOf = (i: number) => (basePort === 0 ? 0 : basePort + i);
  const configs: Config[] = [];
  for (const [i, { apiKey, privateKey }] of keys.entries()) {
    const pem = privateKey.export({ type: 'pkcs8', format: 'pem' }).toString();
    const name = names[i];
    // The demo's own settings point the service at the simulator and at ./data, and write archive
    // objects every 5 s so a newcomer sees one at once; everything else (HTTP_PORT, LOG_LEVEL,
    // ARCHIVE_GRACE_S, …) comes from the environment with run's defaults.
    const loaded = configFrom({
      ARCHIVE_FLUSH_S: '5',
      ...process.env,
      FIX_HOST: address.host,
      FIX_PORT: String(address.ports.KalshiRT),
      FIX_TARGET_COMP_ID: 'KalshiRT',
      FIX_API_KEY: apiKey,
      FIX_PRIVATE_KEY: pem,
      FIX_PRIVATE_KEY_FILE: undefined,
      FIX_TLS_CA_FILE: undefined,
      FIX_MESSAGE_RETENTION_H: undefined,
      FIX_DC_API_KEY: apiKey,
      FIX_DC_HOST: address.host,
      FIX_DC_PORT: String(address.ports.KalshiDC),
      FIX_DC_PRIVATE_KEY: pem,
      FIX_DC_PRIVATE_KEY_FILE: undefined,
      ARCHIVE_URL: pathToFileURL(join(data, 'archive')).href,
      FILLS_QUEUE_URL: pathToFileURL(
        name === undefined ? join(data, 'fills.jsonl') : join(data, 'fills', `${name}.jsonl`),
      ).href,
      SPOOL_DIR: name === undefined ? join(data, 'spool') : join(data, 'spool', name),
      ...(name === undefined
        ? {}
        : {
            LISTENER_NAME: name,
            HTTP_PORT: String(portOf(i)),
            FLEET_STATUS_URLS:
              basePort === 0 ? undefined : names.map((n, k) => `${n}=http://localhost:${portOf(k)}/`).join(','),
          }),
    });
    if (typeof loaded === 'number') {
      await simulator.stop();
      return loaded;
    }
    configs.push({ ...loaded, fix: { ...loaded.fix, extraCa: address.ca } });
  }
  const first = configs[0]!;
  process.stdout.write(
    [
      `demo: simulator on ${address.host}:${address.ports.KalshiRT} (KalshiRT), data in ${data}`,
      `demo: archive objects in ${join(data, 'archive', 'exec_reports')} (one at most ${first.archiveFlushMs / 1000} s after its first report)`,
      ...(fleet
        ? [
            `demo: ${count} listeners (${names.join(', ')}) into that one archive; fills in ${join(data, 'fills')}/<listener>.jsonl, journals in ${join(data, 'spool')}/<listener>`,
            ...configs.map(
              (c) =>
                `demo: ${c.listenerName} status page at http://localhost:${c.httpPort}/ — or try: curl localhost:${c.httpPort}/status`,
            ),
          ]
        : [
            `demo: fills in ${join(data, 'fills.jsonl')}, journal in ${join(data, 'spool')}`,
            `demo: status page at http://localhost:${first.httpPort}/ — or try: curl localhost:${first.httpPort}/status`,
          ]),
      '',
    ].join('\n'),
  );
  return serveUntilSignal(configs, () => simulator.stop());
}

async function sim(args: string[]): Promise<number | undefined> {
  const { values } = parseArgs({
    args,
    options: {
      'nr-port': { type: 'string', default: String(DEFAULTS.FIX_PORT.KalshiNR) },
      'rt-port': { type: 'string', default: String(DEFAULTS.FIX_PORT.KalshiRT) },
      rate: { type: 'string', default: '5' },
      dir: { type: 'string', default: 'data/sim' },
    },
  });
  const dir = resolve(values.dir);
  mkdirSync(dir, { recursive: true });
  const apiKey = randomUUID();
  const { privateKey, publicKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
  const { KalshiSimulator } = await import('../sim/simulator.js');
  const simulator = new KalshiSimulator({
    accounts: [{ apiKey, publicKey }],
    ports: { KalshiNR: Number(values['nr-port']), KalshiRT: Number(values['rt-port']) },
    reportsPerSecond: Number(values.rate),
    firstClock: Math.floor(Date.now() / 1000),
    onLog: (line) => process.stdout.write(`sim: ${line}\n`),
  });
  const address = await simulator.start();
  const keyFile = join(dir, 'listener-key.pem');
  const caFile = join(dir, 'ca.pem');
  writeFileSync(keyFile, privateKey.export({ type: 'pkcs8', format: 'pem' }), { mode: 0o600 });
  writeFileSync(caFile, address.ca);
  // The key is written to a file (mode 600), never printed.
  process.stdout.write(
    `Kalshi FIX simulator on ${address.host}: KalshiNR ${address.ports.KalshiNR}, KalshiRT ${address.ports.KalshiRT}\n` +
      `FIX_HOST=${address.host}\nFIX_PORT=${address.ports.KalshiNR}\nFIX_API_KEY=${apiKey}\nFIX_PRIVATE_KEY_FILE=${keyFile}\nFIX_TLS_CA_FILE=${caFile}\n`,
  );
  await new Promise<void>((done) => {
    process.once('SIGINT', done);
    process.once('SIGTERM', done);
  });
  await simulator.stop();
  return 0;
}

main(process.argv.slice(2)).then(
  (code) => {
    if (code !== undefined) process.exit(code);
  },
  (error: unknown) => {
    process.stderr.write(`kalshi-fix-listener: ${error instanceof Error ? error.message : String(error)}\n`);
    process.exit(1);
  },
);
