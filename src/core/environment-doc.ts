import type { Setting } from './environment.js';

/**
 * The README's configuration table, generated from the environment's table so a default or a
 * range is written once. It sits between these two markers; test/core/environment.test.ts
 * fails when it is stale and rewrites it with UPDATE_DOCS=1.
 */
export const TABLE_BEGIN = '<!-- configuration table: generated from src/core/environment.ts, do not edit -->';
export const TABLE_END = '<!-- end of the configuration table -->';

/** The markdown table of `table`: one row per variable, in its order. */
export function configurationTable(table: readonly Setting[]): string {
  const rows = table.map((s) =>
    [`\`${s.name}\``, s.required, shownDefault(s), s.rule.range, s.meaning].map(cell).join(' | '),
  );
  return [
    '| variable | required | default | accepts | meaning |',
    '|---|---|---|---|---|',
    ...rows.map((r) => `| ${r} |`),
  ].join('\n');
}

/** The table between the markers of `markdown`, or undefined without them. */
export function tableIn(markdown: string): string | undefined {
  const begin = markdown.indexOf(TABLE_BEGIN);
  const end = markdown.indexOf(TABLE_END);
  if (begin < 0 || end < begin) return undefined;
  return markdown.slice(begin + TABLE_BEGIN.length, end).trim();
}

/** `markdown` with `table` between its markers (which it must have: see tableIn). */
export function withTable(markdown: string, table: string): string {
  const begin = markdown.indexOf(TABLE_BEGIN) + TABLE_BEGIN.length;
  return `${markdown.slice(0, begin)}\n${table}\n${markdown.slice(markdown.indexOf(TABLE_END))}`;
}

function shownDefault(s: Setting): string {
  if (s.shown !== undefined) return s.shown;
  if (s.default === undefined) return '';
  return typeof s.default === 'string' ? `\`${s.default}\`` : JSON.stringify(s.default);
}

/** A pipe would end the cell. */
function cell(text: string): string {
  return text.replaceAll('|', '\\|');
}
