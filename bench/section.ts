/**
 * Runs one benchmark section in this process and hands its result to the parent (run.ts) over
 * IPC, or prints it as JSON when started by hand:
 *   node dist/bench/section.js decode
 *   node dist/bench/section.js end-to-end '{"runs":[{"archive":"local","fills":"local","reports":50000}]}'
 * The optional JSON overrides the section's defaults. One process per section keeps JIT state,
 * heap and RSS of one section out of the next.
 */
// First: the spool-ops section counts file operations through node:fs wrappers that must be in
// place before src's modules are evaluated.
import './spool-ops-preload.js';
import { DEFAULT_CPU_OPTIONS, runCpu } from './cpu.js';
import { DEFAULT_DECODE_OPTIONS, runDecode } from './decode.js';
import { DEFAULT_DEDUPE_OPTIONS, runDedupe } from './dedupe.js';
import { DEFAULT_END_TO_END_OPTIONS, runEndToEnd } from './end-to-end.js';
import { DEFAULT_FRESHNESS_OPTIONS, runFreshness } from './freshness.js';
import { DEFAULT_PARQUET_OPTIONS, runParquet } from './parquet.js';
import { DEFAULT_LATENCY_OPTIONS, runLatency } from './latency.js';
import { DEFAULT_MEMORY_OPTIONS, runMemory } from './memory.js';
import { runProfile } from './profile.js';
import { DEFAULT_REFERENCES_OPTIONS, runReferences } from './references.js';
import { DEFAULT_SPOOL_OPS_OPTIONS, runSpoolOps } from './spool-ops.js';
import { DEFAULT_STARTUP_OPTIONS, runStartup } from './startup.js';

const SECTIONS = {
  decode: (o: object) => runDecode({ ...DEFAULT_DECODE_OPTIONS, ...o }),
  cpu: (o: object) => runCpu({ ...DEFAULT_CPU_OPTIONS, ...o }),
  references: (o: object) => runReferences({ ...DEFAULT_REFERENCES_OPTIONS, ...o }),
  dedupe: (o: object) => runDedupe({ ...DEFAULT_DEDUPE_OPTIONS, ...o }),
  'end-to-end': (o: object) => runEndToEnd({ ...DEFAULT_END_TO_END_OPTIONS, ...o }),
  latency: (o: object) => runLatency({ ...DEFAULT_LATENCY_OPTIONS, ...o }),
  freshness: (o: object) => runFreshness({ ...DEFAULT_FRESHNESS_OPTIONS, ...o }),
  parquet: (o: object) => runParquet({ ...DEFAULT_PARQUET_OPTIONS, ...o }),
  memory: (o: object) => runMemory({ ...DEFAULT_MEMORY_OPTIONS, ...o }),
  'spool-ops': (o: object) => runSpoolOps({ ...DEFAULT_SPOOL_OPS_OPTIONS, ...o }),
  startup: (o: object) => runStartup({ ...DEFAULT_STARTUP_OPTIONS, ...o }),
  profile: (o: { seconds?: number }) => runProfile(o.seconds),
} as const;

export type SectionName = keyof typeof SECTIONS;

const name = process.argv[2] as SectionName | undefined;
if (name === undefined || !(name in SECTIONS)) {
  console.error(`usage: section.js <${Object.keys(SECTIONS).join('|')}>`);
  process.exit(2);
}
try {
  const overrides = JSON.parse(process.argv[3] ?? '{}') as object;
  const result = await SECTIONS[name](overrides);
  if (process.send) await new Promise<void>((resolve) => process.send!({ ok: true, result }, () => resolve()));
  else console.log(JSON.stringify(result, null, 2));
  process.exit(0);
} catch (error) {
  const message = error instanceof Error ? (error.stack ?? error.message) : String(error);
  if (process.send) await new Promise<void>((resolve) => process.send!({ ok: false, error: message }, () => resolve()));
  else console.error(message);
  process.exit(1);
}
