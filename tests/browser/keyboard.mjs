#!/usr/bin/env node
// The operator's console with the keyboard alone, in the system Chromium (headless):
//
//   ADMIN_PASSWORD=... FIXTURE=agenda.json node keyboard.mjs BASE_URL
//
// No mouse event is ever sent. The operator logs in (typing, Tab, Enter), creates a session from
// the agenda file (the file input opened with Space, the preview, Save with Enter), follows the
// link to it, and on the session page: starts it (Enter), begins items (Space on "next item",
// Enter on an item's button, the `n` shortcut), opens the private-part dialog (Enter) and cancels
// it with Escape and then with its Cancel button, recesses (Enter), resumes (the `p` shortcut),
// and stops through the confirmation dialog (Enter, Shift+Tab to the confirm button, Enter).
//
// On the login page, the console home and the session page (planned, with its details form open,
// live, ended) it walks the whole page with Tab until focus comes round again: every visible
// enabled control must be a stop, Shift+Tab must retrace the same stops backwards, and every stop
// must show a focus indicator (:focus-visible with a computed outline of 2px or more, or a
// box-shadow).
//
// Prints ONE line of JSON (the last line of stdout); exit 0 when every check passed.

import path from 'node:path';
import { fileURLToPath } from 'node:url';

import { Run, getJson, reporter, sleep, firstLine, describeActive } from './common.mjs';

const here = path.dirname(fileURLToPath(import.meta.url));
const BASE = (process.argv[2] || '').replace(/\/+$/, '');
const PASSWORD = process.env.ADMIN_PASSWORD;
const FIXTURE = process.env.FIXTURE || path.join(here, '../fixtures/agenda-sesja-xlv.json');
if (!BASE || !PASSWORD) {
  console.error('usage: ADMIN_PASSWORD=... node keyboard.mjs BASE_URL');
  process.exit(2);
}

const result = {
  ok: false,
  at: '',
  sessionId: null,
  walks: [],
  steps: [],
  dialogs: {},
  kinds: [],
  problems: [],
};
const run = new Run(BASE);
const finish = reporter(result, 110, run);
const problem = (s) => { result.problems.push(s); };

// ------------------------------------------------------------------------------------------------
// Focus

/** What has focus, and whether it is shown: :focus-visible and an outline (>= 2px) or a shadow. */
function focusState(page) {
  return page.evaluate(() => {
    const e = document.activeElement;
    if (!e || e === document.body || e === document.documentElement) return { key: null, name: 'body' };
    window.__kbdN = window.__kbdN || 0;
    if (!e.__kbd) e.__kbd = ++window.__kbdN;
    const cs = getComputedStyle(e);
    const outline = cs.outlineStyle !== 'none' && parseFloat(cs.outlineWidth) >= 2;
    const shadow = !!cs.boxShadow && cs.boxShadow !== 'none';
    let name = e.tagName.toLowerCase() + (e.id ? '#' + e.id : '');
    const action = e.getAttribute('data-action');
    if (action) name += `[${action}${e.getAttribute('data-item') ? ' ' + e.getAttribute('data-item') : ''}]`;
    if (!e.id && !action && e.tagName === 'A') name += `[href=${e.getAttribute('href')}]`;
    return {
      key: e.__kbd,
      name,
      focusVisible: e.matches(':focus-visible'),
      ring: outline || shadow,
      style: `outline: ${cs.outlineStyle} ${cs.outlineWidth}; box-shadow: ${cs.boxShadow}`,
      inDialog: !!e.closest('dialog'),
    };
  });
}

/** The controls a keyboard user must be able to reach: visible, enabled, not made inert. */
function reachable(page) {
  return page.evaluate(() => {
    const sel = 'a[href], button, input:not([type="hidden"]), select, textarea, summary, [tabindex]:not([tabindex="-1"])';
    const out = [];
    window.__kbdN = window.__kbdN || 0;
    for (const e of document.querySelectorAll(sel)) {
      if (e.disabled || e.closest('[inert]')) continue;
      if (e.closest('dialog:not([open])')) continue;
      const closed = e.closest('details:not([open])');
      if (closed && !(e.tagName === 'SUMMARY' && e.parentElement === closed)) continue;
      const cs = getComputedStyle(e);
      if (cs.visibility === 'hidden' || cs.display === 'none' || e.getClientRects().length === 0) {
        // The skip link is off-screen until focused: still a stop.
        if (!e.classList.contains('skip-link')) continue;
      }
      if (!e.__kbd) e.__kbd = ++window.__kbdN;
      let name = e.tagName.toLowerCase() + (e.id ? '#' + e.id : '');
      const action = e.getAttribute('data-action');
      if (action) name += `[${action}${e.getAttribute('data-item') ? ' ' + e.getAttribute('data-item') : ''}]`;
      if (!e.id && !action && e.tagName === 'A') name += `[href=${e.getAttribute('href')}]`;
      out.push({ key: e.__kbd, name });
    }
    return out;
  });
}

