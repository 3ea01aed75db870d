import type { ColumnName } from '../src/core/record.js';
import type { PartitionKey } from './archive-table.js';

/** A column of the archive table; the compiler rejects a name the record does not have. */
const col = (name: ColumnName | PartitionKey): string => name;

/**
 * ORDER BY keys that sort an ISO-8601 time column by time. The strings keep the precision Kalshi
 * sent (3, 6 or 9 digits), so as text `…07.401234Z` sorts before `…07.401Z`; the timestamp (ms)
 * first, then the fraction padded to nanoseconds, puts them in time order on any Athena engine.
 */
export function timeOrder(column: ColumnName): string {
  return `from_iso8601_timestamp(${col(column)}), rpad(replace(${col(column)}, 'Z', ''), 29, '0')`;
}

export interface NamedQuerySpec {
  name: string;
  description: string;
  sql: string;
}

/**
 * The same questions on the typed (Parquet) table: no casts, times compare and sort as times, and
 * each reads only the column chunks it names.
 */
export function parquetNamedQueries(table: string): NamedQuerySpec[] {
  return [
    {
      name: 'parquet-fills-per-symbol-per-hour',
      description: 'Fill count and contracts per symbol and hour, for one UTC day (typed table)',
      sql: [
        `SELECT ${col('symbol')}, ${col('dt')}, ${col('hour')}, count(*) AS fills, sum(${col('last_qty')}) AS contracts`,
        `FROM ${table}`,
        `WHERE ${col('exec_type')} = 'F' AND ${col('dt')} = date_format(current_date, '%Y-%m-%d')`,
        'GROUP BY 1, 2, 3',
        'ORDER BY 2, 3, 1;',
      ].join('\n'),
    },
    {
      name: 'parquet-order-life-by-order-id',
      description: 'Every report of one order, in time order (typed table; replace the order_id)',
      sql: [
        `SELECT ${col('transact_time')}, ${col('exec_type')}, ${col('ord_status')}, ${col('cl_ord_id')}, ${col('price')}, ${col('last_qty')}, ${col('last_px')}, ${col('leaves_qty')}, ${col('cum_qty')}, ${col('text')}, ${col('exec_id')}`,
        `FROM ${table}`,
        `WHERE ${col('order_id')} = 'REPLACE-WITH-ORDER-ID' AND ${col('dt')} >= date_format(current_date - interval '7' day, '%Y-%m-%d')`,
        `ORDER BY ${col('transact_time')}, ${col('msg_seq_num')};`,
      ].join('\n'),
    },
  ];
}

/** The saved queries operators start from (the README's examples, on the stack's own table). */
export function namedQueries(table: string): NamedQuerySpec[] {
  return [
    {
      name: 'fills-per-symbol-per-hour',
      description: 'Fill count and contracts per symbol and hour, for one UTC day',
      sql: [
        `SELECT ${col('symbol')}, ${col('dt')}, ${col('hour')}, count(*) AS fills, sum(CAST(${col('last_qty')} AS decimal(18, 2))) AS contracts`,
        `FROM ${table}`,
        `WHERE ${col('exec_type')} = 'F' AND ${col('dt')} = date_format(current_date, '%Y-%m-%d')`,
        'GROUP BY 1, 2, 3',
        'ORDER BY 2, 3, 1;',
      ].join('\n'),
    },
    {
      name: 'order-life-by-order-id',
      description: 'Every report of one order, in time order (replace the order_id; widen dt when it is older)',
      sql: [
        `SELECT from_iso8601_timestamp(${col('transact_time')}) AS at, ${col('exec_type')}, ${col('ord_status')}, ${col('cl_ord_id')}, ${col('price')}, ${col('last_qty')}, ${col('last_px')}, ${col('leaves_qty')}, ${col('cum_qty')}, ${col('text')}, ${col('exec_id')}`,
        `FROM ${table}`,
        `WHERE ${col('order_id')} = 'REPLACE-WITH-ORDER-ID' AND ${col('dt')} >= date_format(current_date - interval '7' day, '%Y-%m-%d')`,
        `ORDER BY ${timeOrder('transact_time')}, ${col('msg_seq_num')};`,
      ].join('\n'),
    },
    {
      name: 'duplicate-exec-ids',
      description:
        'ExecIDs archived more than once in the last 3 days, the dedupe window (expect no rows: the journal deduplicates)',
      sql: [
        `SELECT ${col('exec_id')}, count(*) AS copies, array_agg(DISTINCT ${col('source')}) AS sources, min(${col('dt')}) AS first_dt`,
        `FROM ${table}`,
        `WHERE ${col('dt')} >= date_format(current_date - interval '3' day, '%Y-%m-%d')`,
        `GROUP BY ${col('exec_id')}`,
        'HAVING count(*) > 1',
        'ORDER BY copies DESC;',
      ].join('\n'),
    },
  ];
}
