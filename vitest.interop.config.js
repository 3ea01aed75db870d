// @ts-check
import { defineConfig } from 'vitest/config';

// `npm run test:interop`: the QuickFIX C++ interoperability suite, kept out of `npm test` because it
// compiles its acceptor with g++ against Debian's libquickfix-dev (see test/interop/quickfix.ts).
// No coverage gate: `npm test` measures coverage of the same src/.
// (JavaScript, like eslint.config.js, so the type-aware lint needs no tsconfig entry for it.)
export default defineConfig({
  test: {
    include: ['test/interop/quickfix*.test.ts'],
    testTimeout: 30_000,
    hookTimeout: 60_000,
    maxWorkers: 2,
  },
});
