import { defineConfig } from 'vitest/config';

// Suites that need the machine (g++ and libquickfix-dev; root for a tmpfs) and the long crash
// run: `npm run test:system` (vitest.system.config.js), which .ci/run runs after this.
const EXCLUDE = ['**/node_modules/**', '**/.git/**', 'test/interop/quickfix*.test.ts', 'test/system/**'];

// Test files that must not share their module graph with another file (see the projects below).
const ISOLATED = [
  'test/app/cli.test.ts',
  'test/bench/spool-ops-counter.test.ts',
  'test/config.test.ts',
  'test/core/append-log-failures.test.ts',
  'test/core/environment.test.ts',
  'test/fix/session-driver.test.ts',
  'test/integration/disk-full-service.test.ts',
  'test/integration/replay.test.ts',
  'test/integration/sim-rig.test.ts',
  'test/integration/start-guards.test.ts',
  'test/pipeline/consumer-loop.test.ts',
  'test/pipeline/journal-disk-full.test.ts',
  'test/pipeline/parquet-archive.test.ts',
  'test/pipeline/parquet-encode.test.ts',
  'test/pipeline/poison-fills.test.ts',
  'test/pipeline/segment-log-deletion.test.ts',
  'test/pipeline/sink-errors.test.ts',
  'test/sinks/contract.test.ts',
];

export default defineConfig({
  test: {
    exclude: EXCLUDE,
    // dist/ built for the suites that spawn the CLI and the fixtures; scratch folders on a tmpfs.
    globalSetup: ['test/setup/build.ts', 'test/setup/scratch.ts'],
    // Vitest's defaults (5 s a test, 10 s a hook): the suites that spawn processes or start peers
    // set their own, test by test.
    // Integration suites bind real sockets and spawn real peers; two cores run two at a time.
    maxWorkers: 2,
    pool: 'threads',
    projects: [
      // Files that replace a module (vi.mock), an SDK client (aws-sdk-client-mock), the
      // environment, or hold module state (zstd's WebAssembly, the bench's fs counter) get a fresh
      // module graph each.
      { extends: true, test: { name: 'isolated', include: ISOLATED } },
      // The rest share one per worker: importing the sources afresh for each of ~90 files was a
      // quarter of the run.
      {
        extends: true,
        test: {
          name: 'service',
          include: ['test/**/*.test.ts'],
          exclude: [...EXCLUDE, 'test/infra/**', ...ISOLATED],
          isolate: false,
        },
      },
      // The CDK suites share a process per worker: aws-cdk-lib compiles its template validation
      // rules (WebAssembly) once a process, ~8 s, which each file paid on its own.
      { extends: true, test: { name: 'infra', include: ['test/infra/**/*.test.ts'], isolate: false } },
    ],
    coverage: {
      provider: 'v8',
      include: ['src/**/*.ts'],
      // The CLI's entry and the run command's process lifecycle (signals, exit codes) run only in
      // child processes, where coverage is not collected; their tests spawn them.
      exclude: ['src/app/cli.ts', 'src/app/run-command.ts'],
      reporter: ['text-summary', 'json-summary'],
      thresholds: { lines: 90, functions: 90, branches: 80, statements: 90 },
    },
  },
});