/**
 * Tab through the page from its start until focus comes round to the first stop again; then
 * Shift+Tab back over the last stops. Every reachable control must be a stop and show focus.
 */
async function walk(page, label) {
  await page.evaluate(() => {
    if (document.activeElement && document.activeElement !== document.body) document.activeElement.blur();
    window.getSelection().removeAllRanges();
  });
  const want = await reachable(page);
  const stops = [];
  const seen = new Set();
  let last = null;
  let round = false;
  for (let i = 0; i < 250 && !round; i++) {
    await page.keyboard.press('Tab');
    const f = await focusState(page);
    // null: the browser's own UI between the end and the start. The same element twice in a
    // row: Tab moves between the parts of one control (a date input's day, month, year).
    if (f.key === null || f.key === last) continue;
    last = f.key;
    if (stops.length && f.key === stops[0].key) round = true;
    else if (!seen.has(f.key)) {
      seen.add(f.key);
      stops.push(f);
    }
  }
  if (!round) problem(`${label}: Tab never came back to the first control`);
  const missing = want.filter((w) => !seen.has(w.key)).map((w) => w.name);
  const noRing = stops.filter((s) => !s.focusVisible || !s.ring).map((s) => `${s.name} (${s.style}${s.focusVisible ? '' : ', not :focus-visible'})`);
  // Focus is on the first stop again: Shift+Tab goes back over the last ones in reverse.
  const back = [];
  const n = Math.min(6, stops.length - 1);
  for (let i = 0; i < 3 * n + 6 && back.length < n; i++) {
    await page.keyboard.press('Shift+Tab');
    const f = await focusState(page);
    if (f.key !== null && f.key !== back[back.length - 1] && f.key !== stops[0].key) back.push(f.key);
  }
  const expectBack = stops.slice(-n).reverse().map((s) => s.key);
  const backOk = JSON.stringify(back) === JSON.stringify(expectBack);
  const w = { page: label, stops: stops.length, reachable: want.length, missing, noRing, shiftTabRetraces: backOk, order: stops.map((s) => s.name) };
  result.walks.push(w);
  if (missing.length) problem(`${label}: not reachable with Tab: ${missing.join(', ')}`);
  if (noRing.length) problem(`${label}: no visible focus on ${noRing.join('; ')}`);
  if (!backOk) problem(`${label}: Shift+Tab does not retrace the Tab order`);
  return w;
}

/** Tab (or Shift+Tab) until the focused element matches `selector`. */
async function tabTo(page, selector, shift = false) {
  for (let i = 0; i < 120; i++) {
    const ok = await page.evaluate((s) => !!document.activeElement && document.activeElement.matches(s), selector);
    if (ok) {
      const f = await focusState(page);
      if (!f.focusVisible || !f.ring) problem(`no visible focus on ${f.name} (${f.style})`);
      return i;
    }
    await page.keyboard.press(shift ? 'Shift+Tab' : 'Tab');
  }
  throw new Error(`${selector} not reached with ${shift ? 'Shift+' : ''}Tab (focus on ${await describeActive(page)})`);
}

async function activeIs(page, selector) {
  return page.evaluate((s) => !!document.activeElement && document.activeElement.matches(s), selector);
}

// ------------------------------------------------------------------------------------------------
// The session page

async function state(page) {
  return page.evaluate(() => ({
    banner: document.getElementById('state-banner').getAttribute('data-state'),
    current: document.getElementById('current-item').getAttribute('data-item'),
    busy: window.obradyConsole.busy,
  }));
}

