import { createServer } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { bindControlPort, type ControlPort } from '../../src/app/control-port.js';

let cleanups: Array<() => unknown> = [];
afterEach(async () => {
  for (const cleanup of cleanups.reverse()) await cleanup();
  cleanups = [];
});

async function bound(): Promise<ControlPort> {
  const port = await bindControlPort(0, '127.0.0.1');
  cleanups.push(() => port.close());
  return port;
}

describe('bindControlPort', () => {
  it('holds a request that comes before the handler and answers it once the handler is attached', async () => {
    // Prepare
    const port = await bound();
    let arrived!: () => void;
    const requestArrived = new Promise<void>((resolve) => (arrived = resolve));
    port.server.once('request', () => arrived());

    // Act: a request while the control plane is still loading, then the handler.
    const response = fetch(`http://127.0.0.1:${port.port}/healthz`);
    await requestArrived;
    port.serve((request, reply) => {
      reply.writeHead(200, { 'content-type': 'text/plain' });
      reply.end(`served ${request.url}`);
    });

    // Assess
    const answer = await response;
    expect(answer.status).toBe(200);
    expect(await answer.text()).toBe('served /healthz');
  });

  it('rejects with the listen error when the port is in use, and holds nothing', async () => {
    // Prepare
    const taken = createServer();
    await new Promise<void>((resolve) => taken.listen(0, '127.0.0.1', resolve));
    cleanups.push(() => new Promise((resolve) => taken.close(resolve)));
    const port = (taken.address() as { port: number }).port;

    // Act
    const error = await bindControlPort(port, '127.0.0.1').catch((e: unknown) => e);

    // Assess
    expect(error).toMatchObject({ code: 'EADDRINUSE' });
  });

  it('answers 503 to requests still waiting when it is closed before a handler came', async () => {
    // Prepare
    const port = await bindControlPort(0, '127.0.0.1');
    let arrived!: () => void;
    const requestArrived = new Promise<void>((resolve) => (arrived = resolve));
    port.server.once('request', () => arrived());
    const response = fetch(`http://127.0.0.1:${port.port}/status`);
    await requestArrived;

    // Act
    await Promise.all([port.close(), response]);
    const answer = await response;

    // Assess
    expect(answer.status).toBe(503);
    expect(answer.headers.get('retry-after')).toBe('1');
    expect(await answer.json()).toEqual({ status: 'starting' });
  });
});
