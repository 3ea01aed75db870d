import { generateKeyPairSync } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { configWarnings, loadConfig } from '../src/app/config.js';
import { isListenerError, type ListenerError } from '../src/core/errors.js';
import { tempDir } from './helpers/records.js';
import { spawnTs } from './helpers/spawn.js';

const rsa = generateKeyPairSync('rsa', {
  modulusLength: 2048,
  privateKeyEncoding: { type: 'pkcs8', format: 'pem' },
  publicKeyEncoding: { type: 'spki', format: 'pem' },
});
const dir = tempDir('cfg-');
const keyFile = join(dir, 'key.pem');
writeFileSync(keyFile, rsa.privateKey);

const VALID = {
  FIX_HOST: 'margin-fix.demo.kalshi.co',
  FIX_API_KEY: '0b8f3c2e-1111-4a2b-9c3d-5e6f7a8b9c0d',
  FIX_PRIVATE_KEY_FILE: keyFile,
  ARCHIVE_URL: 's3://my-archive/kalshi/',
  FILLS_QUEUE_URL: 'https://sqs.us-east-1.amazonaws.com/123456789012/fills.fifo',
};

const DC_KEY = '9d2c1b4a-2222-4c3d-8e4f-0a1b2c3d4e5f';

function problemsOf(env: Record<string, string | undefined>): string[] {
  try {
    loadConfig(env);
  } catch (error) {
    expect(isListenerError(error, 'ERR_CONFIG')).toBe(true);
    return (error as ListenerError).details!['problems'] as string[];
  }
  throw new Error('expected a configuration error');
}