/** After a step: the console shows `banner`/`current`, the catalog's timeline is `kinds`. */
async function step(page, id, name, banner, current, kinds) {
  const rec = { step: name, ok: false, problems: [] };
  try {
    await page.waitForFunction(([b, c]) => {
      const s = document.getElementById('state-banner');
      const ci = document.getElementById('current-item');
      return s.getAttribute('data-state') === b && ci.getAttribute('data-item') === c && !window.obradyConsole.busy;
    }, [banner, current], { timeout: 10000 });
  } catch {
    rec.problems.push(`the console shows ${JSON.stringify(await state(page))}, expected ${banner} ${current}`);
  }
  rec.focus = await describeActive(page);
  const s = await getJson(BASE, `/api/v1/sessions/${id}`);
  rec.apiKinds = s.timeline.map((m) => m.kind);
  if (JSON.stringify(rec.apiKinds) !== JSON.stringify(kinds)) rec.problems.push(`catalog timeline ${rec.apiKinds}, expected ${kinds}`);
  if (rec.focus === 'body') rec.problems.push('focus was lost (on <body>)');
  rec.ok = rec.problems.length === 0;
  result.steps.push(rec);
  if (!rec.ok) problem(`${name}: ${rec.problems.join('; ')}`);
}

// ------------------------------------------------------------------------------------------------

