// Harness for the independent exchange: QuickFIX C++ (qf_acceptor.cpp) built and driven from a test.
//
// Runs under `npm run test:system` (vitest.system.config.js), not `npm test`: it needs a compiler
// and the Debian packages first (the main .ci/run installs them and runs both):
//   apt-get update && apt-get install -y --no-install-recommends libquickfix-dev g++
// libquickfix-dev pulls in libquickfix17 (1.15.1, built with OpenSSL) and libssl-dev.
//
// TLS is native: the Debian library contains QuickFIX's SSLSocketAcceptor, so the port handed to
// the client is QuickFIX's own TLS listener (TLS 1.3 or 1.2) — no terminator in between.

import { execFile, spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { createHash } from 'node:crypto';
import { access, mkdir, mkdtemp, readFile, rename, rm, writeFile } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { generate } from 'selfsigned';

const here = dirname(fileURLToPath(import.meta.url));
const sourcePath = join(here, 'qf_acceptor.cpp');
const cacheRoot = join(here, '..', '..', 'node_modules', '.cache', 'qf-acceptor');

export interface QuickFixAcceptorOptions {
  /** Exchange side CompID, e.g. `KalshiRT` or `KalshiNR` (tag 56 in the client's messages). */
  senderCompId: string;
  /** The client's API key UUID (tag 49 in the client's messages). */
  targetCompId: string;
  /** Y: sequence numbers restart at 1 on every Logon (NR-like). N: FileStore continuity (RT-like). */
  resetOnLogon: boolean;
  /** FileStore directory; pass the same one to a second acceptor to keep sequences across restarts. */
  storeDir?: string;
  /** Reject Logons without 141=Y (KalshiNR rule). Defaults to `resetOnLogon`. */
  requireResetSeqNumFlag?: boolean;
  /** Extra or overriding QuickFIX session settings, e.g. `{ CheckLatency: 'N' }`. */
  settings?: Record<string, string>;
}

export interface QuickFixAcceptor {
  /** TLS port on 127.0.0.1 (QuickFIX itself listens on 0.0.0.0). */
  port: number;
  /** Self-signed certificate (CN/SAN localhost, 127.0.0.1) for the client to trust. */
  caPem: string;
  /** One stdin command: exec/execsilent <tag=v|...>, jump <n>, testreq <id>, logout [text], drop, quit. */
  command(line: string): void;
  /**
   * First stdout line at or after the read position matching `pattern`; the position then moves
   * past it, so sequential awaits observe events in order. Rejects on timeout or child exit.
   */
  waitFor(pattern: RegExp, timeoutMs?: number): Promise<string>;
  /** Every stdout line so far (SOH shown as `|`). */
  lines: string[];
  stop(): Promise<void>;
}

let build: Promise<string> | undefined;

/** Compiles qf_acceptor.cpp once per source hash; concurrent workers race harmlessly via rename. */
export function buildQuickFixAcceptor(): Promise<string> {
  build ??= (async () => {
    const source = await readFile(sourcePath);
    const dir = join(cacheRoot, createHash('sha256').update(source).digest('hex').slice(0, 16));
    const binary = join(dir, 'qf_acceptor');
    if (
      await access(binary).then(
        () => true,
        () => false,
      )
    )
      return binary;
    await mkdir(dir, { recursive: true });
    const partial = `${binary}.${process.pid}.tmp`;
    const args = ['-std=gnu++14', '-O1', '-o', partial, sourcePath, '-lquickfix', '-lpthread'];
    await new Promise<void>((resolve, reject) => {
      execFile('g++', args, { maxBuffer: 16 << 20 }, (error, _stdout, stderr) => {
        if (!error) return resolve();
        const missing =
          (error as NodeJS.ErrnoException).code === 'ENOENT'
            ? 'g++ is not installed'
            : /quickfix\/\w+\.h|-lquickfix/.test(stderr)
              ? 'libquickfix-dev is not installed'
              : 'compile failed';
        reject(
          new Error(
            `Cannot build the QuickFIX acceptor (${missing}). Run .ci/run, or ` +
              `apt-get install -y --no-install-recommends libquickfix-dev g++\n${stderr}`,
          ),
        );
      });
    });
    await rename(partial, binary);
    return binary;
  })();
  // A failed build is retried by the next caller instead of caching the rejection.
  build.catch(() => {
    build = undefined;
  });
  return build;
}

let certificate: Promise<{ key: string; cert: string }> | undefined;

function loopbackCertificate(): Promise<{ key: string; cert: string }> {
  // One RSA key per test process is plenty; the client must verify it exactly like Kalshi's.
  certificate ??= generate([{ name: 'commonName', value: 'localhost' }], {
    keySize: 2048,
    algorithm: 'sha256',
    notBeforeDate: new Date(Date.now() - 60_000),
    notAfterDate: new Date(Date.now() + 7 * 24 * 3600_000),
    extensions: [
      { name: 'basicConstraints', cA: true },
      { name: 'keyUsage', digitalSignature: true, keyEncipherment: true, keyCertSign: true },
      { name: 'extKeyUsage', serverAuth: true },
      {
        name: 'subjectAltName',
        altNames: [
          { type: 2, value: 'localhost' },
          { type: 7, ip: '127.0.0.1' },
        ],
      },
    ],
  }).then((pems) => ({ key: pems.private, cert: pems.cert }));
  return certificate;
}

/** QuickFIX needs a fixed SocketAcceptPort; ask the kernel for a free one (small reuse race accepted). */
function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      server.close(() =>
        typeof address === 'object' && address ? resolve(address.port) : reject(new Error('no port')),
      );
    });
  });
}

