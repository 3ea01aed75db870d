import { createPrivateKey, createPublicKey } from 'node:crypto';
import { chmodSync, existsSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { isListenerError } from '../../src/core/errors.js';
import { CommandRefusal, refusalText } from '../../src/app/cli-command.js';
import { keygenCommand, writeKeyPair } from '../../src/app/keygen-command.js';
import { tempDir } from '../helpers/records.js';
import { REPO, spawnTs } from '../helpers/spawn.js';

/** keygen in this process, its output and exit code kept; a refusal printed as cli.ts prints it. */
function keygen(args: string[], cwd: string) {
  const out: string[] = [];
  try {
    const code = keygenCommand(args, cwd, (text) => out.push(text));
    return { code, stdout: out.join(''), stderr: '' };
  } catch (error) {
    if (!(error instanceof CommandRefusal)) throw error;
    const stderr = refusalText('keygen', error.message, { code: error.code, usage: error.usage });
    return { code: error.exitCode, stdout: out.join(''), stderr };
  }
}

const read = (file: string) => readFileSync(file, 'utf8');
const mode = (file: string) => statSync(file).mode & 0o777;

/** Whether the two files are the halves of one RSA key pair. */
function isPair(privatePem: string, publicPem: string): boolean {
  const derived = createPublicKey(createPrivateKey(privatePem)).export({ type: 'spki', format: 'pem' });
  return derived === publicPem;
}

// 2048-bit RSA pairs and the built CLI in child processes: more than the 5 s default on a busy machine.
describe('keygen', { timeout: 30_000 }, () => {
  it('writes a 2048-bit pair, the private half mode 600, and prints only the public half', () => {
    // Prepare
    const dir = tempDir('keygen-');
    // Act
    const { code, stdout, stderr } = keygen(['--out', 'kalshi-key'], dir);
    // Assess
    const privateFile = join(dir, 'kalshi-key.pem');
    const publicFile = join(dir, 'kalshi-key.pub.pem');
    expect(code).toBe(0);
    expect(stderr).toBe('');
    expect(mode(privateFile)).toBe(0o600);
    expect(createPrivateKey(read(privateFile)).asymmetricKeyDetails?.modulusLength).toBe(2048);
    expect(isPair(read(privateFile), read(publicFile))).toBe(true);
    expect(stdout).toContain(read(publicFile));
    expect(stdout).toContain(privateFile);
    expect(stdout).not.toContain('PRIVATE KEY-----\n'); // the private key never reaches the terminal
  });

  it('refuses a second run on the same --out: exit 2, the file named on stderr, the first key unchanged', () => {
    // Prepare
    const dir = tempDir('keygen-');
    keygen([], dir);
    const privateFile = join(dir, 'kalshi-key.pem');
    const first = { private: read(privateFile), public: read(join(dir, 'kalshi-key.pub.pem')) };
    // Act
    const second = keygen([], dir);
    // Assess
    expect(second.code).toBe(2);
    expect(second.stdout).toBe('');
    expect(second.stderr).toContain(`${privateFile} already exists`);
    expect(second.stderr).toContain('--force');
    expect(read(privateFile)).toBe(first.private);
    expect(read(join(dir, 'kalshi-key.pub.pem'))).toBe(first.public);
    expect(readdirSync(dir).sort()).toEqual(['kalshi-key.pem', 'kalshi-key.pub.pem']);
  });

  it('refuses when only the public key is there, and writes no private key beside it', () => {
    // Prepare
    const dir = tempDir('keygen-');
    const publicFile = join(dir, 'dc-key.pub.pem');
    writeFileSync(publicFile, 'registered with Kalshi\n');
    // Act
    const { code, stderr } = keygen(['--out', join(dir, 'dc-key')], '/');
    // Assess
    expect(code).toBe(2);
    expect(stderr).toContain(`${publicFile} already exists`);
    expect(existsSync(join(dir, 'dc-key.pem'))).toBe(false);
    expect(read(publicFile)).toBe('registered with Kalshi\n');
  });

  it('replaces both halves with --force, the private key still mode 600, and leaves no temporary file', () => {
    // Prepare: an old private key someone made readable.
    const dir = tempDir('keygen-');
    keygen([], dir);
    const privateFile = join(dir, 'kalshi-key.pem');
    chmodSync(privateFile, 0o644);
    const old = read(privateFile);
    // Act
    const { code } = keygen(['--force'], dir);
    // Assess
    expect(code).toBe(0);
    expect(read(privateFile)).not.toBe(old);
    expect(isPair(read(privateFile), read(join(dir, 'kalshi-key.pub.pem')))).toBe(true);
    expect(mode(privateFile)).toBe(0o600);
    expect(readdirSync(dir).sort()).toEqual(['kalshi-key.pem', 'kalshi-key.pub.pem']);
  });

  it('makes the two keys of the drop-copy recipe side by side with two --out names', () => {
    // Prepare
    const dir = tempDir('keygen-');
    // Act
    const listener = keygen(['--out', 'kalshi-key'], dir);
    const dropCopy = keygen(['--out', 'kalshi-dc-key'], dir);
    // Assess
    expect([listener.code, dropCopy.code]).toEqual([0, 0]);
    expect(read(join(dir, 'kalshi-key.pem'))).not.toBe(read(join(dir, 'kalshi-dc-key.pem')));
  });

  it('answers 2 to an unknown option, in the one refusal shape pointing at --help', () => {
    // Act
    const { code, stderr } = keygen(['--outt', 'x'], tempDir('keygen-'));
    // Assess
    expect(code).toBe(2);
    expect(stderr).toBe(
      "kalshi-fix-listener keygen: unknown option '--outt' (see kalshi-fix-listener keygen --help)\n",
    );
  });

  it('reports an existing file as ERR_KEY_FILE_EXISTS with the file in its details', () => {
    // Prepare
    const base = join(tempDir('keygen-'), 'k');
    writeKeyPair(base, false);
    // Act
    let caught: unknown;
    try {
      writeKeyPair(base, false);
    } catch (error) {
      caught = error;
    }
    // Assess
    expect(isListenerError(caught, 'ERR_KEY_FILE_EXISTS')).toBe(true);
    expect((caught as { details: { file: string } }).details.file).toBe(`${base}.pem`);
  });

  it('through the CLI: twice exits 2 and keeps the first key, --force replaces it', async () => {
    // Prepare: a relative --out, from a folder of the test's own (no npm INIT_CWD in the way).
    const dir = tempDir('keygen-cli-');
    const env = { ...process.env, INIT_CWD: undefined };
    const run = async (...args: string[]) => {
      const cli = spawnTs('src/app/cli.ts', ['keygen', '--out', 'key', ...args], { cwd: dir, env });
      return { code: await cli.exited, output: cli.output() };
    };
    // Act
    const first = await run();
    const key = read(join(dir, 'key.pem'));
    const second = await run();
    const keptKey = read(join(dir, 'key.pem'));
    const forced = await run('--force');
    // Assess
    expect(first.code).toBe(0);
    expect(second.code).toBe(2);
    expect(second.output).toContain(`${join(dir, 'key.pem')} already exists`);
    expect(keptKey).toBe(key);
    expect(forced.code).toBe(0);
    expect(read(join(dir, 'key.pem'))).not.toBe(key);
  });

  it("is an npm script that builds first, so the docs' `npm run keygen` works from a fresh clone", () => {
    // Prepare
    const scripts = (JSON.parse(read(join(REPO, 'package.json'))) as { scripts: Record<string, string> }).scripts;
    const deployment = read(join(REPO, 'docs', 'deployment.md'));
    const docs = [
      'README.md',
      ...readdirSync(join(REPO, 'docs'))
        .filter((f) => f.endsWith('.md'))
        .map((f) => `docs/${f}`),
    ];
    // Assess
    expect(scripts['keygen']).toBe('tsc -b tsconfig.build.json && node dist/src/app/cli.js keygen');
    expect(deployment).toContain('npm run keygen -- --out kalshi-key');
    expect(deployment).toContain('npm run keygen -- --out kalshi-dc-key');
    for (const doc of docs) expect(read(join(REPO, doc)), doc).not.toMatch(/npx kalshi-fix-listener keygen/);
  });
});
