/**
 * Imported first by section.ts. For the spool-ops section only, it wraps node:fs before any other
 * module is evaluated (ES modules run their imports in order, and this one has no top-level
 * await), so src's modules never hold an unwrapped function. Other sections run untouched.
 */
import { installSpoolOpsCounter } from './spool-ops-counter.js';

if (process.argv[2] === 'spool-ops') installSpoolOpsCounter();
