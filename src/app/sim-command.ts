import { generateKeyPairSync, randomUUID } from 'node:crypto';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import type { KalshiSimulator, Role, SimulatorAddress } from '../sim/simulator.js';
import { CommandRefusal, parseCommand, usageError, type CommandSpec, type Command, type Print } from './cli-command.js';
import { DEFAULTS } from './config.js';

/** Next to the FIX ports (8228–8230), so the whole rig is easy to remember. */
const DEFAULT_REST_PORT = 8231;

export const SIM = {
  name: 'sim',
  synopsis: '[--rt-port P] [--dc-port P] [--nr-port P] [--rest-port P] [--rate R] [--dir DIR]',
  description:
    'Runs the Kalshi simulator on loopback for a listener of your own: KalshiRT, KalshiDC (the drop copy) and\n' +
    'KalshiNR over TLS, and the REST fills endpoint reconcile asks. Prints, and writes to DIR/listener.env,\n' +
    'every variable a listener needs for the recommended setup (KalshiRT with the drop copy behind it),\n' +
    'with its key and CA in DIR. The order flow starts when the first listener logs on, so a reconcile from\n' +
    'then on finds every fill. Runs until SIGTERM or SIGINT (exit 0); 2 on bad arguments or a port in use.\n' +
    'Needs a checkout with its dev dependencies: the production image leaves the simulator out.',
  options: {
    'rt-port': {
      type: 'string',
      value: 'P',
      default: String(DEFAULTS.FIX_PORT.KalshiRT),
      help: 'KalshiRT; 0 for any free port (so for each port)',
    },
    'dc-port': { type: 'string', value: 'P', default: String(DEFAULTS.FIX_DC_PORT), help: 'KalshiDC, the drop copy' },
    'nr-port': { type: 'string', value: 'P', default: String(DEFAULTS.FIX_PORT.KalshiNR), help: 'KalshiNR' },
    'rest-port': {
      type: 'string',
      value: 'P',
      default: String(DEFAULT_REST_PORT),
      help: 'the REST fills endpoint (HTTPS)',
    },
    rate: { type: 'string', value: 'R', default: '5', help: 'ExecutionReports per second once a listener is on' },
    dir: {
      type: 'string',
      value: 'DIR',
      default: 'data/sim',
      help: "the listener's key, CA, environment file, archive, fills and journal",
    },
  },
} as const satisfies CommandSpec;

/**
 * The simulator, imported only when a command needs it: the production image leaves src/sim/ and
 * its certificate package (a dev dependency) out, and says so instead of a stack trace.
 */
export async function loadSimulator(): Promise<{ KalshiSimulator: typeof KalshiSimulator }> {
  try {
    return await import('../sim/simulator.js');
  } catch (error) {
    const { code, message } = error as NodeJS.ErrnoException;
    if (code !== 'ERR_MODULE_NOT_FOUND' || !/\/sim\/|'selfsigned'/.test(message)) throw error;
    throw new CommandRefusal(
      'the Kalshi simulator is not installed here (the production image and `npm ci --omit=dev` leave it out); ' +
        'run it from a checkout: npm ci && npm run sim (or npm run demo)',
      { cause: error },
    );
  }
}

/** The listener's side of the rig, in the order a reader looks for it. */
export function listenerEnvironment(input: {
  address: SimulatorAddress;
  restUrl: string;
  apiKey: string;
  keyFile: string;
  caFile: string;
  dir: string;
}): Array<[string, string]> {
  const { address, apiKey, keyFile } = input;
  return [
    ['FIX_HOST', address.host],
    ['FIX_PORT', String(address.ports.KalshiRT)],
    ['FIX_TARGET_COMP_ID', 'KalshiRT'],
    ['FIX_API_KEY', apiKey],
    ['FIX_PRIVATE_KEY_FILE', keyFile],
    ['FIX_TLS_CA_FILE', input.caFile],
    // The simulator knows one key; at Kalshi the drop copy is safest with a key of its own.
    ['FIX_DC_HOST', address.host],
    ['FIX_DC_PORT', String(address.ports.KalshiDC)],
    ['FIX_DC_API_KEY', apiKey],
    ['FIX_DC_PRIVATE_KEY_FILE', keyFile],
    ['KALSHI_REST_URL', input.restUrl],
    ['ARCHIVE_URL', pathToFileURL(join(input.dir, 'archive')).href],
    // Archive objects every 5 s (as in the demo), so reconcile sees fills soon after they arrive.
    ['ARCHIVE_FLUSH_S', '5'],
    ['FILLS_QUEUE_URL', pathToFileURL(join(input.dir, 'fills.jsonl')).href],
    ['SPOOL_DIR', join(input.dir, 'spool')],
  ];
}

