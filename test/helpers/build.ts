import { spawnSync } from 'node:child_process';
import { chmodSync, mkdirSync, readdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import ts from 'typescript';
import { REPO } from './spawn.js';

/** The test fixtures that run as processes of their own (test/fixtures/*.ts). */
const FIXTURES = join(REPO, 'test/fixtures');

/**
 * Brings dist/ up to date for the tests that spawn processes, which run the built JavaScript as
 * the image does (`node dist/src/app/cli.js`): a child starts in a third of the time it takes
 * through tsx. `tsc -b tsconfig.build.json` as `npm run build` runs it (incremental: nothing is
 * written when dist/ is fresh, ~0.3 s), then each test/fixtures/*.ts transpiled beside it, to
 * dist/test/fixtures/*.js, where its `../../src/…` imports find the built modules.
 *
 * Returns tsc's diagnostics when the sources do not type-check: tsc still writes every file then
 * (and the tests in the runner's own process run the same sources unchecked); `npm run
 * typecheck` is the gate for types. Throws when tsc could not run at all.
 *
 * Two test runs in one working tree can build at once: flock(1) lets one compile while the other
 * waits, so no child ever loads a file a compiler is halfway through writing.
 */
export function buildForTests(): string | undefined {
  mkdirSync(join(REPO, 'dist'), { recursive: true });
  const tsc = join(REPO, 'node_modules/typescript/bin/tsc');
  const result = spawnSync(
    'flock',
    [join(REPO, 'dist/.build.lock'), process.execPath, tsc, '-b', 'tsconfig.build.json'],
    { cwd: REPO, encoding: 'utf8' },
  );
  if (result.error !== undefined || result.status === null || result.status > 2) {
    const why = result.error?.message ?? result.status ?? result.signal;
    throw new Error(`tsc -b tsconfig.build.json did not run (${why}):\n${result.stdout}${result.stderr}`);
  }
  // What `npm run build` does after tsc: the package's bin runs as `npx kalshi-fix-listener`.
  chmodSync(join(REPO, 'dist/src/app/cli.js'), 0o755);
  transpileFixtures();
  return result.status === 0 ? undefined : `${result.stdout}${result.stderr}`;
}

/** Each fixture as an ES module; written (by rename, so never seen half-written) only when it changed. */
function transpileFixtures(): void {
  const out = join(REPO, 'dist/test/fixtures');
  mkdirSync(out, { recursive: true });
  for (const name of readdirSync(FIXTURES).filter((n) => n.endsWith('.ts'))) {
    const source = readFileSync(join(FIXTURES, name), 'utf8');
    const { outputText } = ts.transpileModule(source, {
      fileName: name,
      compilerOptions: { module: ts.ModuleKind.ES2022, target: ts.ScriptTarget.ES2023, verbatimModuleSyntax: true },
    });
    const target = join(out, name.replace(/\.ts$/, '.js'));
    let current: string | undefined;
    try {
      current = readFileSync(target, 'utf8');
    } catch {
      current = undefined;
    }
    if (current === outputText) continue;
    const temporary = `${target}.${process.pid}.tmp`;
    writeFileSync(temporary, outputText);
    renameSync(temporary, target);
  }
}
