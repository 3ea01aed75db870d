/**
 * A validator for the JSON Schema (2020-12) keywords docs/fill-message.schema.json uses, and only
 * those: an unknown keyword is an error, so the schema cannot rely on something this never checks.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';

export type Schema = Record<string, unknown>;

/** The documented fill message schema, as consumers get it. */
export const FILL_SCHEMA = JSON.parse(
  readFileSync(join(import.meta.dirname, '../../docs/fill-message.schema.json'), 'utf8'),
) as Schema & { properties: Record<string, Schema>; required: string[] };

const ANNOTATIONS = new Set(['$schema', '$id', '$defs', 'title', 'description', 'examples', 'x-glue-type']);
const ASSERTIONS = new Set([
  '$ref',
  'type',
  'const',
  'enum',
  'pattern',
  'minLength',
  'minimum',
  'required',
  'properties',
  'additionalProperties',
  'items',
]);

function typeOf(value: unknown): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'array';
  if (typeof value === 'number') return Number.isInteger(value) ? 'integer' : 'number';
  return typeof value;
}

export function validate(root: Schema, value: unknown): string[] {
  const errors: string[] = [];
  const visit = (schema: Schema, v: unknown, path: string): void => {
    for (const keyword of Object.keys(schema)) {
      if (!ANNOTATIONS.has(keyword) && !ASSERTIONS.has(keyword)) errors.push(`${path}: unsupported keyword ${keyword}`);
    }
    if (typeof schema['$ref'] === 'string') {
      const match = /^#\/\$defs\/(\w+)$/.exec(schema['$ref']);
      const target = match === null ? undefined : (root['$defs'] as Record<string, Schema> | undefined)?.[match[1]!];
      if (target === undefined) errors.push(`${path}: unresolvable $ref ${schema['$ref']}`);
      else visit(target, v, path);
    }
    const actual = typeOf(v);
    if (schema['type'] !== undefined) {
      const allowed = Array.isArray(schema['type']) ? (schema['type'] as string[]) : [schema['type'] as string];
      if (!allowed.includes(actual) && !(actual === 'integer' && allowed.includes('number')))
        errors.push(`${path}: ${actual} is not ${allowed.join(' or ')}`);
    }
    if ('const' in schema && v !== schema['const'])
      errors.push(`${path}: ${JSON.stringify(v)} is not ${JSON.stringify(schema['const'])}`);
    if (Array.isArray(schema['enum']) && !schema['enum'].includes(v))
      errors.push(`${path}: ${JSON.stringify(v)} is not one of ${JSON.stringify(schema['enum'])}`);
    if (typeof v === 'string') {
      if (typeof schema['pattern'] === 'string' && !new RegExp(schema['pattern'], 'u').test(v))
        errors.push(`${path}: ${JSON.stringify(v)} does not match ${schema['pattern']}`);
      if (typeof schema['minLength'] === 'number' && [...v].length < schema['minLength'])
        errors.push(`${path}: shorter than ${schema['minLength']}`);
    }
    if (typeof v === 'number' && typeof schema['minimum'] === 'number' && v < schema['minimum'])
      errors.push(`${path}: ${v} < ${schema['minimum']}`);
    if (actual === 'object') {
      const object = v as Record<string, unknown>;
      for (const key of (schema['required'] as string[] | undefined) ?? [])
        if (!(key in object)) errors.push(`${path}: missing ${key}`);
      const properties = (schema['properties'] as Record<string, Schema> | undefined) ?? {};
      for (const [key, child] of Object.entries(object)) {
        if (properties[key] !== undefined) visit(properties[key], child, `${path}.${key}`);
        else if (schema['additionalProperties'] === false) errors.push(`${path}: unexpected key ${key}`);
      }
    }
    if (actual === 'array' && schema['items'] !== undefined)
      (v as unknown[]).forEach((item, i) => visit(schema['items'] as Schema, item, `${path}[${i}]`));
  };
  visit(root, value, '$');
  return errors;
}
