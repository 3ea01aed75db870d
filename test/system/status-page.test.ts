import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { chromium, type Browser, type Page } from 'playwright-core';
import { describe, expect, it, onTestFinished, vi } from 'vitest';
import { tempDir } from '../helpers/records.js';
import { API_KEY, startSimulator, testKeys } from '../helpers/sim.js';
import { REPO, spawnTs } from '../helpers/spawn.js';

/**
 * The status page (GET /) in a real headless Chromium (Debian's, which .ci/run installs), served
 * by the demo: the in-repo simulator and the service with local sinks, as a new user runs it.
 * Every request that is not to the service's own loopback address is refused and counted, so the
 * page cannot lean on an outside asset. The screenshot goes to test-results/status-page.png.
 */

const CHROMIUM = process.env['KFL_CHROMIUM'] ?? '/usr/bin/chromium';
const SCREENSHOT = join(REPO, 'test-results', 'status-page.png');

async function launch(): Promise<Browser> {
  if (!existsSync(CHROMIUM))
    throw new Error(`no Chromium at ${CHROMIUM}: apt-get install chromium (.ci/run does), or set KFL_CHROMIUM`);
  // Root in CI needs --no-sandbox; the rest keep Chromium off a network this machine does not have.
  return chromium.launch({
    executablePath: CHROMIUM,
    headless: true,
    args: [
      '--no-sandbox',
      '--disable-gpu',
      '--disable-quic',
      '--no-first-run',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
    ],
  });
}

/** A browser page that refuses every host but `origin` and collects what goes wrong in it. */
async function pageOn(browser: Browser, origin: string) {
  const page = await browser.newPage({ viewport: { width: 1280, height: 900 } });
  const refused: string[] = [];
  const problems: string[] = [];
  await page.route('**/*', async (route) => {
    if (route.request().url().startsWith(`${origin}/`)) return route.continue();
    refused.push(route.request().url());
    return route.abort();
  });
  page.on('console', (message) => {
    if (message.type() === 'error') problems.push(message.text());
  });
  page.on('pageerror', (error) => problems.push(error.message));
  return { page, refused, problems };
}

/** The session events as the page lists them, newest first: [row class, event, code, what happened]. */
async function sessionEvents(page: Page): Promise<string[][]> {
  const rows = await page.locator('#session-events tbody tr').all();
  return Promise.all(
    rows.map(async (row) => [
      (await row.getAttribute('class')) ?? '',
      ...(await row.locator('td').allTextContents()).slice(1),
    ]),
  );
}

const text = async (page: Page, selector: string): Promise<string> =>
  (await page.locator(selector).textContent()) ?? '';

const fillsIn = (file: string): string[] =>
  existsSync(file)
    ? readFileSync(file, 'utf8')
        .split('\n')
        .filter(Boolean)
        .map((line) => (JSON.parse(line) as { exec_id: string }).exec_id)
    : [];

