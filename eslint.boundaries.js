// @ts-check
/**
 * The arrows of DESIGN.md §2, as lint rules: for each room, the rooms it must never import from.
 * `app/` wires everything and may import anything; everything else points inward to `core/`.
 * test/lint/boundaries.test.ts proves each rule fails on a bad import.
 */

/** @type {Record<string, { forbid: string[]; allow?: string[]; why: string }>} */
export const ROOMS = {
  'src/core': {
    forbid: ['app', 'fix', 'pipeline', 'sinks', 'http', 'sim', 'reconcile'],
    why: 'core/ is the shared kernel (errors, record, exec-id, atomic files): it imports no other room.',
  },
  'src/fix': {
    forbid: ['app', 'pipeline', 'sinks', 'http', 'sim', 'reconcile'],
    why: 'fix/ is the protocol: it knows nothing of the journal, the sinks, the control plane or the simulator.',
  },
  'src/pipeline': {
    forbid: ['app', 'fix', 'sinks', 'http', 'sim', 'reconcile'],
    allow: ['sinks/types.js'],
    why: 'pipeline/ knows nothing of FIX bytes or the simulator; it reaches sinks only through sinks/types.',
  },
  'src/sinks': {
    forbid: ['app', 'fix', 'pipeline', 'http', 'sim', 'reconcile'],
    why: 'sinks/ are adapters to S3, SQS and local files: they import only core/.',
  },
  'src/http': {
    forbid: ['app', 'fix', 'pipeline', 'sinks', 'sim', 'reconcile'],
    why: 'http/ reads status through its own types (http/status.ts); main wires the service to it.',
  },
  'src/sim': {
    forbid: ['app', 'pipeline', 'sinks', 'http', 'reconcile'],
    why: 'sim/ is an exchange: it speaks FIX through fix/ and knows nothing of the listener behind it.',
  },
  'src/reconcile': {
    forbid: ['app', 'pipeline', 'sinks', 'http', 'sim'],
    why: 'reconcile/ compares the archive with Kalshi REST; its command wiring lives in app/.',
  },
  infra: {
    forbid: ['src'],
    allow: [
      'src/core/record.js',
      'src/core/env-checks.js',
      'src/core/environment.js',
      'src/http/readiness.js',
      'src/http/health-line.js',
    ],
    why: 'The CDK app may import the record schema, the environment table and its checks, the readiness defaults and the health line (the metrics its alarms read), never the protocol or the service.',
  },
};

/** Escapes a path for a regular expression. */
const literal = (/** @type {string} */ text) => text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');

/**
 * One flat-config block per room. A regex rather than gitignore globs: a glob cannot re-allow a
 * file under a forbidden folder (sinks/types.js), and only relative imports name our rooms.
 */
/** @type {import('eslint').Linter.Config[]} */
export const boundaries = Object.entries(ROOMS).map(([room, { forbid, allow = [], why }]) => {
  const allowed = allow.length === 0 ? '' : `(?!.*/(${allow.map(literal).join('|')})$)`;
  return {
    files: [`${room}/**/*.ts`],
    rules: {
      'no-restricted-imports': [
        'error',
        { patterns: [{ regex: `^${allowed}\\.{1,2}/(.*/)?(${forbid.join('|')})/`, message: why }] },
      ],
    },
  };
});
