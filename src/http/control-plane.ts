import { createHash, timingSafeEqual } from 'node:crypto';
import { Hono } from 'hono';
import type { Registry } from 'prom-client';
import type { ControlTarget, ListenerStatus } from './status.js';
import { DEFAULT_READINESS, readiness, type ReadinessLimits } from './readiness.js';
import { RateHistory } from './rate-history.js';
import { renderStatusPage, STATUS_PAGE_CSP } from './status-page.js';

export interface ControlPlaneOptions {
  target: ControlTarget;
  metrics: Registry;
  /** Bearer token POST /reconnect requires; routes are open when undefined. */
  controlToken?: string;
  version: string;
  startedAt: number;
  limits?: ReadinessLimits;
  now?: () => number;
  /** Every POST /reconnect, accepted or refused, with the caller's address (the caller logs it). */
  onReconnectRequest?: (request: ReconnectRequest) => void;
  /** The rates GET / charts, sampled by whoever owns the timer (main); empty charts without it. */
  rates?: RateHistory;
  /** This listener's name and its fleet's status pages (FLEET_STATUS_URLS), shown on GET /. */
  listener?: string;
  fleet?: ReadonlyArray<{ name: string; url: string }>;
}

/** Who asked for a reconnect, and what came of it. */
export interface ReconnectRequest {
  /** The peer address of the HTTP connection (null when the server does not say). */
  caller: string | null;
  outcome: 'accepted' | 'already_in_progress' | 'unauthorized';
}

/** The Hono app of DESIGN.md §5: status page, health, readiness, status, reconnect, metrics. */
export function createControlPlane(options: ControlPlaneOptions): Hono {
  const app = new Hono();
  const now = options.now ?? Date.now;
  const tokenDigest = options.controlToken === undefined ? undefined : digest(options.controlToken);

  const noRates = new RateHistory();

  app.get('/', (c) => {
    const uptime = Math.round((now() - options.startedAt) / 1000);
    const html = renderStatusPage({
      status: statusBody(options.target.status(), options, uptime),
      fills: options.target.recentFills?.() ?? [],
      rates: (options.rates ?? noRates).series(),
      now: now(),
      ...(options.listener === undefined ? {} : { listener: options.listener }),
      fleet: options.fleet ?? [],
    });
    c.header('Content-Security-Policy', STATUS_PAGE_CSP);
    c.header('Cache-Control', 'no-store');
    return c.html(html);
  });

  app.get('/healthz', (c) => c.json({ status: 'ok' }));

  app.get('/readyz', (c) => {
    const result = readiness(options.target.status(), options.limits ?? DEFAULT_READINESS);
    return c.json(result.ready ? { ready: true } : { ready: false, reasons: result.reasons }, result.ready ? 200 : 503);
  });

  app.get('/status', (c) =>
    c.json(statusBody(options.target.status(), options, Math.round((now() - options.startedAt) / 1000))),
  );

  app.post('/reconnect', (c) => {
    // @hono/node-server passes the Node request as `incoming`; app.request() in tests passes none.
    const env = c.env as { incoming?: { socket?: { remoteAddress?: string } } } | undefined;
    const caller = env?.incoming?.socket?.remoteAddress ?? null;
    if (tokenDigest !== undefined) {
      const header = c.req.header('authorization') ?? '';
      const presented = /^Bearer (.+)$/i.exec(header)?.[1];
      // Compare digests: constant time, and equal lengths whatever was sent.
      if (presented === undefined || !timingSafeEqual(digest(presented), tokenDigest)) {
        options.onReconnectRequest?.({ caller, outcome: 'unauthorized' });
        c.header('WWW-Authenticate', 'Bearer realm="kalshi-fix-listener"');
        return c.json({ error: 'unauthorized' }, 401);
      }
    }
    const started = options.target.reconnect();
    options.onReconnectRequest?.({ caller, outcome: started ? 'accepted' : 'already_in_progress' });
    return c.json(started ? { reconnecting: true } : { reconnecting: true, alreadyInProgress: true }, 202);
  });

  app.get('/metrics', async (c) => {
    const body = await options.metrics.metrics();
    return c.body(body, 200, { 'Content-Type': options.metrics.contentType });
  });

  app.notFound((c) => c.json({ error: 'not found' }, 404));
  return app;
}

function digest(value: string): Buffer {
  return createHash('sha256').update(value).digest();
}

function iso(ms: number | undefined): string | null {
  return ms === undefined ? null : new Date(ms).toISOString();
}

/** GET /status: the listener's status for a person or a script, times as ISO strings. */
export type StatusBody = ReturnType<typeof statusBody>;

function statusBody(status: ListenerStatus, options: ControlPlaneOptions, uptimeSeconds: number) {
  const s = status.session;
  return {
    version: options.version,
    uptimeSeconds,
    ready: readiness(status, options.limits ?? DEFAULT_READINESS),
    session: {
      state: s.state,
      endpoint: `${s.host}:${s.port}`,
      senderCompId: s.senderCompId,
      targetCompId: s.targetCompId,
      heartbeatIntervalS: s.heartbeatIntervalS,
      seqIn: { next: s.nextInbound, processedThrough: s.processedThrough },
      seqOut: { next: s.nextOutbound },
      lastReceivedAt: iso(s.lastReceivedAt),
      lastSentAt: iso(s.lastSentAt),
      loggedOnAt: iso(s.loggedOnAt),
      recovering: s.recovering ?? null,
      reconnectAttempts: s.reconnectAttempts,
      lastError: s.lastError === undefined ? null : { ...s.lastError, at: iso(s.lastError.at) },
      clockSkewMs: s.clockSkewMs ?? null,
      messagesInByType: s.messagesInByType,
      counters: s.counters,
    },
    counters: status.counters,
    journal: status.journal,
    sinks: status.sinks.map((sink) => ({
      ...sink,
      lastSuccessAt: iso(sink.lastSuccessAt),
      lastError: sink.lastError === undefined ? null : { ...sink.lastError, at: iso(sink.lastError.at) },
    })),
    backfill: status.backfill,
    fatal: status.fatal ?? null,
  };
}
