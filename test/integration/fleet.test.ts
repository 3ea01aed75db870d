import { generateKeyPairSync, randomUUID } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it, onTestFinished, vi } from 'vitest';
import { KalshiSimulator } from '../../src/sim/simulator.js';
import { AWS_TEST_CREDENTIALS, drainQueue, startAws, type AwsPeer } from '../helpers/aws.js';
import { archiveTable, duckDb } from '../helpers/duckdb.js';
import { tempDir } from '../helpers/records.js';
import { spawnTs } from '../helpers/spawn.js';
import { testKeys } from '../helpers/sim.js';

/**
 * A fleet on one machine: three service processes, each with a Kalshi key of its own at the
 * simulator, writing one archive folder and one SQS FIFO queue (the server `.ci/run` starts, or
 * one started here). Each listener's reports are archived exactly once under its own partition,
 * its fills reach the shared queue exactly once with its name, and one DuckDB query reads all.
 */

let aws: AwsPeer;
beforeAll(async () => {
  aws = await startAws();
});
afterAll(() => aws.stop());

const LISTENERS = [
  { name: 'member-a', reports: 30 },
  { name: 'member-b', reports: 45 },
  { name: 'fcm-1', reports: 20 },
];

interface Status {
  counters: { executionReports: number; fillsPublished: number };
  journal: { backlog: Record<string, { records: number }> };
}

describe('a fleet of three listeners', () => {
  it(
    'archives each listener exactly once under its partition, publishes its fills once with its name, and reads as one table',
    {
      timeout: 120_000,
    },
    async () => {
      // Prepare: three keys at one simulator (KalshiRT), one archive folder, one FIFO queue.
      const root = tempDir('fleet-');
      const archive = join(root, 'archive');
      const queueUrl = await aws.newFifoQueue();
      const keys = LISTENERS.map(() => ({
        apiKey: randomUUID(),
        ...generateKeyPairSync('rsa', { modulusLength: 2048 }),
      }));
      const sim = new KalshiSimulator({
        accounts: keys.map(({ apiKey, publicKey }) => ({ apiKey, publicKey })),
        certificate: await testKeys().certificate,
        minHeartbeatS: 1,
        ports: { KalshiRT: 0 },
      });
      const address = await sim.start();
      onTestFinished(() => sim.stop());
      const caFile = join(root, 'ca.pem');
      writeFileSync(caFile, address.ca);
      const services = LISTENERS.map(({ name }, i) => {
        const service = spawnTs('src/app/cli.ts', ['run'], {
          env: {
            ...process.env,
            FIX_HOST: address.host,
            FIX_PORT: String(address.ports.KalshiRT),
            FIX_TARGET_COMP_ID: 'KalshiRT',
            FIX_API_KEY: keys[i]!.apiKey,
            FIX_PRIVATE_KEY: keys[i]!.privateKey.export({ type: 'pkcs8', format: 'pem' }).toString(),
            FIX_TLS_CA_FILE: caFile,
            FIX_HEARTBEAT_S: '5',
            LISTENER_NAME: name,
            ARCHIVE_URL: `file://${archive}`,
            ARCHIVE_FLUSH_S: '1',
            ARCHIVE_PARQUET: 'false',
            FILLS_QUEUE_URL: queueUrl,
            AWS_ENDPOINT_URL_SQS: aws.endpoint,
            AWS_REGION: AWS_TEST_CREDENTIALS.region,
            AWS_ACCESS_KEY_ID: AWS_TEST_CREDENTIALS.credentials.accessKeyId,
            AWS_SECRET_ACCESS_KEY: AWS_TEST_CREDENTIALS.credentials.secretAccessKey,
            SPOOL_DIR: join(root, 'spool', name),
            HTTP_PORT: '0',
            LOG_LEVEL: 'info',
          },
        });
        onTestFinished(async () => {
          service.child.kill('SIGKILL');
          await service.exited;
        });
        return service;
      });
      const ports = await Promise.all(
        services.map(async (s) => {
          await s.waitForOutput(/"msg":"logged on"/, 30_000);
          return Number((await s.waitForOutput(/"httpPort":(\d+)/))[1]);
        }),
      );

      // Act: each account trades; wait until every listener holds its reports and sent its fills.
      for (const [i, { reports }] of LISTENERS.entries()) sim.emitReports(keys[i]!.apiKey, reports);
      await vi.waitFor(
        async () => {
          for (const [i, { reports }] of LISTENERS.entries()) {
            const status = (await (await fetch(`http://127.0.0.1:${ports[i]}/status`)).json()) as Status;
            expect(status.counters.executionReports).toBe(reports);
            expect(status.journal.backlog['fills']!.records).toBe(0);
          }
        },
        { timeout: 30_000, interval: 200 },
      );
      for (const s of services) s.child.kill('SIGTERM');
      const codes = await Promise.all(services.map((s) => s.exited));
      const generated = keys.map(({ apiKey }) => sim.generated(apiKey));
      const fills = generated.flatMap((g) => g.filter((r) => r.execType === 'F'));
      const received = await drainQueue(aws.endpoint, queueUrl, fills.length, 20_000);
      const db = await duckDb();
      const rows = (
        await db.runAndReadAll(`SELECT listener, exec_id FROM ${archiveTable(archive)}`)
      ).getRowObjectsJS() as Array<{ listener: string; exec_id: string }>;

      // Assess
      expect(codes).toEqual([0, 0, 0]);
      for (const [i, { name }] of LISTENERS.entries()) {
        const archived = rows.filter((r) => r.listener === name).map((r) => r.exec_id);
        expect(archived.sort(), name).toEqual(generated[i]!.map((r) => r.execId).sort());
        const sent = received
          .filter((m) => m.MessageAttributes!['listener']!.StringValue === name)
          .map((m) => m.MessageAttributes!['exec_id']!.StringValue!);
        expect(sent.sort(), name).toEqual(
          generated[i]!.filter((r) => r.execType === 'F')
            .map((r) => r.execId)
            .sort(),
        );
        for (const m of received.filter((r) => r.MessageAttributes!['listener']!.StringValue === name))
          expect(m.Attributes!['MessageGroupId']).toMatch(new RegExp(`^${name}:`));
      }
      expect(rows).toHaveLength(LISTENERS.reduce((sum, l) => sum + l.reports, 0));
      expect(received).toHaveLength(fills.length);
      expect(new Set(rows.map((r) => r.exec_id)).size).toBe(rows.length); // accounts' ExecIDs never meet
    },
  );
});
