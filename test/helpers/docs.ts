import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { REPO } from './spawn.js';

/** The README and every page under docs/, by their path from the repository root, in that order. */
export function docFiles(): string[] {
  return [
    'README.md',
    ...readdirSync(join(REPO, 'docs'))
      .filter((f) => f.endsWith('.md'))
      .sort()
      .map((f) => `docs/${f}`),
  ];
}

/** A fenced code block: its page, the line of its opening fence (1-based), its language and text. */
export interface DocBlock {
  file: string;
  line: number;
  lang: string;
  text: string;
}

export function fencedBlocks(file: string, markdown: string): DocBlock[] {
  const blocks: DocBlock[] = [];
  const lines = markdown.split('\n');
  for (let i = 0; i < lines.length; i++) {
    const open = /^```(\S*)\s*$/.exec(lines[i]!);
    if (open === null) continue;
    const end = lines.findIndex((l, k) => k > i && /^```\s*$/.test(l));
    if (end < 0) throw new Error(`${file}:${i + 1}: a code fence that is never closed`);
    blocks.push({ file, line: i + 1, lang: open[1]!, text: lines.slice(i + 1, end).join('\n') });
    i = end;
  }
  return blocks;
}

/** The languages whose blocks hold commands to run; every other block is shown, not run. */
export const SHELL_LANGS = ['sh', 'bash', 'shell', 'console'];
export const SQL_LANGS = ['sql'];

/**
 * One command of the docs: a logical shell line (continuations joined) or one SQL statement, or a
 * query written inline (`SELECT …` in backticks). `text` is what runs, `command` what a reader
 * matches on: whitespace collapsed, a trailing shell comment dropped (it is in `comment`).
 */
export interface DocCommand {
  file: string;
  line: number;
  kind: 'shell' | 'sql';
  /** The block it belongs to (the block's opening line), or undefined for an inline query. */
  block: number | undefined;
  text: string;
  command: string;
  comment: string;
  /**
   * A shell line that only defines something for the lines after it (`PORT=…`, `key() {…}`): it
   * runs with them rather than on its own.
   */
  definition: boolean;
}

/** The shell comment at the end of a line (a `#` after white space, outside quotes), and the rest. */
function splitComment(line: string): { code: string; comment: string } {
  let quote: string | undefined;
  for (let i = 0; i < line.length; i++) {
    const c = line[i]!;
    if (quote !== undefined) {
      if (c === '\\' && quote === '"') i++;
      else if (c === quote) quote = undefined;
    } else if (c === '\\') i++;
    else if (c === '"' || c === "'") quote = c;
    else if (c === '#' && (i === 0 || /\s/.test(line[i - 1]!)))
      return { code: line.slice(0, i).trimEnd(), comment: line.slice(i + 1).trim() };
  }
  return { code: line.trimEnd(), comment: '' };
}

export function shellCommands(block: DocBlock): DocCommand[] {
  const out: DocCommand[] = [];
  const lines = block.text.split('\n');
  for (let i = 0; i < lines.length; i++) {
    const start = i;
    const parts = [lines[i]!];
    // A line ending in a backslash goes on on the next.
    while (/\\\s*$/.test(lines[i]!) && i + 1 < lines.length) parts.push(lines[++i]!);
    const pieces = parts.map(splitComment);
    const comment = pieces
      .map((p) => p.comment)
      .filter(Boolean)
      .join(' ');
    const code = pieces.map((p) => p.code).join('\n');
    if (code.trim() === '') continue; // a blank line or a comment line
    const command = code.replace(/\\\n/g, ' ').replace(/\s+/g, ' ').trim();
    out.push({
      file: block.file,
      line: block.line + 1 + start,
      kind: 'shell',
      block: block.line,
      text: code,
      command,
      comment,
      // NAME=value with nothing after it and no command substitution, or a function definition.
      definition: /^[A-Za-z_]\w*=(?:[^\s$]|\$\{[^}]*\})*$/.test(command) || /^[A-Za-z_]\w*\(\) \{.*\}$/.test(command),
    });
  }
  return out;
}

/** The statements of a SQL block, each with the `--` comment lines just before it as its comment. */
export function sqlStatements(block: DocBlock): DocCommand[] {
  const out: DocCommand[] = [];
  const lines = block.text.split('\n');
  let comment: string[] = [];
  let body: string[] = [];
  let first = 0;
  lines.forEach((line, i) => {
    if (body.length === 0 && /^\s*--/.test(line)) {
      comment.push(line.replace(/^\s*--\s*/, ''));
      return;
    }
    if (body.length === 0 && line.trim() === '') {
      comment = [];
      return;
    }
    if (body.length === 0) first = i;
    body.push(line);
    if (/;\s*$/.test(line)) {
      const text = body.join('\n').replace(/;\s*$/, '');
      out.push({
        file: block.file,
        line: block.line + 1 + first,
        kind: 'sql',
        block: block.line,
        text,
        command: text.replace(/\s+/g, ' ').trim(),
        comment: comment.join(' '),
        definition: false,
      });
      comment = [];
      body = [];
    }
  });
  if (body.length > 0) throw new Error(`${block.file}:${block.line}: a SQL statement without its closing ;`);
  return out;
}

/** Queries written inline in the prose: a code span (on one line or more) that is a whole `SELECT` statement. */
export function inlineQueries(file: string, markdown: string): DocCommand[] {
  // Fenced lines blanked, so offsets still give line numbers.
  let fenced = false;
  const prose = markdown
    .split('\n')
    .map((line) => {
      const fence = /^```/.test(line);
      if (fence) fenced = !fenced;
      return fence || fenced ? '' : line;
    })
    .join('\n');
  return [...prose.matchAll(/`(SELECT [^`]+)`/g)].map((m) => {
    const text = m[1]!.replace(/\s+/g, ' ');
    return {
      file,
      line: prose.slice(0, m.index).split('\n').length,
      kind: 'sql' as const,
      block: undefined,
      text,
      command: text,
      comment: '',
      definition: false,
    };
  });
}

/** Every fenced block and every command and query of the README and docs/. */
export function docCommands(): { blocks: DocBlock[]; commands: DocCommand[] } {
  const blocks: DocBlock[] = [];
  const commands: DocCommand[] = [];
  for (const file of docFiles()) {
    const markdown = readFileSync(join(REPO, file), 'utf8');
    const fenced = fencedBlocks(file, markdown);
    blocks.push(...fenced);
    for (const block of fenced) {
      if (SHELL_LANGS.includes(block.lang)) commands.push(...shellCommands(block));
      else if (SQL_LANGS.includes(block.lang)) commands.push(...sqlStatements(block));
    }
    commands.push(...inlineQueries(file, markdown));
  }
  return { blocks, commands };
}
