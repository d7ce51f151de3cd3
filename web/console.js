/* obrady – the operator's console: /logowanie, /konsola, /konsola/sesje/{id}.
 *
 * The pages are rendered by the server (src/pages/console.rs); this script sends every change to
 * the JSON API with the CSRF token from GET /api/v1/me, and keeps the page in step with the
 * session. Texts come from the message catalogues (keys "console.js.*", in the JSON block
 * #console-texts, which only the console's pages carry);
 * page data from the JSON block #console-data.
 *
 * Test hook: window.obradyConsole = { page, ready, csrf, session, channels, health, busy,
 * updates ("sse" | "poll"), preview (the checked draft), log: [{action, ok, status, message, t}],
 * lastMessage, lastError }.
 */
(function () {
  'use strict';

  function readJson(id) {
    var el = document.getElementById(id);
    if (!el) return null;
    try { return JSON.parse(el.textContent); } catch (e) { return null; }
  }

  var TEXTS = readJson('console-texts') || {};
  var DATA = readJson('console-data') || {};
  var LANG = document.documentElement.lang || 'pl';
  var POLL_MS = 5000;

  var C = window.obradyConsole = {
    page: DATA.page || (document.getElementById('login-form') ? 'login' : 'unknown'),
    ready: false,
    csrf: null,
    session: DATA.session || null,
    channels: null,
    health: null,
    busy: false,
    updates: null,
    preview: null,
    log: [],
    lastMessage: '',
    lastError: ''
  };

  // -------------------------------------------------------------------------------------------
  // Texts

  /** The text "console.js.KEY" of the message catalogue, with {name} replaced from vars. */
  function t(key, vars) {
    var s = TEXTS[key];
    if (s == null) s = key;
    if (vars) {
      s = s.replace(/\{(\w+)\}/g, function (m, name) {
        return vars[name] != null ? String(vars[name]) : m;
      });
    }
    return s;
  }

  function $(sel, root) { return (root || document).querySelector(sel); }
  function $all(sel, root) { return Array.prototype.slice.call((root || document).querySelectorAll(sel)); }

  function el(tag, attrs, children) {
    var e = document.createElement(tag);
    if (attrs) {
      Object.keys(attrs).forEach(function (k) {
        if (attrs[k] == null || attrs[k] === false) return;
        if (k === 'text') e.textContent = attrs[k];
        else if (k === 'className') e.className = attrs[k];
        else e.setAttribute(k, attrs[k] === true ? '' : attrs[k]);
      });
    }
    (children || []).forEach(function (c) {
      if (c == null) return;
      e.appendChild(typeof c === 'string' ? document.createTextNode(c) : c);
    });
    return e;
  }

  // -------------------------------------------------------------------------------------------
  // The JSON API

  /**
   * Sends a request; never throws. opts: {json: value} or {text, contentType}.
   * Resolves to {ok, status, data, message} (message: the server's error text).
   */
  function api(method, url, opts) {
    opts = opts || {};
    var headers = { 'Accept': 'application/json' };
    var body;
    if (opts.json !== undefined) {
      headers['Content-Type'] = 'application/json';
      body = JSON.stringify(opts.json);
    } else if (opts.text !== undefined) {
      headers['Content-Type'] = opts.contentType || 'text/plain';
      body = opts.text;
    }
    if (method !== 'GET' && method !== 'HEAD' && C.csrf) headers['X-CSRF-Token'] = C.csrf;
    return fetch(url, { method: method, headers: headers, body: body, credentials: 'same-origin', cache: 'no-store' })
      .then(function (r) {
        return r.text().then(function (text) {
          var data = null;
          try { data = text ? JSON.parse(text) : null; } catch (e) { data = null; }
          var message = data && typeof data.error === 'string' ? data.error : (r.ok ? '' : r.statusText);
          return { ok: r.ok, status: r.status, data: data, message: message };
        });
      })
      .catch(function (e) {
        return { ok: false, status: 0, data: null, message: String(e && e.message || e) };
      });
  }

  /** What went wrong, in the page's language, then the server's own words (English). */
  function describe(res) {
    if (res.status === 0) return { text: t('network'), server: '' };
    var known = [400, 401, 403, 404, 409, 413, 422, 429];
    var prefix = known.indexOf(res.status) >= 0 ? t('err.' + res.status) : t('err.other');
    return { text: prefix, server: res.message || '' };
  }

  function loginLink() {
    var next = location.pathname + location.search;
    return el('a', { href: '/logowanie?next=' + encodeURIComponent(next), 'data-action': 'login-again' }, [t('login_again')]);
  }

  /** Fills a message element with a described error: our text, the server's, a login link on 401. */
  function fillError(target, res, lead) {
    var d = describe(res);
    target.textContent = '';
    if (lead) target.appendChild(document.createTextNode(lead + ' '));
    target.appendChild(document.createTextNode(d.text));
    if (d.server) {
      target.appendChild(document.createTextNode(' ' + t('server_said') + ' '));
      target.appendChild(el('span', { lang: 'en', 'data-server-message': true }, [d.server]));
    }
    if (res.status === 401) {
      target.appendChild(document.createTextNode(' '));
      target.appendChild(loginLink());
    }
    return target.textContent;
  }

  var resultEl = document.getElementById('action-result');
  var errorEl = document.getElementById('action-error');

  function record(action, ok, status, message) {
    C.log.push({ action: action, ok: ok, status: status, message: message, t: Date.now() });
    if (C.log.length > 500) C.log.splice(0, C.log.length - 500);
  }

  /** An action's result, in the polite live region. */
  function say(message) {
    if (errorEl) errorEl.textContent = '';
    C.lastMessage = message;
    if (!resultEl) return;
    // Re-announce the same text: clear first, then set.
    resultEl.textContent = '';
    resultEl.setAttribute('data-kind', 'ok');
    window.setTimeout(function () { resultEl.textContent = message; }, 30);
  }

  /** An error, in the alert region. */
  function sayError(res, lead) {
    if (resultEl) resultEl.textContent = '';
    if (!errorEl) return;
    errorEl.textContent = '';
    var text = fillError(errorEl, res, lead);
    C.lastError = text;
  }

  function sayErrorText(text) {
    if (resultEl) resultEl.textContent = '';
    C.lastError = text;
    if (errorEl) errorEl.textContent = text;
  }

  // -------------------------------------------------------------------------------------------
  // Login page

  /** Same rule as the server's safe_next: a path on this site, or the console. */
  function safeNext(next) {
    next = (next || '').trim();
    var ok = next.charAt(0) === '/' && next.charAt(1) !== '/' && next.indexOf('\\') < 0 &&
      !/[\u0000-\u001f\u007f]/.test(next) && next !== '/logowanie' && next.indexOf('/logowanie?') !== 0;
    return ok ? next : '/konsola';
  }

  function initLogin() {
    var form = document.getElementById('login-form');
    if (!form) return;
    var user = document.getElementById('login-username');
    var pass = document.getElementById('login-password');
    var result = document.getElementById('login-result');
    var submit = document.getElementById('login-submit');
    var next = document.getElementById('login-next');
    var posted = document.getElementById('login-posted');
    if (posted) posted.hidden = true;  // the script runs: the no-script message does not apply

    form.addEventListener('submit', function (e) {
      e.preventDefault();
      var username = user.value.trim();
      var password = pass.value;
      user.removeAttribute('aria-invalid');
      pass.removeAttribute('aria-invalid');
      if (!username || !password) {
        if (!username) user.setAttribute('aria-invalid', 'true');
        if (!password) pass.setAttribute('aria-invalid', 'true');
        result.textContent = t('login_missing');
        C.lastError = result.textContent;
        (username ? pass : user).focus();
        return;
      }
      submit.disabled = true;
      submit.setAttribute('aria-busy', 'true');
      result.removeAttribute('data-kind');
      result.textContent = t('login_checking');
      api('POST', '/api/v1/login', { json: { username: username, password: password } }).then(function (res) {
        submit.removeAttribute('aria-busy');
        record('login', res.ok, res.status, res.message);
        if (res.ok) {
          result.setAttribute('data-kind', 'ok');
          result.textContent = t('login_ok');
          C.csrf = res.data && res.data.csrf_token;
          location.assign(safeNext(next ? next.value : ''));
          return;
        }
        submit.disabled = false;
        result.setAttribute('data-kind', 'error');
        if (res.status === 401) {
          result.textContent = '';
          result.appendChild(document.createTextNode(t('login_failed') + ' '));
          if (res.message) result.appendChild(el('span', { lang: 'en' }, [res.message]));
        } else {
          fillError(result, res);
        }
        C.lastError = result.textContent;
        pass.value = '';
        user.setAttribute('aria-invalid', 'true');
        pass.setAttribute('aria-invalid', 'true');
        pass.focus();
      });
    });
    if (!user.value) user.focus();
    C.ready = true;
  }

  // -------------------------------------------------------------------------------------------
  // Every console page: the CSRF token and the logout button

  var csrfReady = null;

  function loadCsrf() {
    csrfReady = api('GET', '/api/v1/me').then(function (res) {
      if (res.ok && res.data) {
        C.csrf = res.data.csrf_token || null;
        C.user = res.data.user || null;
      } else {
        sayError(res);
      }
      return res;
    });
    return csrfReady;
  }

  /** The CSRF token, asked for again if the first attempt failed (the network was down). */
  function ensureCsrf() {
    if (C.csrf || !csrfReady) return csrfReady || Promise.resolve(null);
    return csrfReady.then(function () { return C.csrf ? null : loadCsrf(); });
  }

  function initLogout() {
    var b = document.getElementById('logout');
    if (!b) return;
    b.addEventListener('click', function () {
      b.disabled = true;
      ensureCsrf().then(function () { return api('POST', '/api/v1/logout'); }).then(function (res) {
        record('logout', res.ok, res.status, res.message);
        if (res.ok || res.status === 401) {
          say(t('done.logout'));
          location.assign('/logowanie');
        } else {
          b.disabled = false;
          sayError(res);
        }
      });
    });
  }

  // -------------------------------------------------------------------------------------------
  // Times

  var TZ = DATA.time_zone || 'Europe/Warsaw';

  /** Minutes east of UTC of `tz` at the instant `utcMs`. */
  function tzOffsetMinutes(utcMs, tz) {
    try {
      var parts = new Intl.DateTimeFormat('en-US', {
        timeZone: tz, hourCycle: 'h23', year: 'numeric', month: '2-digit', day: '2-digit',
        hour: '2-digit', minute: '2-digit', second: '2-digit'
      }).formatToParts(new Date(utcMs));
      var get = function (type) {
        for (var i = 0; i < parts.length; i++) if (parts[i].type === type) return +parts[i].value;
        return 0;
      };
      var asUtc = Date.UTC(get('year'), get('month') - 1, get('day'), get('hour') % 24, get('minute'), get('second'));
      return Math.round((asUtc - utcMs) / 60000);
    } catch (e) {
      return -new Date(utcMs).getTimezoneOffset();
    }
  }

  function pad(n) { return (n < 10 ? '0' : '') + n; }

  /** "2025-11-26T09:00" (a datetime-local value, council's time) → RFC 3339 with its offset. */
  function toRfc3339(local) {
    var m = /^(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2})(?::(\d{2}))?/.exec(local || '');
    if (!m) return local || '';
    var guess = Date.UTC(+m[1], +m[2] - 1, +m[3], +m[4], +m[5], +(m[6] || 0));
    var off = tzOffsetMinutes(guess, TZ);
    off = tzOffsetMinutes(guess - off * 60000, TZ);
    var sign = off < 0 ? '-' : '+';
    var a = Math.abs(off);
    return m[1] + '-' + m[2] + '-' + m[3] + 'T' + m[4] + ':' + m[5] + ':' + (m[6] || '00') +
      sign + pad(Math.floor(a / 60)) + ':' + pad(a % 60);
  }

  /** Unix ns → "2025-11-26 09:05:03" in the council's time, as the server shows it. */
  function localTime(ns) {
    var d = new Date(Math.floor(ns / 1e6));
    try {
      return new Intl.DateTimeFormat('sv-SE', {
        timeZone: TZ, year: 'numeric', month: '2-digit', day: '2-digit',
        hour: '2-digit', minute: '2-digit', second: '2-digit', hourCycle: 'h23'
      }).format(d);
    } catch (e) {
      return d.toISOString().replace('T', ' ').slice(0, 19);
    }
  }

  /** "2025-11-26T09:00:00+01:00" → "2025-11-26 09:00" in the council's time. */
  function scheduledText(rfc) {
    var ms = Date.parse(rfc || '');
    if (isNaN(ms)) return rfc || '';
    return localTime(ms * 1e6).slice(0, 16);
  }

  // -------------------------------------------------------------------------------------------
  // An agenda file, checked by the server before anything is saved
  // (create: a new session; replace: a new agenda for this session)

  var META_FIELDS = ['body', 'title', 'kind', 'term', 'scheduled_start', 'place', 'chair'];

  /** The file's text: UTF-8, or Windows-1250 (Excel's Polish CSV) when it is not valid UTF-8. */
  function readFileText(file) {
    var buffer = file.arrayBuffer ? file.arrayBuffer() : new Promise(function (resolve, reject) {
      var r = new FileReader();
      r.onload = function () { resolve(r.result); };
      r.onerror = function () { reject(r.error); };
      r.readAsArrayBuffer(file);
    });
    return buffer.then(function (buf) {
      try {
        return { text: new TextDecoder('utf-8', { fatal: true }).decode(buf), cp1250: false };
      } catch (e) {
        try {
          return { text: new TextDecoder('windows-1250').decode(buf), cp1250: true };
        } catch (e2) {
          return { text: new TextDecoder('utf-8').decode(buf), cp1250: false };
        }
      }
    });
  }

  /** "csv", "json-object" or "json-array", from the name and the first character. */
  function fileKind(name, text) {
    var first = text.replace(/^\ufeff/, '').trim().charAt(0);
    if (/\.csv$/i.test(name)) return 'csv';
    if (first === '{') return 'json-object';
    if (first === '[') return 'json-array';
    return /\.json$/i.test(name) ? 'json-object' : 'csv';
  }

  function initAgendaForm(onSaved) {
    var form = $('form[data-mode]');
    if (!form) return;
    var mode = form.getAttribute('data-mode');
    var fileInput = $('#agenda-file', form);
    var previewBtn = $('#preview-button', form);
    var saveBtn = $('#save-button', form);
    var box = $('#preview', form);
    var errBox = $('#preview-error', form);
    var content = $('#preview-content', form);
    var metaList = $('#preview-meta', form);
    var tbody = $('#preview-agenda tbody', form);
    var caption = $('#preview-caption', form);
    var state = { draft: null, checking: false };

    function metaInput(name) { return $('[data-field="' + name + '"]', form); }

    function clearInvalid() {
      $all('[aria-invalid]', form).forEach(function (i) { i.removeAttribute('aria-invalid'); });
    }

    function invalidate(stale) {
      if (!state.draft) return;
      state.draft = null;
      C.preview = null;
      saveBtn.disabled = true;
      box.setAttribute('data-valid', 'false');
      if (stale) say(t('preview_stale'));
    }

    function showDraft(draft) {
      errBox.hidden = true;
      errBox.textContent = '';
      content.hidden = false;
      metaList.textContent = '';
      if (mode === 'create') {
        META_FIELDS.forEach(function (f) {
          var v = draft[f];
          if (v == null || v === '') return;
          if (f === 'scheduled_start') v = scheduledText(v);
          metaList.appendChild(el('dt', null, [t('field.' + f)]));
          metaList.appendChild(el('dd', { 'data-field': f }, [String(v)]));
        });
      }
      tbody.textContent = '';
      draft.agenda.forEach(function (item) {
        tbody.appendChild(el('tr', { 'data-item': item.number }, [
          el('td', { className: 'num' }, [item.number]),
          el('td', null, [item.title]),
          el('td', null, [item.resolution_draft || ''])
        ]));
      });
      caption.textContent = t('preview_caption', { n: draft.agenda.length });
      box.hidden = false;
      box.setAttribute('data-valid', 'true');
    }

    function showProblem(res) {
      content.hidden = true;
      box.hidden = false;
      box.setAttribute('data-valid', 'false');
      errBox.hidden = false;
      fillError(errBox, res, t('preview_invalid'));
      C.lastError = errBox.textContent;
      // "title: the title is empty" names a field of this form: mark it and go there.
      var where = (res.message || '').split(':')[0].trim();
      var input = mode === 'create' && META_FIELDS.indexOf(where) >= 0 ? metaInput(where) : null;
      if (input) {
        input.setAttribute('aria-invalid', 'true');
        input.setAttribute('aria-errormessage', 'preview-error');
        input.focus();
      }
    }

    function check() {
      if (state.checking) return;
      clearInvalid();
      var file = fileInput.files && fileInput.files[0];
      if (!file) {
        fileInput.setAttribute('aria-invalid', 'true');
        sayErrorText(t('no_file'));
        fileInput.focus();
        return;
      }
      state.checking = true;
      invalidate(false);
      previewBtn.setAttribute('aria-busy', 'true');
      say(t('reading'));
      readFileText(file).then(function (read) {
        var kind = fileKind(file.name, read.text);
        var params = new URLSearchParams();
        if (kind !== 'json-object') {
          if (mode === 'create') {
            META_FIELDS.forEach(function (f) {
              var input = metaInput(f);
              var v = input ? input.value.trim() : '';
              if (f === 'scheduled_start') v = toRfc3339(v);
              if (v) params.set(f, v);
            });
          } else if (C.session) {
            params.set('title', C.session.title);
            params.set('body', C.session.body);
          }
        }
        say(t('checking'));
        var q = params.toString();
        return ensureCsrf().then(function () {
          return api('POST', '/api/v1/sessions/preview' + (q ? '?' + q : ''), {
            text: read.text,
            contentType: kind === 'csv' ? 'text/csv; charset=utf-8' : 'application/json'
          });
        }).then(function (res) {
          record('preview', res.ok, res.status, res.message);
          if (res.ok && res.data && Array.isArray(res.data.agenda)) {
            state.draft = res.data;
            C.preview = res.data;
            showDraft(res.data);
            saveBtn.disabled = false;
            var msg = t('preview_ok', { n: res.data.agenda.length });
            if (read.cp1250) msg += ' ' + t('cp1250');
            say(msg);
          } else {
            showProblem(res);
            sayError(res, t('preview_invalid'));
          }
        });
      }).catch(function (e) {
        sayErrorText(t('network') + ' ' + String(e && e.message || e));
      }).then(function () {
        state.checking = false;
        previewBtn.removeAttribute('aria-busy');
      });
    }

    function save() {
      if (!state.draft) { sayErrorText(t('preview_stale')); return; }
      saveBtn.disabled = true;
      saveBtn.setAttribute('aria-busy', 'true');
      say(t('saving'));
      var req = mode === 'create'
        ? api('POST', '/api/v1/sessions', { json: state.draft })
        : api('PUT', '/api/v1/sessions/' + C.session.id + '/agenda', { json: state.draft.agenda });
      req.then(function (res) {
        saveBtn.removeAttribute('aria-busy');
        record(mode === 'create' ? 'save' : 'replace-agenda', res.ok, res.status, res.message);
        if (!res.ok) {
          saveBtn.disabled = false;
          sayError(res);
          return;
        }
        if (mode === 'create') {
          location.assign('/konsola?utworzono=' + encodeURIComponent(res.data.id));
          return;
        }
        var n = state.draft.agenda.length;
        state.draft = null;
        C.preview = null;
        form.reset();
        box.hidden = true;
        if (onSaved) onSaved(res.data);
        say(t('agenda_replaced', { n: n }));
      });
    }

    form.addEventListener('submit', function (e) { e.preventDefault(); check(); });
    fileInput.addEventListener('change', function () {
      fileInput.removeAttribute('aria-invalid');
      if (fileInput.files && fileInput.files[0]) check();
    });
    form.addEventListener('input', function (e) {
      if (e.target !== fileInput) {
        if (e.target.getAttribute) e.target.removeAttribute('aria-invalid');
        invalidate(true);
      }
    });
    saveBtn.addEventListener('click', save);
    form._setEnabled = function (on) {
      $all('input, button', form).forEach(function (i) {
        if (i === saveBtn) i.disabled = !on || !state.draft;
        else i.disabled = !on;
      });
    };
  }

  // -------------------------------------------------------------------------------------------
  // /konsola

  function initHome() {
    loadCsrf();
    initLogout();
    initAgendaForm(null);
    var created = document.getElementById('created-notice');
    if (created) created.focus();
    C.ready = true;
  }

  // -------------------------------------------------------------------------------------------
  // /konsola/sesje/{id}

  var SYMBOLS = { live: '●', paused: '❚❚', 'private': '⊘', ended: '■', planned: '◷' };
  var ENDPOINTS = {
    start: 'start', recess: 'recess', resume: 'resume',
    'private-begin': 'private/begin', 'private-end': 'private/end', stop: 'stop'
  };
  // Where focus goes when the focused button is disabled by its own action.
  var COUNTERPART = {
    start: 'next-item', recess: 'resume', resume: 'recess',
    'private-begin': 'private-end', 'private-end': 'private-begin', stop: null
  };

  function actionKey(s) {
    return s.private && (s.state === 'live' || s.state === 'paused') ? s.state + '+private' : s.state;
  }

  function allowed(action) {
    if (!C.session || !DATA.actions) return false;
    var list = DATA.actions[actionKey(C.session)] || [];
    return list.indexOf(action) >= 0;
  }

  function displayState(s) {
    if (s.state === 'planned' || s.state === 'ended') return s.state;
    return s.private ? 'private' : s.state;
  }

  function currentItem(s) {
    if (s.state === 'ended') return null;
    for (var i = s.timeline.length - 1; i >= 0; i--) {
      if (s.timeline[i].kind === 'item') return s.timeline[i].agenda_number;
    }
    return null;
  }

  function nextItem(s) {
    var cur = currentItem(s);
    if (!s.agenda.length) return null;
    if (cur == null) return s.agenda[0];
    for (var i = 0; i < s.agenda.length; i++) {
      if (s.agenda[i].number === cur) return s.agenda[i + 1] || null;
    }
    return null;
  }

  function itemTitle(s, number) {
    for (var i = 0; i < s.agenda.length; i++) if (s.agenda[i].number === number) return s.agenda[i].title;
    return '';
  }

  function setText(node, text) {
    if (node && node.textContent !== text) node.textContent = text;
  }

  function renderBanner(s) {
    var banner = document.getElementById('state-banner');
    var shown = displayState(s);
    if (banner.getAttribute('data-state') !== shown) banner.setAttribute('data-state', shown);
    setText(document.getElementById('state-symbol'), SYMBOLS[shown] || '');
    setText(document.getElementById('state-name'), t('banner.' + shown));
    setText(document.getElementById('state-hint'), t('banner_hint.' + shown));
    var root = document.getElementById('console-session');
    root.setAttribute('data-state', s.state);
    root.setAttribute('data-private', s.private ? 'true' : 'false');

    var cur = currentItem(s);
    var curEl = document.getElementById('current-item');
    curEl.setAttribute('data-item', cur || '');
    setText(document.getElementById('current-item-text'), cur ? cur + '. ' + itemTitle(s, cur) : t('no_current'));

    var next = nextItem(s);
    var nextEl = document.getElementById('next-item-text');
    nextEl.setAttribute('data-item', next ? next.number : '');
    setText(nextEl, next ? t('next_is') + ' ' + next.number + '. ' + next.title : t('no_next'));
  }

  function renderButtons(s) {
    var next = nextItem(s);
    $all('#controls [data-action]').forEach(function (b) {
      var a = b.getAttribute('data-action');
      var on = allowed(a) && (a !== 'next-item' || !!next);
      b.disabled = !on;
    });
    $all('#agenda [data-action="begin-item"]').forEach(function (b) {
      b.disabled = !allowed('begin-item');
    });
    var agendaForm = $('form[data-mode="replace"]');
    if (agendaForm && agendaForm._setEnabled) agendaForm._setEnabled(allowed('replace-agenda'));
  }

  function itemNode(item) {
    var begin = el('button', {
      type: 'button', className: 'btn btn-secondary btn-begin', 'data-action': 'begin-item', 'data-item': item.number
    }, [t('begin_item'), el('span', { className: 'visually-hidden' }, [' ' + item.number])]);
    return el('li', { className: 'item', 'data-item': item.number }, [
      el('span', { className: 'num' }, [item.number + '.']),
      el('span', { className: 'item-body' }, [
        el('span', { className: 'title' }, [item.title]),
        item.resolution_draft ? el('span', { className: 'meta' }, [t('resolution') + ': ' + item.resolution_draft]) : null,
        el('span', { className: 'item-status meta', 'data-status': true })
      ]),
      begin
    ]);
  }

  function renderAgenda(s) {
    var list = document.getElementById('agenda');
    var numbers = s.agenda.map(function (a) { return a.number; });
    var shown = $all('li[data-item]', list).map(function (li) { return li.getAttribute('data-item'); });
    if (numbers.join('\u0000') !== shown.join('\u0000')) {
      var focused = document.activeElement && document.activeElement.getAttribute &&
        document.activeElement.getAttribute('data-item');
      list.textContent = '';
      s.agenda.forEach(function (item) { list.appendChild(itemNode(item)); });
      if (focused) {
        var again = $('[data-action="begin-item"][data-item="' + cssEscape(focused) + '"]', list);
        if (again) again.focus();
      }
    }
    var cur = currentItem(s);
    var begunAt = {};
    s.timeline.forEach(function (m) {
      if (m.kind === 'item' && m.agenda_number && !(m.agenda_number in begunAt)) begunAt[m.agenda_number] = m.wall_ns;
    });
    $all('li[data-item]', list).forEach(function (li) {
      var n = li.getAttribute('data-item');
      var isCurrent = n === cur;
      var begun = n in begunAt;
      li.classList.toggle('current', isCurrent);
      li.classList.toggle('begun', begun);
      if (isCurrent) li.setAttribute('aria-current', 'step'); else li.removeAttribute('aria-current');
      var status = $('[data-status]', li);
      var parts = [];
      if (isCurrent) parts.push(t('item_current'));
      if (begun) parts.push(t('item_begun_at') + ' ' + localTime(begunAt[n]));
      var text = parts.join(' · ');
      if (status.textContent !== text) {
        status.textContent = '';
        if (isCurrent) status.appendChild(el('strong', null, [t('item_current')]));
        if (isCurrent && begun) status.appendChild(document.createTextNode(' · '));
        if (begun) {
          status.appendChild(document.createTextNode(t('item_begun_at') + ' '));
          status.appendChild(el('time', null, [localTime(begunAt[n])]));
        }
      }
    });
  }

  function cssEscape(s) {
    return window.CSS && CSS.escape ? CSS.escape(s) : String(s).replace(/["\\]/g, '\\$&');
  }

  function renderTimeline(s) {
    var list = document.getElementById('timeline');
    var times = s.timeline.map(function (m) { return m.wall_ns; }).join(',');
    if (list.getAttribute('data-count') === String(s.timeline.length) && list.children.length === s.timeline.length &&
      list.getAttribute('data-times') === times) return;
    list.setAttribute('data-times', times);
    list.textContent = '';
    for (var i = s.timeline.length - 1; i >= 0; i--) {
      var m = s.timeline[i];
      var text = ' ' + t('mark.' + m.kind) + (m.agenda_number ? ' ' + m.agenda_number : '') +
        (m.reason ? ' – ' + m.reason : '') +
        (m.legal_basis ? ' (' + t('legal_basis') + ': ' + m.legal_basis + ')' : '') + ' ';
      list.appendChild(el('li', { 'data-kind': m.kind }, [
        el('time', null, [localTime(m.wall_ns)]), text,
        el('span', { className: 'meta' }, ['· ' + (m.actor || '')])
      ]));
    }
    list.setAttribute('data-count', String(s.timeline.length));
    var none = document.getElementById('no-timeline');
    if (none) none.hidden = s.timeline.length > 0;
  }

  function applySession(s) {
    if (!s || !Array.isArray(s.agenda) || !Array.isArray(s.timeline)) return;
    C.session = s;
    renderBanner(s);
    renderButtons(s);
    renderAgenda(s);
    renderTimeline(s);
    renderAfter(s);
    renderWarnings();
    var h1 = document.getElementById('page-title');
    setText(h1, s.title);
  }

  function refreshSession() {
    return api('GET', '/api/v1/sessions/' + C.session.id).then(function (res) {
      if (res.ok) applySession(res.data);
      return res;
    });
  }

  /** After an action, keep keyboard focus on something useful if its button got disabled. */
  function keepFocus(action, opener) {
    if (document.querySelector('dialog[open]')) return;
    var active = document.activeElement;
    // Lost: nowhere, on a disabled button, or inside a dialog that just closed.
    var lost = !active || active === document.body || active.disabled ||
      !!(active.closest && active.closest('dialog:not([open])'));
    if (!lost) return;
    // A shortcut pressed with nothing focused: leave focus alone.
    if (!opener && !(active && active.disabled)) return;
    var other = COUNTERPART[action] && $('#controls [data-action="' + COUNTERPART[action] + '"]');
    if (other && !other.disabled) { other.focus(); return; }
    var banner = document.getElementById('state-banner');
    banner.setAttribute('tabindex', '-1');
    banner.focus();
  }

  function setBusy(on) {
    C.busy = on;
    var controls = document.getElementById('controls');
    if (on) controls.setAttribute('aria-busy', 'true'); else controls.removeAttribute('aria-busy');
  }

  /** A timeline action (start, recess, ...): POST, then show the session as it is now. */
  function act(action, body, opener) {
    if (C.busy) { say(t('busy')); return Promise.resolve(false); }
    setBusy(true);
    var url = '/api/v1/sessions/' + C.session.id + '/' + ENDPOINTS[action];
    return ensureCsrf().then(function () {
      return api('POST', url, body === undefined ? {} : { json: body });
    }).then(function (res) {
      setBusy(false);
      record(action, res.ok, res.status, res.message);
      if (res.ok && res.data && res.data.session) {
        applySession(res.data.session);
        say(t('done.' + action));
        keepFocus(action, opener);
        return true;
      }
      sayError(res);
      if (res.status === 409 || res.status === 422) refreshSession();
      return false;
    });
  }

  function beginItem(number, opener) {
    if (C.busy) { say(t('busy')); return Promise.resolve(false); }
    setBusy(true);
    var url = '/api/v1/sessions/' + C.session.id + '/items/' + encodeURIComponent(number) + '/begin';
    return ensureCsrf().then(function () { return api('POST', url); }).then(function (res) {
      setBusy(false);
      record('begin-item:' + number, res.ok, res.status, res.message);
      if (res.ok && res.data && res.data.session) {
        applySession(res.data.session);
        say(t('done.item', { n: number, title: itemTitle(res.data.session, number) }));
        if (opener && document.contains(opener)) opener.focus();
        return true;
      }
      sayError(res);
      if (res.status === 409 || res.status === 422) refreshSession();
      return false;
    });
  }

  function beginNext(opener) {
    var next = C.session && nextItem(C.session);
    if (!next) { say(t('no_next')); return Promise.resolve(false); }
    return beginItem(next.number, opener);
  }

  // Dialogs: <dialog> with showModal (focus inside, Escape closes, the rest inert); focus goes
  // back to the button that opened it.
  var dialogOpener = null;

  function openDialog(d, focusEl) {
    dialogOpener = document.activeElement;
    $all('.field-error, .result-error', d).forEach(function (e) { e.textContent = ''; });
    $all('[aria-invalid]', d).forEach(function (e) { e.removeAttribute('aria-invalid'); });
    if (typeof d.showModal === 'function') d.showModal(); else d.setAttribute('open', '');
    if (focusEl) focusEl.focus();
  }

  function closeDialog(d) {
    if (typeof d.close === 'function') d.close(); else { d.removeAttribute('open'); onDialogClosed(d); }
  }

  function onDialogClosed(d) {
    var back = dialogOpener;
    dialogOpener = null;
    if (back && document.contains(back) && !back.disabled) { back.focus(); return; }
    keepFocus(d.getAttribute('data-for'), back || document.body);
  }

  function initDialogs() {
    var priv = document.getElementById('private-dialog');
    var stop = document.getElementById('stop-dialog');
    [priv, stop].forEach(function (d) {
      d.addEventListener('close', function () { onDialogClosed(d); });
      $all('[data-action="dialog-cancel"]', d).forEach(function (b) {
        b.addEventListener('click', function () { closeDialog(d); });
      });
    });

    var reason = document.getElementById('private-reason');
    var basis = document.getElementById('private-legal-basis');
    document.getElementById('private-form').addEventListener('submit', function (e) {
      e.preventDefault();
      var r = reason.value.trim();
      var b = basis.value.trim();
      var rErr = document.getElementById('private-reason-error');
      var bErr = document.getElementById('private-legal-basis-error');
      rErr.textContent = r ? '' : t('reason_required');
      bErr.textContent = b ? '' : t('legal_required');
      if (r) reason.removeAttribute('aria-invalid'); else reason.setAttribute('aria-invalid', 'true');
      if (b) basis.removeAttribute('aria-invalid'); else basis.setAttribute('aria-invalid', 'true');
      if (!r || !b) { (r ? basis : reason).focus(); return; }
      var opener = dialogOpener;
      act('private-begin', { reason: r, legal_basis: b }, null).then(function (ok) {
        if (ok) {
          reason.value = '';
          dialogOpener = opener;
          closeDialog(priv);
        } else {
          fillError(document.getElementById('private-dialog-error'), lastFailure());
        }
      });
    });

    document.getElementById('stop-form').addEventListener('submit', function (e) {
      e.preventDefault();
      act('stop', undefined, null).then(function (ok) {
        if (ok) closeDialog(stop);
        else fillError(document.getElementById('stop-dialog-error'), lastFailure());
      });
    });
  }

  function lastFailure() {
    var last = C.log[C.log.length - 1] || {};
    return { status: last.status || 0, message: last.message || '' };
  }

  function onControl(e) {
    var b = e.target.closest && e.target.closest('[data-action]');
    if (!b || b.disabled) return;
    var a = b.getAttribute('data-action');
    if (a === 'begin-item') { beginItem(b.getAttribute('data-item'), b); return; }
    if (a === 'next-item') { beginNext(b); return; }
    if (a === 'private-begin') { openDialog(document.getElementById('private-dialog'), document.getElementById('private-reason')); return; }
    if (a === 'stop') { openDialog(document.getElementById('stop-dialog'), $('#stop-dialog [data-action="dialog-cancel"]')); return; }
    if (ENDPOINTS[a]) {
      act(a, a === 'start' && DATA.channel ? { channel: DATA.channel } : undefined, b);
    }
  }

  /** Typing in a field, or a dialog is open: shortcuts stay off. */
  function shortcutsOff(target) {
    if (document.querySelector('dialog[open]')) return true;
    if (!target || !target.closest) return false;
    return !!target.closest('input, textarea, select, [contenteditable=""], [contenteditable="true"]');
  }

  function onKey(e) {
    if (e.defaultPrevented || e.ctrlKey || e.metaKey || e.altKey || e.repeat) return;
    if (shortcutsOff(e.target)) return;
    var k = (e.key || '').toLowerCase();
    var stateName = C.session ? t('banner.' + displayState(C.session)) : '';
    if (k === 'n' || k === 'j') {
      e.preventDefault();
      if (!allowed('next-item')) { say(t('shortcut_unavailable', { key: k.toUpperCase(), state: stateName })); return; }
      beginNext(null);
    } else if (k === 'p') {
      e.preventDefault();
      if (allowed('recess')) act('recess', undefined, null);
      else if (allowed('resume')) act('resume', undefined, null);
      else say(t('shortcut_unavailable', { key: 'P', state: stateName }));
    }
  }

  // Live preview: the lowest rendition, muted, with hls.js (native HLS where there is no MSE).
  function startPreview() {
    var video = document.getElementById('preview-video');
    var status = document.getElementById('preview-status');
    if (!video) return;
    var url = video.getAttribute('data-stream');
    function setStatus(s) {
      status.setAttribute('data-state', s);
      setText(status, t('preview_' + s));
      C.previewState = s;
    }
    video.addEventListener('playing', function () { setStatus('live'); });
    var retry = 0;
    function start() {
      clearTimeout(retry);
      if (C.previewHls) { try { C.previewHls.destroy(); } catch (e) { /* ignore */ } }
      // No text or metadata tracks: for them hls.js adds <track src="data:,WEBVTT">, which the
      // page's CSP (media-src 'self' blob:) refuses; the preview needs neither.
      var hls = new window.Hls({
        lowLatencyMode: true, backBufferLength: 10, enableWorker: true, liveDurationInfinity: true,
        enableCEA708Captions: false, enableWebVTT: false, enableDateRangeMetadataCues: false,
        enableEmsgMetadataCues: false, enableID3MetadataCues: false
      });
      C.previewHls = hls;
      hls.on(window.Hls.Events.ERROR, function (ev, d) {
        if (!d.fatal) return;
        setStatus('offline');
        try { hls.destroy(); } catch (e) { /* ignore */ }
        C.previewHls = null;
        retry = setTimeout(start, POLL_MS);
      });
      hls.on(window.Hls.Events.MANIFEST_PARSED, function () {
        var p = video.play();
        if (p && p.catch) p.catch(function () { /* muted autoplay may still be refused */ });
      });
      hls.attachMedia(video);
      hls.loadSource(url);
    }
    if (window.Hls && window.Hls.isSupported()) {
      start();
    } else if (video.canPlayType('application/vnd.apple.mpegurl')) {
      video.src = url;
      video.addEventListener('error', function () {
        setStatus('offline');
        setTimeout(function () { video.src = url; video.play(); }, POLL_MS);
      });
      video.play();
    } else {
      setStatus('unsupported');
    }
  }

  // Health: GET /api/v1/health and /api/v1/channels every 5 s (and the session, without SSE).
  var serverDown = false;
  var mismatchSeen = 0;

  function healthValue(name, text, value) {
    var dd = $('#health [data-health="' + name + '"]');
    if (!dd) return;
    setText(dd, text);
    dd.setAttribute('data-value', String(value));
  }

  function channelView() {
    if (!C.channels || !C.channels.channels) return null;
    for (var i = 0; i < C.channels.channels.length; i++) {
      if (C.channels.channels[i].id === DATA.channel) return C.channels.channels[i];
    }
    return null;
  }

  function renderWarnings() {
    var box = document.getElementById('health-warning');
    if (!box || !C.session) return;
    var s = C.session;
    var ch = channelView();
    var running = s.state === 'live' || s.state === 'paused';
    var warning = '';
    if (serverDown) warning = t('warn_server');
    else if (running && ch && !ch.live) warning = t('warn_not_live');
    else if (running && ch && ch.private !== s.private && mismatchSeen >= 2) warning = t('warn_private_mismatch');
    else if (C.signal && C.signal.source && C.signal.source.state === 'lost') {
      warning = t('warn_source_lost', { reason: C.signal.source.reason || '' });
    }
    else if (C.signal && C.signal.alerts && C.signal.alerts.length) {
      var a = C.signal.alerts[0];
      warning = t('warn_' + a.kind, { seconds: Math.round(a.seconds) });
    }
    else if (C.signal && typeof C.signal.disk_free_bytes === 'number' && C.signal.disk_free_bytes < LOW_DISK_BYTES) {
      warning = t('warn_disk', { free: gib(C.signal.disk_free_bytes) });
    }
    setText(box, warning);
    box.hidden = !warning;
  }

  /** The camera's state (GET /api/v1/channels/{channel}/health): test source, live, lost since. */
  function renderSource() {
    var src = C.signal && C.signal.source;
    if (!src || !src.state) return;
    var text = t('source_' + src.state);
    if (src.state === 'lost') {
      var since = src.since ? Date.parse(src.since) : NaN;
      text = t('source_lost_since', { since: isNaN(since) ? '?' : localTime(since * 1e6).slice(11), reason: src.reason || '' });
    }
    if (src.losses) text += ' · ' + t('source_losses', { n: src.losses });
    healthValue('source', text, src.state);
  }

  function renderHealth() {
    var now = localTime(Date.now() * 1e6).slice(11);
    healthValue('server', serverDown ? t('server_down') : t('server_ok'), !serverDown);
    var ch = channelView();
    if (ch) {
      healthValue('channel', ch.name || ch.id, ch.id);
      healthValue('live', ch.live ? t('live_yes') : t('live_no'), ch.live);
      healthValue('private', ch.private ? t('private_on') : t('private_off'), ch.private);
      healthValue('scene', t('scene.' + ch.test_scene), ch.test_scene);
      var running = C.session && (C.session.state === 'live' || C.session.state === 'paused');
      mismatchSeen = running && ch.private !== C.session.private ? mismatchSeen + 1 : 0;
    }
    renderSource();
    healthValue('checked', now, now);
    renderWarnings();
  }

  function poll() {
    var work = [api('GET', '/api/v1/health'), api('GET', '/api/v1/channels')];
    if (C.updates !== 'sse') work.push(refreshSession());
    Promise.all(work).then(function (r) {
      serverDown = r[0].status === 0;
      if (r[0].ok) C.health = r[0].data;
      if (r[1].ok) C.channels = r[1].data;
      renderHealth();
    }).then(function () {
      setTimeout(poll, POLL_MS);
    });
  }

  function setUpdates(mode) {
    C.updates = mode;
    setText(document.getElementById('updates-mode'), t('updates_' + mode));
  }

  /** Session updates as Server-Sent Events when the server has them; else polling. */
  function startEvents() {
    if (!window.EventSource || !DATA.events) { setUpdates('poll'); return; }
    var es;
    try { es = new EventSource(DATA.events); } catch (e) { setUpdates('poll'); return; }
    C.events = es;
    var opened = false;
    setUpdates('poll');
    es.onopen = function () { opened = true; setUpdates('sse'); };
    // Each event says the session changed; the console reads it whole (agenda included).
    var onChange = function () { refreshSession(); };
    es.addEventListener('session', onChange);
    es.onmessage = onChange;
    es.onerror = function () {
      if (!opened || es.readyState === 2) {
        // No stream on this server (or it refused): poll instead.
        es.close();
        setUpdates('poll');
      } else {
        setUpdates('poll');  // reconnecting; the poll covers the gap
      }
    };
  }

  // Signal: audio level, each stream's bitrate and dropped frames, viewers, disk space, from
  // GET /api/v1/channels/{channel}/health (Server-Sent Events four times a second, else polled).
  // The panel stays hidden on a server without that route.
  var SIGNAL_POLL_MS = 2000;
  var LOW_DISK_BYTES = 5 * 1024 * 1024 * 1024;
  var METER_MIN_DB = -60;

  function gib(bytes) { return (bytes / (1024 * 1024 * 1024)).toFixed(1); }

  function meterRow(i, count) {
    var label = count === 2 ? t(i === 0 ? 'audio_left' : 'audio_right') : t('audio_channel', { n: i + 1 });
    var id = 'meter-' + i;
    return el('div', { className: 'meter-row', 'data-channel': String(i) }, [
      el('span', { id: id + '-label', className: 'meter-label' }, [label]),
      el('meter', {
        id: id, min: METER_MIN_DB, max: 0, low: -30, high: -6, optimum: -18,
        value: METER_MIN_DB, 'aria-labelledby': id + '-label'
      }),
      el('span', { className: 'meter-db', id: id + '-db' }, ['–'])
    ]);
  }

  function renderSignal(h) {
    var panel = document.getElementById('signal');
    if (!panel || !h) return;
    C.signal = h;
    renderSource();
    panel.hidden = false;
    var meters = document.getElementById('audio-meters');
    var audio = h.audio;
    var peaks = audio && Array.isArray(audio.peak_db) ? audio.peak_db : [];
    if (meters.children.length !== peaks.length && peaks.length) {
      meters.textContent = '';
      peaks.forEach(function (p, i) { meters.appendChild(meterRow(i, peaks.length)); });
    }
    var top = -Infinity;
    peaks.forEach(function (p, i) {
      var m = document.getElementById('meter-' + i);
      if (!m) return;
      var v = Math.max(METER_MIN_DB, Math.min(0, p));
      m.value = v;
      setText(document.getElementById('meter-' + i + '-db'), Math.round(p) + ' dB');
      top = Math.max(top, p);
    });
    var state = !audio ? 'none' : top >= -1 ? 'clip' : 'ok';
    meters.setAttribute('data-state', state);
    var stateEl = document.getElementById('audio-state');
    stateEl.setAttribute('data-state', state);
    setText(stateEl, state === 'none' ? t('audio_none') : t(state === 'clip' ? 'audio_clip' : 'audio_ok', { db: Math.round(top) }));
    if (!audio) $all('meter', meters).forEach(function (m) { m.value = METER_MIN_DB; });

    var tbody = $('#tracks tbody');
    var tracks = Array.isArray(h.tracks) ? h.tracks : [];
    if (tbody.children.length !== tracks.length) {
      tbody.textContent = '';
      tracks.forEach(function (tr) {
        tbody.appendChild(el('tr', { 'data-rendition': tr.rendition }, [
          el('th', { scope: 'row' }, [tr.rendition]), el('td', { 'data-col': 'bitrate' }), el('td', { 'data-col': 'dropped' })
        ]));
      });
    }
    tracks.forEach(function (tr, i) {
      var row = tbody.children[i];
      setText($('[data-col="bitrate"]', row), t('kbps', { n: Math.round(tr.bitrate_kbps) }));
      var dropped = $('[data-col="dropped"]', row);
      setText(dropped, String(tr.dropped));
      dropped.setAttribute('data-value', String(tr.dropped));
    });
    var facts = document.getElementById('signal-facts');
    setText($('[data-signal="viewers"]', facts), String(h.viewers));
    setText($('[data-signal="segments"]', facts), String(h.segments_written));
    var disk = $('[data-signal="disk"]', facts);
    if (typeof h.disk_free_bytes === 'number' && typeof h.disk_total_bytes === 'number' && h.disk_total_bytes > 0) {
      setText(disk, t('disk', {
        free: gib(h.disk_free_bytes), total: gib(h.disk_total_bytes),
        pct: Math.round(100 * h.disk_free_bytes / h.disk_total_bytes)
      }));
      disk.setAttribute('data-value', String(h.disk_free_bytes));
    }
    renderWarnings();
  }

  function startSignal() {
    var panel = document.getElementById('signal');
    if (!panel) return;
    var url = '/api/v1/channels/' + encodeURIComponent(panel.getAttribute('data-channel')) + '/health';
    var pending = null;
    var frame = 0;
    // Draw at most once per frame, whatever the event rate.
    function show(h) {
      pending = h;
      if (frame) return;
      var draw = function () {
        frame = 0;
        renderSignal(pending);
      };
      frame = window.requestAnimationFrame ? window.requestAnimationFrame(draw) : setTimeout(draw, 16);
    }
    function pollSignal() {
      api('GET', url).then(function (res) {
        if (res.status === 404) return;  // no such route (or channel) here: no panel
        if (res.ok) show(res.data);
        setTimeout(pollSignal, SIGNAL_POLL_MS);
      });
    }
    if (!window.EventSource) { pollSignal(); return; }
    var es = new EventSource(url + '/events');
    var opened = false;
    C.signalEvents = es;
    es.onopen = function () { opened = true; };
    es.addEventListener('health', function (ev) {
      try { show(JSON.parse(ev.data)); } catch (e) { /* a malformed event: the next one comes soon */ }
    });
    es.onerror = function () {
      if (!opened || es.readyState === 2) {
        es.close();
        pollSignal();
      }
    };
  }

  // After a session: publish / withdraw the recording, correct an item's start.
  function renderAfter(s) {
    var box = document.getElementById('after-session');
    if (!box || !s) return;
    var state = document.getElementById('publication-state');
    state.setAttribute('data-published', s.published ? 'true' : 'false');
    setText(document.getElementById('publication-text'), t(s.published ? 'published' : 'unpublished'));
    var why = document.getElementById('withdrawn-reason');
    why.hidden = !!s.published;
    setText($('[data-reason]', why), s.withdrawal ? s.withdrawal.reason : '');
    var un = document.getElementById('btn-unpublish');
    var pub = document.getElementById('btn-publish');
    un.hidden = !s.published;
    un.disabled = s.state !== 'ended';
    pub.hidden = !!s.published;
    var can = s.state === 'paused' || s.state === 'ended';
    $all('.correct-form input, .correct-form button', box).forEach(function (i) { i.disabled = !can; });
  }

  function publication(action, body) {
    if (C.busy) { say(t('busy')); return Promise.resolve(false); }
    setBusy(true);
    var url = '/api/v1/sessions/' + C.session.id + '/' + action;
    return ensureCsrf().then(function () {
      return api('POST', url, body === undefined ? {} : { json: body });
    }).then(function (res) {
      setBusy(false);
      record(action, res.ok, res.status, res.message);
      if (res.ok && res.data) {
        applySession(res.data);
        say(t('done.' + action));
        return true;
      }
      sayError(res);
      return false;
    });
  }

  function correctMark(form) {
    var seq = form.getAttribute('data-seq');
    var input = $('input', form);
    var at = (input.value || '').trim();
    if (at.length === 5) at += ':00';
    if (C.busy) { say(t('busy')); return; }
    setBusy(true);
    var url = '/api/v1/sessions/' + C.session.id + '/marks/' + encodeURIComponent(seq);
    ensureCsrf().then(function () { return api('PUT', url, { json: { at: at } }); }).then(function (res) {
      setBusy(false);
      record('correct-mark:' + seq, res.ok, res.status, res.message);
      if (res.ok && res.data && res.data.session) {
        input.value = String(res.data.at || '').slice(11);
        input.removeAttribute('aria-invalid');
        applySession(res.data.session);
        say(t('done.correct', { n: form.getAttribute('data-item'), at: input.value, msn: res.data.msn }));
        return;
      }
      input.setAttribute('aria-invalid', 'true');
      sayError(res);
    });
  }

  function initAfter() {
    var box = document.getElementById('after-session');
    if (!box) return;
    var dialog = document.getElementById('unpublish-dialog');
    var reason = document.getElementById('unpublish-reason');
    dialog.addEventListener('close', function () { onDialogClosed(dialog); });
    $all('[data-action="dialog-cancel"]', dialog).forEach(function (b) {
      b.addEventListener('click', function () { closeDialog(dialog); });
    });
    document.getElementById('btn-unpublish').addEventListener('click', function () {
      openDialog(dialog, reason);
    });
    document.getElementById('btn-publish').addEventListener('click', function () {
      publication('publish').then(function (ok) {
        if (ok) document.getElementById('btn-unpublish').focus();
      });
    });
    document.getElementById('unpublish-form').addEventListener('submit', function (e) {
      e.preventDefault();
      var r = reason.value.trim();
      var rErr = document.getElementById('unpublish-reason-error');
      rErr.textContent = r ? '' : t('unpublish_reason_required');
      if (!r) { reason.setAttribute('aria-invalid', 'true'); reason.focus(); return; }
      reason.removeAttribute('aria-invalid');
      publication('unpublish', { reason: r }).then(function (ok) {
        if (ok) {
          reason.value = '';
          dialogOpener = document.getElementById('btn-publish');
          closeDialog(dialog);
        } else {
          fillError(document.getElementById('unpublish-dialog-error'), lastFailure());
        }
      });
    });
    box.addEventListener('submit', function (e) {
      var form = e.target.closest && e.target.closest('.correct-form');
      if (!form) return;
      e.preventDefault();
      correctMark(form);
    });
  }

  function initSession() {
    loadCsrf();
    initLogout();
    initAgendaForm(function (s) { applySession(s); });
    initDialogs();
    document.getElementById('controls').addEventListener('click', onControl);
    document.getElementById('agenda').addEventListener('click', onControl);
    document.addEventListener('keydown', onKey);
    initMetaForm();
    initAfter();
    if (C.session) applySession(C.session);
    startPreview();
    startEvents();
    startSignal();
    poll();
    C.ready = true;
  }

  // Session details: PATCH only what changed; a cleared optional field is null.
  function initMetaForm() {
    var form = document.getElementById('meta-form');
    if (!form) return;
    var err = document.getElementById('meta-error');
    form.addEventListener('submit', function (e) {
      e.preventDefault();
      err.textContent = '';
      var patch = {};
      var changed = 0;
      var inputs = $all('[data-field]', form);
      inputs.forEach(function (i) { i.removeAttribute('aria-invalid'); });
      for (var k = 0; k < inputs.length; k++) {
        var i = inputs[k];
        var f = i.getAttribute('data-field');
        var v = i.value.trim();
        if (v === (i.getAttribute('data-initial') || '')) continue;
        if (f === 'title' && !v) {
          i.setAttribute('aria-invalid', 'true');
          err.textContent = t('title_required');
          i.focus();
          return;
        }
        patch[f] = v ? (f === 'scheduled_start' ? toRfc3339(v) : v) : null;
        changed++;
      }
      if (!changed) { say(t('meta_unchanged')); return; }
      ensureCsrf().then(function () {
        return api('PATCH', '/api/v1/sessions/' + C.session.id, { json: patch });
      }).then(function (res) {
        record('save-meta', res.ok, res.status, res.message);
        if (res.ok && res.data) {
          inputs.forEach(function (i) { i.setAttribute('data-initial', i.value.trim()); });
          applySession(res.data);
          say(t('meta_saved'));
          return;
        }
        fillError(err, res);
        sayError(res);
        var where = (res.message || '').split(':')[0].trim();
        var bad = $('[data-field="' + cssEscape(where) + '"]', form);
        if (bad) { bad.setAttribute('aria-invalid', 'true'); bad.focus(); }
      });
    });
  }

  // The picture: cameras (cut, picture in picture) and the lower third (item line, speaker,
  // vote banner). Each control answers with the state as it is now.
  function initPicture() {
    var panel = document.getElementById('picture');
    if (!panel) return;
    var ch = encodeURIComponent(panel.getAttribute('data-channel'));
    var err = document.getElementById('picture-error');
    var caption = document.getElementById('caption-now');
    var vote = document.getElementById('vote-toggle');
    var showItem = document.getElementById('show-item');
    var pip = document.getElementById('pip-select');
    var audio = document.getElementById('audio-select');

    function showGraphics(g) {
      if (!g) return;
      setText(caption, g.caption ? t('caption_now', { caption: g.caption }) : t('caption_none'));
      vote.setAttribute('aria-pressed', g.vote ? 'true' : 'false');
      showItem.checked = !!g.show_item;
    }
    function showProgram(p) {
      if (!p || !p.inputs) return;
      var box = document.getElementById('cameras');
      box.hidden = p.inputs.length < 2;
      var row = document.getElementById('camera-buttons');
      row.textContent = '';
      p.inputs.forEach(function (i) {
        var label = t('camera', { n: i.index, name: i.name, state: t('camera_' + i.state) });
        var b = el('button', { type: 'button', 'aria-pressed': i.index === p.input ? 'true' : 'false', text: label });
        b.addEventListener('click', function () { sendProgram(i.index, p.pip === i.index ? null : p.pip); });
        row.appendChild(b);
      });
      var keep = pip.value;
      while (pip.options.length > 1) pip.remove(1);
      p.inputs.forEach(function (i) {
        if (i.index !== p.input) pip.appendChild(el('option', { value: String(i.index), text: t('camera', { n: i.index, name: i.name, state: t('camera_' + i.state) }) }));
      });
      pip.value = p.pip == null ? '' : String(p.pip);
      if (pip.value !== (p.pip == null ? '' : String(p.pip))) pip.value = keep;
      while (audio.options.length > 2) audio.remove(2);
      p.inputs.forEach(function (i) {
        audio.appendChild(el('option', { value: String(i.index), text: t('audio_of', { n: i.index, name: i.name }) }));
      });
      audio.value = String(p.audio);
    }
    function fail(res) {
      fillError(err, res);
      sayError(res);
    }
    function sendGraphics(body) {
      err.textContent = '';
      return ensureCsrf().then(function () {
        return api('PUT', '/api/v1/channels/' + ch + '/graphics', { json: body });
      }).then(function (res) {
        record('graphics', res.ok, res.status, res.message);
        if (res.ok) { showGraphics(res.data); say(caption.textContent); if (body.speaker) loadSpeakers(); } else fail(res);
      });
    }
    function sendProgram(input, over, sound) {
      err.textContent = '';
      var body = { input: input, pip: over };
      if (sound !== undefined) body.audio = sound;
      return ensureCsrf().then(function () {
        return api('PUT', '/api/v1/channels/' + ch + '/program', { json: body });
      }).then(function (res) {
        record('program', res.ok, res.status, res.message);
        if (res.ok) { showProgram(res.data); say(t('camera_on_air', { n: res.data.input })); } else fail(res);
      });
    }
    document.getElementById('speaker-form').addEventListener('submit', function (e) {
      e.preventDefault();
      var name = document.getElementById('speaker-name');
      var role = document.getElementById('speaker-role');
      name.removeAttribute('aria-invalid');
      if (!name.value.trim()) {
        name.setAttribute('aria-invalid', 'true');
        err.textContent = t('speaker_name_required');
        name.focus();
        return;
      }
      sendGraphics({ speaker: { name: name.value.trim(), role: role.value.trim() } });
    });
    document.getElementById('speaker-clear').addEventListener('click', function () {
      sendGraphics({ speaker: null });
    });
    vote.addEventListener('click', function () {
      sendGraphics({ vote: vote.getAttribute('aria-pressed') !== 'true' });
    });
    showItem.addEventListener('change', function () {
      sendGraphics({ show_item: showItem.checked });
    });
    function onAir() {
      var on = $('#camera-buttons [aria-pressed="true"]');
      var input = 0;
      $all('#camera-buttons button').forEach(function (b, k) { if (b === on) input = k; });
      return input;
    }
    pip.addEventListener('change', function () {
      sendProgram(onAir(), pip.value === '' ? null : Number(pip.value));
    });
    audio.addEventListener('change', function () {
      var v = audio.value;
      sendProgram(onAir(), pip.value === '' ? null : Number(pip.value), /^[0-9]+$/.test(v) ? Number(v) : v);
    });
    // Speakers shown before: the name field offers them, and picking one fills in the role.
    var known = {};
    function loadSpeakers() {
      api('GET', '/api/v1/channels/' + ch + '/speakers').then(function (r) {
        if (!r.ok || !r.data || !r.data.speakers) return;
        var list = document.getElementById('speaker-names');
        list.textContent = '';
        known = {};
        r.data.speakers.forEach(function (sp) {
          if (sp.name in known) return;
          known[sp.name] = sp.role || '';
          list.appendChild(el('option', { value: sp.name, label: sp.role || sp.name }));
        });
      });
    }
    document.getElementById('speaker-name').addEventListener('change', function (e) {
      var role = document.getElementById('speaker-role');
      if (e.target.value in known && !role.value.trim()) role.value = known[e.target.value];
    });
    loadSpeakers();
    function refresh() {
      api('GET', '/api/v1/channels/' + ch + '/graphics').then(function (r) { if (r.ok) showGraphics(r.data); });
      api('GET', '/api/v1/channels/' + ch + '/program').then(function (r) { if (r.ok) showProgram(r.data); });
    }
    refresh();
    setInterval(refresh, 5000);
  }

  // -------------------------------------------------------------------------------------------

  if (document.getElementById('picture')) initPicture();
  if (document.getElementById('login-form')) initLogin();
  else if (document.getElementById('console-session')) initSession();
  else if (document.getElementById('console-home')) initHome();
})();
