/**
 * How deep the property suites search. `npm test` runs each at the depth written beside it;
 * `npm run test:system` runs the same files again at KFL_PROPERTY_DEPTH times that
 * (vitest.system.config.js), so CI searches several times further than a developer's loop
 * without the loop paying for it.
 */
export const PROPERTY_DEPTH = Math.max(1, Number(process.env['KFL_PROPERTY_DEPTH'] ?? 1) || 1);

/** `runs` random cases, times the depth of this run. */
export function propertyRuns(runs: number): number {
  return Math.round(runs * PROPERTY_DEPTH);
}

/**
 * Every combination of the given values, as fast-check `examples` (each a one-argument tuple):
 * the cases a property must always include (every file of a spool with every kind of damage),
 * whatever the random draw; the random runs then vary the offsets and bits around them.
 */
export function everyCombination<T extends Record<string, unknown>>(axes: { [K in keyof T]: readonly T[K][] }): Array<
  [T]
> {
  let combinations: Array<Partial<T>> = [{}];
  for (const key of Object.keys(axes) as Array<keyof T>)
    combinations = combinations.flatMap((partial) => axes[key].map((value) => ({ ...partial, [key]: value })));
  return combinations.map((c) => [c as T]);
}

/**
 * The time a property test is given: `ms` at `npm test`'s depth (on a tmpfs), and four times as
 * much per step of depth in `npm run test:system`, whose runs sync to a disk.
 */
export function propertyTimeout(ms: number): number {
  return PROPERTY_DEPTH === 1 ? ms : ms * PROPERTY_DEPTH * 4;
}
