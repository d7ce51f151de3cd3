// Shared pieces of the browser checks (site.mjs, keyboard.mjs): the system Chromium, contexts
// that record every request to another host, axe-core, small waits, the final JSON line.
//
// Never downloads a browser: playwright-core drives Debian's /usr/bin/chromium (or $CHROMIUM).

import { chromium } from 'playwright-core';
import { createRequire } from 'node:module';

const require = createRequire(import.meta.url);

export const CHROMIUM = process.env.CHROMIUM || '/usr/bin/chromium';

/** The axe-core build injected into pages (pinned in package.json). */
export const AXE_PATH = require.resolve('axe-core/axe.min.js');
export const AXE_VERSION = require('axe-core/package.json').version;
/** The WCAG 2.0 and 2.1 levels A and AA rules. */
export const AXE_TAGS = ['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa'];

export const PHONE = { width: 390, height: 844 };
export const DESKTOP = { width: 1366, height: 900 };

const LAUNCH_ARGS = [
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
  '--disable-features=Translate,MediaRouter,OptimizationHints',
  '--autoplay-policy=no-user-gesture-required',
  '--lang=pl-PL', // the browser's own texts and date fields as a Polish resident sees them
];

export const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
export const round = (x, d = 3) =>
  typeof x === 'number' && Number.isFinite(x) ? Math.round(x * 10 ** d) / 10 ** d : x;
export const firstLine = (e) => String(e && e.message ? e.message : e).split('\n')[0];

/**
 * A run: one Chromium, any number of contexts, and what they saw. Every context made with
 * `context()` records requests to hosts other than BASE's (`thirdParty`), uncaught page errors and
 * Content-Security-Policy violations.
 */
export class Run {
  constructor(base) {
    this.base = base.replace(/\/+$/, '');
    this.origin = new URL(this.base).origin;
    this.browser = null;
    this.thirdParty = [];
    this.pageErrors = [];
    this.cspViolations = [];
    this.consoleErrors = [];
    this.t0 = Date.now();
  }

  async launch() {
    this.browser = await chromium.launch({
      executablePath: CHROMIUM,
      headless: true,
      args: LAUNCH_ARGS,
      timeout: 30000,
    });
    return this;
  }

  url(path) {
    return this.base + path;
  }

  /** A request to anything but our origin (http, https, ws, wss). data: and blob: are local. */
  foreign(url) {
    let u;
    try {
      u = new URL(url);
    } catch {
      return false;
    }
    return ['http:', 'https:', 'ws:', 'wss:'].includes(u.protocol) && u.origin !== this.origin;
  }

  /**
   * A new context; `label` names it in the report. Requests to other hosts are recorded and
   * aborted (so a page that tried one would also miss what it wanted).
   */
  async context(label, options = {}) {
    const ctx = await this.browser.newContext({
      locale: 'pl-PL',
      timezoneId: 'Europe/Warsaw',
      viewport: DESKTOP,
      ...options,
    });
    ctx.setDefaultTimeout(15000);
    ctx.on('request', (req) => {
      if (this.foreign(req.url())) this.thirdParty.push(`${label}: ${req.url()}`);
    });
    // Aborted too: the route only sees other hosts (the predicate runs for every request).
    await ctx.route((u) => this.foreign(u.href), (route) => route.abort('blockedbyclient'));
    ctx.on('page', (page) => this.watch(label, page));
    if (options.javaScriptEnabled !== false && !options.bypassCSP) {
      await ctx.addInitScript(() => {
        window.__cspViolations = [];
        document.addEventListener('securitypolicyviolation', (e) => {
          window.__cspViolations.push(`${e.violatedDirective} ${e.blockedURI}`);
        });
      });
    }
    return ctx;
  }

  watch(label, page) {
    page.on('pageerror', (e) => this.pageErrors.push(`${label}: ${firstLine(e)}`));
    page.on('console', (m) => {
      if (m.type() === 'error' && this.consoleErrors.length < 30) {
        this.consoleErrors.push(`${label} ${page.url()}: ${m.text()}`);
      }
    });
    page.on('websocket', (ws) => {
      if (this.foreign(ws.url())) this.thirdParty.push(`${label}: ${ws.url()}`);
    });
  }

  /** CSP violations the page reported (contexts with the init script). */
  async collectCsp(page) {
    const v = await page.evaluate(() => window.__cspViolations || []).catch(() => []);
    for (const x of v) this.cspViolations.push(`${page.url()}: ${x}`);
  }

  async close() {
    if (this.browser) await Promise.race([this.browser.close().catch(() => {}), sleep(5000)]);
  }
}

