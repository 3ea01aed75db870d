import { generateKeyPairSync, randomUUID } from 'node:crypto';
import { join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { parseCommand, usageError, type CommandSpec, type Command, type Print } from './cli-command.js';
import { DEFAULTS, type Config } from './config.js';
import { configFrom, serveUntilSignal } from './run-command.js';
import { loadSimulator } from './sim-command.js';

/** A demo fleet is a handful of listeners on one machine. */
const MAX_DEMO_LISTENERS = 9;

export const DEMO = {
  name: 'demo',
  synopsis: '[--listeners N] [--data DIR] [--rate R]',
  description:
    'Runs the service against the in-repository Kalshi simulator on loopback, with the archive, the fills and\n' +
    'the journal under DIR: no AWS account, no Kalshi key. The status page is on HTTP_PORT (8080). With\n' +
    '--listeners N, a fleet of N listeners writing one archive. Runs until SIGTERM or SIGINT (exit 0).\n' +
    'Needs a checkout with its dev dependencies: the production image leaves the simulator out.',
  options: {
    listeners: { type: 'string', value: 'N', default: '1', help: `listeners, 1 to ${MAX_DEMO_LISTENERS}` },
    data: {
      type: 'string',
      value: 'DIR',
      help: 'where the archive, fills and journal go (default: DATA_DIR, then data)',
    },
    rate: { type: 'string', value: 'R', default: '6', help: 'ExecutionReports per second' },
  },
  environment: [
    ['HTTP_PORT', 'the first control plane port (0: any free one)'],
    [
      'LOG_LEVEL, ARCHIVE_*, …',
      "as for run; the demo's own settings win for FIX_*, ARCHIVE_URL, FILLS_QUEUE_URL, SPOOL_DIR",
    ],
  ],
} as const satisfies CommandSpec;

/**
 * The embedded default: simulator + service on loopback, local folder and file sinks. With
 * `--listeners N`, a fleet: N keys at the simulator, N listeners (listener-1…N) writing one archive,
 * each with its own journal, fills file and control plane (HTTP_PORT, HTTP_PORT+1, …). `serve`
 * runs them (tests look at the configurations instead).
 */
export async function demoCommand(
  args: string[],
  env: NodeJS.ProcessEnv,
  out: Print,
  serve: typeof serveUntilSignal = serveUntilSignal,
): Promise<number | undefined> {
  const values = parseCommand(DEMO, args);
  const count = Number(values.listeners);
  const rate = Number(values.rate);
  const problems: string[] = [];
  if (!Number.isInteger(count) || count < 1 || count > MAX_DEMO_LISTENERS)
    problems.push(`--listeners must be a whole number from 1 to ${MAX_DEMO_LISTENERS}`);
  if (!Number.isFinite(rate) || rate < 0) problems.push('--rate must be a number of reports per second, 0 or more');
  if (problems.length > 0) throw usageError(problems);
  const data = resolve(values.data ?? env['DATA_DIR'] ?? 'data');
  const { KalshiSimulator } = await loadSimulator();
  const keys = Array.from({ length: count }, () => ({
    apiKey: randomUUID(),
    ...generateKeyPairSync('rsa', { modulusLength: 2048 }),
  }));
  const simulator = new KalshiSimulator({
    accounts: keys.map(({ apiKey, publicKey }) => ({ apiKey, publicKey })),
    ports: { KalshiNR: 0, KalshiRT: 0, KalshiDC: 0 },
    reportsPerSecond: rate,
    // ExecIDs start from the clock so a second demo run never collides with the first in the journal.
    firstClock: Math.floor(Date.now() / 1000),
    seed: Date.now() % 2 ** 31,
  });
  const address = await simulator.start();
  const fleet = count > 1;
  const basePort = Number(env['HTTP_PORT'] ?? DEFAULTS.HTTP_PORT);
  const names = keys.map((_, i) => (fleet ? `listener-${i + 1}` : undefined));
  const portOf = (i: number) => (basePort === 0 ? 0 : basePort + i);
  const configs: Config[] = [];
  try {
    for (const [i, { apiKey, privateKey }] of keys.entries()) {
      const pem = privateKey.export({ type: 'pkcs8', format: 'pem' }).toString();
      const name = names[i];
      // The demo's own settings point the service at the simulator and at ./data, and write archive
      // objects every 5 s so a newcomer sees one at once; everything else (HTTP_PORT, LOG_LEVEL,
      // ARCHIVE_GRACE_S, …) comes from the environment with run's defaults.
      const loaded = configFrom({
        ARCHIVE_FLUSH_S: '5',
        ...env,
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
      configs.push({ ...loaded, fix: { ...loaded.fix, extraCa: address.ca } });
    }
  } catch (error) {
    await simulator.stop();
    throw error;
  }
  const first = configs[0]!;
  out(
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
  return serve(configs, () => simulator.stop());
}

export const COMMAND: Command = { spec: DEMO, main: (args, io) => demoCommand(args, io.env, io.out) };
