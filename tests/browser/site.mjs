#!/usr/bin/env node
// The operator's console and the residents' site in the system Chromium (headless), end to end
// against a fresh obrady:
//
//   ADMIN_PASSWORD=... FIXTURE=agenda.json SCREENSHOT_DIR=target/screenshots node site.mjs BASE_URL
//
// 1. Operator (PL): logs in at /logowanie, uploads the agenda file in /konsola, checks the preview,
//    saves, opens the session, starts it, begins three items with their buttons and one with the
//    `n` shortcut, recesses, resumes and stops (through the confirmation dialog). After every step
//    the console shows it (state banner, current item, agenda, timeline) and the catalog has it
//    (GET /api/v1/sessions/{id}: state and the timeline's kinds in order).
// 2. Resident (anonymous context): /sesje/{id} while live plays (currentTime advances, no fatal
//    hls.js error) and highlights each item the operator begins after it opened, without a
//    reload (delay measured from the click to the class change). Afterwards: a chapter link
//    seeks to the item's cue of chapters.vtt, /sesje/{id}#punkt-7a starts there, and
//    /archiwum?q=nieruchomosci finds item 7 and its hit opens the recording there.
// 3. axe-core (WCAG 2.0/2.1 A + AA) on every page, Polish and English, light and dark (the colour
//    rules), in contexts with bypassCSP (axe is injected as a script; the pages' CSP allows only
//    their own scripts). The live pages are checked while the session is live, before the
//    resident's page opens (on two cores, fewer players at once while the server records).
// 4. Screenshots at phone (390x844) and desktop (1366x900) widths into SCREENSHOT_DIR.
// 5. JavaScript off: home, session page and archive show the agenda, timeline and downloads.
// Every context records (and aborts) requests to other hosts.
//
// Prints ONE line of JSON (the last line of stdout); exit 0 when every check passed.

import fs from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

import {
  Run, axe, apiLogin, getJson, getText, parseVtt, reporter, sleep, round, firstLine,
  PHONE, DESKTOP, AXE_VERSION, AXE_TAGS,
} from './common.mjs';

const here = path.dirname(fileURLToPath(import.meta.url));
const BASE = (process.argv[2] || '').replace(/\/+$/, '');
const PASSWORD = process.env.ADMIN_PASSWORD;
const FIXTURE = process.env.FIXTURE || path.join(here, '../fixtures/agenda-sesja-xlv.json');
const SHOTS = process.env.SCREENSHOT_DIR || path.join(here, '../../target/screenshots');
if (!BASE || !PASSWORD) {
  console.error('usage: ADMIN_PASSWORD=... node site.mjs BASE_URL');
  process.exit(2);
}

// Items: three begun with their buttons, then the `n` shortcut begins the next one (7a).
const BUTTON_ITEMS = ['1', '5', '7'];
const KEY_ITEM = '7a';
const CHAPTER_ITEM = '5';       // clicked on the recorded page
const DEEP_LINK_ITEM = '7a';    // /sesje/{id}#punkt-7a
const SEARCH = { q: 'nieruchomosci', item: '7' }; // "nieruchomości" in items 7 and 7a
const ITEM_GAP_MS = 2600;       // each item lasts more than a segment (2 s)
// The axe rules about colour (run again in the dark colour scheme; the others do not change).
const DARK_RULES = ['color-contrast', 'link-in-text-block'];

const result = {
  ok: false,
  at: '',
  sessionId: null,
  operator: { preview: null, steps: [] },
  resident: { playing: false, advanced: 0, wall: 0, errors: [], fatalErrors: [], highlights: [], reloads: 0, endedShown: false },
  recorded: { chapters: [], chapterClick: null, deepLink: null },
  search: null,
  axe: { version: AXE_VERSION, tags: AXE_TAGS, pages: [] },
  screenshots: [],
  nojs: [],
  problems: [],
  timings: {},
};

const run = new Run(BASE);
const finish = reporter(result, 170, run);
const problem = (s) => { result.problems.push(s); };
/** Marks the phase under way (named in a timeout) and when it began (s since the start). */
const phase = (name) => {
  result.at = name;
  result.timings[name] = round((Date.now() - run.t0) / 1000, 1);
};

