import { matching, type Rule, type WholeNumber, wholeNumber } from '../src/core/env-checks.js';

/**
 * The CDK context's checks: the service's rules (src/core/env-checks.ts) over values that come as
 * `-c` text or as cdk.json JSON. A check pushes what is wrong onto `problems`, naming the key; its
 * value is then not used.
 */
export type Check<T> = (value: unknown, key: string, problems: string[]) => T;

/** A rule over one value: text, or a JSON number or boolean as its text. */
export function given<T>(rule: Rule<T>): Check<T> {
  return (value, key, problems) => {
    if (typeof value === 'string') return rule.check(value, key, problems);
    if (typeof value === 'number' || typeof value === 'boolean') return rule.check(String(value), key, problems);
    problems.push(`${key} must be a string`);
    return undefined as T; // not used: the problem fails the parse
  };
}

/** Unset is undefined. */
export function optional<T>(check: Check<T>): Check<T | undefined> {
  return (value, key, problems) => (value === undefined ? undefined : check(value, key, problems));
}

/** Unset is `fallback` (which is not checked). */
export function orDefault<T>(check: Check<T>, fallback: T): Check<T> {
  return (value, key, problems) => (value === undefined ? fallback : check(value, key, problems));
}

/** A comma-separated list, or a JSON array. */
export const list: Check<string[]> = (value, key, problems) => {
  if (Array.isArray(value)) return value.map(String);
  if (typeof value === 'string')
    return value
      .split(',')
      .map((s) => s.trim())
      .filter(Boolean);
  problems.push(`${key} must be a comma-separated list or a JSON array`);
  return [];
};

/** The values `checks` read from `values`, each under its key, in the checks' order. */
export function checked<F extends Record<string, Check<unknown>>>(
  checks: F,
  values: Record<string, unknown>,
  problems: string[],
): { [K in keyof F]: ReturnType<F[K]> } {
  const out: Record<string, unknown> = {};
  for (const [key, check] of Object.entries(checks)) out[key] = check(values[key], key, problems);
  return out as { [K in keyof F]: ReturnType<F[K]> };
}

/** The service's whole-number rule, no higher than `max`: where AWS allows less than the service. */
export function atMost(rule: WholeNumber, max: number): WholeNumber {
  return wholeNumber(rule.min, Math.min(rule.max, max));
}

/** A complete Secrets Manager ARN: ECS needs the suffix to resolve JSON keys of it. */
export const secretArn: Rule<string> = matching(
  /^arn:aws[\w-]*:secretsmanager:[\w-]+:\d{12}:secret:.+-[A-Za-z0-9]{6}$/,
  'a complete secret ARN',
  (name) => `${name} must be the complete secret ARN (ending in the 6-character suffix Secrets Manager adds)`,
);

/** A key prefix inside the bucket, given with or without its trailing `/`. */
export const keyPrefix: Rule<string> = {
  range: 'a relative key prefix without *',
  check(value, name, problems) {
    const prefix = value.endsWith('/') ? value : `${value}/`;
    if (prefix.startsWith('/') || prefix.includes('*'))
      problems.push(`${name} must be a relative key prefix without *, got ${prefix}`);
    return prefix;
  },
};

export const isoDate: Rule<string> = matching(
  /^\d{4}-\d{2}-\d{2}$/,
  'YYYY-MM-DD',
  (name, value) => `${name} must be YYYY-MM-DD, got ${value}`,
);

export const ipv4Cidr: Rule<string> = matching(
  /^\d{1,3}(\.\d{1,3}){3}\/\d{1,2}$/,
  'an IPv4 CIDR',
  (name, value) => `${name} must be an IPv4 CIDR such as 10.0.0.0/16, got ${value}`,
);

/** A number from a fixed list (CloudWatch's retention periods). */
export function oneOfNumbers(values: readonly number[], what: string): Rule<number> {
  return {
    range: values.join(', '),
    check(value, name, problems) {
      const number = Number(value);
      if (!values.includes(number))
        problems.push(`${name} must be one of ${what} (${values.join(', ')}), got ${value}`);
      return number;
    },
  };
}
