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

/** One damage to one file: which file (under the property's own name for it), where, how, which bit. */
type FileDamage<A extends string, K extends string> = Record<A, number> & { at: number; kind: K; bit: number };

/**
 * fast-check parameters for a property that damages one file of a spool: `runs` random cases
 * (times the depth), after the examples that matter whatever the draw, every file (`files` names
 * the property's index into its list of them, e.g. `{ segment: segments }`) with every kind of
 * damage, mid-file and on the lowest bit. Shared so every damage property keeps that floor.
 */
export function everyFileDamaged<A extends string, K extends string>(
  runs: number,
  files: Record<A, readonly unknown[]>,
  kinds: readonly K[],
): { numRuns: number; examples: Array<[FileDamage<A, K>]> } {
  const indices = Object.fromEntries(
    Object.entries<readonly unknown[]>(files).map(([axis, list]) => [axis, list.map((_, i) => i)]),
  );
  // TypeScript cannot map over a key it knows only as `A`; the axes are these by construction.
  const axes = { ...indices, at: [0.5], kind: kinds, bit: [0] } as unknown as {
    [P in keyof FileDamage<A, K>]: ReadonlyArray<FileDamage<A, K>[P]>;
  };
  return { numRuns: propertyRuns(runs), examples: everyCombination<FileDamage<A, K>>(axes) };
}

/**
 * The time a property test is given: `ms` at `npm test`'s depth (on a tmpfs), and four times as
 * much per step of depth in `npm run test:system`, whose runs sync to a disk.
 */
export function propertyTimeout(ms: number): number {
  return PROPERTY_DEPTH === 1 ? ms : ms * PROPERTY_DEPTH * 4;
}
