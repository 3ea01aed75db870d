import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    // Suites that need the machine (g++ and libquickfix-dev; root for a tmpfs): `npm run test:system`
    // (vitest.system.config.js), which .ci/run runs after this.
    exclude: ['**/node_modules/**', '**/.git/**', 'test/interop/quickfix*.test.ts', 'test/system/**'],
    testTimeout: 30_000,
    hookTimeout: 60_000,
    // Integration suites bind real sockets and spawn real peers; two cores run two at a time.
    maxWorkers: 2,
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
