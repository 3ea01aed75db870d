import { SESSION_EVENTS_KEPT, type FillView } from '../core/status.js';
import type { StatusBody } from './control-plane.js';
import type { RateSeries } from './rate-history.js';

/** Seconds between the page's own reloads. */
export const STATUS_PAGE_REFRESH_S = 5;

/**
 * What GET / may load: nothing from anywhere (styles and charts are inline, the refresh is a meta
 * tag), so the page works on a host without internet and leaks nothing when opened.
 */
export const STATUS_PAGE_CSP = "default-src 'none'; style-src 'unsafe-inline'; img-src data:; base-uri 'none'";

export interface StatusPageView {
  status: StatusBody;
  fills: readonly FillView[];
  rates: RateSeries;
  now: number;
  /** LISTENER_NAME, in the title and the heading. */
  listener?: string;
  /** The fleet's status pages, linked at the top (this listener's own marked). */
  fleet?: ReadonlyArray<{ name: string; url: string }>;
}

/**
 * GET /: the listener for a person, server-rendered from what /status says, with the last fills
 * and the rates of the last minutes. No script and no build step; every value is escaped.
 */
export function renderStatusPage(view: StatusPageView): string {
  const { status: s, fills, rates, now } = view;
  const session = s.session;
  const ready = s.ready.ready;
  const name = view.listener === undefined ? '' : ` ${view.listener}`;
  const title = `${session.state}${ready ? '' : ' · not ready'} ·${name} kalshi-fix-listener`;
  const fleet = view.fleet ?? [];
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta http-equiv="refresh" content="${STATUS_PAGE_REFRESH_S}">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>${esc(title)}</title>
<style>${STYLE}</style>
</head>
<body>
<header>
  <h1>kalshi-fix-listener${view.listener === undefined ? '' : ` <span id="listener">${esc(view.listener)}</span>`} <small>${esc(s.version)} · up ${esc(duration(s.uptimeSeconds))}</small></h1>
  ${
    fleet.length === 0
      ? ''
      : `<nav id="fleet">Fleet: ${fleet
          .map((f) =>
            f.name === view.listener
              ? `<strong>${esc(f.name)}</strong>`
              : `<a href="${esc(safeUrl(f.url))}">${esc(f.name)}</a>`,
          )
          .join(' · ')}</nav>`
  }
  <p class="badges">
    <span class="badge ${stateTone(session.state, session.recovering !== null)}" id="session-state">${esc(session.state)}${session.recovering === null ? '' : ' · recovering'}</span>
    <span class="badge ${ready ? 'ok' : 'bad'}" id="ready">${ready ? 'ready' : 'not ready'}</span>
    ${s.fatal === null ? '' : `<span class="badge bad">fatal: ${esc(s.fatal)}</span>`}
  </p>
  ${ready ? '' : `<ul class="reasons">${s.ready.reasons.map((r) => `<li>${esc(r)}</li>`).join('')}</ul>`}
  ${outage(s, now)}
</header>
<main>
<section class="charts">
  ${chart('Execution reports/s', 'reports-chart', rates.at, rates.reportsPerSecond, rates.intervalMs)}
  ${chart('Fills sent/s', 'fills-chart', rates.at, rates.fillsPerSecond, rates.intervalMs)}
</section>
<section class="grid">
${table('Session', [
  ['Endpoint', session.endpoint],
  ['Comp IDs', `${session.senderCompId} → ${session.targetCompId}`],
  ['Seq in (next / processed through)', `${session.seqIn.next} / ${session.seqIn.processedThrough}`],
  ['Seq out (next)', String(session.seqOut.next)],
  ['Recovering', session.recovering === null ? '—' : `${session.recovering.from}–${session.recovering.to}`],
  ['Last received', ago(session.lastReceivedAt, now)],
  ['Last sent', ago(session.lastSentAt, now)],
  ['Logged on', ago(session.loggedOnAt, now)],
  ['Heartbeat', `${session.heartbeatIntervalS} s`],
  ['Disconnected since', since(session.disconnectedSince, now), 'disconnected-since'],
  ['Next try in', nextTry(session.state, session.nextAttemptAt, now), 'next-try'],
  ['Reconnects / failed tries', `${session.counters.reconnects} / ${session.reconnectAttempts}`, 'reconnects'],
  ['Last error', session.lastError === null ? '—' : `${session.lastError.code}: ${session.lastError.message}`],
])}
${table('Counters', [
  ['Execution reports', String(s.counters.executionReports)],
  ['Duplicates dropped', String(s.counters.duplicatesDropped)],
  ['Fills published', String(s.counters.fillsPublished)],
  ['Journal (last / durable LSN)', `${s.journal.lastLsn} / ${s.journal.durableLsn}`],
  [
    'Journal stalled',
    s.journal.integrity.stalled === null
      ? 'no'
      : `${s.journal.integrity.stalled.code}, since ${ago(s.journal.integrity.stalled.since, now)}`,
  ],
  ['Journal damage', String(s.journal.integrity.damage.length)],
  ['Spool free', spoolFree(s.spool, now), 'spool-free'],
  ['Holes', String(s.backfill.holes.length)],
])}
${table('Drop copy', [
  ['State', dropCopyState(s.backfill, now), 'drop-copy-state'],
  ['Endpoint', s.backfill.endpoint ?? '—'],
  ['Runs / recovered / duplicates', `${s.backfill.runs} / ${s.backfill.recovered} / ${s.backfill.duplicatesDropped}`],
  [
    'Last run',
    s.backfill.lastRun === null
      ? '—'
      : `${s.backfill.lastRun.outcome}, ${ago(s.backfill.lastRun.at, now)}: ${s.backfill.lastRun.replayed} replayed, ${s.backfill.lastRun.recovered} recovered`,
  ],
])}
</section>
<section>
<h2>Session events <small>(the last ${SESSION_EVENTS_KEPT}, newest first)</small></h2>
${
  s.sessionEvents.length === 0
    ? '<p id="session-events">None since the start.</p>'
    : `<table id="session-events"><thead><tr><th>When</th><th>Event</th><th>Code</th><th>What happened</th></tr></thead><tbody>${s.sessionEvents
        .map(
          (e) =>
            `<tr class="${e.kind}"><td>${esc(ago(e.at, now))}, ${esc(clock(e.at))}</td><td>${esc(eventName(e.kind))}${e.count > 1 ? ` ×${e.count} <small>since ${esc(clock(e.firstAt))}</small>` : ''}</td><td>${e.code === null ? '—' : `<code>${esc(e.code)}</code>`}</td><td>${esc(e.text)}</td></tr>`,
        )
        .join('\n')}</tbody></table>`
}
</section>
<section>
<h2>Sinks</h2>
<table id="sinks">
<thead><tr><th>Sink</th><th>Lag</th><th>Oldest pending</th><th>Pending</th><th>Pending because</th><th>Dead letters</th><th>Last success</th><th>Last error</th></tr></thead>
<tbody>
${s.sinks
  .map(
    (k) =>
      `<tr><td title="${esc(k.location)}">${esc(k.name)}</td><td class="${k.lagSeconds > 0 ? 'warn' : ''}">${k.lagSeconds.toFixed(1)} s</td><td>${(k.oldestPendingAgeSeconds ?? 0).toFixed(1)} s</td><td>${k.pendingRecords}</td><td class="why">${esc(k.pendingReason ?? '—')}</td><td class="${k.deadLetters > 0 ? 'bad' : ''}">${k.deadLetters}</td><td>${esc(ago(k.lastSuccessAt, now))}</td><td>${k.lastError === null ? '—' : esc(`${k.lastError.code ?? ''} ${k.lastError.message}`)}</td></tr>`,
  )
  .join('\n')}
</tbody>
</table>
</section>
<section>
<h2>Holes <small>(reports that may be missing: run <code>reconcile</code> for the window)</small></h2>
${
  s.backfill.holes.length === 0
    ? '<p id="holes">None.</p>'
    : `<table id="holes"><thead><tr><th>From</th><th>To</th><th>Reason</th></tr></thead><tbody>${s.backfill.holes
        .map((h) => `<tr><td>${esc(h.from)}</td><td>${esc(h.to)}</td><td>${esc(h.reason)}</td></tr>`)
        .join('')}</tbody></table>`
}
</section>
<section>
<h2>Last fills <small>(newest first, as the queue took them)</small></h2>
${
  fills.length === 0
    ? '<p id="fills">No fill sent since the start.</p>'
    : `<table id="fills"><thead><tr><th>Received</th><th>Symbol</th><th>Side</th><th>Qty</th><th>Price</th><th>ExecID</th></tr></thead><tbody>${fills
        .map(
          (f) =>
            `<tr><td>${esc(f.receivedAt)}</td><td>${esc(f.symbol ?? '—')}</td><td>${esc(sideName(f.side))}</td><td>${esc(f.lastQty ?? '—')}</td><td>${esc(f.lastPx ?? '—')}</td><td><code>${esc(f.execId)}</code></td></tr>`,
        )
        .join('\n')}</tbody></table>`
}
</section>
</main>
<footer>Refreshes every ${STATUS_PAGE_REFRESH_S} s · <a href="/status">/status</a> · <a href="/readyz">/readyz</a> · <a href="/metrics">/metrics</a> · rendered ${esc(new Date(now).toISOString())}</footer>
</body>
</html>
`;
}

const STYLE = `
body{font:14px/1.4 system-ui,sans-serif;margin:0;color:#1d2430;background:#f5f6f8}
header,main,footer{padding:12px 20px}header{background:#fff;border-bottom:1px solid #dde1e6}
h1{font-size:18px;margin:0 0 6px}h1 small,h2 small{font-weight:normal;color:#5c6677;font-size:13px}
h2{font-size:15px;margin:18px 0 6px}
.badges{margin:0}.badge{display:inline-block;padding:2px 10px;border-radius:10px;font-weight:600;margin-right:6px}
.ok{background:#d7f2df;color:#14532d}.warn{background:#fff1c2;color:#713f12}.bad{background:#fde0e0;color:#7f1d1d}
.reasons{margin:6px 0 0;color:#7f1d1d}.outage{margin:6px 0 0;color:#713f12;font-weight:600}
tr.logon td:nth-child(2){color:#14532d;font-weight:600}tr.disconnected td:nth-child(2){color:#7f1d1d;font-weight:600}
td.why{color:#5c6677;font-size:13px}#sinks td:not(.why){white-space:nowrap}nav{margin:4px 0 8px;font-size:13px}#listener{color:#2563eb}
.grid{display:grid;grid-template-columns:repeat(auto-fit,minmax(360px,1fr));gap:16px}
.charts{display:grid;grid-template-columns:repeat(auto-fit,minmax(300px,1fr));gap:16px}
figure{margin:0;background:#fff;border:1px solid #dde1e6;border-radius:6px;padding:8px 12px}
figcaption{font-weight:600}svg{display:block;width:100%;height:70px}
table{border-collapse:collapse;background:#fff;width:100%;border:1px solid #dde1e6}
th,td{text-align:left;padding:4px 8px;border-bottom:1px solid #eef0f3;vertical-align:top}
th{background:#fafbfc;font-weight:600}td.ok,td.warn,td.bad{font-weight:600}
code{font-size:12px}footer{color:#5c6677;font-size:12px}
`;

/** Rows of label, value and (for the cells tests and readers look up) an id. */
function table(title: string, rows: Array<[string, string, string?]>): string {
  return `<div><h2>${esc(title)}</h2><table>${rows.map(([k, v, id]) => `<tr><th>${esc(k)}</th><td${id === undefined ? '' : ` id="${id}"`}>${esc(v)}</td></tr>`).join('')}</table></div>`;
}

/** The line an operator reads first while the session is down: since when, and the next try. */
function outage(s: StatusBody, now: number): string {
  const session = s.session;
  if (session.disconnectedSince === null) return '';
  const last = s.sessionEvents.find((e) => e.kind === 'disconnected');
  return `<p class="outage" id="outage">Not logged on since ${esc(since(session.disconnectedSince, now))} · next try ${esc(nextTry(session.state, session.nextAttemptAt, now))} · ${session.reconnectAttempts} failed attempt${session.reconnectAttempts === 1 ? '' : 's'}${last === undefined ? '' : ` · last: ${esc(last.code === null ? last.text : `${last.code}: ${last.text}`)}`}</p>`;
}

/** "2 min ago, at 17:01:02 UTC"; — when logged on. */
function since(when: string | null, now: number): string {
  return when === null ? '—' : `${ago(when, now)}, at ${clock(when)}`;
}

/** When the session tries again: a countdown while a reconnect waits, "now" while it connects. */
function nextTry(state: string, at: string | null, now: number): string {
  if (at !== null) return `in ${duration(Math.max(0, Math.ceil((Date.parse(at) - now) / 1000)))} (${clock(at)})`;
  if (state === 'connecting' || state === 'logon_sent') return 'now (connecting)';
  return '—';
}

function eventName(kind: string): string {
  return kind === 'disconnected' ? 'disconnect' : kind;
}

function spoolFree(spool: StatusBody['spool'], now: number): string {
  if (spool.freeBytes === null || spool.totalBytes === null)
    return spool.error === null ? 'sampling…' : `unknown (${spool.error})`;
  const share = spool.totalBytes === 0 ? 0 : (100 * spool.freeBytes) / spool.totalBytes;
  const stale = spool.error === null ? '' : `; the last sample failed (${spool.error})`;
  return `${bytes(spool.freeBytes)} of ${bytes(spool.totalBytes)} (${share.toFixed(share < 10 ? 1 : 0)} %), read ${ago(spool.sampledAt, now)}${stale}`;
}

function dropCopyState(b: StatusBody['backfill'], now: number): string {
  if (!b.configured) return 'not configured: gaps a logon cannot resend become holes';
  if (b.disabled !== null) return `disabled: ${b.disabled}`;
  if (b.retrying !== null)
    return `retrying (attempt ${b.retrying.attempt} failed: ${b.retrying.why}), next in ${duration(Math.max(0, Math.ceil((Date.parse(b.retrying.at) - now) / 1000)))}`;
  return b.running ? 'replaying' : 'idle (ready to replay a gap)';
}

/** "1.5 GiB": binary units, as df -h. */
function bytes(n: number): string {
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB', 'PiB', 'EiB'];
  let value = n;
  let unit = 0;
  while (value >= 1024 && unit < units.length - 1) {
    value /= 1024;
    unit++;
  }
  return `${value.toFixed(unit === 0 || value >= 100 ? 0 : 1)} ${units[unit]}`;
}

/** "17:01:02 UTC" from an ISO time or epoch ms. */
function clock(when: string | number): string {
  return `${new Date(when).toISOString().slice(11, 19)} UTC`;
}

/** A sparkline with its latest and highest value; time runs left to right. */
function chart(
  title: string,
  id: string,
  at: readonly number[],
  values: readonly number[],
  intervalMs: number,
): string {
  const width = 300;
  const height = 60;
  const max = Math.max(0, ...values);
  const latest = values.at(-1);
  const caption = `${esc(title)} <small>now ${latest === undefined ? '—' : rate(latest)}, peak ${rate(max)}, last ${duration(Math.round((values.length * intervalMs) / 1000))}</small>`;
  if (values.length < 2)
    return `<figure id="${id}"><figcaption>${caption}</figcaption><svg viewBox="0 0 ${width} ${height}" role="img" aria-label="${esc(title)}: collecting"><text x="4" y="34" fill="#5c6677" font-size="12">collecting…</text></svg></figure>`;
  const first = at[0]!;
  const span = Math.max(1, at.at(-1)! - first);
  const points = values
    .map((v, i) => {
      const x = ((at[i]! - first) / span) * width;
      const y = height - 2 - (max === 0 ? 0 : (v / max) * (height - 4));
      return `${x.toFixed(1)},${y.toFixed(1)}`;
    })
    .join(' ');
  return `<figure id="${id}"><figcaption>${caption}</figcaption><svg viewBox="0 0 ${width} ${height}" preserveAspectRatio="none" role="img" aria-label="${esc(title)}"><polyline points="0,${height} ${points} ${width},${height}" fill="#dbe7fb" stroke="none"/><polyline points="${points}" fill="none" stroke="#2563eb" stroke-width="1.5"/></svg></figure>`;
}

function rate(perSecond: number): string {
  return perSecond >= 100 ? perSecond.toFixed(0) : perSecond.toFixed(perSecond >= 10 ? 1 : 2);
}

function stateTone(state: string, recovering: boolean): string {
  if (state === 'active') return recovering ? 'warn' : 'ok';
  return state === 'connecting' || state === 'logon_sent' ? 'warn' : 'bad';
}

function sideName(side: string | null): string {
  return side === '1' ? 'buy' : side === '2' ? 'sell' : (side ?? '—');
}

/** "12 s ago (2026-11-30T17:01:02.000Z)" from an ISO time or epoch ms; — when never. */
function ago(when: string | number | null | undefined, now: number): string {
  if (when === null || when === undefined) return '—';
  const ms = typeof when === 'number' ? when : Date.parse(when);
  return `${duration(Math.max(0, Math.round((now - ms) / 1000)))} ago`;
}

function duration(seconds: number): string {
  if (seconds < 120) return `${seconds} s`;
  if (seconds < 7200) return `${Math.floor(seconds / 60)} min`;
  if (seconds < 172_800) return `${Math.floor(seconds / 3600)} h`;
  return `${Math.floor(seconds / 86_400)} d`;
}

/** Only http(s) links: a fleet URL is configuration, but never a javascript: one. */
function safeUrl(url: string): string {
  return /^https?:\/\//i.test(url) ? url : '#';
}

const ESCAPES: Record<string, string> = { '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' };

function esc(value: string): string {
  return value.replace(/[&<>"']/g, (c) => ESCAPES[c]!);
}
