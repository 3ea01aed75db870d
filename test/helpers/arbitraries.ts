import fc from 'fast-check';

/**
 * Any text up to `maxLength` UTF-16 code units, each drawn on its own: lone surrogates, control
 * characters and newlines included, as no well-formed source would send but a string can hold.
 */
export function anyText(maxLength: number): fc.Arbitrary<string> {
  return fc.string({ unit: 'binary', maxLength });
}
