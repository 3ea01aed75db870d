#!/usr/bin/env node
import { BIN, CommandRefusal, helpText, refusalText, table, wantsHelp, type CommandSpec } from './cli-command.js';

/** A command: its spec and its work, from a module loaded only when it is the one asked for. */
interface Command {
  spec: CommandSpec;
  /** The exit code, or undefined for a service that lives until a signal. */
  main(args: string[]): Promise<number | undefined> | number;
}

const env = process.env;
const out = (text: string) => process.stdout.write(text);

/**
 * Every command, with the one line the command list shows. Each module is imported on use, so
 * `keygen` or `--help` never loads the service, the AWS SDK or the simulator.
 */
const COMMANDS: Record<string, { summary: string; load(): Promise<Command> }> = {
  run: {
    summary: 'the service, configured from the environment',
    load: async () => {
      const m = await import('./run-command.js');
      return { spec: m.RUN, main: (args) => m.runCommand(args, env) };
    },
  },
  demo: {
    summary: 'the service against the local simulator, data under ./data, no AWS needed',
    load: async () => {
      const m = await import('./demo-command.js');
      return { spec: m.DEMO, main: (args) => m.demoCommand(args, env, out) };
    },
  },
  sim: {
    summary: 'the local Kalshi rig (KalshiRT, KalshiDC, REST fills) for a listener of your own',
    load: async () => {
      const m = await import('./sim-command.js');
      return { spec: m.SIM, main: (args) => m.simCommand(args, process.cwd(), out) };
    },
  },
  keygen: {
    summary: 'an RSA key pair for a Kalshi API key',
    load: async () => {
      const m = await import('./keygen-command.js');
      // Relative to where the user ran `npm run keygen` (npm runs scripts in the package folder).
      return { spec: m.KEYGEN, main: (args) => m.keygenCommand(args, env['INIT_CWD'] ?? process.cwd(), out) };
    },
  },
  reconcile: {
    summary: "compare archived fills with Kalshi's REST fills",
    load: async () => {
      const m = await import('./reconcile-command.js');
      return { spec: m.RECONCILE, main: (args) => m.reconcileCommand(args, env, out) };
    },
  },
  'rebuild-parquet': {
    summary: "rebuild an hour's Parquet object from its JSONL",
    load: async () => {
      const m = await import('./rebuild-parquet-command.js');
      return { spec: m.REBUILD_PARQUET, main: (args) => m.rebuildParquetCommand(args, env, out) };
    },
  },
  'build-parquet': {
    summary: 'write the Parquet copy of closed hours from their JSONL (what the service runs)',
    load: async () => {
      const m = await import('./build-parquet-command.js');
      return { spec: m.BUILD_PARQUET, main: (args) => m.buildParquetCommand(args, env, out) };
    },
  },
  replay: {
    summary: 'send archived fills to a queue again',
    load: async () => {
      const m = await import('./replay-command.js');
      return { spec: m.REPLAY, main: (args) => m.replayCommand(args, env, out) };
    },
  },
};

function usage(): string {
  return [
    `usage: ${BIN} <command> [options]`,
    '',
    'Commands:',
    ...table(Object.entries(COMMANDS).map(([name, { summary }]) => [name, summary])),
    '',
    `${BIN} <command> --help prints a command's options. Exit codes: 0 done, 1 failed (or found a`,
    'difference), 2 refused: bad arguments or environment. Refusals are one line on stderr:',
    `${BIN} <command>: [CODE] message.`,
    '',
  ].join('\n');
}

/** The command being run, for the refusal line (none before it is known). */
let current: string | undefined;

/** The exit code, or undefined while a service runs. Refusals are thrown, and printed by the caller. */
async function main(argv: string[]): Promise<number | undefined> {
  const [name, ...args] = argv;
  if (name === undefined) throw new CommandRefusal('no command given', { usage: true });
  if (name === '--help' || name === '-h' || (name === 'help' && args.length === 0)) {
    out(usage());
    return 0;
  }
  // `help <command>` is `<command> --help`.
  const [wanted, rest] = name === 'help' ? [args[0]!, ['--help']] : [name, args];
  const entry = Object.hasOwn(COMMANDS, wanted) ? COMMANDS[wanted] : undefined;
  if (entry === undefined) throw new CommandRefusal(`unknown command: ${wanted}`, { usage: true });
  current = wanted;
  const command = await entry.load();
  if (wantsHelp(command.spec, rest)) {
    out(helpText(command.spec));
    return 0;
  }
  return command.main(rest);
}

main(process.argv.slice(2)).then(
  (code) => {
    if (code !== undefined) process.exit(code);
  },
  (error: unknown) => {
    // One shape for every way a command stops short: a refusal with its own exit code, anything
    // else as a failure (1) with its code when it has one (ListenerError).
    const refusal = error instanceof CommandRefusal ? error : undefined;
    const code = refusal?.code ?? (error as { code?: unknown } | undefined)?.code;
    process.stderr.write(
      refusalText(current, error instanceof Error ? error.message : String(error), {
        code: typeof code === 'string' && code.startsWith('ERR_') ? code : undefined,
        usage: refusal?.usage ?? false,
      }),
    );
    process.exit(refusal?.exitCode ?? 1);
  },
);
