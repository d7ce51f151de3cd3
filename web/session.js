/* obrady – a session's page (and its embeddable player): chapters, deep links, live updates.
 *
 * Runs after player.js (when the page has a player). Everything it shows is already on the page
 * without JavaScript (agenda, timeline, download links); this only makes it move:
 *
 * - Chapters: the session's chapters.vtt (data-chapters of #session-player) becomes a
 *   <track kind="chapters"> of the video, and every "play from this item" link (a.watch,
 *   href="#punkt-N") plays the recording from that item's cue (id "punkt-N"). While the session is
 *   live the player shows the live stream; a chapter switches it to the session's recording
 *   (data-vod, an EVENT playlist while live) through window.obrady.load(); "go live" returns.
 * - Deep links: #punkt-7a opens the recording at item 7a; ?t=1h02m03s (also ?t=3723, ?t=62m,
 *   ?t=1:02:03) at that time of the recording.
 * - Live updates: Server-Sent Events from data-events ("session" events) update the state, the
 *   item under discussion (.item.current, aria-current, the "now" label), the non-public notice,
 *   the items begun and the timeline, without reloading. A page shown before the session started
 *   reloads once when it starts, to get its player.
 *
 * All visible texts come from the message catalogues (keys "js.*", in #texts).
 * Test hooks: window.obrady.session = { parseTime, chapters, loadChapters, seekToItem, playAt,
 * apply, events, last }.
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

  var section = document.getElementById('session-player');
  if (!section) return;

  var vodUrl = section.getAttribute('data-vod');
  var chaptersUrl = section.getAttribute('data-chapters');
  var liveStream = section.getAttribute('data-live-stream');
  var eventsUrl = section.getAttribute('data-events');
  var downloads = section.getAttribute('data-downloads') || '';
  var pageState = section.getAttribute('data-state') || 'planned';
  var video = document.getElementById('player');
  var statusEl = document.getElementById('session-status');

  var obrady = window.obrady || (window.obrady = {});
  var api = obrady.session = {
    parseTime: parseTime,
    chapters: [],
    loadChapters: loadChapters,
    seekToItem: seekToItem,
    playAt: playAt,
    apply: apply,
    events: 0,
    last: null
  };

  // ---------------------------------------------------------------------------------------------
  // Times

  // "1h02m03s", "62m", "90s", "3723", "1:02:03", "62:03" -> seconds; null if not a time.
  function parseTime(s) {
    if (s == null) return null;
    s = String(s).trim().toLowerCase();
    if (!s) return null;
    var m;
    if (/^\d+(\.\d+)?$/.test(s)) return Number(s);
    m = /^(?:(\d+)h)?(?:(\d+)m)?(?:(\d+(?:\.\d+)?)s)?$/.exec(s);
    if (m && (m[1] || m[2] || m[3])) {
      return Number(m[1] || 0) * 3600 + Number(m[2] || 0) * 60 + Number(m[3] || 0);
    }
    m = /^(\d+):(\d{1,2})(?::(\d{1,2}(?:\.\d+)?))?$/.exec(s);
    if (m) {
      return m[3] !== undefined
        ? Number(m[1]) * 3600 + Number(m[2]) * 60 + Number(m[3])
        : Number(m[1]) * 60 + Number(m[2]);
    }
    return null;
  }

  function formatTime(sec) {
    sec = Math.max(0, Math.floor(sec));
    var h = Math.floor(sec / 3600);
    var m = Math.floor(sec / 60) % 60;
    var s = sec % 60;
    var two = function (n) { return (n < 10 ? '0' : '') + n; };
    return (h ? h + ':' + two(m) : String(m)) + ':' + two(s);
  }

  function announce(text) {
    if (!statusEl) return;
    statusEl.textContent = '';
    // A new node a moment later, so screen readers announce even a repeated text.
    setTimeout(function () { statusEl.textContent = text; }, 50);
  }

  // ---------------------------------------------------------------------------------------------
  // Chapters (WebVTT: "punkt-7a\n00:01:02.000 --> 00:03:04.000\n7a. Title")

  function vttTime(s) {
    var parts = s.trim().split(':');
    var secs = 0;
    for (var i = 0; i < parts.length; i++) secs = secs * 60 + Number(parts[i]);
    return isFinite(secs) ? secs : null;
  }

  function parseVtt(text) {
    var cues = [];
    String(text).replace(/\r\n?/g, '\n').split(/\n\n+/).forEach(function (block) {
      var lines = block.split('\n').filter(function (l) { return l !== ''; });
      var at = -1;
      for (var i = 0; i < lines.length; i++) {
        if (lines[i].indexOf('-->') >= 0) { at = i; break; }
      }
      if (at < 0) return;
      var times = lines[at].split('-->');
      var start = vttTime(times[0]);
      var end = vttTime(times[1].trim().split(/\s+/)[0]);
      if (start === null) return;
      cues.push({
        id: at > 0 ? lines[at - 1].trim() : '',
        start: start,
        end: end,
        text: lines.slice(at + 1).join(' ')
      });
    });
    return cues;
  }

  var chaptersLoading = null;

  // The chapters, fetched again when `fresh` (an item begun a moment ago has a cue only now).
  function loadChapters(fresh) {
    if (!chaptersUrl || !window.fetch) return Promise.resolve([]);
    if (chaptersLoading && !fresh) return chaptersLoading;
    chaptersLoading = fetch(chaptersUrl, { cache: 'no-store', credentials: 'same-origin' })
      .then(function (r) { return r.ok ? r.text() : ''; })
      .then(function (text) {
        api.chapters = parseVtt(text);
        return api.chapters;
      })
      .catch(function () { return api.chapters; });
    return chaptersLoading;
  }

  function cueOf(number) {
    var id = 'punkt-' + number;
    for (var i = 0; i < api.chapters.length; i++) {
      if (api.chapters[i].id === id) return api.chapters[i];
    }
    return null;
  }

  if (video && chaptersUrl) {
    var track = document.createElement('track');
    track.kind = 'chapters';
    track.srclang = document.documentElement.lang || 'pl';
    track.label = t('session.chapters');
    track.src = chaptersUrl;
    video.appendChild(track);
    if (track.track) track.track.mode = 'hidden';   // load the cues; chapters are never drawn
  }

  // ---------------------------------------------------------------------------------------------
  // Playing the recording from a point

  // Plays the session's recording from `seconds`; false when the page cannot.
  function playAt(seconds) {
    if (!video || !vodUrl || typeof obrady.load !== 'function') return false;
    if (!(seconds >= 0)) seconds = 0;
    if (obrady.mode === 'vod' && video.readyState >= 1) {
      // Already on the recording: just seek.
      video.currentTime = seconds;
      if (video.paused) {
        var p = video.play();
        if (p && typeof p.catch === 'function') p.catch(function () { /* the user presses play */ });
      }
    } else {
      obrady.load(vodUrl, seconds);
    }
    if (liveStream && pageState !== 'ended' && typeof obrady.setLiveUrl === 'function') {
      obrady.setLiveUrl(liveStream);
    }
    return true;
  }

  // Plays agenda item `number` from its start; `fromUser`: a click (scroll to the player).
  function seekToItem(number, fromUser) {
    return loadChapters(true).then(function () {
      var cue = cueOf(number);
      if (!cue) {
        announce(t('session.no_recording'));
        return false;
      }
      if (!playAt(cue.start)) return false;
      announce(t('session.playing_from', { n: number }));
      if (fromUser && section.scrollIntoView) section.scrollIntoView({ block: 'start' });
      return true;
    });
  }

  document.addEventListener('click', function (e) {
    var a = e.target && e.target.closest ? e.target.closest('a.watch') : null;
    if (!a || !vodUrl || !video) return;
    var number = a.getAttribute('data-number');
    if (!number) return;
    e.preventDefault();
    if (window.history && history.replaceState) {
      history.replaceState(null, '', location.pathname + location.search + '#punkt-' + number);
    }
    seekToItem(number, true);
  });

  function fromHash() {
    var hash = location.hash.slice(1);
    try { hash = decodeURIComponent(hash); } catch (e) { /* keep it */ }
    return hash.indexOf('punkt-') === 0 ? hash.slice('punkt-'.length) : null;
  }

  window.addEventListener('hashchange', function () {
    var number = fromHash();
    if (number) seekToItem(number, false);
  });

  // The deep link the page was opened with.
  (function () {
    if (!video || !vodUrl) return;
    var number = fromHash();
    if (number) {
      seekToItem(number, false);
      return;
    }
    var raw = null;
    try { raw = new URLSearchParams(location.search).get('t'); } catch (e) { raw = null; }
    var secs = parseTime(raw);
    if (secs !== null && playAt(secs)) announce(t('session.playing_at', { t: formatTime(secs) }));
  })();

  // Load the chapters now, so a first click answers at once.
  if (video) loadChapters(false);

  // ---------------------------------------------------------------------------------------------
  // Live updates

  function el(tag, cls, text) {
    var e = document.createElement(tag);
    if (cls) e.className = cls;
    if (text != null) e.textContent = text;
    return e;
  }

  function itemTitle(number) {
    var li = document.getElementById('punkt-' + number);
    var title = li && li.querySelector('.title');
    return title ? title.textContent : '';
  }

  function markItemBegun(li, number, at) {
    if (!li.classList.contains('not-begun')) return;
    li.classList.remove('not-begun');
    var status = li.querySelector('.item-status');
    if (status && at && !status.querySelector('.begun')) {
      var begun = el('span', 'begun', t('session.begun_at') + ' ');
      begun.appendChild(el('time', null, at));
      status.appendChild(begun);
    }
    if (li.querySelector('a.watch')) return;
    var watch = el('a', 'watch');
    watch.href = '#punkt-' + number;
    watch.setAttribute('data-number', number);
    if (li.parentNode && li.parentNode.classList.contains('chapter-menu')) {
      // The embedded player's menu: the item itself becomes the link.
      var num = li.querySelector('.num');
      var title = li.querySelector('.title');
      li.insertBefore(watch, num || title || li.firstChild);
      if (num) { watch.appendChild(num); watch.appendChild(document.createTextNode(' ')); }
      if (title) watch.appendChild(title);
      return;
    }
    watch.textContent = t('session.watch_item') + ' ' + number;
    var links = el('span', 'item-links');
    links.appendChild(watch);
    links.appendChild(document.createTextNode(' '));
    var mp4 = el('a', 'download', t('session.download_item') + ' ' + number + ': ' + t('session.download_video'));
    mp4.href = downloads + '/items/' + encodeURIComponent(number) + '.mp4';
    mp4.setAttribute('download', '');
    links.appendChild(mp4);
    links.appendChild(document.createTextNode(' '));
    var m4a = el('a', 'download', t('session.download_audio'));
    m4a.href = downloads + '/items/' + encodeURIComponent(number) + '.m4a';
    m4a.setAttribute('download', '');
    links.appendChild(m4a);
    li.appendChild(links);
  }

  function renderTimeline(marks) {
    var list = document.getElementById('timeline');
    if (!list) return;
    var empty = document.getElementById('no-timeline');
    var items = marks.map(function (m) {
      var li = el('li', 'mark mark-' + m.kind);
      li.appendChild(el('time', null, m.at));
      var text = ' ' + t('mark.' + m.kind);
      if (m.number) {
        text += ' ' + m.number;
        var title = itemTitle(m.number);
        if (title) text += ': ' + title;
      }
      if (m.reason) text += ' – ' + m.reason;
      if (m.legal_basis) text += ' (' + t('mark.legal_basis') + ': ' + m.legal_basis + ')';
      li.appendChild(document.createTextNode(text));
      return li;
    });
    // Only touch the list when it changed (keeps the reader's place).
    var same = list.children.length === items.length && items.every(function (li, i) {
      return list.children[i].textContent === li.textContent;
    });
    if (!same) {
      while (list.firstChild) list.removeChild(list.firstChild);
      items.forEach(function (li) { list.appendChild(li); });
    }
    list.hidden = items.length === 0;
    if (empty) empty.hidden = items.length !== 0;
  }

  var lastCurrent;          // undefined until the first event

  function apply(d) {
    if (!d || typeof d !== 'object') return;
    api.events++;
    api.last = d;
    var wasState = pageState;
    pageState = d.state;
    section.setAttribute('data-state', d.state);
    section.setAttribute('data-live', d.state === 'live' || d.state === 'paused' ? '1' : '0');

    var stateEl = document.getElementById('session-state');
    if (stateEl) {
      var text = t('state.' + d.state);
      if (stateEl.textContent !== text) stateEl.textContent = text;
      stateEl.className = 'state state-' + d.state;
    }

    var privateEl = document.getElementById('private-notice');
    if (privateEl) privateEl.hidden = !d.private;

    // Items begun (the first mark of each), then the one under discussion.
    var begunAt = {};
    (d.timeline || []).forEach(function (m) {
      if (m.kind === 'item' && m.number && !(m.number in begunAt)) begunAt[m.number] = m.at;
    });
    var agenda = document.getElementById('agenda');
    var items = agenda ? agenda.querySelectorAll('li.item') : [];
    for (var i = 0; i < items.length; i++) {
      var li = items[i];
      var number = li.getAttribute('data-number');
      if (number in begunAt) markItemBegun(li, number, begunAt[number]);
      var current = d.current != null && number === String(d.current);
      li.classList.toggle('current', current);
      if (current) li.setAttribute('aria-current', 'true');
      else li.removeAttribute('aria-current');
      var now = li.querySelector('.now');
      if (current && !now) {
        var status = li.querySelector('.item-status');
        if (status) {
          status.insertBefore(el('strong', 'now', t('session.current')), status.firstChild);
          status.insertBefore(document.createTextNode(' '), status.children[0].nextSibling);
        }
      } else if (!current && now) {
        if (now.nextSibling && now.nextSibling.nodeType === 3 && now.nextSibling.textContent === ' ') {
          now.parentNode.removeChild(now.nextSibling);
        }
        now.parentNode.removeChild(now);
      }
    }
    if (lastCurrent !== undefined && d.current && d.current !== lastCurrent) {
      announce(t('session.now_item', { n: d.current }));
    }
    lastCurrent = d.current || null;

    renderTimeline(d.timeline || []);

    var live = d.state === 'live' || d.state === 'paused';
    if (!video && live && wasState === 'planned') {
      // The page was shown before the start: it has no player yet.
      announce(t('session.starting'));
      setTimeout(function () { location.reload(); }, 1000);
      return;
    }
    if (video && typeof obrady.setLiveUrl === 'function') {
      obrady.setLiveUrl(live && liveStream ? liveStream : null);
    }
  }

  if (eventsUrl && window.EventSource && pageState !== 'ended') {
    var source = new EventSource(eventsUrl);
    api.source = source;
    source.addEventListener('session', function (e) {
      var data = null;
      try { data = JSON.parse(e.data); } catch (err) { return; }
      apply(data);
      if (data && data.state === 'ended') source.close();
    });
  }
})();
