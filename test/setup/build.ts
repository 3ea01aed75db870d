import { buildForTests } from '../helpers/build.js';

/**
 * Global setup of both test configurations: dist/ built (and the fixtures beside it) before any
 * test spawns a process from it, so `npm test` works on a fresh clone, where dist/ does not exist.
 */
export default function setup(): void {
  // Once a run: the configuration and each of its projects call it.
  if (process.env['KFL_TEST_BUILT'] !== undefined) return;
  const diagnostics = buildForTests();
  process.env['KFL_TEST_BUILT'] = '1';
  // tsc wrote every file all the same; the tests run the sources as they are.
  if (diagnostics !== undefined)
    process.stderr.write(`warning: the sources do not type-check (npm run typecheck):\n${diagnostics}\n`);
}
