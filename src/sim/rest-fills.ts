import type { KeyObject } from 'node:crypto';
import { createServer, type Server } from 'node:https';
import type { AddressInfo } from 'node:net';
import { verifyPss } from '../fix/logon-signature.js';
import type { LoopbackCertificate } from './certificate.js';

export interface SimRestFill {
  fill_id: string;
  order_id: string;
  ticker: string;
  side: 'bid' | 'ask';
  count: string;
  price: string;
  created_time: string;
  is_taker: boolean;
  subaccount: number;
  trade_id: string;
}

/**
 * Kalshi's `GET /trade-api/v2/margin/fills` in miniature: signed headers checked, `subaccount`
 * (default 0), `min_ts`/`max_ts` (Unix seconds), `limit`, `cursor` paging.
 */
export async function startRestFills(options: {
  certificate: LoopbackCertificate;
  /** Default 127.0.0.1 and any free port. */
  host?: string;
  port?: number;
  publicKeyOf(apiKey: string): KeyObject | undefined;
  fillsOf(apiKey: string): readonly SimRestFill[];
  pageSize(): number;
}): Promise<{ url: string; server: Server }> {
  const server = createServer({ key: options.certificate.key, cert: options.certificate.cert }, (req, res) => {
    const url = new URL(req.url ?? '/', 'https://localhost');
    const send = (status: number, body: unknown) => {
      res.writeHead(status, { 'content-type': 'application/json' });
      res.end(JSON.stringify(body));
    };
    if (req.method !== 'GET' || url.pathname !== '/trade-api/v2/margin/fills') return send(404, { error: 'not found' });
    const apiKey = String(req.headers['kalshi-access-key'] ?? '');
    const timestamp = String(req.headers['kalshi-access-timestamp'] ?? '');
    const signature = String(req.headers['kalshi-access-signature'] ?? '');
    const publicKey = options.publicKeyOf(apiKey);
    if (
      publicKey === undefined ||
      Math.abs(Number(timestamp) - Date.now()) > 30_000 ||
      !verifyPss(publicKey, `${timestamp}GET${url.pathname}`, signature)
    ) {
      return send(401, { error: { code: 'authentication_error', message: 'invalid signature' } });
    }
    const subaccount = Number(url.searchParams.get('subaccount') ?? '0');
    const min = Number(url.searchParams.get('min_ts') ?? '0') * 1000;
    const max = Number(url.searchParams.get('max_ts') ?? String(2 ** 40)) * 1000;
    const limit = Math.min(options.pageSize(), Math.max(1, Number(url.searchParams.get('limit') ?? '100')));
    const offset = Number(url.searchParams.get('cursor') || '0');
    const all = options
      .fillsOf(apiKey)
      .filter(
        (f) => f.subaccount === subaccount && Date.parse(f.created_time) >= min && Date.parse(f.created_time) <= max,
      );
    const page = all.slice(offset, offset + limit);
    send(200, { fills: page, cursor: offset + limit < all.length ? String(offset + limit) : '' });
  });
  const host = options.host ?? '127.0.0.1';
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject); // a port in use, say
    server.listen(options.port ?? 0, host, resolve);
  });
  const urlHost = host.includes(':') ? `[${host}]` : host; // an IPv6 address is bracketed in a URL
  return { url: `https://${urlHost}:${(server.address() as AddressInfo).port}`, server };
}
