import { describe, expect, it } from 'vitest';
import {
  CommandRefusal,
  helpText,
  parseCommand,
  refusalText,
  usageError,
  wantsHelp,
  type CommandSpec,
} from '../../src/app/cli-command.js';

const SPEC = {
  name: 'example',
  synopsis: '--from ISO [--dry-run]',
  description: 'Does an example thing.\nExit 0 when done.',
  options: {
    from: { type: 'string', value: 'ISO', help: 'where to start' },
    rate: { type: 'string', value: 'R', default: '5', help: 'how fast' },
    'dry-run': { type: 'boolean', help: 'change nothing' },
  },
  environment: [['ARCHIVE_URL', 'where the archive is']],
} as const satisfies CommandSpec;

/** The refusal a call throws. */
function refusal(call: () => unknown): CommandRefusal {
  try {
    call();
  } catch (error) {
    if (error instanceof CommandRefusal) return error;
    throw error;
  }
  throw new Error('no refusal');
}

describe('parseCommand', () => {
  it("returns the options with the spec's defaults applied", () => {
    // Act
    const values = parseCommand(SPEC, ['--from', '2026-11-23T09:00:00Z', '--dry-run']);
    // Assess
    expect(values).toEqual({ from: '2026-11-23T09:00:00Z', rate: '5', 'dry-run': true });
  });

  it.each([
    [['--bogus'], "unknown option '--bogus'"],
    [['--from'], "option '--from <value>' argument missing"],
    [['stray'], "unexpected argument 'stray'"],
    [['--dry-run=yes'], "option '--dry-run' does not take an argument"],
    [['--from', '-x'], "option '--from' argument is ambiguous"],
  ])('refuses %j as a usage error (exit 2): %s', (args, message) => {
    // Act
    const error = refusal(() => parseCommand(SPEC, args));
    // Assess
    expect(error).toMatchObject({ exitCode: 2, usage: true, code: undefined, message });
  });
});

describe('wantsHelp', () => {
  it('finds --help or -h among any arguments, even wrong ones, and nothing else', () => {
    // Assess
    expect(wantsHelp(SPEC, ['--help'])).toBe(true);
    expect(wantsHelp(SPEC, ['--bogus', '-h'])).toBe(true);
    expect(wantsHelp(SPEC, ['--from', 'x'])).toBe(false);
    expect(wantsHelp(SPEC, [])).toBe(false);
  });
});

describe('helpText', () => {
  it('shows the usage line, the description, every option with its default, and the environment', () => {
    // Act
    const text = helpText(SPEC);
    // Assess
    expect(text).toBe(
      [
        'usage: kalshi-fix-listener example --from ISO [--dry-run]',
        '',
        'Does an example thing.',
        'Exit 0 when done.',
        '',
        'Options:',
        '  --from ISO  where to start',
        '  --rate R    how fast (default: 5)',
        '  --dry-run   change nothing',
        '  -h, --help  print this help',
        '',
        'Environment:',
        '  ARCHIVE_URL  where the archive is',
        '',
      ].join('\n'),
    );
  });
});

describe('refusalText', () => {
  it('is one line: the command, the code when there is one, the message, and --help for a usage error', () => {
    // Prepare
    const usage = usageError(['--from must be an ISO-8601 time', 'ARCHIVE_URL is required']);
    // Assess
    expect(refusalText('example', usage.message, { usage: usage.usage })).toBe(
      'kalshi-fix-listener example: --from must be an ISO-8601 time; ARCHIVE_URL is required (see kalshi-fix-listener example --help)\n',
    );
    expect(refusalText('keygen', 'k.pem already exists', { code: 'ERR_KEY_FILE_EXISTS' })).toBe(
      'kalshi-fix-listener keygen: [ERR_KEY_FILE_EXISTS] k.pem already exists\n',
    );
    expect(refusalText(undefined, 'unknown command: x', { usage: true })).toBe(
      'kalshi-fix-listener: unknown command: x (see kalshi-fix-listener --help)\n',
    );
  });
});
