import { Hono, type Context } from 'hono';
import type { Registry } from 'prom-client';
import type { ControlTarget, ListenerStatus } from './status.js';
import { controlAccess, REALM } from './control-access.js';
import { DEFAULT_RECONNECT_MIN_INTERVAL_MS, MinInterval } from './min-interval.js';
import { DEFAULT_READINESS, readiness, type ReadinessLimits } from './readiness.js';
import { RateHistory } from './rate-history.js';
import { renderStatusPage, STATUS_PAGE_CSP } from './status-page.js';

export interface ControlPlaneOptions {
  target: ControlTarget;
  metrics: Registry;
  /**
   * CONTROL_TOKEN: every route but /healthz and /readyz requires it (Bearer, or Basic for reading);
   * routes are open when undefined.
   */
  controlToken?: string;
  /** RECONNECT_MIN_INTERVAL_S in ms: POST /reconnect is accepted at most once per this (default 10 s; 0 = no limit). */
  reconnectMinIntervalMs?: number;
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
  outcome: 'accepted' | 'already_in_progress' | 'unauthorized' | 'rate_limited';
  /** With `rate_limited`: the Retry-After the caller was given, in seconds. */
  retryAfterS?: number;
}

/** What a load balancer, ECS or a probe reads without a token: liveness and readiness only. */
const OPEN_PATHS = new Set(['/healthz', '/readyz']);

/** The Hono app of DESIGN.md §5: status page, health, readiness, status, reconnect, metrics. */
export function createControlPlane(options: ControlPlaneOptions): Hono {
  const app = new Hono();
  const now = options.now ?? Date.now;
  const access = options.controlToken === undefined ? undefined : controlAccess(options.controlToken);
  const reconnects = new MinInterval(options.reconnectMinIntervalMs ?? DEFAULT_RECONNECT_MIN_INTERVAL_MS, now);

  const noRates = new RateHistory();

  // The token guards everything but the probes, unknown paths included (nothing to enumerate).
  // Basic only for reading: a browser resends a Basic login by itself, even with a form another
  // site posts, so a state change (POST /reconnect) takes the Bearer header no browser adds.
  app.use('*', async (c, next) => {
    if (access === undefined || OPEN_PATHS.has(c.req.path)) return next();
    const reading = c.req.method === 'GET' || c.req.method === 'HEAD';
    const credential = access(c.req.header('authorization'));
    if (credential === 'bearer' || (credential === 'basic' && reading)) return next();
    if (c.req.method === 'POST' && c.req.path === '/reconnect')
      options.onReconnectRequest?.({ caller: callerOf(c), outcome: 'unauthorized' });
    // A browser prompts for a login on a Basic challenge only; scripts are told to use Bearer.
    c.header('WWW-Authenticate', `${reading ? 'Basic' : 'Bearer'} realm="${REALM}"`);
    c.header('Cache-Control', 'no-store');
    return c.json({ error: 'unauthorized' }, 401);
  });

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
    const caller = callerOf(c);
    // Only calls with the token count: a stranger cannot use up the operators' reconnects.
    const waitMs = reconnects.take();
    if (waitMs > 0) {
      const retryAfterS = Math.ceil(waitMs / 1000);
      options.onReconnectRequest?.({ caller, outcome: 'rate_limited', retryAfterS });
      c.header('Retry-After', String(retryAfterS));
      return c.json({ error: 'too many reconnects', retryAfterS }, 429);
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

/** The peer address of the HTTP connection, null when the server does not say. */
function callerOf(c: Pick<Context, 'env'>): string | null {
  // @hono/node-server passes the Node request as `incoming`; app.request() passes what a test gives.
  const env = c.env as { incoming?: { socket?: { remoteAddress?: string } } } | undefined;
  return env?.incoming?.socket?.remoteAddress ?? null;
}

function iso(ms: number): string;
function iso(ms: number | null | undefined): string | null;
function iso(ms: number | null | undefined): string | null {
  return ms === undefined || ms === null ? null : new Date(ms).toISOString();
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
      nextAttemptAt: iso(s.nextAttemptAt),
      disconnectedSince: iso(s.disconnectedSince),
      lastError: s.lastError === undefined ? null : { ...s.lastError, at: iso(s.lastError.at) },
      clockSkewMs: s.clockSkewMs ?? null,
      messagesInByType: s.messagesInByType,
      counters: s.counters,
    },
    sessionEvents: status.sessionEvents.map((e) => ({ ...e, at: iso(e.at), firstAt: iso(e.firstAt) })),
    spool: { ...status.spool, sampledAt: iso(status.spool.sampledAt) },
    counters: status.counters,
    journal: status.journal,
    sinks: status.sinks.map((sink) => ({
      ...sink,
      lastSuccessAt: iso(sink.lastSuccessAt),
      lastError: sink.lastError === undefined ? null : { ...sink.lastError, at: iso(sink.lastError.at) },
      ...(sink.nextWriteAt === undefined ? {} : { nextWriteAt: iso(sink.nextWriteAt) }),
    })),
    backfill: {
      ...status.backfill,
      retrying:
        status.backfill.retrying === null
          ? null
          : { ...status.backfill.retrying, at: iso(status.backfill.retrying.at) },
    },
    fatal: status.fatal ?? null,
  };
}
