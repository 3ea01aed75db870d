import { isIP } from 'node:net';
import { connect, rootCertificates, type TLSSocket } from 'node:tls';

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
