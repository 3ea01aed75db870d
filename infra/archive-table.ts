import { Stack } from 'aws-cdk-lib';
import * as glue from 'aws-cdk-lib/aws-glue';
import { Construct } from 'constructs';
import { RECORD_COLUMNS, TYPED_COLUMNS, typedGlueType } from '../src/core/record.js';

/**
 * Hive partitions of the archive key `exec_reports/listener=NAME/dt=YYYY-MM-DD/hour=HH/` (DESIGN.md
 * §3): one table for every listener of a deployment.
 */
export const PARTITION_KEYS = [
  { name: 'listener', type: 'string', comment: 'LISTENER_NAME of the listener that received it (one per Kalshi key)' },
  { name: 'dt', type: 'string', comment: 'UTC day of TransactTime (else SendingTime), yyyy-MM-dd' },
  { name: 'hour', type: 'int', comment: 'UTC hour of TransactTime (else SendingTime), 0-23, two digits in the key' },
] as const;

export type PartitionKey = (typeof PARTITION_KEYS)[number]['name'];

export const TABLE_NAME = 'kalshi_exec_reports';
export const PARQUET_TABLE_NAME = 'kalshi_exec_reports_parquet';

/** The Parquet SerDe and formats Athena reads `.parquet` objects with. */
export const PARQUET_SERDE = 'org.apache.hadoop.hive.ql.io.parquet.serde.ParquetHiveSerDe';

/** DESIGN.md §3: the Hive JSON SerDe (AWS warns OpenX results can be non-deterministic). */
export const JSON_SERDE = 'org.apache.hive.hcatalog.data.JsonSerDe';

/** Glue columns: the archive record's own, in archive order — one source of truth (src/core/record.ts). */
export function tableColumns(): glue.CfnTable.ColumnProperty[] {
  return RECORD_COLUMNS.map((c) => ({ name: c.name, type: c.glueType, comment: c.comment }));
}

/** The typed table's columns: the same names and order, typed from the record's declarations. */
export function parquetTableColumns(): glue.CfnTable.ColumnProperty[] {
  return RECORD_COLUMNS.map((c) => ({ name: c.name, type: typedGlueType(TYPED_COLUMNS[c.name]), comment: c.comment }));
}

/**
 * Partition projection: Athena computes partitions from the query instead of a crawler or
 * MSCK REPAIR, so an hour is queryable the moment its object lands.
 */
export function projectionParameters(
  tableLocation: string,
  startDate: string,
  listeners: readonly string[],
): Record<string, string> {
  return {
    'projection.enabled': 'true',
    // The deployment's listeners by name: a query over all of them needs no predicate on it.
    'projection.listener.type': 'enum',
    'projection.listener.values': listeners.join(','),
    'projection.dt.type': 'date',
    'projection.dt.format': 'yyyy-MM-dd',
    'projection.dt.range': `${startDate},NOW`,
    'projection.dt.interval': '1',
    'projection.dt.interval.unit': 'DAYS',
    'projection.hour.type': 'integer',
    'projection.hour.range': '0,23',
    'projection.hour.digits': '2',
    'storage.location.template': `${tableLocation}listener=\${listener}/dt=\${dt}/hour=\${hour}/`,
  };
}

/** The Glue database and the external table Athena (and a Glue Parquet job) read the archive with. */
export class ArchiveTable extends Construct {
  readonly databaseName: string;
  readonly tableName = TABLE_NAME;
  readonly database: glue.CfnDatabase;
  readonly table: glue.CfnTable;
  readonly parquetTable: glue.CfnTable;
  readonly parquetTableName = PARQUET_TABLE_NAME;

  constructor(
    scope: Construct,
    id: string,
    props: {
      databaseName: string;
      location: string;
      parquetLocation: string;
      startDate: string;
      gzip: boolean;
      /** LISTENER_NAME of every listener writing here. */
      listeners: readonly string[];
    },
  ) {
    super(scope, id);
    const account = Stack.of(this).account;
    this.databaseName = props.databaseName;
    this.database = new glue.CfnDatabase(this, 'Database', {
      catalogId: account,
      databaseInput: {
        name: props.databaseName,
        description: 'Kalshi FIX listener archive (ExecutionReports, hourly JSONL)',
      },
    });
    // Both tables: external, partitioned by listener/dt/hour with projection over the writer's prefix.
    const hiveTable = (
      tableId: string,
      table: { name: string; description: string; classification: string; location: string },
      storage: Omit<glue.CfnTable.StorageDescriptorProperty, 'location'>,
    ): glue.CfnTable => {
      const created = new glue.CfnTable(this, tableId, {
        catalogId: account,
        databaseName: props.databaseName,
        tableInput: {
          name: table.name,
          description: table.description,
          tableType: 'EXTERNAL_TABLE',
          parameters: {
            classification: table.classification,
            EXTERNAL: 'TRUE',
            ...projectionParameters(table.location, props.startDate, props.listeners),
          },
          partitionKeys: PARTITION_KEYS.map((k) => ({ name: k.name, type: k.type, comment: k.comment })),
          storageDescriptor: { location: table.location, ...storage },
        },
      });
      created.node.addDependency(this.database);
      return created;
    };
    this.table = hiveTable(
      'Table',
      {
        name: TABLE_NAME,
        description:
          'Every ExecutionReport the listener journaled, one JSON object per line (README.md: Querying the archive)',
        classification: 'json',
        location: props.location,
      },
      {
        columns: tableColumns(),
        // Text input reads .jsonl and .jsonl.gz alike, by extension.
        inputFormat: 'org.apache.hadoop.mapred.TextInputFormat',
        outputFormat: 'org.apache.hadoop.hive.ql.io.HiveIgnoreKeyTextOutputFormat',
        compressed: props.gzip,
        // The Hive SerDe has no ignore.malformed.json: a bad line fails the query rather than
        // vanishing from a count — what "no lost reports" needs. Keys are already lower case.
        serdeInfo: { serializationLibrary: JSON_SERDE, parameters: { 'serialization.format': '1' } },
      },
    );
    this.parquetTable = hiveTable(
      'ParquetTable',
      {
        name: PARQUET_TABLE_NAME,
        description:
          'The same ExecutionReports typed (decimals, UTC timestamps, lists of structs), one Parquet object per closed hour (README.md: The typed (Parquet) table)',
        classification: 'parquet',
        location: props.parquetLocation,
      },
      {
        columns: parquetTableColumns(),
        inputFormat: 'org.apache.hadoop.hive.ql.io.parquet.MapredParquetInputFormat',
        outputFormat: 'org.apache.hadoop.hive.ql.io.parquet.MapredParquetOutputFormat',
        serdeInfo: { serializationLibrary: PARQUET_SERDE, parameters: { 'serialization.format': '1' } },
      },
    );
  }
}
