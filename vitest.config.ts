import { defineConfig } from 'vitest/config';

// Suites that need the machine (g++ and libquickfix-dev; root for a tmpfs) and the long crash
// run: `npm run test:system` (vitest.system.config.js), which .ci/run runs after this.
const EXCLUDE = ['**/node_modules/**', '**/.git/**', 'test/interop/quickfix*.test.ts', 'test/system/**'];

export default defineConfig({
  test: {
    exclude: EXCLUDE,
    // dist/ built for the suites that spawn the CLI and the fixtures; scratch folders on a tmpfs.
    globalSetup: ['test/setup/build.ts', 'test/setup/scratch.ts'],
    // Vitest's defaults (5 s a test, 10 s a hook): the suites that spawn processes or start peers
    // set their own, test by test.
    // Integration suites bind real sockets and spawn real peers; two cores run two at a time.
    maxWorkers: 2,
    projects: [
      // The CDK suites share a process per worker: aws-cdk-lib compiles its template validation
      // rules (WebAssembly) once a process, ~8 s, which each file paid on its own.
      { extends: true, test: { name: 'infra', include: ['test/infra/**/*.test.ts'], isolate: false } },
      {
        extends: true,
        test: { name: 'service', include: ['test/**/*.test.ts'], exclude: [...EXCLUDE, 'test/infra/**'] },
      },
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