describe('loadConfig', () => {
  it('accepts a complete environment and applies the defaults', () => {
    const config = loadConfig(VALID);
    expect(config.fix).toMatchObject({
      host: 'margin-fix.demo.kalshi.co',
      port: 8228,
      targetCompId: 'KalshiNR',
      heartbeatS: 30,
      connectTimeoutMs: 10_000,
      messageRetentionHours: undefined,
    });
    expect(config.fix.privateKey.asymmetricKeyType).toBe('rsa');
    expect(config.archive).toEqual({ kind: 's3', bucket: 'my-archive', prefix: 'kalshi/' });
    expect(config.fills).toEqual({ kind: 'sqs', queueUrl: VALID.FILLS_QUEUE_URL });
    expect(config).toMatchObject({
      httpPort: 8080,
      logLevel: 'info',
      spoolDir: './data/spool',
      journalLingerMs: 0,
      archiveGraceMs: 300_000,
      archiveFlushMs: 60_000,
      archiveTimeOutlierMs: 86_400_000,
      archiveGzip: true,
      archiveParquet: true,
      shutdownTimeoutMs: 20_000,
      healthLogIntervalMs: 60_000,
      reconnectMinIntervalMs: 10_000,
      metricsNamespace: undefined,
      listenerName: 'default',
      fleetStatusUrls: [],
    });
  });

  it('defaults KalshiRT to port 8230 and 72 h retention, and reads local sinks and an inline key', () => {
    const config = loadConfig({
      ...VALID,
      FIX_PRIVATE_KEY_FILE: undefined,
      FIX_PRIVATE_KEY: rsa.privateKey.replaceAll('\n', '\\n'),
      FIX_TARGET_COMP_ID: 'KalshiRT',
      ARCHIVE_URL: 'file:///var/archive',
      FILLS_QUEUE_URL: 'file:///var/fills.jsonl',
    });
    expect(config.fix).toMatchObject({ port: 8230, messageRetentionHours: 72 });
    expect(config.archive).toEqual({ kind: 'file', dir: '/var/archive' });
    expect(config.fills).toEqual({ kind: 'file', path: '/var/fills.jsonl' });
  });

  const cases: Array<[string, Record<string, string | undefined>, RegExp]> = [
    ['a missing required variable', { ...VALID, FIX_HOST: undefined }, /FIX_HOST is required/],
    [
      'a bad archive URL',
      { ...VALID, ARCHIVE_URL: 'ftp://x/y' },
      /ARCHIVE_URL must be s3:\/\/bucket\/prefix\/ or file:\/\/\/dir/,
    ],
    ['a queue URL that is not a URL', { ...VALID, FILLS_QUEUE_URL: 'fills' }, /FILLS_QUEUE_URL is not a URL/],
    [
      'an unreadable key file',
      { ...VALID, FIX_PRIVATE_KEY_FILE: join(dir, 'missing.pem') },
      /FIX_PRIVATE_KEY_FILE .* cannot be read/,
    ],
    [
      'a private key that is not RSA',
      {
        ...VALID,
        FIX_PRIVATE_KEY_FILE: undefined,
        FIX_PRIVATE_KEY: generateKeyPairSync('ec', {
          namedCurve: 'P-256',
          privateKeyEncoding: { type: 'pkcs8', format: 'pem' },
          publicKeyEncoding: { type: 'spki', format: 'pem' },
        }).privateKey,
      },
      /Kalshi FIX needs an RSA key/,
    ],
    [
      'a private key that is not a key',
      { ...VALID, FIX_PRIVATE_KEY_FILE: undefined, FIX_PRIVATE_KEY: 'hunter2' },
      /not a readable PEM private key/,
    ],
    [
      'a TargetCompID other than NR or RT',
      { ...VALID, FIX_TARGET_COMP_ID: 'KalshiDC' },
      /FIX_TARGET_COMP_ID must be one of KalshiNR, KalshiRT, got KalshiDC/,
    ],
    [
      'a port out of range',
      { ...VALID, FIX_PORT: '70000' },
      /FIX_PORT must be a whole number from 1 to 65535, got 70000/,
    ],
    [
      'a heartbeat below Kalshi’s minimum',
      { ...VALID, FIX_HEARTBEAT_S: '2' },
      /FIX_HEARTBEAT_S must be a whole number from 3 to 300/,
    ],
    ['both key variables', { ...VALID, FIX_PRIVATE_KEY: rsa.privateKey }, /not both/],
    ['an unknown log level', { ...VALID, LOG_LEVEL: 'loud' }, /LOG_LEVEL must be one of/],
    ['a short control token', { ...VALID, CONTROL_TOKEN: 'abc' }, /CONTROL_TOKEN must be at least 16 characters/],
    [
      'an unreadable CA file',
      { ...VALID, FIX_TLS_CA_FILE: join(dir, 'nope.pem') },
      /FIX_TLS_CA_FILE .* cannot be read/,
    ],
    ['retention on KalshiNR', { ...VALID, FIX_MESSAGE_RETENTION_H: '24' }, /applies to KalshiRT only/],
    [
      'a connect timeout out of range',
      { ...VALID, FIX_CONNECT_TIMEOUT_S: '0' },
      /FIX_CONNECT_TIMEOUT_S must be a whole number from 1 to 120, got 0/,
    ],
    [
      'a health interval out of range',
      { ...VALID, HEALTH_LOG_INTERVAL_S: '1' },
      /HEALTH_LOG_INTERVAL_S must be a whole number from 5 to 3600/,
    ],
    [
      'a reconnect interval out of range',
      { ...VALID, RECONNECT_MIN_INTERVAL_S: '3601' },
      /RECONNECT_MIN_INTERVAL_S must be a whole number from 0 to 3600, got 3601/,
    ],
    [
      'a reconnect interval that is not a whole number',
      { ...VALID, RECONNECT_MIN_INTERVAL_S: '2.5' },
      /RECONNECT_MIN_INTERVAL_S must be a whole number from 0 to 3600, got 2\.5/,
    ],
    [
      'a metrics namespace CloudWatch refuses',
      { ...VALID, METRICS_NAMESPACE: 'kfl prod!' },
      /METRICS_NAMESPACE may hold letters, digits/,
    ],
    [
      'an unreadable drop-copy key',
      { ...VALID, FIX_DC_API_KEY: 'dc-key', FIX_DC_PRIVATE_KEY_FILE: join(dir, 'dc-missing.pem') },
      /FIX_DC_PRIVATE_KEY_FILE .* cannot be read/,
    ],
  ];
  it.each(cases)('reports %s', (_name, env, pattern) => {
    expect(problemsOf(env).join('\n')).toMatch(pattern);
  });

  it('configures the drop copy on the FIX host, port 8229, with the FIX key unless it has its own', () => {
    const config = loadConfig({ ...VALID, FIX_DC_API_KEY: DC_KEY });
    expect(config.dropCopy).toMatchObject({ host: VALID.FIX_HOST, port: 8229, apiKey: DC_KEY });
    expect(config.dropCopy!.privateKey).toBe(config.fix.privateKey);
    expect(loadConfig(VALID).dropCopy).toBeUndefined();
  });

  it('lists every problem in one error and never echoes a secret', () => {
    // Prepare
    const secret = rsa.privateKey.split('\n')[3]!;
    // Act
    const problems = problemsOf({ FIX_PRIVATE_KEY: `${rsa.privateKey}garbage`, FIX_PORT: 'x', CONTROL_TOKEN: 'short' });
    // Assess
    expect(problems.length).toBeGreaterThanOrEqual(6);
    const text = problems.join('\n');
    for (const name of ['FIX_HOST', 'FIX_API_KEY', 'ARCHIVE_URL', 'FILLS_QUEUE_URL', 'FIX_PORT', 'CONTROL_TOKEN'])
      expect(text).toContain(name);
    expect(text).not.toContain(secret);
    expect(text).not.toContain('short');
  });

  it('takes LISTENER_NAME as the metrics dimension, and refuses one a dimension cannot hold', () => {
    // Act
    const named = loadConfig({ ...VALID, LISTENER_NAME: 'member-a_01' });
    const bad = problemsOf({ ...VALID, LISTENER_NAME: 'member a/1' });
    // Assess
    expect(named.listenerName).toBe('member-a_01');
    expect(loadConfig(VALID).listenerName).toBe('default');
    expect(bad).toEqual([expect.stringMatching(/^LISTENER_NAME may hold letters, digits, - and _ only/)]);
  });

  it('reads RECONNECT_MIN_INTERVAL_S in seconds, 0 turning the limit off, and refuses a negative one', () => {
    // Act
    const slow = loadConfig({ ...VALID, RECONNECT_MIN_INTERVAL_S: '60' });
    const off = loadConfig({ ...VALID, RECONNECT_MIN_INTERVAL_S: '0' });
    const bad = problemsOf({ ...VALID, RECONNECT_MIN_INTERVAL_S: '-1' });
    // Assess
    expect(slow.reconnectMinIntervalMs).toBe(60_000);
    expect(off.reconnectMinIntervalMs).toBe(0);
    expect(bad).toEqual(['RECONNECT_MIN_INTERVAL_S must be a whole number from 0 to 3600, got -1']);
  });

  it('reads FIX_CONNECT_TIMEOUT_S in seconds, for the TCP connect and the TLS handshake each', () => {
    // Act
    const config = loadConfig({ ...VALID, FIX_CONNECT_TIMEOUT_S: '3' });
    const bad = problemsOf({ ...VALID, FIX_CONNECT_TIMEOUT_S: '121' });
    // Assess
    expect(config.fix.connectTimeoutMs).toBe(3000);
    expect(bad).toEqual(['FIX_CONNECT_TIMEOUT_S must be a whole number from 1 to 120, got 121']);
  });

  it('reads JOURNAL_LINGER_MS in milliseconds, from 0 (commit at once) to 100', () => {
    // Act
    const lingering = loadConfig({ ...VALID, JOURNAL_LINGER_MS: '100' });
    const bad = problemsOf({ ...VALID, JOURNAL_LINGER_MS: '101' });
    // Assess
    expect(lingering.journalLingerMs).toBe(100);
    expect(loadConfig({ ...VALID, JOURNAL_LINGER_MS: '0' }).journalLingerMs).toBe(0);
    expect(bad).toEqual(['JOURNAL_LINGER_MS must be a whole number from 0 to 100, got 101']);
  });

  it('reads FLEET_STATUS_URLS as name=url pairs, and refuses anything else', () => {
    // Act
    const fleet = loadConfig({
      ...VALID,
      FLEET_STATUS_URLS: 'member-a=http://10.0.1.5:8080/, member-b=http://10.0.2.7:8080/',
    });
    const bad = problemsOf({ ...VALID, FLEET_STATUS_URLS: 'member-a=javascript:alert(1),nourl' });
    // Assess
    expect(fleet.fleetStatusUrls).toEqual([
      { name: 'member-a', url: 'http://10.0.1.5:8080/' },
      { name: 'member-b', url: 'http://10.0.2.7:8080/' },
    ]);
    expect(loadConfig(VALID).fleetStatusUrls).toEqual([]);
    expect(bad).toEqual([
      expect.stringMatching(/FLEET_STATUS_URLS holds name=http\(s\):\/\/… pairs, got "member-a=javascript:alert\(1\)"/),
      expect.stringMatching(/FLEET_STATUS_URLS holds name=http\(s\):\/\/… pairs, got "nourl"/),
    ]);
  });

  describe('configWarnings', () => {
    it('warns that KalshiNR without a drop copy records a hole at every restart', () => {
      // Act
      const nr = configWarnings(loadConfig({ ...VALID, FIX_TARGET_COMP_ID: 'KalshiNR' }));
      const nrWithDropCopy = configWarnings(
        loadConfig({ ...VALID, FIX_TARGET_COMP_ID: 'KalshiNR', FIX_DC_API_KEY: DC_KEY }),
      );
      const rt = configWarnings(loadConfig({ ...VALID, FIX_TARGET_COMP_ID: 'KalshiRT' }));
      // Assess
      expect(nr).toEqual([expect.stringMatching(/^KalshiNR without a drop copy: .*records a hole.*KalshiRT/)]);
      expect(nrWithDropCopy).toEqual([]);
      expect(rt).toEqual([]);
    });
  });

  describe('the operator mistakes of issue 14', () => {
    it('refuses key material in FIX_API_KEY without echoing it, and any other non-UUID key ID', () => {
      // Prepare: the PEM pasted into the wrong variable.
      const secret = rsa.privateKey.split('\n')[3]!;
      // Act
      const swapped = problemsOf({ ...VALID, FIX_API_KEY: rsa.privateKey });
      const nope = problemsOf({ ...VALID, FIX_API_KEY: 'nope', FIX_DC_API_KEY: 'dc-key' });
      // Assess
      expect(swapped).toEqual([expect.stringMatching(/^FIX_API_KEY holds key material.*value not shown/)]);
      expect(swapped.join('\n')).not.toContain(secret);
      expect(nope).toEqual([
        expect.stringMatching(/^FIX_API_KEY must be the API key ID, a UUID/),
        expect.stringMatching(/^FIX_DC_API_KEY must be the API key ID, a UUID/),
      ]);
      expect(nope.join('\n')).not.toContain('nope');
    });

    it('refuses an RSA key shorter than 2048 bits', () => {
      // Prepare
      const short = generateKeyPairSync('rsa', {
        modulusLength: 1024,
        privateKeyEncoding: { type: 'pkcs8', format: 'pem' },
        publicKeyEncoding: { type: 'spki', format: 'pem' },
      });
      // Act / Assess
      expect(problemsOf({ ...VALID, FIX_PRIVATE_KEY_FILE: undefined, FIX_PRIVATE_KEY: short.privateKey })).toEqual([
        'FIX_PRIVATE_KEY: an RSA key of 1024 bits; Kalshi needs at least 2048',
      ]);
    });

    it('refuses a URL where a host name goes', () => {
      // Act
      const problems = problemsOf({ ...VALID, FIX_HOST: 'https://fix.elections.kalshi.com', FIX_DC_HOST: 'host:8229' });
      // Assess
      expect(problems).toEqual([
        expect.stringMatching(/^FIX_HOST must be a host name or an IP address \(no scheme, port or path\)/),
        expect.stringMatching(/^FIX_DC_HOST must be a host name or an IP address/),
      ]);
    });

    it('listens on loopback without CONTROL_TOKEN, everywhere with one, and refuses another address without one', () => {
      // Act
      const open = loadConfig(VALID);
      const tokened = loadConfig({ ...VALID, CONTROL_TOKEN: 'a-long-enough-token' });
      const refused = problemsOf({ ...VALID, HTTP_HOST: '0.0.0.0' });
      // Assess
      expect(open.httpHost).toBe('127.0.0.1');
      expect(tokened.httpHost).toBe('0.0.0.0');
      expect(loadConfig({ ...VALID, HTTP_HOST: '::1' }).httpHost).toBe('::1');
      expect(refused).toEqual([
        expect.stringMatching(/^HTTP_HOST 0\.0\.0\.0 is not a loopback address: set CONTROL_TOKEN/),
      ]);
    });
  });
});

