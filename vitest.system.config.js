// @ts-check
import { defineConfig } from 'vitest/config';

// `npm run test:system`: suites that need the machine itself, kept out of `npm test` (which needs
// Node and the npm registry only). The QuickFIX C++ suite compiles its acceptor with g++ against
// Debian's libquickfix-dev (test/interop/quickfix.ts); the disk-full suite mounts a tmpfs (root);
// the status-page suite drives Debian's chromium with playwright-core. The crash suite runs here
// at 24 and 10 kill points (test/system/crash.test.ts; `npm test` runs it at a few). The image
// smoke suite installs the production dependencies with the Dockerfile's own command (a full
// compile and an `npm ci`, the two thirds of its time) and starts the image's CMD.
// The spool's property suites run here a second time, deeper. .ci/run installs the packages and
// runs this as root. No coverage gate: `npm test` measures it.
// (JavaScript, like eslint.config.js, so the type-aware lint needs no tsconfig entry for it.)
export default defineConfig({
  test: {
    // dist/ built for the suites that spawn the CLI and the fixtures (test/setup/build.ts).
    globalSetup: ['test/setup/build.ts'],
    testTimeout: 30_000,
    hookTimeout: 60_000,
    maxWorkers: 2,
    projects: [
      {
        extends: true,
        test: { name: 'machine', include: ['test/interop/quickfix*.test.ts', 'test/system/*.test.ts'] },
      },
      // The property suites of the spool again, searching three times as far as `npm test` does
      // (test/helpers/property.ts), on the disk rather than a tmpfs.
      {
        extends: true,
        test: {
          name: 'properties',
          include: ['test/**/*.property.test.ts', 'test/pipeline/journal-damage.test.ts'],
          env: { KFL_PROPERTY_DEPTH: '3' },
          testTimeout: 600_000,
        },
      },
    ],
  },
});
