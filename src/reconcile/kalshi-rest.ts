import type { KeyObject } from 'node:crypto';
import { request } from 'node:https';
import { rootCertificates } from 'node:tls';
import { ListenerError } from '../core/errors.js';
import { signPss } from '../fix/logon-signature.js';

/** One fill as Kalshi's margin REST API lists it (kalshi-fix-margin.md §6.3). */
export interface RestFill {
  fill_id: string;
  order_id: string;
  ticker: string;
  side: string;
  count: string;
  price: string;
  created_time: string;
  is_taker?: boolean;
  subaccount?: number;
  [key: string]: unknown;
}

export interface KalshiRestOptions {
  /** e.g. https://external-api.kalshi.com (demo: https://external-api.demo.kalshi.co). */
  baseUrl: string;
  apiKey: string;
  privateKey: KeyObject;
  extraCa?: string;
}

const FILLS_PATH = '/trade-api/v2/margin/fills';

/**
 * A signed GET of Kalshi's REST API: KALSHI-ACCESS-KEY, -TIMESTAMP (ms) and -SIGNATURE =
 * RSA-PSS-SHA256 over `timestamp + METHOD + path` (path without the query).
 */
export class KalshiRest {
  readonly #o: KalshiRestOptions;

  constructor(options: KalshiRestOptions) {
    this.#o = options;
  }

  /** Every fill of one subaccount in [minTs, maxTs] (Unix seconds), following the cursor. */
  async *fills(query: { minTs: number; maxTs: number; subaccount: number }): AsyncGenerator<RestFill> {
    let cursor: string | undefined;
    do {
      const params = new URLSearchParams({
        min_ts: String(query.minTs),
        max_ts: String(query.maxTs),
        subaccount: String(query.subaccount),
        limit: '1000',
      });
      if (cursor) params.set('cursor', cursor);
      const page = (await this.#get(FILLS_PATH, params)) as { fills?: RestFill[]; cursor?: string };
      for (const fill of page.fills ?? []) yield fill;
      cursor = page.cursor || undefined;
    } while (cursor !== undefined);
  }

  #get(path: string, params: URLSearchParams): Promise<unknown> {
    const url = new URL(`${path}?${params.toString()}`, this.#o.baseUrl);
    const timestamp = String(Date.now());
    const headers = {
      'KALSHI-ACCESS-KEY': this.#o.apiKey,
      'KALSHI-ACCESS-TIMESTAMP': timestamp,
      'KALSHI-ACCESS-SIGNATURE': signPss(this.#o.privateKey, `${timestamp}GET${url.pathname}`),
      accept: 'application/json',
    };
    return new Promise((resolve, reject) => {
      const req = request(
        url,
        {
          method: 'GET',
          headers,
          ...(this.#o.extraCa === undefined ? {} : { ca: [...rootCertificates, this.#o.extraCa] }),
        },
        (res) => {
          const chunks: Buffer[] = [];
          res.on('data', (chunk: Buffer) => chunks.push(chunk));
          res.on('end', () => {
            const body = Buffer.concat(chunks).toString('utf8');
            if (res.statusCode !== 200) {
              reject(
                new ListenerError(
                  'ERR_REST_STATUS',
                  `Kalshi REST ${url.pathname} answered ${res.statusCode}: ${body.slice(0, 200)}`,
                  { details: { httpStatus: res.statusCode ?? null, path: url.pathname } },
                ),
              );
              return;
            }
            try {
              resolve(JSON.parse(body));
            } catch (cause) {
              reject(
                new ListenerError('ERR_REST_RESPONSE', `Kalshi REST ${url.pathname} answered with invalid JSON`, {
                  cause,
                }),
              );
            }
          });
        },
      );
      req.on('error', (cause) =>
        reject(
          new ListenerError('ERR_REST_TRANSPORT', `Kalshi REST ${url.host} unreachable: ${cause.message}`, { cause }),
        ),
      );
      req.end();
    });
  }
}
