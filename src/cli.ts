#!/usr/bin/env node
import { generateKeyPairSync, randomUUID } from 'node:crypto';
import { chmodSync, mkdirSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { pino } from 'pino';
import { decodeExecutionReport } from './fix/execution-report.js';
import { ListenerSession, type SessionEvent } from './fix/session.js';
import { KalshiSimulator } from './sim/simulator.js';

const USAGE = `kalshi-fix-listener <command>

Commands:
  demo     simulator + listener on loopback, no AWS account needed (Ctrl-C to stop)
  sim      the Kalshi FIX simulator on its own (prints the key, ports and CA it uses)
  keygen   an RSA key pair for a Kalshi API key (kalshi-fix-margin.md §2.3)
`;

async function main(argv: string[]): Promise<number> {
  const [command, ...rest] = argv;
  switch (command) {
    case 'keygen':
      return keygen(rest);
    case 'sim':
      return sim(rest);
    case 'demo':
      return demo(rest);
    case undefined:
    case 'help':
    case '--help':
      process.stdout.write(USAGE);
      return command === undefined ? 2 : 0;
    default:
      process.stderr.write(`unknown command: ${command}\n\n${USAGE}`);
      return 2;
  }
}

function keygen(args: string[]): number {
  const { values } = parseArgs({ args, options: { out: { type: 'string', default: 'kalshi-key' } } });
  const base = resolve(values.out);
  const { privateKey, publicKey } = generateKeyPairSync('rsa', {
    modulusLength: 2048,
    privateKeyEncoding: { type: 'pkcs8', format: 'pem' },
    publicKeyEncoding: { type: 'spki', format: 'pem' },
  });
  writeFileSync(`${base}.pem`, privateKey, { mode: 0o600 });
  chmodSync(`${base}.pem`, 0o600);
  writeFileSync(`${base}.pub.pem`, publicKey);
  // The private key stays in its file; only the public half is printed, for Kalshi's key page.
  process.stdout.write(`private key: ${base}.pem (mode 600, keep it secret)\npublic key:  ${base}.pub.pem\n\n${publicKey}`);
  return 0;
}

async function startSimulator(args: string[], defaults: { nr: number; rt: number; rate: number }) {
  const { values } = parseArgs({
    args,
    options: {
      'nr-port': { type: 'string', default: String(defaults.nr) },
      'rt-port': { type: 'string', default: String(defaults.rt) },
      rate: { type: 'string', default: String(defaults.rate) },
      dir: { type: 'string', default: 'data/sim' },
    },
  });
  const dir = resolve(values.dir);
  mkdirSync(dir, { recursive: true });
  const apiKey = randomUUID();
  const { privateKey, publicKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
  const simulator = new KalshiSimulator({
    accounts: [{ apiKey, publicKey }],
    ports: { KalshiNR: Number(values['nr-port']), KalshiRT: Number(values['rt-port']) },
    reportsPerSecond: Number(values.rate),
  });
  const address = await simulator.start();
  const keyFile = join(dir, 'listener-key.pem');
  const caFile = join(dir, 'ca.pem');
  writeFileSync(keyFile, privateKey.export({ type: 'pkcs8', format: 'pem' }), { mode: 0o600 });
  writeFileSync(caFile, address.ca);
  return { simulator, address, apiKey, privateKey, keyFile, caFile };
}

async function sim(args: string[]): Promise<number> {
  const { simulator, address, apiKey, keyFile, caFile } = await startSimulator(args, { nr: 8228, rt: 8230, rate: 5 });
  process.stdout.write(
    `Kalshi FIX simulator on ${address.host}: KalshiNR ${address.ports.KalshiNR}, KalshiRT ${address.ports.KalshiRT}\n` +
      `FIX_API_KEY=${apiKey}\nFIX_PRIVATE_KEY_FILE=${keyFile}\nFIX_TLS_CA_FILE=${caFile}\n`,
  );
  await untilSignal();
  await simulator.stop();
  return 0;
}

async function demo(args: string[]): Promise<number> {
  const log = pino({ level: process.env['LOG_LEVEL'] ?? 'info' });
  const { simulator, address, apiKey, privateKey } = await startSimulator(args, { nr: 0, rt: 0, rate: 3 });
  log.info({ ports: address.ports, apiKey }, 'simulator started');
  const session = new ListenerSession({
    host: address.host,
    port: address.ports.KalshiNR!,
    senderCompId: apiKey,
    targetCompId: 'KalshiNR',
    privateKey,
    heartbeatIntervalS: 30,
    extraCa: address.ca,
    onEvent: (event) => logSessionEvent(log, event),
    onApplicationMessage: (message, info) => {
      if (message.msgType !== '8') return;
      const r = decodeExecutionReport(message, info);
      log.info({ exec_id: r.exec_id, exec_type: r.exec_type, symbol: r.symbol, side: r.side, last_qty: r.last_qty, last_px: r.last_px, ord_status: r.ord_status }, 'execution report');
    },
  });
  session.start();
  await untilSignal();
  await session.stop();
  await simulator.stop();
  log.info(session.status().counters, 'stopped');
  return 0;
}

function logSessionEvent(log: pino.Logger, event: SessionEvent): void {
  switch (event.kind) {
    case 'error':
    case 'decode_error':
      log.warn({ code: event.error.code, details: event.error.details }, event.error.message);
      return;
    case 'state':
      log.debug(event, 'session state');
      return;
    default:
      log.info(event, `session ${event.kind}`);
  }
}

function untilSignal(): Promise<void> {
  return new Promise((resolve) => {
    process.once('SIGINT', () => resolve());
    process.once('SIGTERM', () => resolve());
  });
}

main(process.argv.slice(2)).then(
  (code) => process.exit(code),
  (error: unknown) => {
    process.stderr.write(`${error instanceof Error ? error.message : String(error)}\n`);
    process.exit(1);
  },
);