/** Logs a context in through the JSON API (its cookie jar is the context's). */
export async function apiLogin(ctx, base, password) {
  const r = await ctx.request.post(base + '/api/v1/login', {
    data: { username: 'admin', password },
  });
  if (!r.ok()) throw new Error(`login: HTTP ${r.status()}`);
  return (await r.json()).csrf_token;
}

/** GET a JSON document from the server (from Node, not from a page). */
export async function getJson(base, path) {
  const r = await fetch(base + path, { headers: { Accept: 'application/json' }, cache: 'no-store' });
  if (!r.ok) throw new Error(`GET ${path}: HTTP ${r.status}`);
  return r.json();
}

export async function getText(base, path) {
  const r = await fetch(base + path, { cache: 'no-store' });
  if (!r.ok) throw new Error(`GET ${path}: HTTP ${r.status}`);
  return r.text();
}

/** WebVTT chapters → [{id, start, end, text}]. */
export function parseVtt(text) {
  const secs = (s) => s.trim().split(':').reduce((a, p) => a * 60 + Number(p), 0);
  const cues = [];
  for (const block of text.replace(/\r\n?/g, '\n').split(/\n\n+/)) {
    const lines = block.split('\n').filter(Boolean);
    const at = lines.findIndex((l) => l.includes('-->'));
    if (at < 0) continue;
    const [a, b] = lines[at].split('-->');
    cues.push({
      id: at > 0 ? lines[at - 1].trim() : '',
      start: secs(a),
      end: secs(b.trim().split(/\s+/)[0]),
      text: lines.slice(at + 1).join(' '),
    });
  }
  return cues;
}

/**
 * Runs axe-core on the page as it is: the WCAG 2.0/2.1 A and AA rules, or only `rules` (ids).
 * Returns the violations, each with its rule, impact and (at most 5) offending nodes.
 */
export async function axe(page, rules = null) {
  const loaded = await page.evaluate(() => typeof window.axe).catch(() => 'undefined');
  if (loaded === 'undefined') await page.addScriptTag({ path: AXE_PATH });
  const runOnly = rules ? { type: 'rule', values: rules } : { type: 'tag', values: AXE_TAGS };
  const result = await page.evaluate(async (only) => {
    const r = await window.axe.run(document, { runOnly: only, resultTypes: ['violations'] });
    return r.violations.map((v) => ({
      id: v.id,
      impact: v.impact,
      help: v.help,
      nodes: v.nodes.slice(0, 5).map((n) => ({
        target: n.target.join(' '),
        html: n.html.slice(0, 200),
        summary: (n.failureSummary || '').slice(0, 300),
      })),
      count: v.nodes.length,
    }));
  }, runOnly);
  return result;
}

/**
 * Prints the one JSON line the Rust test reads and exits (0 when `ok`). A timer guards the whole
 * run against a hang: the result so far is printed if it fires. Its limit is `LIMIT_SECONDS` from
 * the environment (the Rust test sets it a little below its own), else `defaultSeconds` (by hand).
 */
export function reporter(result, defaultSeconds, run) {
  const limitSeconds = Number(process.env.LIMIT_SECONDS) || defaultSeconds;
  let done = false;
  const finish = async (ok, reason) => {
    if (done) return;
    done = true;
    clearTimeout(timer);
    result.ok = ok;
    if (reason) result.reason = reason;
    if (run) {
      result.thirdPartyRequests = run.thirdParty;
      result.pageErrors = run.pageErrors;
      result.cspViolations = run.cspViolations;
      result.consoleErrors = run.consoleErrors;
      result.elapsed = round((Date.now() - run.t0) / 1000, 1);
      await run.close();
    }
    process.stdout.write(JSON.stringify(result) + '\n', () => process.exit(ok ? 0 : 1));
  };
  const timer = setTimeout(() => finish(false, `overall timeout after ${limitSeconds} s` +
    (result.at ? ` (at: ${result.at})` : '')), limitSeconds * 1000);
  return finish;
}

/** document.activeElement described for a report: tag#id.class[data-action] "text". */
export function describeActive(page) {
  return page.evaluate(() => {
    const e = document.activeElement;
    if (!e || e === document.body) return 'body';
    let s = e.tagName.toLowerCase();
    if (e.id) s += '#' + e.id;
    const a = e.getAttribute('data-action');
    if (a) s += `[data-action=${a}]`;
    const i = e.getAttribute('data-item');
    if (i) s += `[data-item=${i}]`;
    return s;
  });
}
