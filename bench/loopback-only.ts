/**
 * Benchmarks must only use loopback addresses, but two servers they start bind every interface:
 * fauxqs (its listen ignores a host option and uses 0.0.0.0) and the service's control plane
 * (0.0.0.0 by design, for the container health check). Importing this module — or preloading it
 * with `node --import` — rewrites wildcard or missing listen hosts to 127.0.0.1 in this process.
 */
import { Server } from 'node:net';

const WILDCARDS = new Set(['0.0.0.0', '::', '']);
const LOOPBACK = '127.0.0.1';
const marker = Symbol.for('kfl-bench.loopback-only');

type Listen = (this: Server, ...args: unknown[]) => Server;

const proto = Server.prototype as unknown as Record<symbol, boolean> & { listen: Listen };
if (proto[marker] !== true) {
  proto[marker] = true;
  const listen = proto.listen;
  proto.listen = function (this: Server, ...args: unknown[]): Server {
    const [first, second] = args;
    if (typeof first === 'object' && first !== null && !('fd' in first) && !('path' in first)) {
      const options = first as { host?: string };
      if (options.host === undefined || WILDCARDS.has(options.host)) args[0] = { ...options, host: LOOPBACK };
    } else if (typeof first === 'number' || (typeof first === 'string' && /^\d+$/.test(first))) {
      // listen(port[, host][, backlog][, callback])
      if (typeof second === 'string') {
        if (WILDCARDS.has(second)) args[1] = LOOPBACK;
      } else {
        args.splice(1, 0, LOOPBACK);
      }
    }
    return listen.apply(this, args);
  };
}