/** "key" = "value" lines of a message catalogue (enough for the texts checked here). */
async function catalogue(lang) {
  const text = await fs.readFile(path.join(here, `../../web/locales/${lang}.toml`), 'utf8');
  const out = {};
  for (const m of text.matchAll(/^"([^"]+)"\s*=\s*"((?:[^"\\]|\\.)*)"\s*$/gm)) out[m[1]] = JSON.parse(`"${m[2]}"`);
  return out;
}

// Resident pages: when the highlighted item changes (class "current" + aria-current), and the
// media events of the <video> (media events do not bubble: listen in the capture phase).
function residentInit() {
  window.__highlights = [];
  window.__media = [];
  ['playing', 'seeking', 'seeked'].forEach((type) => {
    document.addEventListener(type, (e) => {
      if (e.target && e.target.tagName === 'VIDEO') {
        window.__media.push({ type, ct: e.target.currentTime, at: Date.now() });
      }
    }, true);
  });
  document.addEventListener('DOMContentLoaded', () => {
    const agenda = document.getElementById('agenda');
    if (!agenda) return;
    const look = () => {
      const cur = agenda.querySelectorAll('li.item.current[aria-current="true"]');
      const n = cur.length === 1 ? cur[0].getAttribute('data-number') : (cur.length ? 'many' : null);
      const last = window.__highlights[window.__highlights.length - 1];
      if (!last || last.n !== n) window.__highlights.push({ n, at: Date.now() });
    };
    look();
    new MutationObserver(look).observe(agenda, {
      attributes: true, subtree: true, childList: true, attributeFilter: ['class', 'aria-current'],
    });
  });
}

async function shoot(page, name) {
  await fs.mkdir(SHOTS, { recursive: true });
  const size = page.viewportSize();
  for (const [label, vp] of [['phone', PHONE], ['desktop', DESKTOP]]) {
    await page.setViewportSize(vp);
    await sleep(300);
    const file = path.join(SHOTS, `${name}-${label}.png`);
    await page.screenshot({ path: file, fullPage: true, timeout: 15000 });
    result.screenshots.push(path.relative(path.join(here, '../..'), file));
  }
  if (size) await page.setViewportSize(size);
}

// ------------------------------------------------------------------------------------------------
// axe-core

/**
 * Loads `pathname` in `ctx` (bypassCSP), waits for its scripts and runs axe in the light and the
 * dark colour scheme; then, on the same page, for each of `states` ([label, prepare(page)]),
 * prepares that state (a dialog open, an error shown) and runs axe again.
 */
async function axePage(ctx, name, lang, pathname, states = []) {
  const page = await ctx.newPage();
  let label = name;
  try {
    const resp = await page.goto(BASE + pathname, { waitUntil: 'load' });
    if (!resp || !resp.ok()) throw new Error(`HTTP ${resp ? resp.status() : '-'}`);
    const htmlLang = await page.evaluate(() => document.documentElement.lang);
    if (htmlLang !== lang) problem(`axe ${name} ${lang}: the page is in "${htmlLang}"`);
    await page.waitForFunction(() => !window.obradyConsole || window.obradyConsole.ready, null, { timeout: 10000 });
    for (const [state, prepare] of [[null, null], ...states]) {
      label = state ? `${name} (${state})` : name;
      if (prepare) {
        await page.emulateMedia({ colorScheme: 'light' });
        await prepare(page);
      }
      await sleep(200); // live regions and status texts filled by scripts
      for (const scheme of ['light', 'dark']) {
        const t0 = Date.now();
        await page.emulateMedia({ colorScheme: scheme });
        // Only colours change with the scheme: in the dark one, the colour rules alone.
        const violations = await axe(page, scheme === 'dark' ? DARK_RULES : null);
        result.axe.pages.push({ name: label, lang, scheme, url: pathname, violations, ms: Date.now() - t0 });
      }
    }
  } catch (e) {
    result.axe.pages.push({ name: label, lang, url: pathname, error: firstLine(e), violations: [] });
    problem(`axe ${label} ${lang}: ${firstLine(e)}`);
  } finally {
    await page.close().catch(() => {});
  }
}

/** One language: contexts for a visitor and for an operator; `pages` = [[name, path, who, states?]]. */
async function axeLanguage(lang, pages) {
  const anon = await run.context(`axe-${lang}`, { bypassCSP: true });
  const op = await run.context(`axe-op-${lang}`, { bypassCSP: true });
  await apiLogin(op, BASE, PASSWORD);
  if (lang === 'en') {
    // ?lang=en once; the cookie it sets keeps every later page in English.
    for (const ctx of [anon, op]) {
      const p = await ctx.newPage();
      await p.goto(BASE + '/prywatnosc?lang=en');
      await p.close();
    }
  }
  for (const [name, pathname, who, states] of pages) {
    await axePage(who === 'operator' ? op : anon, name, lang, pathname, states);
  }
  await anon.close();
  await op.close();
}

// ------------------------------------------------------------------------------------------------
// The operator

async function apiSession(id) {
  return getJson(BASE, `/api/v1/sessions/${id}`);
}

function apiCurrent(s) {
  if (s.state === 'ended') return '';
  for (let i = s.timeline.length - 1; i >= 0; i--) {
    if (s.timeline[i].kind === 'item') return s.timeline[i].agenda_number;
  }
  return '';
}

/**
 * After an operator step: the console shows `banner` (display state) and `current`, and the
 * catalog's timeline is `kinds`.
 */
async function checkStep(page, id, step, banner, current, kinds, texts) {
  const rec = { step, ok: false, problems: [] };
  try {
    await page.waitForFunction(([b, c]) => {
      const el = document.getElementById('state-banner');
      const ci = document.getElementById('current-item');
      return el && el.getAttribute('data-state') === b && ci && ci.getAttribute('data-item') === c &&
        !(window.obradyConsole && window.obradyConsole.busy);
    }, [banner, current], { timeout: 10000 });
  } catch {
    rec.problems.push('the console did not show the step within 10 s');
  }
  const ui = await page.evaluate(() => {
    const q = (s) => document.querySelector(s);
    const cur = [...document.querySelectorAll('#agenda li.item.current')];
    return {
      banner: q('#state-banner').getAttribute('data-state'),
      bannerText: q('#state-name').textContent.trim(),
      current: q('#current-item').getAttribute('data-item'),
      currentText: q('#current-item-text').textContent.trim(),
      agendaCurrent: cur.map((li) => `${li.getAttribute('data-item')}:${li.getAttribute('aria-current')}`),
      timeline: [...document.querySelectorAll('#timeline li')].map((li) => li.getAttribute('data-kind')).reverse(),
      message: window.obradyConsole.lastMessage,
      error: window.obradyConsole.lastError,
      dialogOpen: !!document.querySelector('dialog[open]'),
    };
  });
  Object.assign(rec, ui);
  const api = await apiSession(id);
  rec.apiState = api.state;
  rec.apiPrivate = api.private;
  rec.apiKinds = api.timeline.map((m) => m.kind);
  rec.apiItems = api.timeline.filter((m) => m.kind === 'item').map((m) => m.agenda_number);
  rec.apiCurrent = apiCurrent(api);
  const want = texts[`console.js.banner.${banner}`];
  if (ui.banner !== banner) rec.problems.push(`banner ${ui.banner}, expected ${banner}`);
  if (want && ui.bannerText !== want) rec.problems.push(`banner text "${ui.bannerText}", expected "${want}"`);
  if (ui.current !== current) rec.problems.push(`current item "${ui.current}", expected "${current}"`);
  if (current && !ui.currentText.startsWith(`${current}. `)) rec.problems.push(`current item text "${ui.currentText}"`);
  const wantAgenda = current ? [`${current}:step`] : [];
  if (JSON.stringify(ui.agendaCurrent) !== JSON.stringify(wantAgenda)) {
    rec.problems.push(`agenda highlights ${JSON.stringify(ui.agendaCurrent)}, expected ${JSON.stringify(wantAgenda)}`);
  }
  if (JSON.stringify(ui.timeline) !== JSON.stringify(kinds)) rec.problems.push(`console timeline ${ui.timeline}, expected ${kinds}`);
  if (ui.error) rec.problems.push(`console error: ${ui.error}`);
  if (ui.dialogOpen) rec.problems.push('a dialog is still open');
  const apiState = banner === 'paused' ? 'paused' : banner;
  if (api.state !== apiState) rec.problems.push(`catalog state ${api.state}, expected ${apiState}`);
  if (JSON.stringify(rec.apiKinds) !== JSON.stringify(kinds)) rec.problems.push(`catalog timeline ${rec.apiKinds}, expected ${kinds}`);
  if (rec.apiCurrent !== current) rec.problems.push(`catalog current item "${rec.apiCurrent}", expected "${current}"`);
  rec.ok = rec.problems.length === 0;
  result.operator.steps.push(rec);
  if (!rec.ok) problem(`step ${step}: ${rec.problems.join('; ')}`);
  return rec;
}

// ------------------------------------------------------------------------------------------------
// The resident

/** Waits until the resident page highlights `number` after `since` (ms); the delay in ms. */
async function highlightDelay(page, number, since) {
  try {
    const h = await page.waitForFunction(([n, t]) => {
      const hit = (window.__highlights || []).find((x) => x.n === n && x.at >= t);
      return hit ? hit.at : false;
    }, [number, since], { timeout: 6000, polling: 20 });
    return (await h.jsonValue()) - since;
  } catch {
    return null;
  }
}

async function playback(page) {
  return page.evaluate(() => {
    const v = window.obrady && window.obrady.video;
    return v ? { ct: v.currentTime, paused: v.paused, readyState: v.readyState, now: Date.now() } : null;
  });
}

/**
 * Where the recording started playing after `since`. `seek`: the page was already playing, so
 * wait for the seek that follows (a "seeked" event). Else (a page just opened): wait for the
 * first "playing", give the page's script a second to seek, and take the last completed seek, or
 * the first "playing" when there was none. Then one second later, to show it plays on from there.
 */
async function startedAt(page, since, cueStart, seek) {
  const seeked = () => page.waitForFunction((t) => (window.__media || []).some((e) => e.at >= t && e.type === 'seeked'),
    since, { timeout: 15000, polling: 50 });
  const playing = () => page.waitForFunction(() => {
    const v = window.obrady && window.obrady.video;
    return v && !v.seeking && !v.paused && v.readyState >= 3;
  }, null, { timeout: 15000, polling: 50 });
  if (seek) {
    await seeked();
  } else {
    await page.waitForFunction((t) => (window.__media || []).some((e) => e.at >= t && e.type === 'playing'),
      since, { timeout: 15000, polling: 50 });
    await sleep(1000);
  }
  await playing();
  const r = await page.evaluate((t) => {
    const ev = (window.__media || []).filter((e) => e.at >= t);
    const seeks = ev.filter((e) => e.type === 'seeked');
    const first = ev.find((e) => e.type === 'playing');
    const at = seeks.length ? seeks[seeks.length - 1] : first;
    return {
      position: at ? at.ct : NaN,
      after: at ? at.at - t : null,
      seeks: seeks.map((e) => Math.round(e.ct * 1000) / 1000),
      firstPlaying: first ? Math.round(first.ct * 1000) / 1000 : null,
    };
  }, since);
  await sleep(1000);
  const later = await playback(page);
  return {
    cueStart,
    position: round(r.position),
    error: round(r.position - cueStart),
    seeks: r.seeks,
    firstPlaying: r.firstPlaying,
    msToStart: r.after,
    oneSecondLater: later ? round(later.ct) : null,
    errors: await page.evaluate(() => (window.obrady.errors || []).map((e) => `${e.details}${e.fatal ? ' (fatal)' : ''}`)),
  };
}

// ------------------------------------------------------------------------------------------------

async function main() {
  await run.launch();
  const texts = await catalogue('pl');
  const fixture = JSON.parse(await fs.readFile(FIXTURE, 'utf8'));

  // --- The operator logs in and creates the session from the agenda file -----------------------
  phase('login');
  const opCtx = await run.context('operator');
  const op = await opCtx.newPage();
  await op.goto(BASE + '/logowanie');
  await op.fill('#login-username', 'admin');
  await op.fill('#login-password', PASSWORD);
  await Promise.all([op.waitForURL((u) => u.pathname === '/konsola'), op.click('#login-submit')]);
  await op.waitForFunction(() => window.obradyConsole && window.obradyConsole.ready && window.obradyConsole.csrf);

  phase('create');
  await op.setInputFiles('#agenda-file', FIXTURE);
  await op.waitForSelector('#preview[data-valid="true"]', { timeout: 10000 });
  const preview = await op.evaluate(() => ({
    rows: [...document.querySelectorAll('#preview-agenda tbody tr')].map((tr) => tr.getAttribute('data-item')),
    caption: document.getElementById('preview-caption').textContent.trim(),
    title: (document.querySelector('#preview-meta dd[data-field="title"]') || {}).textContent || '',
    saveEnabled: !document.getElementById('save-button').disabled,
  }));
  result.operator.preview = preview;
  const numbers = fixture.agenda.map((a) => a.number);
  if (JSON.stringify(preview.rows) !== JSON.stringify(numbers)) problem(`preview rows ${preview.rows}`);
  if (preview.title !== fixture.title) problem(`preview title "${preview.title}"`);
  if (!preview.saveEnabled) problem('save stays disabled after a valid preview');
  await Promise.all([
    op.waitForURL((u) => u.pathname === '/konsola' && u.searchParams.has('utworzono')),
    op.click('#save-button'),
  ]);
  const id = await op.getAttribute('#created-notice', 'data-session');
  result.sessionId = Number(id);
  const created = await apiSession(id);
  if (created.title !== fixture.title || created.agenda.length !== numbers.length || created.state !== 'planned') {
    problem(`catalog after save: ${created.title} ${created.agenda.length} items ${created.state}`);
  }
  result.operator.created = { id: Number(id), state: created.state, items: created.agenda.length };

  // --- Open it, start it ----------------------------------------------------------------------
  phase('open');
  await Promise.all([
    op.waitForURL((u) => u.pathname === `/konsola/sesje/${id}`),
    op.click(`tr[data-session="${id}"] a.session-link`),
  ]);
  await op.waitForFunction(() => window.obradyConsole && window.obradyConsole.ready && window.obradyConsole.csrf);
  await checkStep(op, id, 'open', 'planned', '', [], texts);

  phase('start');
  await op.click('#btn-start');
  const kinds = ['start'];
  await checkStep(op, id, 'start', 'live', '', kinds, texts);

  // --- Item 1, then the live pages (screenshots, axe), then the resident ------------------------
  // On two cores the server records while every page plays video: the live pages are checked
  // before the resident's page opens, so at most two players run at once.
  const resCtx = await run.context('resident');
  await resCtx.addInitScript(residentInit);
  let res = null;

  async function begin(number, how) {
    phase(`item ${number}`);
    const t0 = Date.now();
    if (how === 'button') await op.click(`#agenda button[data-action="begin-item"][data-item="${number}"]`);
    else await op.keyboard.press('n');
    kinds.push('item');
    await checkStep(op, id, `item ${number} (${how})`, 'live', number, kinds, texts);
    if (res) {
      const delay = await highlightDelay(res, number, t0);
      result.resident.highlights.push({ item: number, via: how, delayMs: delay });
      if (delay === null) problem(`the resident page did not highlight item ${number} within 6 s`);
    }
    const left = ITEM_GAP_MS - (Date.now() - t0);
    if (left > 0) await sleep(left);
  }

  await begin(BUTTON_ITEMS[0], 'button');

  phase('live pages');
  await shoot(op, 'console-live');
  const homeLive = await resCtx.newPage();
  await homeLive.goto(BASE + '/');
  await homeLive.waitForFunction(() => window.obrady && window.obrady.state !== 'connecting', null, { timeout: 10000 }).catch(() => {});
  await shoot(homeLive, 'home-live');
  await run.collectCsp(homeLive);
  await homeLive.close();
  // One language after the other: the server is recording, and every page plays video.
  for (const lang of ['pl', 'en']) {
    await axeLanguage(lang, [
      ['home (live)', '/', 'visitor'],
      ['session page (live)', `/sesje/${id}`, 'visitor'],
      ['console session (live)', `/konsola/sesje/${id}`, 'operator', [['private-part dialog open', async (p) => {
        await p.click('#btn-private-begin');
        await p.waitForSelector('#private-dialog[open]');
      }]]],
    ]);
  }

  // The resident opens the page while live (item 1 under discussion).
  phase('resident');
  res = await resCtx.newPage();
  await res.goto(`${BASE}/sesje/${id}`, { waitUntil: 'load' });
  res.on('framenavigated', (f) => { if (f === res.mainFrame()) result.resident.reloads++; });
  await res.evaluate(() => { window.__loadMark = Math.random(); });
  const loadMark = await res.evaluate(() => window.__loadMark);
  let playStart = null;
  try {
    await res.waitForFunction(() => {
      const v = window.obrady && window.obrady.video;
      return v && !v.paused && v.readyState >= 3 && v.currentTime > 0;
    }, null, { timeout: 20000, polling: 100 });
    result.resident.playing = true;
    playStart = await playback(res);
  } catch {
    problem('the live video did not start playing on the session page within 20 s');
  }

  // Two more items with their buttons, one with the shortcut; the resident's highlight follows.
  for (const n of BUTTON_ITEMS.slice(1)) await begin(n, 'button');
  // The shortcut: focus is on the button just pressed (not in a field), so `n` is a shortcut.
  await begin(KEY_ITEM, 'key n');
  await shoot(res, 'session-live');

  // --- Recess, resume, stop --------------------------------------------------------------------
  phase('recess');
  await op.click('#btn-recess');
  kinds.push('recess');
  await checkStep(op, id, 'recess', 'paused', KEY_ITEM, kinds, texts);
  const pausedShown = await res.waitForSelector('#session-state.state-paused', { timeout: 3000 }).then(() => true, () => false);
  if (!pausedShown) problem('the resident page did not show the recess');
  await sleep(1500);

  phase('resume');
  await op.click('#btn-resume');
  kinds.push('resume');
  await checkStep(op, id, 'resume', 'live', KEY_ITEM, kinds, texts);
  await sleep(ITEM_GAP_MS);

  // The resident's playback over the whole live part.
  const playEnd = await playback(res);
  if (playStart && playEnd) {
    result.resident.advanced = round(playEnd.ct - playStart.ct, 2);
    result.resident.wall = round((playEnd.now - playStart.now) / 1000, 2);
  }
  const errs = await res.evaluate(() => (window.obrady.errors || []).map((e) => ({ details: e.details, fatal: !!e.fatal })));
  result.resident.errors = errs.map((e) => e.details);
  result.resident.fatalErrors = errs.filter((e) => e.fatal).map((e) => e.details);

  phase('stop');
  await op.click('#btn-stop');
  await op.waitForSelector('#stop-dialog[open]', { timeout: 5000 });
  result.operator.stopDialog = await op.evaluate(() => document.activeElement &&
    document.activeElement.getAttribute('data-action'));
  await op.click('#stop-dialog [data-action="stop-confirm"]');
  kinds.push('stop');
  await checkStep(op, id, 'stop', 'ended', '', kinds, texts);
  result.resident.endedShown = await res.waitForSelector('#session-state.state-ended', { timeout: 5000 })
    .then(() => true, () => false);
  result.resident.stillSamePage = (await res.evaluate(() => window.__loadMark).catch(() => null)) === loadMark;
  result.resident.highlightHistory = await res.evaluate(() => window.__highlights.map((h) => h.n));
  await run.collectCsp(res);
  await res.close();
  await run.collectCsp(op);

  // --- The recording: chapters, a chapter link, a deep link -----------------------------------
  phase('chapters');
  // The catalog lists a segment once it is whole on disk: on a busy machine the last items'
  // chapters may come a moment after the stop.
  const begun = [...BUTTON_ITEMS, KEY_ITEM];
  const tStop = Date.now();
  let cues = [];
  while (Date.now() - tStop < 10000) {
    cues = parseVtt(await getText(BASE, `/vod/sessions/${id}/chapters.vtt`));
    if (cues.length >= begun.length) break;
    await sleep(250);
  }
  result.recorded.chaptersAfterMs = Date.now() - tStop;
  result.recorded.chapters = cues.map((c) => ({ id: c.id, start: c.start, end: c.end }));
  const cue = (n) => cues.find((c) => c.id === `punkt-${n}`) || { start: NaN };
  if (JSON.stringify(cues.map((c) => c.id)) !== JSON.stringify(begun.map((n) => `punkt-${n}`))) {
    problem(`chapters ${cues.map((c) => c.id)}`);
    // What the chapters were computed from: the marks and the recording's segments.
    const s = await apiSession(id);
    result.recorded.marks = s.timeline.map((m) => `${m.kind} ${m.agenda_number || ''} ${m.wall_ns}`);
    const vod = await getText(BASE, `/vod/sessions/${id}/720p/index.m3u8`).catch((e) => firstLine(e));
    const pick = (text) => text.split('\n').filter((l) => /^#EXT(INF|-X-PROGRAM-DATE-TIME|-X-DISCONTINUITY)/.test(l));
    result.recorded.playlist = pick(vod);
    // The live window (the last two minutes, from memory): a hole there too means the pipeline
    // stalled; a hole only in the recording means the archive or the catalog missed segments.
    const live = await getText(BASE, '/live/main/720p/index.m3u8').catch((e) => firstLine(e));
    result.recorded.livePlaylist = pick(live).filter((l) => !l.startsWith('#EXTINF'));
    throw new Error(`chapters ${cues.map((c) => c.id)}, expected ${begun.map((n) => `punkt-${n}`)}`);
  }

  const rec = await resCtx.newPage();
  await rec.goto(`${BASE}/sesje/${id}`, { waitUntil: 'load' });
  await rec.waitForFunction(() => {
    const v = window.obrady && window.obrady.video;
    return v && !v.paused && v.readyState >= 3 && v.currentTime > 0.2;
  }, null, { timeout: 15000, polling: 100 });
  const recordedMode = await rec.evaluate(() => window.obrady.mode);
  phase('chapter click');
  const tClick = Date.now();
  await rec.click(`a.watch[data-number="${CHAPTER_ITEM}"]`);
  result.recorded.chapterClick = { item: CHAPTER_ITEM, mode: recordedMode, ...(await startedAt(rec, tClick, cue(CHAPTER_ITEM).start, true)) };
  result.recorded.chapterClick.hash = await rec.evaluate(() => location.hash);
  await shoot(rec, 'session-recorded');
  await run.collectCsp(rec);
  await rec.close();

  phase('deep link');
  const deep = await resCtx.newPage();
  const tDeep = Date.now();
  await deep.goto(`${BASE}/sesje/${id}#punkt-${DEEP_LINK_ITEM}`, { waitUntil: 'load' });
  result.recorded.deepLink = { item: DEEP_LINK_ITEM, ...(await startedAt(deep, tDeep, cue(DEEP_LINK_ITEM).start, false)) };
  await run.collectCsp(deep);
  await deep.close();

  // --- Search: a word without Polish letters finds the item; the hit opens the recording there --
  phase('search');
  const search = await resCtx.newPage();
  await search.goto(BASE + '/archiwum');
  await shoot(search, 'archive');
  await search.fill('#q', SEARCH.q);
  await Promise.all([search.waitForURL((u) => u.searchParams.get('q') === SEARCH.q), search.press('#q', 'Enter')]);
  const found = await search.evaluate(() => ({
    count: (document.getElementById('hit-count') || {}).textContent || '',
    hits: [...document.querySelectorAll('#hits a.hit-link')].map((a) => ({ href: a.getAttribute('href'), text: a.textContent.trim() })),
  }));
  result.search = { q: SEARCH.q, item: SEARCH.item, count: found.count.trim(), hits: found.hits };
  const want = `/sesje/${id}#punkt-${SEARCH.item}`;
  const hit = found.hits.find((h) => h.href === want);
  if (!hit) {
    problem(`no hit linking to ${want}: ${JSON.stringify(found.hits)}`);
  } else {
    await shoot(search, 'archive-search');
    const tHit = Date.now();
    await Promise.all([
      search.waitForURL((u) => u.pathname === `/sesje/${id}`),
      search.click(`#hits a.hit-link[href="${want}"]`),
    ]);
    result.search.opened = search.url().replace(BASE, '');
    result.search.playback = await startedAt(search, tHit, cue(SEARCH.item).start, false);
  }
  await run.collectCsp(search);
  await search.close();

  // --- axe on the other pages, both languages ---------------------------------------------------
  phase('axe');
  const consolePreview = async (p) => {
    await p.setInputFiles('#agenda-file', FIXTURE);
    await p.waitForSelector('#preview[data-valid="true"]', { timeout: 10000 });
  };
  const loginError = async (p) => {
    await p.fill('#login-username', 'admin');
    await p.fill('#login-password', 'not-the-password');
    await p.click('#login-submit');
    await p.waitForFunction(() => window.obradyConsole.lastError, null, { timeout: 10000 });
  };
  // Both languages at once (two renderers, two cores; the recording is done).
  await Promise.all(['pl', 'en'].map((lang) =>
    axeLanguage(lang, [
      ['home', '/', 'visitor'],
      ['session page (recorded)', `/sesje/${id}`, 'visitor'],
      ['archive', '/archiwum', 'visitor'],
      ['search results', `/archiwum?q=${SEARCH.q}`, 'visitor'],
      ['search without results', '/archiwum?q=zzzzzz', 'visitor'],
      ['login', '/logowanie', 'visitor', [['wrong password', loginError]]],
      ['console home', '/konsola', 'operator', [['agenda preview', consolePreview]]],
      ['console session (ended)', `/konsola/sesje/${id}`, 'operator'],
    ])));
  await resCtx.close();
  await opCtx.close();

  // --- JavaScript off ---------------------------------------------------------------------------
  phase('no javascript');
  const nojs = await run.context('no-js', { javaScriptEnabled: false });
  const plain = await nojs.newPage();
  const shows = async (name, pathname) => {
    const r = await plain.goto(BASE + pathname);
    const seen = await plain.evaluate(() => {
      const visible = (e) => !!e && !e.closest('[hidden]') && e.getClientRects().length > 0;
      const all = (s) => [...document.querySelectorAll(s)].filter(visible);
      return {
        title: document.title,
        agendaItems: all('#agenda li.item').length,
        watchLinks: all('#agenda a.watch').length,
        itemDownloads: all('#agenda a.download').map((a) => a.getAttribute('href')),
        sessionDownloads: all('a[download]').filter((a) => !a.closest('#agenda')).map((a) => a.getAttribute('href')),
        timeline: all('#timeline li.mark').map((li) => li.className.replace('mark mark-', '')),
        sessionLinks: all('a[href^="/sesje/"]').map((a) => a.getAttribute('href')),
        streamLink: all('a[href$=".m3u8"]').map((a) => a.getAttribute('href')),
        scriptsRan: !!window.obrady,
      };
    });
    result.nojs.push({ name, url: pathname, status: r ? r.status() : null, ...seen });
    return seen;
  };
  const home = await shows('home', '/');
  if (!home.sessionLinks.includes(`/sesje/${id}`)) problem('no-JS home does not link the session');
  const sess = await shows('session page', `/sesje/${id}`);
  if (sess.agendaItems !== numbers.length) problem(`no-JS session page shows ${sess.agendaItems} agenda items`);
  if (JSON.stringify(sess.timeline) !== JSON.stringify(kinds)) problem(`no-JS timeline ${sess.timeline}`);
  if (sess.itemDownloads.length !== 2 * begun.length) problem(`no-JS item downloads ${sess.itemDownloads.length}`);
  if (sess.sessionDownloads.length < 2) problem(`no-JS session downloads ${sess.sessionDownloads}`);
  const arch = await shows('archive', '/archiwum');
  if (!arch.sessionLinks.includes(`/sesje/${id}`)) problem('no-JS archive does not list the session');
  // The download links work (the first bytes of each).
  for (const href of [...sess.itemDownloads.slice(0, 2), ...sess.sessionDownloads]) {
    const r = await fetch(BASE + href, { headers: { Range: 'bytes=0-1023' } });
    const entry = { href, status: r.status, type: r.headers.get('content-type') };
    await r.arrayBuffer();
    result.nojs.push({ name: 'download', ...entry });
    if (r.status !== 206 && r.status !== 200) problem(`download ${href}: HTTP ${r.status}`);
  }
  await nojs.close();

  phase('done');
  const axeFailures = result.axe.pages.filter((p) => p.violations.length || p.error);
  if (axeFailures.length) problem(`axe violations on ${axeFailures.map((p) => `${p.name} ${p.lang} ${p.scheme || ''}`).join(', ')}`);
  if (run.thirdParty.length) problem(`third-party requests: ${run.thirdParty.join(' ')}`);
  if (run.pageErrors.length) problem(`page errors: ${run.pageErrors.join(' | ')}`);
  if (run.cspViolations.length) problem(`CSP violations: ${run.cspViolations.join(' | ')}`);
  return finish(result.problems.length === 0, result.problems.join('; '));
}

main().catch((e) => finish(false, `harness error at ${result.at}: ${firstLine(e)}`));