describe('status page', () => {
  describe('GET / in Chromium', () => {
    it(
      'renders the session, the simulator fills and the rate charts, refreshes itself, and loads nothing from outside',
      {
        timeout: 90_000,
      },
      async () => {
        // Prepare: the demo, in a fresh directory; a browser that refuses every other host.
        const cwd = tempDir('status-page-');
        const demo = spawnTs('src/app/cli.ts', ['demo'], {
          cwd,
          env: { ...process.env, HTTP_PORT: '0', LOG_LEVEL: 'info' },
        });
        onTestFinished(async () => {
          demo.child.kill('SIGTERM');
          await demo.exited;
        });
        const port = Number((await demo.waitForOutput(/"httpPort":(\d+)/))[1]);
        const origin = `http://127.0.0.1:${port}`;
        const fillsFile = join(cwd, 'data', 'fills.jsonl');
        await vi.waitFor(() => expect(fillsIn(fillsFile).length).toBeGreaterThanOrEqual(3), {
          timeout: 30_000,
          interval: 200,
        });
        // An operator's reconnect, so the session events have a logout, a disconnect and a logon again.
        const reconnect = await fetch(`${origin}/reconnect`, { method: 'POST' });
        await vi.waitFor(
          async () => {
            const status = (await (await fetch(`${origin}/status`)).json()) as {
              session: { state: string; counters: { logons: number } };
            };
            expect(status.session).toMatchObject({ state: 'active', counters: { logons: 2 } });
          },
          { timeout: 20_000, interval: 200 },
        );
        const browser = await launch();
        onTestFinished(() => browser.close());
        const { page, refused, problems } = await pageOn(browser, origin);

        // Act: open it once the rates have two samples (one every 10 s), so both charts draw.
        await vi.waitFor(
          async () => {
            await page.goto(`${origin}/`);
            expect(await page.locator('#reports-chart polyline').count()).toBe(2);
          },
          { timeout: 40_000, interval: 2000 },
        );
        const state = await page.locator('#session-state').textContent();
        const ready = await page.locator('#ready').textContent();
        const shown = await page.locator('#fills tbody tr td code').allTextContents();
        const sinks = await page.locator('#sinks tbody tr td:first-child').allTextContents();
        const title = await page.title();
        const events = await sessionEvents(page);
        const parquetWhy = await text(page, '#sinks tbody tr:nth-child(2) td.why');
        const dropCopy = await text(page, '#drop-copy-state');
        const spoolFree = await text(page, '#spool-free');
        const down = [await text(page, '#disconnected-since'), await text(page, '#next-try')];
        const reconnects = await text(page, '#reconnects');
        const outage = await page.locator('#outage').count();
        mkdirSync(join(REPO, 'test-results'), { recursive: true });
        await page.screenshot({ path: SCREENSHOT, fullPage: true });
        // The page reloads itself (a meta refresh, no script): the next load comes within ~5 s.
        const reloaded = await page.waitForEvent('load', { timeout: 10_000 }).then(() => true);

        // Assess
        expect(state).toBe('active');
        expect(ready).toBe('ready');
        expect(title).toMatch(/^active · default kalshi-fix-listener/);
        expect(sinks).toEqual(['archive', 'parquet', 'fills']);
        expect(shown.length).toBeGreaterThanOrEqual(1);
        expect(shown.length).toBeLessThanOrEqual(20);
        const published = fillsIn(fillsFile);
        for (const execId of shown) expect(published).toContain(execId);
        expect(await page.locator('#fills-chart svg').count()).toBe(1);
        // What happened: the reconnect, newest first, with its reason.
        expect(reconnect.status).toBe(202);
        expect(events).toEqual([
          ['logon', 'logon', '—', expect.stringMatching(/^logged on, resuming at MsgSeqNum \d+$/) as unknown as string],
          ['disconnected', 'disconnect', '—', 'connection closed'],
          ['logout', 'logout', '—', 'the listener logged out: operator requested reconnect'],
          ['logon', 'logon', '—', expect.stringMatching(/^logged on/) as unknown as string],
        ]);
        expect(down).toEqual(['—', '—']);
        expect(outage).toBe(0);
        expect(reconnects).toBe('1 / 0');
        expect(dropCopy).toBe('idle (ready to replay a gap)');
        expect(spoolFree).toMatch(
          /^\d+(\.\d)? (B|KiB|MiB|GiB|TiB|PiB|EiB) of \d+(\.\d)? \w+ \(\d+(\.\d)? %\), read \d+ s ago$/,
        );
        // The Parquet copy is built once an hour has closed, plus ARCHIVE_GRACE_S (300 s by default) and a minute.
        expect(parquetWhy).toMatch(
          /^waiting for hour \d\d:00 UTC to close \+ 5 min grace \(built from its JSONL at \d\d:06:00 UTC\)/,
        );
        expect(reloaded).toBe(true);
        expect(refused).toEqual([]);
        expect(problems).toEqual([]);
        expect(readFileSync(SCREENSHOT).subarray(1, 4).toString()).toBe('PNG');
      },
    );

    it(
      'while the exchange is unreachable: since when, the next try, the attempts and each disconnect with its reason; then the logon',
      { timeout: 90_000 },
      async () => {
        // Prepare: `run` logged on to a simulator of the test's own (so it can be taken away).
        const { sim, address } = await startSimulator({ ports: { KalshiRT: 0 } });
        onTestFinished(() => sim.stop());
        const root = tempDir('status-page-outage-');
        const caFile = join(root, 'ca.pem');
        writeFileSync(caFile, (await testKeys().certificate).cert);
        const listener = spawnTs('src/app/cli.ts', ['run'], {
          env: {
            PATH: process.env['PATH'],
            FIX_HOST: '127.0.0.1',
            FIX_PORT: String(address.ports.KalshiRT),
            FIX_TARGET_COMP_ID: 'KalshiRT',
            FIX_API_KEY: API_KEY,
            FIX_PRIVATE_KEY: testKeys().privateKey.export({ type: 'pkcs8', format: 'pem' }).toString(),
            FIX_TLS_CA_FILE: caFile,
            ARCHIVE_URL: `file://${join(root, 'archive')}`,
            FILLS_QUEUE_URL: `file://${join(root, 'fills.jsonl')}`,
            SPOOL_DIR: join(root, 'spool'),
            HTTP_PORT: '0',
            LOG_LEVEL: 'info',
          },
        });
        onTestFinished(async () => {
          listener.child.kill('SIGTERM');
          await listener.exited;
        });
        const port = Number((await listener.waitForOutput(/"httpPort":(\d+)/))[1]);
        await listener.waitForOutput(/"msg":"logged on"/);
        const origin = `http://127.0.0.1:${port}`;
        const browser = await launch();
        onTestFinished(() => browser.close());
        const { page, refused, problems } = await pageOn(browser, origin);

        // Act: the exchange logs everyone out for maintenance and turns every new connection away.
        sim.pauseAccepting(true);
        sim.logoutAll('scheduled maintenance');
        await vi.waitFor(
          async () => {
            await page.goto(`${origin}/`);
            expect(Number((await text(page, '#reconnects')).split(' / ')[1])).toBeGreaterThanOrEqual(3);
            expect(await text(page, '#next-try')).toMatch(/^in /);
          },
          { timeout: 30_000, interval: 250 },
        );
        const state = await text(page, '#session-state');
        const outage = await text(page, '#outage');
        const since = await text(page, '#disconnected-since');
        const nextTry = await text(page, '#next-try');
        const attempts = Number((await text(page, '#reconnects')).split(' / ')[1]);
        const whileDown = await sessionEvents(page);
        sim.pauseAccepting(false);
        await vi.waitFor(
          async () => {
            await page.goto(`${origin}/`);
            expect(await text(page, '#session-state')).toBe('active');
          },
          { timeout: 60_000, interval: 250 },
        );
        const back = await sessionEvents(page);
        const sinceWhenBack = await text(page, '#disconnected-since');
        const outageWhenBack = await page.locator('#outage').count();

        // Assess: the header says it first; the table says it in detail.
        expect(state).toBe('disconnected');
        expect(outage).toMatch(
          new RegExp(
            `^Not logged on since \\d+ s ago, at \\d\\d:\\d\\d:\\d\\d UTC · next try in \\d+ s \\(\\d\\d:\\d\\d:\\d\\d UTC\\) · ${attempts} failed attempts · last: ERR_`,
          ),
        );
        expect(since).toMatch(/^\d+ s ago, at \d\d:\d\d:\d\d UTC$/);
        expect(nextTry).toMatch(/^in \d+ s \(\d\d:\d\d:\d\d UTC\)$/);
        // Newest first: the refused attempts (the same refusal in a row is one row, counted; each
        // failed attempt but the one after the Logout is one), the exchange's Logout with its Text
        // and the disconnect it caused, and the first logon. An attempt turned away right after
        // the handshake ends as a close, or as a reset if it lands on our Logon.
        const cut = whileDown.findIndex((row) => row[2] === 'ERR_FIX_LOGOUT');
        const refusals = whileDown.slice(0, cut);
        for (const row of refusals) {
          expect(row[0]).toBe('disconnected');
          expect(row[1]).toMatch(/^disconnect( ×\d+ since \d\d:\d\d:\d\d UTC)?$/);
          expect(['ERR_FIX_PEER_CLOSED', 'ERR_FIX_TRANSPORT']).toContain(row[2]);
          expect(row[3]).toContain(`127.0.0.1:${address.ports.KalshiRT}`);
        }
        const refusedTimes = refusals.reduce((sum, row) => sum + Number(/×(\d+)/.exec(row[1]!)?.[1] ?? 1), 0);
        expect(refusedTimes).toBe(attempts - 1);
        expect(whileDown.slice(cut)).toEqual([
          ['disconnected', 'disconnect', 'ERR_FIX_LOGOUT', 'KalshiRT logged the session out: scheduled maintenance'],
          ['logout', 'logout', '—', 'the exchange logged out: scheduled maintenance'],
          ['logon', 'logon', '—', expect.stringMatching(/^logged on/) as unknown as string],
        ]);
        expect(back[0]![0]).toBe('logon');
        expect(back.slice(1)).toEqual(whileDown);
        expect(sinceWhenBack).toBe('—');
        expect(outageWhenBack).toBe(0);
        expect(refused).toEqual([]);
        expect(problems).toEqual([]);
      },
    );
  });
});
