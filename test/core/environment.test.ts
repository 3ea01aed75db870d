import { generateKeyPairSync } from 'node:crypto';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { loadConfig } from '../../src/app/config.js';
import { wholeNumber } from '../../src/core/env-checks.js';
import { configurationTable, tableIn, withTable } from '../../src/core/environment-doc.js';
import { ENVIRONMENT } from '../../src/core/environment.js';
import type { ListenerError } from '../../src/core/errors.js';
import { tempDir } from '../helpers/records.js';

const README = join(import.meta.dirname, '..', '..', 'README.md');

const keyFile = join(tempDir('environment-'), 'key.pem');
writeFileSync(
  keyFile,
  generateKeyPairSync('rsa', {
    modulusLength: 2048,
    privateKeyEncoding: { type: 'pkcs8', format: 'pem' },
    publicKeyEncoding: { type: 'spki', format: 'pem' },
  }).privateKey,
);
const VALID = {
  FIX_HOST: 'margin-fix.demo.kalshi.co',
  FIX_API_KEY: '0b8f3c2e-1111-4a2b-9c3d-5e6f7a8b9c0d',
  FIX_PRIVATE_KEY_FILE: keyFile,
  ARCHIVE_URL: 'file:///var/archive',
  FILLS_QUEUE_URL: 'file:///var/fills.jsonl',
};

/** The problems loadConfig lists for `env`, none when it accepts it. */
function problemsOf(load: typeof loadConfig, env: Record<string, string>): string[] {
  try {
    load(env);
    return [];
  } catch (error) {
    // By its code: a module graph loaded afresh (vi.resetModules) has a ListenerError class of its own.
    expect((error as ListenerError).code).toBe('ERR_CONFIG');
    return (error as ListenerError).details!['problems'] as string[];
  }
}

describe('the environment table', () => {
  it('names each variable once', () => {
    const names = ENVIRONMENT.map((s) => s.name);
    expect(names.filter((n, i) => names.indexOf(n) !== i)).toEqual([]);
  });

  it('holds defaults its own rules accept', () => {
    for (const setting of ENVIRONMENT.filter((s) => s.default !== undefined)) {
      const problems: string[] = [];
      setting.rule.check(String(setting.default), setting.name, problems);
      expect(problems, setting.name).toEqual([]);
    }
  });

  it("is the README's configuration table", () => {
    // Prepare
    const readme = readFileSync(README, 'utf8');
    const generated = configurationTable(ENVIRONMENT);
    if (process.env['UPDATE_DOCS'] === '1' && tableIn(readme) !== generated)
      writeFileSync(README, withTable(readme, generated));
    // Assess
    expect(tableIn(readFileSync(README, 'utf8')), 'README.md has no configuration table markers').toBeDefined();
    expect(
      tableIn(readFileSync(README, 'utf8')),
      "README.md's configuration table is not the one src/core/environment.ts makes: regenerate it with `UPDATE_DOCS=1 npx vitest run test/core/environment.test.ts`",
    ).toBe(generated);
  });
});

describe('a range changed in the table alone', () => {
  afterEach(() => {
    vi.doUnmock('../../src/core/environment.js');
    vi.resetModules();
  });

  it('is what loadConfig checks, what the docs say and what the CDK context checks', async () => {
    // Prepare: FIX_HEARTBEAT_S up to 60 instead of 300, in the table and nowhere else.
    vi.resetModules();
    vi.doMock(import('../../src/core/environment.js'), async (original) => {
      const actual = await original();
      const table = actual.ENVIRONMENT.map((s) =>
        s.name === 'FIX_HEARTBEAT_S' ? { ...s, rule: wholeNumber(3, 60) } : s,
      ) as unknown as typeof actual.ENVIRONMENT;
      return { ...actual, ENVIRONMENT: table };
    });
    const changed = await import('../../src/core/environment.js');
    const config = await import('../../src/app/config.js');
    const context = await import('../../infra/context.js');
    const docs = await import('../../src/core/environment-doc.js');
    const heartbeat = (table: string) => table.split('\n').find((r) => r.startsWith('| `FIX_HEARTBEAT_S` |'));
    const synth = (fixHeartbeatS: string) => () =>
      context.settingsFromContext((key) => (key === 'fixHeartbeatS' ? fixHeartbeatS : undefined));

    // Act + Assess: loadConfig.
    expect(problemsOf(config.loadConfig, { ...VALID, FIX_HEARTBEAT_S: '61' })).toEqual([
      'FIX_HEARTBEAT_S must be a whole number from 3 to 60, got 61',
    ]);
    expect(config.loadConfig({ ...VALID, FIX_HEARTBEAT_S: '60' }).fix.heartbeatS).toBe(60);
    expect(problemsOf(loadConfig, { ...VALID, FIX_HEARTBEAT_S: '61' })).toEqual([]);
    // The docs.
    expect(heartbeat(docs.configurationTable(changed.ENVIRONMENT))).toBe(
      '| `FIX_HEARTBEAT_S` | no | 30 | 3–60 | HeartBtInt in seconds |',
    );
    expect(heartbeat(configurationTable(ENVIRONMENT))).toContain('| 3–300 |');
    // The CDK context.
    expect(synth('61')).toThrow(/fixHeartbeatS must be a whole number from 3 to 60, got 61/);
    expect(synth('60')().fix.heartbeatS).toBe(60);
  });
});