const running = new Set<ChildProcessWithoutNullStreams>();
let exitHookInstalled = false;

export async function startQuickFixAcceptor(opts: QuickFixAcceptorOptions): Promise<QuickFixAcceptor> {
  const [binary, pems, port] = await Promise.all([buildQuickFixAcceptor(), loopbackCertificate(), freePort()]);
  const work = await mkdtemp(join(tmpdir(), 'qf-acceptor-'));
  await Promise.all([writeFile(join(work, 'cert.pem'), pems.cert), writeFile(join(work, 'key.pem'), pems.key)]);
  const settings: Record<string, string> = {
    SenderCompID: opts.senderCompId,
    TargetCompID: opts.targetCompId,
    SocketAcceptPort: String(port),
    ResetOnLogon: opts.resetOnLogon ? 'Y' : 'N',
    RequireResetSeqNumFlag: (opts.requireResetSeqNumFlag ?? opts.resetOnLogon) ? 'Y' : 'N',
    FileStorePath: opts.storeDir ?? join(work, 'store'),
    ServerCertificateFile: join(work, 'cert.pem'),
    ServerCertificateKeyFile: join(work, 'key.pem'),
    ...opts.settings,
  };
  const child = spawn(
    binary,
    Object.entries(settings).map(([k, v]) => `${k}=${v}`),
    { stdio: 'pipe' },
  );
  running.add(child);
  if (!exitHookInstalled) {
    exitHookInstalled = true;
    // A crashed or aborted test run must not leave acceptors holding ports.
    process.once('exit', () => {
      for (const c of running) c.kill('SIGKILL');
    });
  }

  const lines: string[] = [];
  const stderr: string[] = [];
  let cursor = 0;
  let exited: string | undefined;
  const wakeups = new Set<() => void>();
  const wake = () => {
    for (const w of [...wakeups]) w();
  };
  createInterface({ input: child.stdout }).on('line', (line) => {
    lines.push(line);
    wake();
  });
  createInterface({ input: child.stderr }).on('line', (line) => stderr.push(line));
  const exit = new Promise<void>((resolve) => {
    child.once('exit', (code, signal) => {
      running.delete(child);
      exited = `qf_acceptor exited (code ${code}, signal ${signal})`;
      wake();
      resolve();
    });
  });

  const waitFor = (pattern: RegExp, timeoutMs = 10_000): Promise<string> =>
    new Promise((resolve, reject) => {
      const check = () => {
        for (let i = cursor; i < lines.length; i++) {
          const line = lines[i] as string;
          if (pattern.test(line)) {
            cursor = i + 1;
            done();
            resolve(line);
            return;
          }
        }
        if (exited !== undefined) fail(exited);
      };
      const fail = (why: string) => {
        done();
        const tail = [...lines.slice(-15), ...stderr.slice(-5).map((l) => `stderr: ${l}`)].join('\n  ');
        reject(new Error(`waitFor ${pattern}: ${why}; last output:\n  ${tail}`));
      };
      const timer = setTimeout(() => fail(`timed out after ${timeoutMs} ms`), timeoutMs);
      const done = () => {
        clearTimeout(timer);
        wakeups.delete(check);
      };
      wakeups.add(check);
      check();
    });

  const stop = async (): Promise<void> => {
    if (exited === undefined) {
      child.stdin.end('quit\n'); // graceful: Logout if logged on, then exit
      const killer = setTimeout(() => child.kill('SIGKILL'), 5_000);
      await exit;
      clearTimeout(killer);
    }
    await rm(work, { recursive: true, force: true });
  };

  try {
    await waitFor(/^ready /, 15_000);
  } catch (error) {
    await stop();
    throw error;
  }
  return {
    port,
    caPem: pems.cert,
    command: (line) => {
      if (/[\r\n]/.test(line)) throw new Error('one command per call, without newlines');
      if (exited !== undefined) throw new Error(exited);
      child.stdin.write(`${line}\n`);
    },
    waitFor,
    lines,
    stop,
  };
}
