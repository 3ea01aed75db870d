import { DuckDBInstance, type DuckDBConnection } from '@duckdb/node-api';

/**
 * An in-memory DuckDB, the Athena stand-in, that never tries to download an extension (this
 * machine reaches package registries only): JSON and Parquet are built in.
 */
export async function duckDb(): Promise<DuckDBConnection> {
  const instance = await DuckDBInstance.create(':memory:', {
    autoinstall_known_extensions: 'false',
    autoload_known_extensions: 'false',
  });
  return instance.connect();
}

/** The hive-partitioned JSONL archive under `root` (listener/dt/hour), as a table expression. */
export function archiveTable(root: string): string {
  return `read_json('${root}/exec_reports/*/*/*/*.jsonl.gz', format = 'newline_delimited', hive_partitioning = true, hive_types = {'listener': 'VARCHAR', 'dt': 'VARCHAR', 'hour': 'INTEGER'})`;
}
