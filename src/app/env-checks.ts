/**
 * The environment's value checks without zod: importing zod costs about 100 ms, a third of the
 * time from spawn to Logon, and `run` needs only these few. Same rules and same messages as the
 * zod checks of core/settings-schema.ts (which the CDK context and the archive commands keep
 * using); test/app/env-checks.test.ts holds the two to each other.
 *
 * A rule takes the text of a variable and returns its value, pushing what is wrong with it onto
 * `problems` (the value returned then is not used).
 */
export type Rule<T> = (text: string, problems: string[]) => T;

/** A field of the environment: its rule, and what an unset variable means. */
export type Field<T> = (text: string | undefined, problems: string[]) => T;

/** The name a single listener runs under: core/settings-schema.ts's DEFAULT_LISTENER, without zod. */
export const DEFAULT_LISTENER = 'default';

/**
 * A whole number from min to max. As zod's coerce.number().int().min().max(): a value that is not
 * an integer is said once; an integer out of the safe range and out of [min, max] twice.
 */
export function wholeNumber(name: string, min: number, max: number): Rule<number> {
  return (text, problems) => {
    const value = Number(text);
    const say = () => problems.push(`${name} must be a whole number from ${min} to ${max}, got ${String(value)}`);
    if (!Number.isInteger(value)) {
      say();
      return value;
    }
    if (!Number.isSafeInteger(value)) say();
    if (value < min) say();
    if (value > max) say();
    return value;
  };
}

/** A TCP port. `allowZero` for a listening port the OS picks (tests). */
export function port(name: string, allowZero = false): Rule<number> {
  return wholeNumber(name, allowZero ? 0 : 1, 65535);
}

/** One of a fixed list of words. */
export function oneOf<const T extends readonly [string, ...string[]]>(name: string, values: T): Rule<T[number]> {
  return (text, problems) => {
    if (!(values as readonly string[]).includes(text))
      problems.push(`${name} must be one of ${values.join(', ')}, got ${text}`);
    return text;
  };
}

/** A listener's name: it goes into archive keys, queue message groups, metric labels and CDK ids. */
export function listenerName(name: string): Rule<string> {
  return matching(/^[A-Za-z0-9_-]{1,64}$/, `${name} may hold letters, digits, - and _ only, at most 64 of them`);
}

const FLAGS: Record<string, boolean> = { true: true, false: false, 1: true, 0: false, yes: true, no: false };

/** true/false, 1/0 or yes/no. */
export function flag(name: string): Rule<boolean> {
  return (text, problems) => {
    const value = Object.hasOwn(FLAGS, text) ? FLAGS[text] : undefined;
    if (value === undefined) problems.push(`${name} must be true or false`);
    return value ?? false;
  };
}

/** Text matching a pattern. */
export function matching(pattern: RegExp, message: string): Rule<string> {
  return (text, problems) => {
    if (!pattern.test(text)) problems.push(message);
    return text;
  };
}

/** Text of at least `min` characters. */
export function minLength(min: number, message: string): Rule<string> {
  return (text, problems) => {
    if (text.length < min) problems.push(message);
    return text;
  };
}

/** Text of at most `max` characters. */
export function maxLength(max: number, message: string): Rule<string> {
  return (text, problems) => {
    if (text.length > max) problems.push(message);
    return text;
  };
}

/** Any text. */
export const text: Rule<string> = (value) => value;

/** Every rule in turn, each saying its own problem (as zod's string checks do). */
export function all(...rules: Array<Rule<string>>): Rule<string> {
  return (value, problems) => {
    for (const rule of rules) rule(value, problems);
    return value;
  };
}

/** Unset is undefined. */
export function optional<T>(rule: Rule<T>): Field<T | undefined> {
  return (value, problems) => (value === undefined ? undefined : rule(value, problems));
}

/** Unset is the default (which is not checked). */
export function withDefault<T, D extends T>(rule: Rule<T>, fallback: D): Field<T> {
  return (value, problems) => (value === undefined ? fallback : rule(value, problems));
}

/** Unset is a problem, said with `message`; the value is then not used. */
export function required<T>(rule: Rule<T>, message: string): Field<T> {
  return (value, problems) => {
    if (value !== undefined) return rule(value, problems);
    problems.push(message);
    return undefined as T; // never read: the problem fails the whole parse
  };
}

/** The values of an environment read by `fields`. */
export type Parsed<F extends Record<string, Field<unknown>>> = { [K in keyof F]: ReturnType<F[K]> };

/**
 * Reads every field of `fields`, in their order, from `env`. Every problem is collected (in the
 * fields' order); the values only when there is none.
 */
export function parseFields<F extends Record<string, Field<unknown>>>(
  fields: F,
  env: Record<string, string | undefined>,
): { ok: true; data: Parsed<F> } | { ok: false; problems: string[] } {
  const problems: string[] = [];
  const data: Record<string, unknown> = {};
  for (const [name, field] of Object.entries(fields)) {
    const value = field(Object.hasOwn(env, name) ? env[name] : undefined, problems);
    if (value !== undefined) data[name] = value;
  }
  return problems.length === 0 ? { ok: true, data: data as Parsed<F> } : { ok: false, problems };
}
