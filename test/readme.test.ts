import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { ENVIRONMENT } from '../src/app/config.js';
import { RECORD_COLUMNS } from '../src/core/record.js';

const README = readFileSync(join(import.meta.dirname, '..', 'README.md'), 'utf8');

// The README is a contract users copy from: keep it equal to the code it documents.
describe('README', () => {
  it('has the Athena DDL with exactly the record columns and types, in order', () => {
    const ddl = /CREATE EXTERNAL TABLE kalshi_exec_reports \(\n([\s\S]+?)\n\)\nPARTITIONED BY/.exec(README)?.[1];
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
});
