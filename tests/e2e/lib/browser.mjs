// Debian's Chromium driven by playwright-core, with the fake camera and microphone playing our
// known media. One browser per test, one context per participant (cheaper than a browser each).

import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { chromium } from 'playwright-core';
import { ensureMedia } from './media.mjs';
import { REPO_ROOT } from './server.mjs';

export const CHROMIUM = process.env.CHROMIUM ?? '/usr/bin/chromium';
export const RESULTS_DIR = join(REPO_ROOT, 'tests', 'e2e', 'results');

/**
 * Launches headless Chromium with fake media devices.
 * @param {{video?: string}} [opts] another clip for the fake camera (absolute path)
 */
export async function launchBrowser(opts = {}) {
  const media = { ...ensureMedia(), ...opts };
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
      '--use-fake-device-for-media-stream',
      '--use-fake-ui-for-media-stream',
      '--allow-loopback-in-peer-connection',
      '--autoplay-policy=no-user-gesture-required',
      `--use-file-for-fake-video-capture=${media.video}`,
      `--use-file-for-fake-audio-capture=${media.audio}`,
    ],
  });
}

/**
 * Keeps what a page said (console, page errors, failed requests) for failure reports.
 */
class PageLog {
  constructor() {
    /** @type {string[]} */
    this.lines = [];
    this.t0 = Date.now();
  }
  add(kind, text) {
    const t = ((Date.now() - this.t0) / 1000).toFixed(2).padStart(7);
    this.lines.push(`${t}s ${kind}: ${text}`);
    if (this.lines.length > 400) this.lines.splice(0, this.lines.length - 400);
  }
}

/**
 * One test's world: a server, a browser, participants; dumps everything useful on failure.
 */
export class Scenario {
  /** @param {string} label used for screenshot file names */
  constructor(label) {
    this.label = label.replace(/[^A-Za-z0-9_-]+/g, '-').slice(0, 60);
    /** @type {import('./server.mjs').MootServer | null} */
    this.server = null;
    /** @type {import('playwright-core').Browser | null} */
    this.browser = null;
    /** @type {{name: string, page: import('playwright-core').Page, log: PageLog}[]} */
    this.pages = [];
    /** @type {(() => Promise<void>)[]} */
    this.cleanups = [];
  }

  async browserOnce() {
    if (!this.browser) this.browser = await launchBrowser();
    return this.browser;
  }

  /**
   * A new participant: its own browser context (own storage, own fake devices).
   * @param {string} name display name, also used in reports
   * @param {import('playwright-core').BrowserContextOptions} [contextOptions] more options for its context
   */
  async newPage(name, contextOptions = {}) {
    const browser = await this.browserOnce();
    const context = await browser.newContext({
      permissions: ['camera', 'microphone'],
      viewport: { width: 1280, height: 720 },
      ...contextOptions,
    });
    const page = await context.newPage();
    page.setDefaultTimeout(20_000);
    const log = new PageLog();
    page.on('console', (m) => log.add(`console.${m.type()}`, m.text()));
    page.on('pageerror', (e) => log.add('PAGE ERROR', e.stack ?? String(e)));
    page.on('requestfailed', (r) =>
      log.add('request failed', `${r.method()} ${r.url()} ${r.failure()?.errorText ?? ''}`),
    );
    page.on('response', (r) => {
      if (r.status() >= 400) log.add('http', `${r.status()} ${r.request().method()} ${r.url()}`);
    });
    page.on('websocket', (ws) => {
      log.add('websocket', `open ${ws.url()}`);
      ws.on('close', () => log.add('websocket', `closed ${ws.url()}`));
    });
    this.pages.push({ name, page, log });
    return page;
  }

  /** Writes screenshots, ARIA snapshots, page logs and server output to stderr / results/. */
  async dump(err) {
    const out = [];
    out.push(`\n======== diagnostics for "${this.label}": ${err?.message?.split('\n')[0] ?? err}`);
    try {
      mkdirSync(RESULTS_DIR, { recursive: true });
    } catch {
      /* best effort */
    }
    for (const { name, page, log } of this.pages) {
      out.push(`\n-------- page of ${name}: ${page.isClosed() ? '(closed)' : page.url()}`);
      if (!page.isClosed()) {
        try {
          const file = join(RESULTS_DIR, `${this.label}-${name}.png`);
          await page.screenshot({ path: file, timeout: 5_000 });
          out.push(`screenshot: ${file}`);
        } catch (e) {
          out.push(`(no screenshot: ${e.message.split('\n')[0]})`);
        }
        try {
          const aria = await page.locator('body').ariaSnapshot({ timeout: 5_000 });
          out.push('accessibility tree:', aria);
        } catch (e) {
          out.push(`(no accessibility tree: ${e.message.split('\n')[0]})`);
        }
      }
      out.push('log:', ...(log.lines.length ? log.lines.slice(-120) : ['(empty)']));
    }
    if (this.server) {
      const lines = this.server.output().split('\n');
      out.push(`\n-------- server output (last ${Math.min(lines.length, 150)} lines):`);
      out.push(...lines.slice(-150));
      const ex = this.server.exited();
      if (ex) out.push(`SERVER EXITED: ${JSON.stringify(ex)}`);
    }
    out.push('======== end of diagnostics\n');
    process.stderr.write(out.join('\n') + '\n');
  }

  async close() {
    for (const f of this.cleanups.reverse()) {
      try {
        await f();
      } catch {
        /* keep closing the rest */
      }
    }
    if (this.browser) await this.browser.close().catch(() => {});
    if (this.server) await this.server.stop().catch(() => {});
  }
}

/**
 * Runs `body` with a fresh Scenario (server started, nothing else yet), always closing it and
 * printing diagnostics when the body throws.
 * @template T
 * @param {string} label
 * @param {(s: Scenario) => Promise<T>} body
 * @param {Parameters<typeof import('./server.mjs').startServer>[0]} [serverOptions]
 * @returns {Promise<T>}
 */
export async function withScenario(label, body, serverOptions) {
  const { startServer } = await import('./server.mjs');
  const s = new Scenario(label);
  try {
    s.server = await startServer(serverOptions);
    return await body(s);
  } catch (err) {
    await s.dump(err);
    throw err;
  } finally {
    await s.close();
  }
}
