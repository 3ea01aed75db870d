import { ESLint } from 'eslint';
import tseslint from 'typescript-eslint';
import { describe, expect, it } from 'vitest';
// The very rule blocks eslint.config.js uses, so a change there is what this suite checks.
import { boundaries, ROOMS } from '../../eslint.boundaries.js';

/** Lints one line of source as if it stood at `filePath`, with only the boundary rules on. */
async function importProblems(filePath: string, specifier: string): Promise<string[]> {
  const eslint = new ESLint({
    overrideConfigFile: true,
    overrideConfig: [{ files: ['**/*.ts'], languageOptions: { parser: tseslint.parser } }, ...boundaries],
  });
  const [result] = await eslint.lintText(`import { x } from '${specifier}';\nexport const y = x;\n`, { filePath });
  return result!.messages.map((m) => `${m.ruleId}: ${m.message}`);
}

describe('architecture boundaries (DESIGN.md §2)', () => {
  // The seven arrows docs/architecture.md promises, each as a bad import from a file in the room.
  const forbidden: Array<[arrow: string, file: string, specifier: string]> = [
    ['fix ↛ pipeline', 'src/fix/session.ts', '../pipeline/journal.js'],
    ['pipeline ↛ fix', 'src/pipeline/journal.ts', '../fix/message.js'],
    ['fix ↛ sinks', 'src/fix/session.ts', '../sinks/s3-store.js'],
    ['http ↛ sinks', 'src/http/metrics.ts', '../sinks/types.js'],
    ['fix ↛ sim', 'src/fix/decoder.ts', '../sim/simulator.js'],
    ['pipeline ↛ sim', 'src/pipeline/archive-writer.ts', '../sim/order-flow.js'],
    ['infra ↛ fix', 'infra/listener-stack.ts', '../src/fix/tags.js'],
    // And the rest of the picture: only app/ wires; core/ imports no room; http/ owns its types.
    ['http ↛ app', 'src/http/control-plane.ts', '../app/service.js'],
    ['http ↛ fix', 'src/http/metrics.ts', '../fix/session.js'],
    ['core ↛ pipeline', 'src/core/record.ts', '../pipeline/journal.js'],
    ['sinks ↛ pipeline', 'src/sinks/sqs-queue.ts', '../pipeline/fill-publisher.js'],
    ['pipeline ↛ sinks (an adapter, not the interface)', 'src/pipeline/fill-publisher.ts', '../sinks/sqs-queue.js'],
    ['sim ↛ pipeline', 'src/sim/simulator.ts', '../pipeline/journal.js'],
    ['infra ↛ service', 'infra/alarms.ts', '../src/app/service.js'],
    ['a deeper path still counts', 'src/fix/deep/nested.ts', '../../pipeline/journal.js'],
  ];

  it.each(forbidden)('refuses %s', async (_arrow, file, specifier) => {
    // Act
    const problems = await importProblems(file, specifier);

    // Assess: one no-restricted-imports error, with the room's reason.
    expect(problems).toHaveLength(1);
    expect(problems[0]).toMatch(/^no-restricted-imports: /);
    const room = Object.keys(ROOMS).find((r) => file.startsWith(`${r}/`))!;
    expect(problems[0]).toContain(ROOMS[room]!.why.replace(/\.$/, ''));
  });

  const allowed: Array<[what: string, file: string, specifier: string]> = [
    ['app wires fix and pipeline', 'src/app/service.ts', '../fix/session.js'],
    ['app wires sinks', 'src/app/main.ts', '../sinks/s3-store.js'],
    ['fix uses core', 'src/fix/execution-report.ts', '../core/record.js'],
    ['pipeline uses the sink interfaces', 'src/pipeline/fill-publisher.ts', '../sinks/types.js'],
    ['sim speaks FIX through fix/', 'src/sim/acceptor-session.ts', '../fix/decoder.js'],
    ['http uses its own status types', 'src/http/metrics.ts', './status.js'],
    ['infra reads the record schema', 'infra/archive-table.ts', '../src/core/record.js'],
    ['infra reads the readiness defaults', 'infra/alarms.ts', '../src/http/readiness.js'],
    ['infra reads the health line (the metrics its alarms read)', 'infra/alarms.ts', '../src/http/health-line.js'],
    ['packages are not rooms', 'src/http/control-plane.ts', 'hono'],
  ];

  it.each(allowed)('allows: %s', async (_what, file, specifier) => {
    // Act + Assess
    expect(await importProblems(file, specifier)).toEqual([]);
  });
});
