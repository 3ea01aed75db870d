import { existsSync, mkdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { chromium, type Browser } from 'playwright-core';
import { describe, expect, it, onTestFinished, vi } from 'vitest';
import { tempDir } from '../helpers/records.js';
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
        const browser = await launch();
        onTestFinished(() => browser.close());
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
        expect(reloaded).toBe(true);
        expect(refused).toEqual([]);
        expect(problems).toEqual([]);
        expect(readFileSync(SCREENSHOT).subarray(1, 4).toString()).toBe('PNG');
      },
    );
  });
});
