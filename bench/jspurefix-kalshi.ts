/**
 * jspurefix set up to speak Kalshi's FIX, for the two places that run its session against ours: the
 * references section's initiator (jspurefix-client.ts) and the interop tests' acceptor
 * (test/interop/jspurefix.ts). The loader, and the dictionary with Kalshi's Logon fields: jspurefix
 * drops undeclared fields when it encodes and refuses them ("invalid tags") when it validates.
 */
import { readFile, writeFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import type * as Jspurefix from 'jspurefix';

export type JspurefixModule = typeof Jspurefix;

const requireHere = createRequire(import.meta.url);

let loaded: JspurefixModule | undefined;

/** jspurefix, loaded once per process. */
export function jspurefix(): JspurefixModule {
  if (loaded === undefined) {
    // CommonJS, and tsyringe needs reflect-metadata first: required from jspurefix's own location.
    createRequire(requireHere.resolve('jspurefix'))('reflect-metadata');
    loaded = requireHere('jspurefix') as JspurefixModule;
  }
  return loaded;
}

/** Kalshi's Logon fields that QuickFIX's FIX50SP2.xml lacks. */
export const KALSHI_LOGON_FIELDS = [
  { number: 20126, name: 'ListenerSession', type: 'BOOLEAN' },
  { number: 21011, name: 'SkipPendingExecReports', type: 'BOOLEAN' },
  { number: 20200, name: 'MessageRetentionPeriod', type: 'INT' },
] as const;

/**
 * jspurefix's FIX50SP2.xml (QuickFIX's, which carries the FIXT.1.1 session layer) with the Kalshi
 * fields declared and added to Logon, written under `dir`; returns its path.
 */
export async function kalshiDictionary(dir: string): Promise<string> {
  const stock = join(dirname(requireHere.resolve('jspurefix/package.json')), 'data', 'FIX50SP2.xml');
  const xml = await readFile(stock, 'utf8');
  const logon = xml.indexOf("<message name='Logon'");
  const logonEnd = xml.indexOf('</message>', logon);
  const fieldsEnd = xml.lastIndexOf('</fields>');
  if (logon === -1 || logonEnd === -1 || fieldsEnd === -1) throw new Error(`${stock}: unexpected layout`);
  const onLogon = KALSHI_LOGON_FIELDS.map((f) => `<field name='${f.name}' required='N' />\n`).join('');
  const declared = KALSHI_LOGON_FIELDS.map(
    (f) => `<field number='${f.number}' name='${f.name}' type='${f.type}' />\n`,
  ).join('');
  const path = join(dir, 'FIX50SP2-kalshi.xml');
  await writeFile(
    path,
    xml.slice(0, logonEnd) + onLogon + xml.slice(logonEnd, fieldsEnd) + declared + xml.slice(fieldsEnd),
  );
  return path;
}
