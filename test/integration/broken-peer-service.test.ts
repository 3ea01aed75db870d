import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { ListenerService } from '../../src/app/service.js';
import { createControlPlane } from '../../src/http/control-plane.js';
import { createMetrics } from '../../src/http/metrics.js';
import { LocalFileQueue } from '../../src/sinks/local-file-queue.js';
import { LocalFolderStore } from '../../src/sinks/local-folder-store.js';
import { startBrokenPeer, type BrokenPeer } from '../helpers/broken-peer.js';
import { tempDir } from '../helpers/records.js';
import { API_KEY, testKeys } from '../helpers/sim.js';

let peer: BrokenPeer | undefined;
let service: ListenerService | undefined;
afterEach(async () => {
  await service?.stop();
  peer?.server.close();
  peer = service = undefined;
});

describe('ListenerService with its control plane', () => {
  describe('against a peer that trickles one endless frame after the Logon', () => {
    it('drops it and answers /readyz 503 within 12 s at HeartBtInt 3 s', { timeout: 30_000 }, async () => {
      // Prepare: the whole service on a real TLS socket, the control plane as main wires it.
      peer = await startBrokenPeer('trickle');
      const root = tempDir();
      let loggedOnAt = 0;
      service = await ListenerService.start({
        fix: {
          host: '127.0.0.1',
          port: peer.port,
          targetCompId: 'KalshiNR',
          apiKey: API_KEY,
          privateKey: testKeys().privateKey,
          heartbeatS: 3,
          extraCa: peer.ca,
        },
        spoolDir: join(root, 'spool'),
        store: new LocalFolderStore(join(root, 'archive')),
        queue: new LocalFileQueue(join(root, 'fills.jsonl')),
        onSessionEvent: (event) => {
          if (event.kind === 'logon') loggedOnAt = Date.now();
        },
      });
      const app = createControlPlane({
        target: service,
        metrics: createMetrics(() => service!.status()),
        version: 'test',
        startedAt: Date.now(),
      });
      const readyz = async () => {
        const response = await app.request('/readyz');
        return { status: response.status, body: (await response.json()) as { reasons?: string[] } };
      };
      await expect.poll(() => loggedOnAt, { timeout: 10_000 }).toBeGreaterThan(0);
      const whileTrickling = await readyz();

      // Act: wait for the service to give up on the peer.
      await expect.poll(async () => (await readyz()).status, { timeout: 12_000, interval: 100 }).toBe(503);
      const notReadyAfterMs = Date.now() - loggedOnAt;
      const after = await readyz();

      // Assess
      expect(whileTrickling.status).toBe(200);
      expect(notReadyAfterMs).toBeLessThan(12_000);
      expect(after.body.reasons?.join(' ')).toMatch(/session is (disconnected|connecting|logon_sent)/);
      expect(service.status().session.lastError).toMatchObject({ code: 'ERR_FIX_HEARTBEAT_TIMEOUT' });
      expect(peer.received).toContain('\x0135=1\x01'); // probed with a TestRequest first
    });
  });
});
