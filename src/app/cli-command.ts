import { parseArgs, type ParseArgsConfig } from 'node:util';
import type { ErrorCode } from '../core/errors.js';

/**
 * What every command of the CLI shares: a spec that is both its parser and its `--help`, usage
 * errors that exit 2, and one shape for every refusal on stderr. Light on purpose: cli.ts imports
 * it on every start, before it knows which command (and which dependencies) it will load.
 */

export const BIN = 'kalshi-fix-listener';

export interface OptionSpec {
  type: 'string' | 'boolean';
  /** What the value looks like in --help (string options): ISO, NAME, URL. */
  value?: string;
  /** Applied by the parser and shown in --help, so a default is written once. */
  default?: string;
  help: string;
}

export interface CommandSpec {
  name: string;
  /** The arguments after the command name, as the usage line shows them. */
  synopsis: string;
  /** What it does and its exit codes: --help prints it under the usage line. */
  description: string;
  options: Readonly<Record<string, OptionSpec>>;
  /** The environment variables the command reads, with what each is for. */
  environment?: ReadonlyArray<readonly [name: string, meaning: string]>;
}

/** Where a command writes what it prints: stdout in the CLI, a string in tests. */
export type Print = (text: string) => void;

/** What cli.ts hands every command: the environment, the folder relative paths start from, stdout. */
export interface CommandIo {
  env: NodeJS.ProcessEnv;
  cwd: string;
  out: Print;
}

/** A command as cli.ts runs it: its spec (parser and --help) and its work. */
export interface Command {
  spec: CommandSpec;
  /** The exit code, or undefined for a service that lives until a signal. */
  main(args: string[], io: CommandIo): Promise<number | undefined> | number;
}

type OptionValue<O extends OptionSpec> = O['type'] extends 'boolean'
  ? boolean | undefined
  : O extends { default: string }
    ? string
    : string | undefined;

/** The parsed options of a spec: a string option with a default is always a string. */
export type OptionValues<S extends CommandSpec> = { -readonly [K in keyof S['options']]: OptionValue<S['options'][K]> };

/**
 * A command that will not go on. cli.ts prints it as the one line `kalshi-fix-listener <command>:
 * [CODE] message` on stderr and exits with `exitCode`; a usage error also points at --help.
 */
export class CommandRefusal extends Error {
  readonly exitCode: number;
  readonly code: ErrorCode | undefined;
  readonly usage: boolean;

  constructor(
    message: string,
    options: { exitCode?: number; code?: ErrorCode; usage?: boolean; cause?: unknown } = {},
  ) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'CommandRefusal';
    this.exitCode = options.exitCode ?? 2;
    this.code = options.code;
    this.usage = options.usage ?? false;
  }
}

/** Bad arguments or environment, every problem at once: exit 2. */
export function usageError(problems: readonly string[]): CommandRefusal {
  return new CommandRefusal(problems.join('; '), { usage: true });
}

/** The one shape of a refusal (command omitted when there is none, e.g. an unknown one). */
export function refusalText(
  command: string | undefined,
  message: string,
  options: { code?: string | undefined; usage?: boolean } = {},
): string {
  const who = command === undefined ? BIN : `${BIN} ${command}`;
  const hint = options.usage === true ? ` (see ${who} --help)` : '';
  return `${who}: ${options.code === undefined ? '' : `[${options.code}] `}${message}${hint}\n`;
}

function parserOptions(spec: CommandSpec): NonNullable<ParseArgsConfig['options']> {
  return Object.fromEntries(
    Object.entries(spec.options).map(([name, o]) => [
      name,
      { type: o.type, ...(o.default === undefined ? {} : { default: o.default }) },
    ]),
  );
}

/** The options of `args`, or a usage error (unknown option, missing value, stray argument). */
export function parseCommand<S extends CommandSpec>(spec: S, args: readonly string[]): OptionValues<S> {
  try {
    return parseArgs({ args: [...args], options: parserOptions(spec), strict: true, allowPositionals: false })
      .values as OptionValues<S>;
  } catch (error) {
    // Node's messages go on (over lines) about how to pass a value starting with a dash; the
    // first sentence is the problem, and a refusal is one line.
    const message = (error instanceof Error ? error.message : String(error)).split(/\.(?: (?=[A-Z])|\n|$)/)[0]!;
    throw usageError([message.charAt(0).toLowerCase() + message.slice(1)]);
  }
}

/** Whether `--help` or `-h` is among the arguments (whatever else is wrong with them). */
export function wantsHelp(spec: CommandSpec, args: readonly string[]): boolean {
  const { values } = parseArgs({
    args: [...args],
    options: { ...parserOptions(spec), help: { type: 'boolean', short: 'h' } },
    strict: false,
    allowPositionals: true,
  });
  return values['help'] === true;
}

/** `<command> --help`: usage, description, options with their defaults, environment. */
export function helpText(spec: CommandSpec): string {
  const options = Object.entries(spec.options).map(([name, o]) => {
    const flag = `--${name}${o.type === 'string' ? ` ${o.value ?? 'VALUE'}` : ''}`;
    return [flag, `${o.help}${o.default === undefined ? '' : ` (default: ${o.default})`}`] as const;
  });
  options.push(['-h, --help', 'print this help']);
  return [
    `usage: ${BIN} ${spec.name}${spec.synopsis === '' ? '' : ` ${spec.synopsis}`}`,
    '',
    spec.description,
    '',
    'Options:',
    ...table(options),
    ...(spec.environment === undefined || spec.environment.length === 0
      ? []
      : ['', 'Environment:', ...table(spec.environment)]),
    '',
  ].join('\n');
}

/** Two columns, the second aligned. */
export function table(rows: ReadonlyArray<readonly [string, string]>): string[] {
  const width = Math.max(...rows.map(([left]) => left.length));
  return rows.map(([left, right]) => `  ${left.padEnd(width)}  ${right}`);
}
