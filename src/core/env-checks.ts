import { fileURLToPath } from 'node:url';

/**
 * The value checks of every setting, by hand rather than with zod, for `run`'s start-up: importing
 * zod took 81–257 ms (10 runs on 2 shared cores), these rules and the environment's table 7–19 ms,
 * and reading an environment by them 0.5 ms. The service's environment (app/config.ts) and the CDK
 * context (infra/context.ts) share them.
 *
 * A rule reads the text of a setting and returns its value, pushing what is wrong with it onto
 * `problems` (the value returned then is not used). Each message names the setting it is given,
 * so one rule serves `FIX_HEARTBEAT_S` in the environment and `fixHeartbeatS` in the context, and
 * echoes the value only where it cannot be a secret.
 */
export interface Rule<T> {
  /** What the rule accepts, in words: the docs' range column, and the hint of a required setting. */
  readonly range: string;
  check(text: string, name: string, problems: string[]): T;
}

/** A whole number from min to max. */
export interface WholeNumber extends Rule<number> {
  readonly min: number;
  readonly max: number;
}

/** One of a fixed list of words. */
export interface OneOf<T extends string> extends Rule<T> {
  readonly values: readonly T[];
}

/**
 * As zod's coerce.number().int().min().max() said it, so messages stay what operators know: a
 * value that is not an integer is said once; an integer out of the safe range and out of
 * [min, max] twice.
 */
export function wholeNumber(min: number, max: number): WholeNumber {
  return {
    min,
    max,
    range: `${min}–${max}`,
    check(text, name, problems) {
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
    },
  };
}

/** A TCP port. `allowZero` for a listening port the OS picks (tests). */
export function port(allowZero = false): WholeNumber {
  return wholeNumber(allowZero ? 0 : 1, 65535);
}

export function oneOf<const T extends string>(values: readonly [T, ...T[]]): OneOf<T> {
  return {
    values,
    range: values.join(', '),
    check(text, name, problems) {
      if (!(values as readonly string[]).includes(text))
        problems.push(`${name} must be one of ${values.join(', ')}, got ${text}`);
      return text as T;
    },
  };
}

const FLAGS: Record<string, boolean> = { true: true, false: false, 1: true, 0: false, yes: true, no: false };

/** true/false, 1/0 or yes/no. */
export const flag: Rule<boolean> = {
  range: 'true or false (1/0, yes/no)',
  check(text, name, problems) {
    const value = Object.hasOwn(FLAGS, text) ? FLAGS[text] : undefined;
    if (value === undefined) problems.push(`${name} must be true or false`);
    return value ?? false;
  },
};

/** Text matching a pattern; `say` words the problem (echoing the value only where it is no secret). */
export function matching(pattern: RegExp, range: string, say: (name: string, text: string) => string): Rule<string> {
  return {
    range,
    check(text, name, problems) {
      if (!pattern.test(text)) problems.push(say(name, text));
      return text;
    },
  };
}

/** Text of at least `min` characters. */
export function minLength(min: number): Rule<string> {
  return {
    range: `${min}+ characters`,
    check(text, name, problems) {
      if (text.length < min) problems.push(`${name} must be at least ${min} characters`);
      return text;
    },
  };
}

/** Text of at most `max` characters. */
export function maxLength(max: number): Rule<string> {
  return {
    range: `at most ${max} characters`,
    check(text, name, problems) {
      if (text.length > max) problems.push(`${name} must be at most ${max} characters`);
      return text;
    },
  };
}

/** Any text. */
export const text: Rule<string> = { range: '', check: (value) => value };

/** Every rule in turn, each saying its own problem. */
export function all(range: string, ...rules: Array<Rule<string>>): Rule<string> {
  return {
    range,
    check(value, name, problems) {
      for (const rule of rules) rule.check(value, name, problems);
      return value;
    },
  };
}

/** The name a single listener runs under: LISTENER_NAME's default, and the archive's oldest keys'. */
export const DEFAULT_LISTENER = 'default';

/**
 * A listener's name. It goes into archive keys, queue message groups, metric labels and CDK
 * construct ids, so it holds nothing any of them would have to escape.
 */
