/* obrady – the staff's session page (/pracownicy/sesje/{id}): clip, preview, copy.
 *
 * Everything works without this script (the clip form is checked by the server, which also
 * redirects to the download); this adds:
 * - "Set from/to the current position" buttons next to the player;
 * - checking the clip as it is typed (the same rules and texts as the server: js.staff.*),
 *   updating the download links (/vod/sessions/{id}/download/session.mp4?from=S&to=S);
 * - a preview that plays the range in the player (seeks to "from", pauses at "to");
 * - the "Copy" button of the BIP snippet (navigator.clipboard, else select + execCommand),
 *   confirmed in an aria-live region.
 * Test hooks: window.obrady.staff = { parseTime, formatTime, check }.
 */
(function () {
  'use strict';

  var TEXTS = {};
  try {
    TEXTS = JSON.parse(document.getElementById('texts').textContent) || {};
  } catch (e) { /* no texts: keys are shown */ }

  function t(key, vars) {
    var s = TEXTS[key] || key;
    if (vars) {
      Object.keys(vars).forEach(function (name) {
        s = s.split('{' + name + '}').join(String(vars[name]));
      });
    }
    return s;
  }

  function $(id) { return document.getElementById(id); }

  /* The same forms as the server's parse_time: 1h02m03s, 62:03, 1:02:03, 3723(.5). */
  function parseTime(s) {
    if (s == null) return null;
    s = String(s).trim().toLowerCase();
    if (!s) return null;
    var m;
    if (/^\d{1,9}(\.\d+)?$/.test(s)) return Number(s);
    m = /^(?:(\d{1,9})h)?(?:(\d{1,9})m)?(?:(\d{1,9}(?:\.\d+)?)s)?$/.exec(s);
    if (m && (m[1] || m[2] || m[3])) {
      return Number(m[1] || 0) * 3600 + Number(m[2] || 0) * 60 + Number(m[3] || 0);
    }
    m = /^(\d{1,9}):(\d{1,2}(?:\.\d+)?)$/.exec(s);
    if (m && Number(m[2]) < 60) return Number(m[1]) * 60 + Number(m[2]);
    m = /^(\d{1,9}):(\d{1,2}):(\d{1,2}(?:\.\d+)?)$/.exec(s);
    if (m && Number(m[2]) < 60 && Number(m[3]) < 60) {
      return Number(m[1]) * 3600 + Number(m[2]) * 60 + Number(m[3]);
    }
    return null;
  }

  function formatTime(sec) {
    sec = isFinite(sec) && sec > 0 ? Math.floor(sec) : 0;
    var h = Math.floor(sec / 3600);
    var m = Math.floor(sec / 60) % 60;
    var s = sec % 60;
    var two = function (n) { return (n < 10 ? '0' : '') + n; };
    return (h ? h + ':' + two(m) : String(m)) + ':' + two(s);
  }

  function querySeconds(x) { return String(Math.round(x * 1000) / 1000); }

  var obrady = window.obrady || (window.obrady = {});
  obrady.staff = { parseTime: parseTime, formatTime: formatTime, check: null };

  // ---- Copy the BIP snippet

  var snippet = $('bip-snippet');
  var copyButton = $('copy-snippet');
  var copyStatus = $('copy-status');

  function say(el, text) {
    if (!el) return;
    el.textContent = '';
    // A fresh text after a pause, so screen readers announce a repeat too.
    setTimeout(function () { el.textContent = text; }, 50);
  }

  function copyFallback() {
    snippet.focus();
    snippet.select();
    var ok = false;
    try { ok = document.execCommand('copy'); } catch (e) { ok = false; }
    say(copyStatus, ok ? t('staff.copied') : t('staff.copy_failed'));
  }

  if (snippet && copyButton) {
    copyButton.hidden = false;
    copyButton.addEventListener('click', function () {
      if (navigator.clipboard && window.isSecureContext) {
        navigator.clipboard.writeText(snippet.value).then(function () {
          say(copyStatus, t('staff.copied'));
        }, copyFallback);
      } else {
        copyFallback();
      }
    });
  }

  // ---- The clip

  var section = $('staff-player');
  var form = $('clip-form');
  if (!section || !form) return;

  var length = Number(section.getAttribute('data-length')) || 0;
  var vod = section.getAttribute('data-vod');
  var sessionId = section.getAttribute('data-session');
  var video = $('player');
  var fromInput = $('clip-from');
  var toInput = $('clip-to');
  var result = $('clip-result');
  var summary = $('clip-summary');
  var mp4 = $('clip-mp4');
  var m4a = $('clip-m4a');
  var preview = $('clip-preview');
  var status = $('clip-status');
  var stopAt = null;

  function setError(input, errorEl, key) {
    var text = key ? t(key, { length: formatTime(length) }) : '';
    errorEl.textContent = text;
    if (key) input.setAttribute('aria-invalid', 'true');
    else input.removeAttribute('aria-invalid');
  }

  /* The same rules as the server's check_clip. Returns {from, to} or null. */
  function check() {
    var fromText = fromInput.value.trim();
    var toText = toInput.value.trim();
    var fromKey = null;
    var toKey = null;
    var from = fromText ? parseTime(fromText) : 0;
    var to = toText ? parseTime(toText) : length;
    if (!fromText && !toText) {
      from = null; to = null;
    } else {
      if (from === null) fromKey = 'staff.bad_time';
      if (to === null) toKey = 'staff.bad_time';
      if (from !== null && from >= length) fromKey = 'staff.beyond_end';
      if (to !== null) {
        if (to > length + 0.5) toKey = 'staff.beyond_end';
        else if (from !== null && to <= from && !fromKey) toKey = 'staff.not_after';
      }
    }
    setError(fromInput, $('clip-from-error'), fromKey);
    setError(toInput, $('clip-to-error'), toKey);
    var ok = from !== null && to !== null && !fromKey && !toKey;
    result.hidden = !ok;
    if (!ok) return null;
    var base = '/vod/sessions/' + sessionId + '/download/session.';
    var query = '?from=' + querySeconds(from) + '&to=' + querySeconds(to);
    mp4.href = base + 'mp4' + query;
    m4a.href = base + 'm4a' + query;
    summary.textContent = readyText(from, to);
    if (preview) {
      preview.setAttribute('data-from', querySeconds(from));
      preview.setAttribute('data-to', querySeconds(to));
    }
    return { from: from, to: to };
  }
  obrady.staff.check = check;

  var readyTemplate = result.getAttribute('data-ready') || '';
  function readyText(from, to) {
    return readyTemplate
      .split('{from}').join(formatTime(from))
      .split('{to}').join(formatTime(to))
      .split('{length}').join(formatTime(to - from));
  }

  fromInput.addEventListener('input', check);
  toInput.addEventListener('input', check);

  // ---- Positions from the player, and the preview

  function playFrom(seconds) {
    if (!video) return;
    if (obrady.mode === 'vod' && video.readyState >= 1) {
      video.currentTime = seconds;
      video.play().catch(function () { /* the player shows "press play" */ });
    } else if (typeof obrady.load === 'function' && vod) {
      obrady.load(vod, seconds);
    }
  }

  if (video) {
    [['clip-set-from', fromInput, 'staff.clip.from'], ['clip-set-to', toInput, 'staff.clip.to']].forEach(function (x) {
      var button = $(x[0]);
      if (!button) return;
      button.hidden = false;
      button.addEventListener('click', function () {
        var time = formatTime(video.currentTime || 0);
        x[1].value = time;
        check();
        var label = document.querySelector('label[for="' + x[1].id + '"]');
        say(status, t('staff.position_set', { field: label ? label.textContent : x[1].name, time: time }));
      });
    });

    video.addEventListener('timeupdate', function () {
      if (stopAt !== null && video.currentTime >= stopAt) {
        stopAt = null;
        video.pause();
        say(status, t('staff.preview_done'));
      }
    });
    video.addEventListener('seeking', function () {
      // Seeking outside the previewed range ends the preview.
      if (stopAt !== null && video.currentTime > stopAt) stopAt = null;
    });
  }

  if (preview && video) {
    preview.hidden = false;
    preview.addEventListener('click', function () {
      var clip = check();
      if (!clip) { fromInput.focus(); return; }
      stopAt = clip.to;
      video.muted = false;
      playFrom(clip.from);
      say(status, t('staff.preview_playing', { from: formatTime(clip.from), to: formatTime(clip.to) }));
    });
  }
})();