// The built CLI in child processes: more than the 5 s default on a busy machine.
describe('kalshi-fix-listener run', { timeout: 30_000 }, () => {
  it('exits 2 with every problem listed when the environment is wrong', async () => {
    const run = spawnTs('src/app/cli.ts', ['run'], { env: { PATH: process.env['PATH'], FIX_PORT: '0' } });
    expect(await run.exited).toBe(2);
    expect(run.output()).toMatch(/invalid configuration:/);
    expect(run.output()).toMatch(/FIX_HOST is required/);
    expect(run.output()).toMatch(/FIX_PORT must be a whole number from 1 to 65535, got 0/);
  });

  it('exits 2 in the same form when SPOOL_DIR is not a writable directory', async () => {
    // Prepare: a file where the spool should be.
    const notADir = join(tempDir(), 'spool');
    writeFileSync(notADir, 'x');
    // Act
    const run = spawnTs('src/app/cli.ts', ['run'], {
      env: { PATH: process.env['PATH'], ...VALID, SPOOL_DIR: notADir },
    });
    // Assess
    expect(await run.exited).toBe(2);
    expect(run.output()).toMatch(
      /invalid configuration:\n {2}- SPOOL_DIR .* is not a writable directory \((EEXIST|ENOTDIR)\)/,
    );
  });

  it('exits 2 in the same form when HTTP_PORT is in use', async () => {
    // Prepare: the port taken; an unreachable exchange (the session just retries meanwhile).
    const { createServer } = await import('node:net');
    const taken = createServer();
    await new Promise<void>((resolve) => taken.listen(0, '127.0.0.1', resolve));
    const port = (taken.address() as { port: number }).port;
    // Act
    const run = spawnTs('src/app/cli.ts', ['run'], {
      env: {
        PATH: process.env['PATH'],
        ...VALID,
        FIX_HOST: '127.0.0.1',
        FIX_PORT: '9',
        ARCHIVE_URL: `file://${join(tempDir(), 'archive')}`,
        FILLS_QUEUE_URL: `file://${join(tempDir(), 'fills.jsonl')}`,
        SPOOL_DIR: join(tempDir(), 'spool'),
        HTTP_PORT: String(port),
      },
    });
    // Assess
    expect(await run.exited).toBe(2);
    expect(run.output()).toMatch(
      new RegExp(`invalid configuration:\\n  - HTTP_PORT ${port} on 127\\.0\\.0\\.1 cannot be used \\(EADDRINUSE\\)`),
    );
    taken.close();
  });
});
