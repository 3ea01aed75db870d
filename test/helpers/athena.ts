import { existsSync, readdirSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';

/**
 * Athena's side of the archive, played offline: an Athena `CREATE EXTERNAL TABLE` (as docs/ and
 * the CDK stack declare it) read the way Athena reads it, so DuckDB can stand in for Athena on a
 * local copy of the bucket: the declared columns and types, and only the objects its partition
 * projection would find.
 */
export interface AthenaTable {
  name: string;
  /** Column name and Hive type, in order. */
  columns: Array<[string, string]>;
  partitions: Array<[string, string]>;
  serde: string;
  location: string;
  properties: Record<string, string>;
}

/** The bucket and prefix the docs write as placeholders. */
export const BUCKET_PLACEHOLDER = 's3://YOUR-BUCKET/YOUR-PREFIX/';

export function parseCreateExternalTable(sql: string): AthenaTable {
  const m =
    /^CREATE EXTERNAL TABLE (\w+) \(\n([\s\S]+?)\n\)\nPARTITIONED BY \(([^)]*)\)\nROW FORMAT SERDE '([^']+)'[\s\S]*?\nLOCATION '([^']+)'\nTBLPROPERTIES \(\n([\s\S]+)\n\)$/.exec(
      sql.trim(),
    );
  if (m === null) throw new Error(`not a CREATE EXTERNAL TABLE of the form the docs use:\n${sql}`);
  const pairs = (text: string) =>
    splitTop(text).map((item) => {
      const [name, type] = item.trim().split(/\s+/) as [string, string];
      return [name, type] as [string, string];
    });
  const properties: Record<string, string> = {};
  for (const [, key, value] of m[6]!.matchAll(/^\s*'([^']+)'\s*=\s*'([^']*)',?\s*$/gm)) properties[key!] = value!;
  return {
    name: m[1]!,
    columns: pairs(m[2]!),
    partitions: pairs(m[3]!),
    serde: m[4]!,
    location: m[5]!,
    properties,
  };
}

/** Splits at the commas outside brackets: `a int, b struct<x:int,y:int>` → two items. */
function splitTop(text: string): string[] {
  const items: string[] = [];
  let depth = 0;
  let start = 0;
  for (let i = 0; i < text.length; i++) {
    const c = text[i]!;
    if (c === '<' || c === '(') depth++;
    else if (c === '>' || c === ')') depth--;
    else if (c === ',' && depth === 0) {
      items.push(text.slice(start, i));
      start = i + 1;
    }
  }
  items.push(text.slice(start));
  return items.map((s) => s.trim()).filter(Boolean);
}

const SIMPLE_TYPES: Record<string, string> = {
  string: 'VARCHAR',
  int: 'INTEGER',
  bigint: 'BIGINT',
  boolean: 'BOOLEAN',
  double: 'DOUBLE',
  date: 'DATE',
  timestamp: 'TIMESTAMP',
};

/** A Hive type as DuckDB writes the same type: `array<struct<a:decimal(18,4)>>` → `STRUCT(a DECIMAL(18,4))[]`. */
export function duckType(hive: string): string {
  const t = hive.trim();
  const array = /^array<(.*)>$/i.exec(t);
  if (array !== null) return `${duckType(array[1]!)}[]`;
  const struct = /^struct<(.*)>$/i.exec(t);
  if (struct !== null)
    return `STRUCT(${splitTop(struct[1]!)
      .map((field) => {
        const at = field.indexOf(':');
        return `${field.slice(0, at)} ${duckType(field.slice(at + 1))}`;
      })
      .join(', ')})`;
  const decimal = /^decimal\((\d+),\s*(\d+)\)$/i.exec(t);
  if (decimal !== null) return `DECIMAL(${decimal[1]},${decimal[2]})`;
  const simple = SIMPLE_TYPES[t.toLowerCase()];
  if (simple === undefined) throw new Error(`no DuckDB type for the Hive type ${hive}`);
  return simple;
}

/**
 * A type DuckDB reports for a Parquet column, as the Hive type Athena reads it as: a Parquet
 * timestamp (UTC-adjusted, any unit) is Athena's `timestamp`.
 */
export function asDeclared(duck: string): string {
  return duck.replace(/TIMESTAMP(?: WITH TIME ZONE|_NS|_MS|_S)?/g, 'TIMESTAMP');
}

function filesUnder(dir: string): string[] {
  if (!existsSync(dir)) return [];
  return readdirSync(dir).flatMap((name) => {
    const path = join(dir, name);
    return statSync(path).isDirectory() ? filesUnder(path) : [path];
  });
}

const escapeRegExp = (s: string) => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');

/**
 * The objects under the table's LOCATION, in a folder standing for the bucket and prefix, split into
 * those a query sees (under `storage.location.template`, with partition values the projection
 * accepts) and those it never reads.
 */
export function projectedObjects(
  table: AthenaTable,
  bucketFolder: string,
  today: string,
): { seen: string[]; unseen: string[] } {
  const local = (url: string) => {
    if (!url.startsWith(BUCKET_PLACEHOLDER)) throw new Error(`${url} is not under ${BUCKET_PLACEHOLDER}`);
    return join(bucketFolder, url.slice(BUCKET_PLACEHOLDER.length));
  };
  const p = table.properties;
  if (p['projection.enabled'] !== 'true') throw new Error(`${table.name}: partition projection is not enabled`);
  const template = p['storage.location.template'];
  if (template === undefined) throw new Error(`${table.name}: no storage.location.template`);
  const pattern = new RegExp(
    `^${escapeRegExp(relative(bucketFolder, local(template)) + '/').replace(/\\\$\\\{(\w+)\\\}/g, '(?<$1>[^/]+)')}[^/]+$`,
  );
  const accepts = (name: string, value: string): boolean => {
    const type = p[`projection.${name}.type`];
    if (type === 'enum') return (p[`projection.${name}.values`] ?? '').split(',').includes(value);
    if (type === 'date') {
      if (p[`projection.${name}.format`] !== 'yyyy-MM-dd' || !/^\d{4}-\d{2}-\d{2}$/.test(value)) return false;
      const [from, to] = (p[`projection.${name}.range`] ?? '').split(',') as [string, string];
      return value >= from && value <= (to === 'NOW' ? today : to);
    }
    if (type === 'integer') {
      const [from, to] = (p[`projection.${name}.range`] ?? '').split(',').map(Number) as [number, number];
      const digits = Number(p[`projection.${name}.digits`] ?? '1');
      return /^\d+$/.test(value) && value.length >= digits && Number(value) >= from && Number(value) <= to;
    }
    return false;
  };
  const seen: string[] = [];
  const unseen: string[] = [];
  for (const file of filesUnder(local(table.location))) {
    const groups = pattern.exec(relative(bucketFolder, file))?.groups;
    const ok =
      groups !== undefined &&
      table.partitions.every(([name]) => groups[name] !== undefined && accepts(name, groups[name]));
    (ok ? seen : unseen).push(file);
  }
  return { seen: seen.sort(), unseen: unseen.sort() };
}

const literal = (s: string) => `'${s.replaceAll("'", "''")}'`;

/** DuckDB's view of the table over `files`: the declared columns and the partition columns, typed. */
export function duckView(table: AthenaTable, files: string[]): string {
  const list = `[${files.map(literal).join(', ')}]`;
  const hiveTypes = `{${table.partitions.map(([n, t]) => `${literal(n)}: ${literal(duckType(t))}`).join(', ')}}`;
  if (/JsonSerDe$/.test(table.serde)) {
    const columns = `{${table.columns.map(([n, t]) => `${literal(n)}: ${literal(duckType(t))}`).join(', ')}}`;
    return `CREATE VIEW ${table.name} AS SELECT * FROM read_json(${list}, format = 'newline_delimited', columns = ${columns}, hive_partitioning = true, hive_types = ${hiveTypes})`;
  }
  if (/ParquetHiveSerDe$/.test(table.serde))
    return `CREATE VIEW ${table.name} AS SELECT * FROM read_parquet(${list}, hive_partitioning = true, hive_types = ${hiveTypes})`;
  throw new Error(`${table.name}: no DuckDB reader for the SerDe ${table.serde}`);
}
