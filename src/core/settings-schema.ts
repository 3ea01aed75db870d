import { z } from 'zod';

/**
 * The value checks that settings share, wherever they come from: the service's environment
 * (app/config.ts) and the CDK context (infra/context.ts). Values arrive as text; each message
 * names the setting and what it accepts, and echoes the value only where it cannot be a secret.
 */

/** A whole number from min to max, given as text or a number. */
export function wholeNumber(name: string, min: number, max: number) {
  const error = (issue: { input?: unknown }) =>
    `${name} must be a whole number from ${min} to ${max}, got ${String(issue.input)}`;
  return z.coerce.number({ error }).int({ error }).min(min, { error }).max(max, { error });
}

/** A TCP port. `allowZero` for a listening port the OS picks (tests). */
export function port(name: string, allowZero = false) {
  return wholeNumber(name, allowZero ? 0 : 1, 65535);
}

/** One of a fixed list of words. */
export function oneOf<const T extends readonly [string, ...string[]]>(name: string, values: T) {
  return z.enum(values, {
    error: (issue) => `${name} must be one of ${values.join(', ')}, got ${String(issue.input)}`,
  });
}

/** The name a single listener runs under: LISTENER_NAME's default, and the archive's oldest keys'. */
export const DEFAULT_LISTENER = 'default';

/**
 * A listener's name. It goes into archive keys, queue message groups, metric labels and CDK
 * construct ids, so it holds nothing any of them would have to escape.
 */
export function listenerName(name: string) {
  return z
    .string({ error: `${name} is required` })
    .regex(/^[A-Za-z0-9_-]{1,64}$/, `${name} may hold letters, digits, - and _ only, at most 64 of them`);
}

/** true/false, 1/0 or yes/no. */
export function flag(name: string) {
  return z
    .enum(['true', 'false', '1', '0', 'yes', 'no'], { error: `${name} must be true or false` })
    .transform((v) => v === 'true' || v === '1' || v === 'yes');
}

/** Every problem of a failed parse, one message each, in the schema's order. */
export function problemsOf(error: z.ZodError): string[] {
  return error.issues.map((issue) => issue.message);
}