async function main() {
  await run.launch();
  const ctx = await run.context('keyboard');
  const page = await ctx.newPage();

  // --- Login ------------------------------------------------------------------------------------
  result.at = 'login';
  await page.goto(BASE + '/logowanie');
  await page.waitForFunction(() => window.obradyConsole && window.obradyConsole.ready);
  await walk(page, 'login');
  await tabTo(page, '#login-username');
  await page.keyboard.type('admin');
  await page.keyboard.press('Tab');
  if (!(await activeIs(page, '#login-password'))) problem('Tab from the user name does not reach the password');
  await page.keyboard.type(PASSWORD);
  await Promise.all([page.waitForURL((u) => u.pathname === '/konsola'), page.keyboard.press('Enter')]);
  await page.waitForFunction(() => window.obradyConsole && window.obradyConsole.ready && window.obradyConsole.csrf);

  // --- Console home: a session from the agenda file ----------------------------------------------
  result.at = 'console home';
  await walk(page, 'console home');
  await page.evaluate(() => document.activeElement && document.activeElement.blur());
  // Space on the focused file field opens the file chooser. Headless Chromium on a loaded 2-core
  // machine once missed it within 5 s (CI): wait longer, and press Space a second time (focus
  // checked again) before calling it a failure.
  let chooser = null;
  for (let attempt = 1; attempt <= 2 && !chooser; attempt++) {
    await tabTo(page, '#agenda-file');
    try {
      [chooser] = await Promise.all([page.waitForEvent('filechooser', { timeout: 10000 }), page.keyboard.press('Space')]);
    } catch (e) {
      if (attempt === 2) throw e;
      result.fileChooserRetried = true;
    }
  }
  await chooser.setFiles(FIXTURE);
  await page.waitForSelector('#preview[data-valid="true"]', { timeout: 10000 });
  await tabTo(page, '#save-button');
  await Promise.all([
    page.waitForURL((u) => u.pathname === '/konsola' && u.searchParams.has('utworzono')),
    page.keyboard.press('Enter'),
  ]);
  await page.waitForFunction(() => window.obradyConsole && window.obradyConsole.ready);
  const id = await page.getAttribute('#created-notice', 'data-session');
  result.sessionId = Number(id);
  // The "created" notice has focus; its link is the next stop.
  result.createdNoticeFocused = await activeIs(page, '#created-notice');
  await page.keyboard.press('Tab');
  if (!(await activeIs(page, `#created-notice a[href="/konsola/sesje/${id}"]`))) {
    problem(`Tab from the "created" notice goes to ${await describeActive(page)}`);
    await tabTo(page, `#created-notice a[href="/konsola/sesje/${id}"]`);
  }
  await Promise.all([page.waitForURL((u) => u.pathname === `/konsola/sesje/${id}`), page.keyboard.press('Enter')]);
  await page.waitForFunction(() => window.obradyConsole && window.obradyConsole.ready && window.obradyConsole.csrf);

  // --- The session page --------------------------------------------------------------------------
  result.at = 'session page';
  const kinds = [];
  await walk(page, 'console session (planned)');
  // The details and agenda forms open from their summary with Enter; then every field is a stop.
  await tabTo(page, '#edit-details > summary');
  await page.keyboard.press('Enter');
  result.detailsOpened = await page.evaluate(() => document.getElementById('edit-details').open);
  if (!result.detailsOpened) problem('Enter on the summary did not open the session details');
  await walk(page, 'console session (planned, details open)');
  await page.evaluate(() => document.activeElement && document.activeElement.blur());
  await tabTo(page, '#btn-start');
  await page.keyboard.press('Enter');
  kinds.push('start');
  await step(page, id, 'start (Enter)', 'live', '', kinds);

  result.at = 'items';
  await tabTo(page, '#btn-next');
  await page.keyboard.press('Space');
  kinds.push('item');
  await step(page, id, 'next item (Space): 1', 'live', '1', kinds);
  await sleep(2100);
  await tabTo(page, '#agenda button[data-item="5"]');
  await page.keyboard.press('Enter');
  kinds.push('item');
  await step(page, id, 'item 5 (Enter)', 'live', '5', kinds);
  await sleep(2100);
  await page.keyboard.press('n');
  kinds.push('item');
  await step(page, id, 'next item (n): 6', 'live', '6', kinds);

  await walk(page, 'console session (live)');

  // The private-part dialog: opened, cancelled with Escape, opened, cancelled with its button.
  result.at = 'private dialog';
  await page.evaluate(() => document.activeElement && document.activeElement.blur());
  await tabTo(page, '#btn-private-begin');
  await page.keyboard.press('Enter');
  await page.waitForSelector('#private-dialog[open]', { timeout: 5000 });
  const d = {
    openedFocus: await describeActive(page),
    focusInReason: await activeIs(page, '#private-dialog #private-reason'),
    trapped: true,
    tabStops: [],
  };
  // Tab goes round the dialog's controls only (the rest of the page is inert).
  for (let i = 0; i < 8; i++) {
    await page.keyboard.press('Tab');
    const f = await focusState(page);
    d.tabStops.push(f.name);
    if (f.key !== null && !f.inDialog) d.trapped = false;
    if (f.key !== null && (!f.focusVisible || !f.ring)) problem(`dialog: no visible focus on ${f.name} (${f.style})`);
  }
  await page.keyboard.press('Escape');
  d.escapeClosed = await page.waitForSelector('#private-dialog:not([open])', { state: 'attached', timeout: 3000 }).then(() => true, () => false);
  d.focusAfterEscape = await describeActive(page);
  d.focusBackOnOpener = await activeIs(page, '#btn-private-begin');
  await page.keyboard.press('Space');
  d.reopened = await page.waitForSelector('#private-dialog[open]', { timeout: 3000 }).then(() => true, () => false);
  await tabTo(page, '#private-dialog [data-action="dialog-cancel"]');
  await page.keyboard.press('Enter');
  d.cancelClosed = await page.waitForSelector('#private-dialog:not([open])', { state: 'attached', timeout: 3000 }).then(() => true, () => false);
  d.focusAfterCancel = await describeActive(page);
  d.focusBackOnOpener = d.focusBackOnOpener && (await activeIs(page, '#btn-private-begin'));
  result.dialogs.private = d;
  if (!d.focusInReason) problem(`the private-part dialog opened with focus on ${d.openedFocus}`);
  if (!d.trapped) problem(`Tab left the open dialog: ${d.tabStops}`);
  if (!d.escapeClosed) problem('Escape did not close the private-part dialog');
  if (!d.reopened || !d.cancelClosed) problem('the private-part dialog did not reopen with Space or close with Cancel');
  if (!d.focusBackOnOpener) problem(`focus after closing the dialog: ${d.focusAfterEscape}, ${d.focusAfterCancel}`);
  await step(page, id, 'private part cancelled', 'live', '6', kinds);

  // The lower third with the keyboard alone: a speaker typed and shown (Enter in the form), the
  // vote banner on and off (Space on its toggle), the speaker taken off (Enter on its button).
  result.at = 'lower third';
  const captionHas = (text, on) => page.waitForFunction(([x, want]) =>
    document.getElementById('caption-now').textContent.includes(x) === want, [text, on], { timeout: 5000 })
    .catch(() => problem(`lower third: the caption ${on ? 'never shows' : 'still shows'} "${text}"`));
  await tabTo(page, '#speaker-name');
  await page.keyboard.type('Anna Kowalska');
  await page.keyboard.press('Tab');
  await page.keyboard.type('radna');
  await page.keyboard.press('Enter');
  await captionHas('Anna Kowalska', true);
  const g1 = await getJson(BASE, '/api/v1/channels/main/graphics');
  if (!g1.speaker || g1.speaker.name !== 'Anna Kowalska' || g1.speaker.role !== 'radna') problem(`lower third: the API has ${JSON.stringify(g1)}`);
  await tabTo(page, '#vote-toggle');
  await page.keyboard.press('Space');
  await page.waitForFunction(() => document.getElementById('vote-toggle').getAttribute('aria-pressed') === 'true', null, { timeout: 5000 })
    .catch(() => problem('lower third: the vote toggle is not pressed'));
  if (!(await getJson(BASE, '/api/v1/channels/main/graphics')).vote) problem('lower third: the vote banner is not on');
  await page.keyboard.press('Space');
  await page.waitForFunction(() => document.getElementById('vote-toggle').getAttribute('aria-pressed') === 'false', null, { timeout: 5000 })
    .catch(() => problem('lower third: the vote toggle stays pressed'));
  await tabTo(page, '#speaker-clear');
  await page.keyboard.press('Enter');
  await captionHas('Anna Kowalska', false);
  const g2 = await getJson(BASE, '/api/v1/channels/main/graphics');
  if (g2.speaker || g2.vote) problem(`lower third: not cleared: ${JSON.stringify(g2)}`);
  // Someone shown before is offered by the name field, and picking them fills in their role.
  await page.waitForFunction(() => Array.from(document.querySelectorAll('#speaker-names option'))
    .some((o) => o.value === 'Anna Kowalska'), null, { timeout: 5000 })
    .catch(() => problem('lower third: the speaker shown before is not offered'));
  await page.fill('#speaker-name', '');
  await page.fill('#speaker-role', '');
  await tabTo(page, '#speaker-name');
  await page.keyboard.type('Anna Kowalska');
  await page.keyboard.press('Tab');
  const pickedRole = await page.inputValue('#speaker-role');
  if (pickedRole !== 'radna') problem(`lower third: picking a speaker shown before filled in the role "${pickedRole}"`);
  await page.fill('#speaker-name', '');
  await page.fill('#speaker-role', '');
  result.lowerThird = { shown: g1.caption, cleared: g2.caption, pickedRole };
  await step(page, id, 'lower third (keyboard)', 'live', '6', kinds);

  // Recess with Enter on its button, resume with the `p` shortcut.
  result.at = 'recess';
  await tabTo(page, '#btn-recess', true);
  await page.keyboard.press('Enter');
  kinds.push('recess');
  await step(page, id, 'recess (Enter)', 'paused', '6', kinds);
  await page.keyboard.press('p');
  kinds.push('resume');
  await step(page, id, 'resume (p)', 'live', '6', kinds);

  // Stop: the dialog opens on Cancel; Shift+Tab to the confirm button.
  result.at = 'stop';
  await tabTo(page, '#btn-stop');
  await page.keyboard.press('Enter');
  await page.waitForSelector('#stop-dialog[open]', { timeout: 5000 });
  const s = {
    openedFocus: await describeActive(page),
    onCancel: await activeIs(page, '#stop-dialog [data-action="dialog-cancel"]'),
  };
  await page.keyboard.press('Shift+Tab');
  s.shiftTab = await describeActive(page);
  if (!(await activeIs(page, '#stop-dialog [data-action="stop-confirm"]'))) {
    problem(`Shift+Tab in the stop dialog goes to ${s.shiftTab}`);
    await tabTo(page, '#stop-dialog [data-action="stop-confirm"]', true);
  }
  const f = await focusState(page);
  if (!f.focusVisible || !f.ring) problem(`stop dialog: no visible focus on ${f.name}`);
  await page.keyboard.press('Enter');
  kinds.push('stop');
  await step(page, id, 'stop (dialog, Enter)', 'ended', '', kinds);
  s.closed = await page.evaluate(() => !document.querySelector('#stop-dialog[open]'));
  result.dialogs.stop = s;
  if (!s.onCancel) problem(`the stop dialog opened with focus on ${s.openedFocus}`);
  if (!s.closed) problem('the stop dialog stayed open');
  await walk(page, 'console session (ended)');

  result.kinds = (await getJson(BASE, `/api/v1/sessions/${id}`)).timeline.map((m) => m.kind);
  await run.collectCsp(page);
  if (run.thirdParty.length) problem(`third-party requests: ${run.thirdParty.join(' ')}`);
  if (run.pageErrors.length) problem(`page errors: ${run.pageErrors.join(' | ')}`);
  if (run.cspViolations.length) problem(`CSP violations: ${run.cspViolations.join(' | ')}`);
  result.at = 'done';
  return finish(result.problems.length === 0, result.problems.join('; '));
}

main().catch((e) => finish(false, `harness error at ${result.at}: ${firstLine(e)}`));
