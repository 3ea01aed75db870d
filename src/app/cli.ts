#!/usr/bin/env node
import { BIN, CommandRefusal, helpText, refusalText, table, wantsHelp, type Command } from './cli-command.js';

const io = { env: process.env, cwd: process.cwd(), out: (text: string) => void process.stdout.write(text) };

/** Every command, with the one line the command list shows. */
const SUMMARIES = {
  run: 'the service, configured from the environment',
  demo: 'the service against the local simulator, data under ./data, no AWS needed',
  sim: 'the local Kalshi rig (KalshiRT, KalshiDC, REST fills) for a listener of your own',
  keygen: 'an RSA key pair for a Kalshi API key',
  reconcile: "compare archived fills with Kalshi's REST fills",
  'rebuild-parquet': "rebuild an hour's Parquet object from its JSONL",
  'build-parquet': 'write the Parquet copy of closed hours from their JSONL (what the service runs)',
  replay: 'send archived fills to a queue again',
};

/**
 * Each command's module, imported on use, so `keygen` or `--help` never loads the service, the AWS
 * SDK or the simulator.
 */
const MODULES: Record<keyof typeof SUMMARIES, () => Promise<{ COMMAND: Command }>> = {
  run: () => import('./run-command.js'),
  demo: () => import('./demo-command.js'),
  sim: () => import('./sim-command.js'),
  keygen: () => import('./keygen-command.js'),
  reconcile: () => import('./reconcile-command.js'),
  'rebuild-parquet': () => import('./rebuild-parquet-command.js'),
  'build-parquet': () => import('./build-parquet-command.js'),
  replay: () => import('./replay-command.js'),
};

function usage(): string {
  return [
    `usage: ${BIN} <command> [options]`,
    '',
    'Commands:',
    ...table(Object.entries(SUMMARIES)),
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
    io.out(usage());
    return 0;
  }
  // `help <command>` is `<command> --help`.
  const [wanted, rest] = name === 'help' ? [args[0]!, ['--help']] : [name, args];
  if (!Object.hasOwn(MODULES, wanted)) throw new CommandRefusal(`unknown command: ${wanted}`, { usage: true });
  current = wanted;
  const { COMMAND: command } = await MODULES[wanted as keyof typeof MODULES]();
  if (wantsHelp(command.spec, rest)) {
    io.out(helpText(command.spec));
    return 0;
  }
  return command.main(rest, io);
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