export const listenerName: Rule<string> = matching(
  /^[A-Za-z0-9_-]{1,64}$/,
  'letters, digits, - and _; at most 64',
  (name) => `${name} may hold letters, digits, - and _ only, at most 64 of them`,
);

/** A host name or an IP address: not a URL, no port, no path. */
export const hostName: Rule<string> = matching(
  /^(?:[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?)(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?)*$|^[0-9a-fA-F:]+$/,
  'a host name or an IP address',
  (name) => `${name} must be a host name or an IP address (no scheme, port or path), e.g. fix.elections.kalshi.com`,
);

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/**
 * A Kalshi API key ID: a UUID. Anything else is refused without being echoed — a key ID is not a
 * secret, but a PEM pasted into the wrong variable is, and it would otherwise reach the log and
 * the wire as SenderCompID.
 */
export const apiKeyId: Rule<string> = {
  range: 'a UUID',
  check(value, name, problems) {
    if (!UUID.test(value))
      problems.push(
        /PRIVATE KEY|-----BEGIN|^MII/.test(value)
          ? `${name} holds key material, not an API key ID (a UUID): did you swap it with FIX_PRIVATE_KEY? (value not shown)`
          : `${name} must be the API key ID, a UUID like 0b8f3c2e-1111-4a2b-9c3d-5e6f7a8b9c0d (value not shown)`,
      );
    return value;
  },
};

/** `value` as a URL, or a problem saying what was `expected` instead. */
function urlOf(value: string, name: string, expected: string, problems: string[]): URL | undefined {
  try {
    return new URL(value);
  } catch {
    problems.push(`${name} is not a URL: expected ${expected}`);
    return undefined;
  }
}

/** Where the archive goes: an S3 bucket and key prefix, or a local folder. */
export type ArchiveLocation = { kind: 's3'; bucket: string; prefix: string } | { kind: 'file'; dir: string };

export const archiveUrl: Rule<ArchiveLocation | undefined> = {
  range: 's3://bucket/prefix/ or file:///dir',
  check(value, name, problems) {
    const url = urlOf(value, name, 's3://bucket/prefix/ or file:///dir', problems);
    if (url === undefined) return undefined;
    if (url.protocol === 'file:') return { kind: 'file', dir: fileURLToPath(url) };
    if (url.protocol === 's3:' && url.hostname !== '') {
      let prefix = decodeURIComponent(url.pathname.replace(/^\//, ''));
      if (prefix !== '' && !prefix.endsWith('/')) prefix += '/';
      return { kind: 's3', bucket: url.hostname, prefix };
    }
    problems.push(`${name} must be s3://bucket/prefix/ or file:///dir, got ${url.protocol}//`);
    return undefined;
  },
};

/** Where fills go: an SQS queue, or a local JSONL file. */
export type FillsTarget = { kind: 'sqs'; queueUrl: string } | { kind: 'file'; path: string };

export const fillsUrl: Rule<FillsTarget | undefined> = {
  range: 'an SQS queue URL or file:///path.jsonl',
  check(value, name, problems) {
    const url = urlOf(
      value,
      name,
      'https://sqs.<region>.amazonaws.com/<account>/<name> or file:///path.jsonl',
      problems,
    );
    if (url === undefined) return undefined;
    if (url.protocol === 'file:') return { kind: 'file', path: fileURLToPath(url) };
    if ((url.protocol === 'https:' || url.protocol === 'http:') && url.pathname.split('/').filter(Boolean).length >= 2)
      return { kind: 'sqs', queueUrl: value };
    problems.push(`${name} must be an SQS queue URL (…/<account>/<queue>) or file:///path.jsonl`);
    return undefined;
  },
};

/** `name=http(s)://…` pairs, comma-separated. */
export const statusUrls: Rule<Array<{ name: string; url: string }>> = {
  range: 'name=http(s)://… pairs, comma-separated',
  check(value, name, problems) {
    return value
      .split(',')
      .filter((item) => item.trim() !== '')
      .flatMap((item) => {
        const at = item.indexOf('=');
        const listener = item.slice(0, at).trim();
        const url = item.slice(at + 1).trim();
        if (at > 0 && /^https?:\/\/[^\s]+$/.test(url)) return [{ name: listener, url }];
        problems.push(`${name} holds name=http(s)://… pairs, got "${item}"`);
        return [];
      });
  },
};
