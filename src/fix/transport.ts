import { isIP } from 'node:net';
import type { Duplex } from 'node:stream';
import { connect, rootCertificates, type TLSSocket } from 'node:tls';
import { systemClock, type Clock, type TimerHandle } from '../core/clock.js';
import { ListenerError } from '../core/errors.js';

export interface TlsTransportOptions {
  host: string;
  port: number;
  /** Extra CA certificates (PEM) trusted on top of the system roots: private CAs and tests. */
  extraCa?: string | Buffer;
  /** Overrides the SNI/verification name (defaults to host when it is a name, not an IP). */
  servername?: string;
}

/** A TLS connection as Kalshi requires: TLS 1.2+, SNI, verified against system CAs (+ extra ones). */
export type Connect = (options: TlsTransportOptions) => TLSSocket;

export const connectTls: Connect = (options) => {
  const servername = options.servername ?? (isIP(options.host) === 0 ? options.host : undefined);
  return connect({
    host: options.host,
    port: options.port,
    minVersion: 'TLSv1.2',
    // Node's `ca` replaces the default roots, so keep them when adding one.
    ...(options.extraCa === undefined ? {} : { ca: [...rootCertificates, options.extraCa.toString()] }),
    ...(servername === undefined ? {} : { servername }),
  });
};

/** How long each step of opening a connection may take before the attempt is given up. */
export interface OpeningTimeouts {
  /** TCP connect: a peer (or a firewall) that drops SYNs would otherwise hold it for minutes. */
  connectMs: number;
  /** The TLS handshake: a peer that accepts TCP but never answers would otherwise hold it forever. */
  handshakeMs: number;
}

/**
 * Watches a connection being opened and calls `onTimeout` once, with a coded error, when the TCP
 * connect (until `connect`) or the TLS handshake (from `connect` until `secureConnect`) takes
 * longer than allowed. A stream that is not TLS (a test seam) is ready at `connect`. Returns the
 * cancel, which the caller runs when the connection is ready or gone. The timers run on `clock`,
 * the session's, so a test drives both deadlines by hand.
 */
export function watchOpening(
  socket: Duplex,
  target: { host: string; port: number },
  timeouts: OpeningTimeouts,
  onTimeout: (error: ListenerError) => void,
  clock: Clock = systemClock,
): () => void {
  const tls = 'encrypted' in socket;
  const where = `${target.host}:${target.port}`;
  let timer: TimerHandle | undefined;
  const arm = (ms: number, error: () => ListenerError) => {
    clock.clearTimeout(timer);
    timer = clock.setTimeout(() => onTimeout(error()), ms);
  };
  const onConnect = () => {
    if (!tls) return cancel();
    arm(
      timeouts.handshakeMs,
      () =>
        new ListenerError(
          'ERR_FIX_TLS_HANDSHAKE_TIMEOUT',
          `TLS handshake with ${where} did not finish within ${timeouts.handshakeMs} ms (TCP connected; the peer does not answer)`,
          { details: { host: target.host, port: target.port, phase: 'tls', timeoutMs: timeouts.handshakeMs } },
        ),
    );
  };
  const cancel = () => {
    clock.clearTimeout(timer);
    timer = undefined;
    socket.off('connect', onConnect);
  };
  arm(
    timeouts.connectMs,
    () =>
      new ListenerError(
        'ERR_FIX_CONNECT_TIMEOUT',
        `TCP connect to ${where} did not complete within ${timeouts.connectMs} ms (the name did not resolve, or nothing answered the SYN: the host is down, a firewall drops it, or the peer's accept queue is full)`,
        { details: { host: target.host, port: target.port, phase: 'tcp', timeoutMs: timeouts.connectMs } },
      ),
  );
  socket.once('connect', onConnect);
  return cancel;
}
