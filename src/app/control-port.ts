import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

/** Requests held while the handler loads; past this a caller is told to come back (503). */
const MAX_WAITING = 64;

/** What answers the requests: @hono/node-server's getRequestListener(app.fetch). */
export type Handler = (request: IncomingMessage, response: ServerResponse) => void | Promise<void>;

/**
 * The control plane's port, bound before anything connects to the exchange: a start that cannot
 * serve (HTTP_PORT in use) fails before it ever logs on. Binding is a plain node:http server, so
 * it costs no import: the control plane's handler (hono, prom-client) loads after the first Logon
 * and is attached then, and a request that comes meanwhile waits for it.
 */
export interface ControlPort {
  readonly server: Server;
  /** The bound port (the OS's pick with HTTP_PORT=0). */
  readonly port: number;
  /** Hands every request, the waiting ones first, to `handler`. */
  serve(handler: Handler): void;
  /** Stops listening; requests still waiting for a handler get a 503. */
  close(): Promise<void>;
}

/** Listens on `host:port`; rejects with the listen error (EADDRINUSE, EACCES, …) as Node gives it. */
export async function bindControlPort(port: number, host: string): Promise<ControlPort> {
  let handler: Handler | undefined;
  const waiting: Array<[IncomingMessage, ServerResponse]> = [];
  const server = createServer((request, response) => {
    if (handler !== undefined) return dispatch(handler, request, response);
    if (waiting.length >= MAX_WAITING) return unavailable(response);
    waiting.push([request, response]);
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  return {
    server,
    port: (server.address() as AddressInfo).port,
    serve: (next) => {
      handler = next;
      for (const [request, response] of waiting.splice(0)) dispatch(next, request, response);
    },
    close: () =>
      new Promise<void>((resolve) => {
        for (const [, response] of waiting.splice(0)) unavailable(response);
        server.close(() => resolve());
      }),
  };
}

/** The control plane answers its own errors; one that escapes still must not end the process. */
function dispatch(handler: Handler, request: IncomingMessage, response: ServerResponse): void {
  void (async () => handler(request, response))().catch(() => response.destroy());
}

function unavailable(response: ServerResponse): void {
  response.writeHead(503, { 'content-type': 'application/json', 'retry-after': '1' });
  response.end(JSON.stringify({ status: 'starting' }));
}
