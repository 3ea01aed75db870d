import { generateKeyPairSync } from 'node:crypto';
import { chmodSync, existsSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { isListenerError, ListenerError } from '../core/errors.js';
import { CommandRefusal, parseCommand, type CommandSpec, type Command, type Print } from './cli-command.js';

/** The two files of a key pair written under `base`. */
export function keyFiles(base: string): { privateKey: string; publicKey: string } {
  return { privateKey: `${base}.pem`, publicKey: `${base}.pub.pem` };
}

/**
 * Writes a new RSA-2048 key pair: `<base>.pem` (PKCS#8, mode 600) and `<base>.pub.pem` (SPKI, for
 * Kalshi's API-key page). A private key registered with Kalshi cannot be made again, so a file
 * already there is never replaced unless `force`: ERR_KEY_FILE_EXISTS names it, and neither file
 * is touched. Without `force` the files are created exclusively (a race with another keygen
 * fails rather than overwrites); with it both are written beside and renamed over, so a crash
 * leaves a whole key file, old or new, never a torn one. Returns the public key (PEM).
 */
export function writeKeyPair(base: string, force: boolean): string {
  const files = keyFiles(base);
  if (!force)
    for (const file of [files.privateKey, files.publicKey])
      if (existsSync(file))
        throw new ListenerError('ERR_KEY_FILE_EXISTS', `${file} already exists`, { details: { file } });
  const { privateKey, publicKey } = generateKeyPairSync('rsa', {
    modulusLength: 2048,
    privateKeyEncoding: { type: 'pkcs8', format: 'pem' },
    publicKeyEncoding: { type: 'spki', format: 'pem' },
  });
  const pair = [
    { file: files.privateKey, content: privateKey, mode: 0o600 },
    { file: files.publicKey, content: publicKey, mode: 0o644 },
  ];
  if (!force) {
    for (const { file, content, mode } of pair) createExclusive(file, content, mode);
    return publicKey;
  }
  // Both written beside their files first, then renamed over: a failure before the renames leaves
  // the old pair whole, and the renames are the only step that can part the two halves.
  const temps = pair.map((key) => ({ ...key, temp: `${key.file}.tmp-${process.pid}` }));
  try {
    for (const { temp, content, mode } of temps) {
      writeFileSync(temp, content, { mode, flag: 'wx' });
      chmodSync(temp, mode); // the umask may have taken bits off the public key's mode
    }
    for (const { temp, file } of temps) renameSync(temp, file);
  } finally {
    for (const { temp } of temps) rmSync(temp, { force: true });
  }
  return publicKey;
}

/** Created with its mode (a private key is never readable by others, even for a moment), never over a file. */
function createExclusive(file: string, content: string, mode: number): void {
  try {
    writeFileSync(file, content, { mode, flag: 'wx' });
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'EEXIST')
      throw new ListenerError('ERR_KEY_FILE_EXISTS', `${file} already exists`, { cause: error, details: { file } });
    throw error;
  }
}

export const KEYGEN = {
  name: 'keygen',
  synopsis: '[--out BASE] [--force]',
  description:
    'Writes a new RSA-2048 key pair for a Kalshi API key: BASE.pem (PKCS#8, mode 600, keep it secret) and\n' +
    "BASE.pub.pem (register it on Kalshi's API-key page), and prints the public half only. Never replaces\n" +
    'a key without --force: a private key registered with Kalshi cannot be made again.\n' +
    'Exit 0 when written, 2 on bad arguments or a key file already there.',
  options: {
    out: { type: 'string', value: 'BASE', default: 'kalshi-key', help: 'where to write, relative to where you run it' },
    force: { type: 'boolean', help: 'replace an existing pair (both files, atomically)' },
  },
} as const satisfies CommandSpec;

/**
 * `kalshi-fix-listener keygen [--out BASE] [--force]`. `cwd` resolves a relative `--out`: under
 * `npm run keygen` it is where the user ran npm (INIT_CWD), not the package folder npm runs in.
 * Exit 0 with the public key on stdout; a CommandRefusal (exit 2) on bad arguments or a key file
 * already there.
 */
export function keygenCommand(args: string[], cwd: string, out: Print): number {
  const values = parseCommand(KEYGEN, args);
  const base = resolve(cwd, values.out);
  let publicKey: string;
  try {
    publicKey = writeKeyPair(base, values.force === true);
  } catch (error) {
    if (!isListenerError(error, 'ERR_KEY_FILE_EXISTS')) throw error;
    throw new CommandRefusal(
      `${String(error.details?.['file'])} already exists; refusing to overwrite a key ` +
        `(a private key registered with Kalshi cannot be made again). Give another --out, or --force to replace it.`,
      { code: 'ERR_KEY_FILE_EXISTS', cause: error },
    );
  }
  const files = keyFiles(base);
  // Only the public half is printed, for Kalshi's API-key page; the private key stays in its file.
  out(`private key: ${files.privateKey} (mode 600, keep it secret)\npublic key:  ${files.publicKey}\n\n${publicKey}`);
  return 0;
}

export const COMMAND: Command = {
  spec: KEYGEN,
  // Relative to where the user ran `npm run keygen` (npm runs scripts in the package folder).
  main: (args, io) => keygenCommand(args, io.env['INIT_CWD'] ?? io.cwd, io.out),
};
