import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    // The QuickFIX C++ suite needs g++ and libquickfix-dev: `npm run test:interop` (vitest.interop.config.js).
    exclude: ['**/node_modules/**', '**/.git/**', 'test/interop/quickfix*.test.ts'],
    testTimeout: 30_000,
    hookTimeout: 60_000,
    // Integration suites bind real sockets and spawn real peers; two cores run two at a time.
    maxWorkers: 2,
    coverage: {
      provider: 'v8',
      include: ['src/**/*.ts'],
      exclude: ['src/app/cli.ts'],
      reporter: ['text-summary', 'json-summary'],
      thresholds: { lines: 80, functions: 80, branches: 70, statements: 80 },
    },
  },
});