/** A value the shell (and `node --env-file`) reads back as it was: quoted unless plainly safe. */
function shellWord(value: string): string {
  return /^[\w./:@%+,-]*$/.test(value) ? value : `'${value.replace(/'/g, `'\\''`)}'`;
}

const envLine = ([name, value]: [string, string]) => `${name}=${shellWord(value)}`;

function portOption(name: string, value: string, problems: string[]): number {
  const port = Number(value);
  if (!Number.isInteger(port) || port < 0 || port > 65_535)
    problems.push(`--${name} must be a port number from 0 (any free one) to 65535`);
  return port;
}

/** Until SIGINT or SIGTERM. */
function signalled(): Promise<void> {
  return new Promise((done) => {
    process.once('SIGINT', done);
    process.once('SIGTERM', done);
  });
}

/** `kalshi-fix-listener sim`: the local rig, until a signal. `cwd` resolves a relative --dir. */
export async function simCommand(
  args: string[],
  cwd: string,
  out: Print,
  until: () => Promise<void> = signalled,
): Promise<number> {
  const values = parseCommand(SIM, args);
  const problems: string[] = [];
  const ports: Record<Role, number> = {
    KalshiRT: portOption('rt-port', values['rt-port'], problems),
    KalshiDC: portOption('dc-port', values['dc-port'], problems),
    KalshiNR: portOption('nr-port', values['nr-port'], problems),
  };
  const restPort = portOption('rest-port', values['rest-port'], problems);
  const rate = Number(values.rate);
  if (!Number.isFinite(rate) || rate < 0) problems.push('--rate must be a number of reports per second, 0 or more');
  if (problems.length > 0) throw usageError(problems);
  // Listening for the signal before anything is printed: whoever reads the output may stop the
  // rig at once, and a signal before the handler is there would kill it without cleaning up.
  const stopped = until();
  const { KalshiSimulator } = await loadSimulator();
  const dir = resolve(cwd, values.dir);
  mkdirSync(dir, { recursive: true });
  const apiKey = randomUUID();
  const { privateKey, publicKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
  let flowing = false;
  const simulator = new KalshiSimulator({
    accounts: [{ apiKey, publicKey }],
    ports,
    // No flow until a listener is on: fills made before it could never reach its archive, and a
    // reconcile from the flow's start would list them as missing.
    reportsPerSecond: 0,
    firstClock: Math.floor(Date.now() / 1000),
    onLog: (line) => out(`sim: ${line}\n`),
    onLogon: (role) => {
      if (flowing || role === 'KalshiDC' || rate === 0) return;
      flowing = true;
      const start = new Date(Math.floor(Date.now() / 1000) * 1000).toISOString();
      simulator.setRate(rate);
      out(`sim: order flow started at ${start}: reconcile --from ${start} finds every fill\n`);
    },
  });
  let restUrl: string;
  try {
    await simulator.start();
    restUrl = await simulator.startRest(restPort);
  } catch (error) {
    await simulator.stop();
    const { code, port } = error as NodeJS.ErrnoException & { port?: number };
    if (code !== 'EADDRINUSE' && code !== 'EACCES') throw error;
    throw new CommandRefusal(
      `port ${port} cannot be used (${code}): give --rt-port, --dc-port, --nr-port or --rest-port another (0: any free one)`,
      { cause: error },
    );
  }
  const address = simulator.address();
  const keyFile = join(dir, 'listener-key.pem');
  const caFile = join(dir, 'ca.pem');
  const envFile = join(dir, 'listener.env');
  writeFileSync(keyFile, privateKey.export({ type: 'pkcs8', format: 'pem' }), { mode: 0o600 });
  writeFileSync(caFile, address.ca);
  const lines = listenerEnvironment({ address, restUrl, apiKey, keyFile, caFile, dir }).map(envLine);
  writeFileSync(envFile, `# kalshi-fix-listener sim: a listener on KalshiRT with the drop copy\n${lines.join('\n')}\n`);
  // The key is written to a file (mode 600), never printed.
  const load = `set -a; . ${shellWord(envFile)}; set +a`;
  out(
    [
      `Kalshi simulator on ${address.host}: KalshiRT ${address.ports.KalshiRT}, KalshiDC ${address.ports.KalshiDC} (drop copy), ` +
        `KalshiNR ${address.ports.KalshiNR}, REST ${restUrl}`,
      `A listener on KalshiRT with the drop copy behind it needs (written to ${envFile}):`,
      '',
      ...lines,
      '',
      `Run one (another terminal):   ${load}; npm start`,
      `Then compare its archive with the REST fills:`,
      `  ${load}; npx kalshi-fix-listener reconcile --from <the order flow's start, below> --to "$(date -u +%FT%TZ)"`,
      rate === 0
        ? 'No order flow (--rate 0).'
        : `The order flow (${rate} reports/s) starts when the first listener logs on.`,
      '',
    ].join('\n'),
  );
  await stopped;
  await simulator.stop();
  return 0;
}

export const COMMAND: Command = { spec: SIM, main: (args, io) => simCommand(args, io.cwd, io.out) };
