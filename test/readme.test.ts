import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { dirname, join, relative } from 'node:path';
import { describe, expect, it } from 'vitest';
import { ENVIRONMENT } from '../src/app/config.js';
import { RECORD_COLUMNS } from '../src/core/record.js';

const REPO = join(import.meta.dirname, '..');
const read = (file: string) => readFileSync(join(REPO, file), 'utf8');
const README = read('README.md');
const ARCHIVE = read('docs/archive.md');
/** The README and every page under docs/, by their path from the repository root. */
const DOCS: ReadonlyArray<readonly [file: string, text: string]> = [
  'README.md',
  ...readdirSync(join(REPO, 'docs'))
    .filter((f) => f.endsWith('.md'))
    .map((f) => `docs/${f}`),
].map((file) => [file, read(file)] as const);

/** The text outside fenced code blocks (a link there is text, not a link). */
function prose(markdown: string): string {
  return markdown.replace(/^```[^\n]*\n[\s\S]*?^```$/gm, '');
}

/** The anchors GitHub gives a page's headings: lower case, punctuation dropped, spaces as '-'. */
function anchors(markdown: string): Set<string> {
  const seen = new Map<string, number>();
  const result = new Set<string>();
  for (const [, heading] of prose(markdown).matchAll(/^#{1,6} (.+)$/gm)) {
    const slug = heading!
      .trim()
      .toLowerCase()
      .replace(/[^\p{L}\p{N} _-]/gu, '')
      .replace(/ /g, '-');
    const n = seen.get(slug) ?? 0;
    seen.set(slug, n + 1);
    result.add(n === 0 ? slug : `${slug}-${n}`);
  }
  return result;
}

/** The subcommands src/app/cli.ts dispatches: the keys of its MODULES table. */
function cliCommands(): string[] {
  const source = read('src/app/cli.ts');
  const table = /^const MODULES\b[^\n]*= \{\n([\s\S]*?)^\};$/m.exec(source)?.[1];
  expect(table, 'the MODULES table of src/app/cli.ts').toBeDefined();
  return [...table!.matchAll(/^ {2}(?:'([a-z][a-z-]*)'|([a-z][a-z-]*)): \(\) => import\(/gm)].map((m) => m[1] ?? m[2]!);
}

// The README and docs/ are a contract users copy from: keep them equal to the code they document.
describe('README and docs/', () => {
  it('has the Athena DDL with exactly the record columns and types, in order', () => {
    const ddl = /CREATE EXTERNAL TABLE kalshi_exec_reports \(\n([\s\S]+?)\n\)\nPARTITIONED BY/.exec(ARCHIVE)?.[1];
    expect(ddl).toBeDefined();
    const columns = ddl!.split('\n').map((line) => line.trim().replace(/,$/, '').split(' '));
    expect(columns).toEqual(RECORD_COLUMNS.map((c) => [c.name, c.glueType]));
  });

  it('documents every environment variable the service reads', () => {
    for (const variable of ENVIRONMENT) expect(README).toContain(`| \`${variable.name}\` |`);
  });

  it('keeps the two set-up commands', () => {
    expect(README).toContain('npm ci && npm run demo');
    expect(README).toMatch(/^npm test\b/m);
  });

  it('keeps the README to at most 250 lines', () => {
    expect(README.trimEnd().split('\n').length).toBeLessThanOrEqual(250);
  });

  it('links only to files (and headings) that exist', () => {
    let links = 0;
    for (const [file, text] of DOCS) {
      for (const [, target] of prose(text).matchAll(/\]\(([^)\s]+)\)/g)) {
        if (/^[a-z]+:/i.test(target!)) continue; // http:, https:, mailto:
        links++;
        const [path, anchor] = target!.split('#') as [string, string | undefined];
        const resolved = path === '' ? join(REPO, file) : join(REPO, dirname(file), decodeURIComponent(path));
        const where = `${file} → ${target}`;
        expect(relative(REPO, resolved).startsWith('..'), where).toBe(false);
        expect(existsSync(resolved), where).toBe(true);
        if (anchor !== undefined && resolved.endsWith('.md'))
          expect([...anchors(readFileSync(resolved, 'utf8'))], where).toContain(anchor);
      }
    }
    expect(links).toBeGreaterThan(20);
  });

  it('names only npm scripts that package.json has', () => {
    const scripts = Object.keys((JSON.parse(read('package.json')) as { scripts: Record<string, string> }).scripts);
    let mentions = 0;
    for (const [file, text] of DOCS) {
      for (const [, script] of text.matchAll(/\bnpm run ([\w:-]*[\w])/g)) {
        mentions++;
        expect(scripts, `${file}: npm run ${script}`).toContain(script);
      }
      for (const [, script] of text.matchAll(/\bnpm (start|test)\b/g)) expect(scripts, file).toContain(script);
    }
    expect(mentions).toBeGreaterThan(10);
  });

  it('names only subcommands the CLI has', () => {
    const commands = cliCommands();
    expect(commands).toEqual(expect.arrayContaining(['run', 'demo', 'sim', 'keygen', 'reconcile', 'replay']));
    let mentions = 0;
    for (const [file, text] of DOCS) {
      // `kalshi-fix-listener replay`, `npx kalshi-fix-listener sim`, `node dist/src/app/cli.js run`
      for (const [, command] of text.matchAll(/(?:^|[\s`(])(?:kalshi-fix-listener|cli\.js) ([a-z][a-z-]*[a-z])\b/gm)) {
        mentions++;
        expect(commands, `${file}: kalshi-fix-listener ${command}`).toContain(command);
      }
    }
    expect(mentions).toBeGreaterThan(5);
    for (const command of commands)
      expect(README, `the README's command table: ${command}`).toContain(`| \`${command}\` |`);
  });

  it('lists every error code in docs/operations.md', () => {
    const codes = [...read('src/core/errors.ts').matchAll(/^ {2}\| '(ERR_[A-Z_]+)'/gm)].map((m) => m[1]!);
    expect(codes.length).toBeGreaterThan(30);
    const operations = read('docs/operations.md');
    for (const code of codes) expect(operations, code).toContain(`\`${code}\``);
  });
});
