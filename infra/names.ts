import { createHash } from 'node:crypto';
import { DEFAULT_LISTENER } from '../src/core/env-checks.js';

/** The stack name infra/app.ts uses unless `-c stackName=…` gives another. */
export const DEFAULT_STACK_NAME = 'KalshiFixListener';

/**
 * A name that must be unique in the account and region (the Glue database, the Athena workgroup),
 * derived from the stack name so a second stack never collides with the first. The default stack
 * keeps the names it has always had (renaming a Glue database would replace it and its tables);
 * any other stack gets its name, readable, plus a hash of it exactly as given: stack names are
 * case-sensitive and may hold `-`, Glue and Athena names are narrower, so the readable part alone
 * could make two stacks one.
 */
export function accountUniqueName(stackName: string, separator: '_' | '-'): string {
  if (stackName === DEFAULT_STACK_NAME) return ['kalshi', 'fix', 'listener'].join(separator);
  const readable = stackName
    .toLowerCase()
    .replace(/[^a-z0-9]+/g, separator)
    .slice(0, 64);
  const hash = createHash('sha256').update(stackName).digest('hex').slice(0, 8);
  return `${readable}${separator}${hash}`;
}

/**
 * The construct id of one listener's part of the stack (`Secrets`, `Listener`, `Spool`, `Alarms`):
 * from its name, never its place in the list, so adding, removing or reordering listeners never
 * hands one listener's key, journal, log group or alarms to another. `unsuffixed` (normally
 * `default`) keeps the bare ids a single-listener stack has always had, so it upgrades in place.
 */
export function listenerScopeId(base: string, listenerName: string, unsuffixed: string = DEFAULT_LISTENER): string {
  return listenerName === unsuffixed ? base : `${base}-${listenerName}`;
}

/** The suffix of a listener's stack outputs (`FixSecretArn<suffix>`): none for the unsuffixed one. */
export function outputSuffix(listenerName: string, unsuffixed: string = DEFAULT_LISTENER): string {
  return listenerName === unsuffixed ? '' : listenerName.replace(/[^A-Za-z0-9]/g, '');
}
