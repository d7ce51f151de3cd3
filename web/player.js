/* obrady – live LL-HLS player.
 *
 * Uses hls.js (vendored in vendor/hls.js/, global `Hls`) where Media Source Extensions are
 * available, otherwise native HLS (Safari / iOS). Test hook: window.obrady = { hls, video, errors,
 * state, mode }. Every hls.js ERROR event is pushed to window.obrady.errors as
 * { type, details, fatal, t, message, media } where t = performance.now()/1000 when it
 * happened, message the error's own text and media the video element's error, if any.
 *
 * The player starts on the <video>'s data-stream, live (LL-HLS) unless data-mode="vod".
 * window.obrady.load(url, startSeconds, live) switches it to another playlist: a recording (VOD or
 * a growing EVENT playlist, non-LL settings, starting at startSeconds), or with live=true back to
 * a live stream. window.obrady.setLiveUrl(url) tells the player where the live stream is while a
 * recording plays, so its "go live" button can return there (null: no live stream).
 */
(function () {
  'use strict';

  // ---------------------------------------------------------------------------------------------
  // All user-visible strings come from the server's message catalogues (web/locales/*.toml, keys
  // "js.player.*"), rendered into the page as JSON in <script type="application/json" id="texts">.
  var TEXTS = {};
  try {
    TEXTS = JSON.parse(document.getElementById('texts').textContent) || {};
  } catch (e) { /* no texts: keys are shown */ }

  // ---------------------------------------------------------------------------------------------
  // hls.js configuration.
  //
  // Latency: in lowLatencyMode hls.js targets the playlist's PART-HOLD-BACK (LL-HLS, typically
  // 3 x PART-TARGET, i.e. ~1 s) and speeds playback up to maxLiveSyncPlaybackRate to stay there.
  // We deliberately do NOT set liveSyncDuration / liveSyncDurationCount: in hls.js 1.x any
  // user-supplied value overrides PART-HOLD-BACK (LatencyController.targetLatency) and would force
  // latency to N x TARGETDURATION. For non-LL playlists (no PART-HOLD-BACK/HOLD-BACK) hls.js falls
  // back to its default liveSyncDurationCount (3 segments).
  var HLS_CONFIG = {
    lowLatencyMode: true,
    maxLiveSyncPlaybackRate: 1.5,  // catch up (<= 1.5x) when we fall behind the target latency
    liveDurationInfinity: true,    // native controls show a live stream, not a growing seek bar
    backBufferLength: 30,          // sessions last hours: do not keep the whole past in memory
    enableWorker: true,            // transmuxing in a (blob:) Web Worker
    // No metadata cues (EXT-X-DATERANGE, ID3, emsg): we do not use them, and hls.js would add a
    // <track src="data:,WEBVTT"> for them, which the pages' Content-Security-Policy refuses.
    enableDateRangeMetadataCues: false,
    enableID3MetadataCues: false,
    enableEmsgMetadataCues: false,
    debug: false
  };

  // Recordings (a session's VOD or EVENT playlist): plain HLS, start where asked, keep a seek bar.
  var VOD_CONFIG = {
    lowLatencyMode: false,
    backBufferLength: 90,
    enableWorker: true,
    enableDateRangeMetadataCues: false,
    enableID3MetadataCues: false,
    enableEmsgMetadataCues: false,
    debug: false
  };

  var OFFLINE_RETRY_MS = 10000;     // manifest missing => session not live; poll this often
  var MAX_NET_RETRIES = 4;          // startLoad() attempts before a full re-initialisation
  var MAX_RESTARTS = 5;             // full re-inits without any playback => give up
  var BEHIND_SLACK_S = 4;           // "behind live" if latency > target + this
  var STUCK_RESTART_MS = 12000;     // playing (not paused) but currentTime frozen this long =>
                                    // re-initialise (e.g. server restarted its sequence numbers)

  var video = document.getElementById('player');
  var statusEl = document.getElementById('status');
  var statusText = document.getElementById('status-text');
  var unmuteBtn = document.getElementById('unmute');
  var unmuteText = document.getElementById('unmute-text');
  var goLiveBtn = document.getElementById('go-live');
  var streamUrl = new URL(video.getAttribute('data-stream') || '/live/main/index.m3u8', document.baseURI).href;

  var mode = video.getAttribute('data-mode') === 'vod' ? 'vod' : 'live';
  var startPosition = -1;           // where a recording starts (s); -1: hls.js decides
  var liveUrl = mode === 'live' ? streamUrl : null;

  var obrady = window.obrady = {
    hls: null, video: video, errors: [], state: 'connecting', mode: mode
  };

  var state = 'connecting';
  var timers = { restart: 0, netRetry: 0 };
  var netRetries = 0;
  var restarts = 0;
  var lastMediaRecovery = 0;
  var userPaused = false;

  // ---------------------------------------------------------------------------------------------
  // i18n

  function t(key) {
    return TEXTS['player.' + key] || key;
  }

  // ---------------------------------------------------------------------------------------------
  // UI state

  function setStatus(newState, force) {
    if (newState === state && !force) return;
    state = newState;
    obrady.state = newState;
    statusEl.setAttribute('data-state', newState);
    var text = t(newState);
    // Only touch the live region when the text really changes (avoids repeated announcements).
    if (statusText.textContent !== text) statusText.textContent = text;
    goLiveBtn.hidden = !(newState === 'behind' || (mode === 'vod' && liveUrl));
  }

  function updateMuteButton() {
    var muted = video.muted || video.volume === 0;
    unmuteText.textContent = muted ? t('unmute') : t('mute');
  }

  unmuteBtn.hidden = false;
  unmuteBtn.addEventListener('click', function () {
    if (video.muted || video.volume === 0) {
      video.muted = false;
      if (video.volume === 0) video.volume = 1;
      if (video.paused) tryPlay();
    } else {
      video.muted = true;
    }
    updateMuteButton();
  });
  video.addEventListener('volumechange', updateMuteButton);

  goLiveBtn.addEventListener('click', function () {
    if (mode === 'vod' && liveUrl) {
      load(liveUrl, -1, true);
      video.focus();
      return;
    }
    seekToLive();
    if (video.paused) { userPaused = false; tryPlay(); }
    video.focus();
  });

  function tryPlay() {
    var p;
    try { p = video.play(); } catch (e) { return; }
    if (p && typeof p.catch === 'function') {
      p.catch(function (err) {
        // Autoplay blocked (even muted, e.g. iOS low-power mode): ask the user to press play.
        if (err && err.name === 'NotAllowedError') setStatus('pressPlay');
      });
    }
  }

  function liveEdgeInfo() {
    var hls = obrady.hls;
    if (hls) {
      return { latency: hls.latency, target: hls.targetLatency, syncPos: hls.liveSyncPosition };
    }
    // Native HLS: approximate with the end of the seekable range.
    var s = video.seekable;
    if (s && s.length) {
      var end = s.end(s.length - 1);
      return { latency: end - video.currentTime, target: 3, syncPos: Math.max(s.start(0), end - 3) };
    }
    return null;
  }

  function seekToLive() {
    var info = liveEdgeInfo();
    if (info && typeof info.syncPos === 'number' && isFinite(info.syncPos)) {
      video.currentTime = info.syncPos;
    }
  }

  function refreshPlayingState() {
    if (video.paused || video.readyState < 3) return;
    if (state === 'error' || state === 'unsupported' || state === 'offline') return;
    if (mode === 'vod') { setStatus('recording'); return; }
    var info = liveEdgeInfo();
    var behind = info && info.target != null && info.latency > info.target + BEHIND_SLACK_S;
    setStatus(behind ? 'behind' : 'live');
  }

  video.addEventListener('playing', function () {
    userPaused = false;
    netRetries = 0;
    restarts = 0;
    setStatus(mode === 'vod' ? 'recording' : 'live');
    refreshPlayingState();
  });
  video.addEventListener('waiting', function () {
    if (state === 'live' || state === 'behind' || state === 'connecting' || state === 'recording') {
      setStatus('buffering');
    }
  });
  video.addEventListener('pause', function () {
    if (video.ended) return;
    userPaused = true;
    if (state === 'live' || state === 'behind' || state === 'buffering' || state === 'recording') {
      setStatus('paused');
    }
  });
  video.addEventListener('play', function () {
    // Resuming after a long pause: jump back to the live edge (it is a live broadcast).
    if (userPaused && mode === 'live') {
      var info = liveEdgeInfo();
      if (info && info.target != null && info.latency > info.target + BEHIND_SLACK_S) seekToLive();
    }
    userPaused = false;
  });

  // Watchdog: hls.js retries internally, but some situations never resolve on their own (e.g. the
  // server restarted and its media sequence numbers went backwards). If the video should be
  // playing but has not moved for STUCK_RESTART_MS, start over with a new hls.js instance.
  var lastTime = -1;
  var stuckSince = 0;
  function watchdog() {
    if (!obrady.hls || video.paused || state === 'offline' || state === 'error') {
      stuckSince = 0;
      return;
    }
    if (video.currentTime !== lastTime) {
      lastTime = video.currentTime;
      stuckSince = 0;
      return;
    }
    var now = performance.now();
    if (!stuckSince) {
      stuckSince = now;
    } else if (now - stuckSince > STUCK_RESTART_MS) {
      stuckSince = 0;
      setStatus('reconnecting');
      scheduleRestart(0, true);
    }
  }

  setInterval(function () {
    refreshPlayingState();
    watchdog();
  }, 1000);

  // ---------------------------------------------------------------------------------------------
  // hls.js

  function clearTimers() {
    clearTimeout(timers.restart);
    clearTimeout(timers.netRetry);
  }

  function isManifestError(details) {
    var E = window.Hls.ErrorDetails;
    return details === E.MANIFEST_LOAD_ERROR || details === E.MANIFEST_LOAD_TIMEOUT ||
      details === E.MANIFEST_PARSING_ERROR || details === E.MANIFEST_INCOMPATIBLE_CODECS_ERROR;
  }

  function destroyHls() {
    if (obrady.hls) {
      try { obrady.hls.destroy(); } catch (e) { /* ignore */ }
    }
  }

  // Full re-initialisation (new Hls instance) after `delay` ms.
  function scheduleRestart(delay, countIt) {
    clearTimers();
    // A recording resumes where it was.
    if (mode === 'vod' && video.currentTime > 0) startPosition = video.currentTime;
    destroyHls();
    if (countIt) {
      restarts++;
      if (restarts > MAX_RESTARTS) { setStatus('error'); return; }
    }
    timers.restart = setTimeout(startHls, delay);
  }

  function onHlsError(event, data) {
    var Hls = window.Hls;
    obrady.errors.push({
      type: data.type,
      details: data.details,
      fatal: !!data.fatal,
      t: Math.round(performance.now()) / 1000,
      // What the browser said (a decoder's message, for one): for a report.
      message: data.error && data.error.message ? String(data.error.message) : '',
      media: video.error ? video.error.code + ' ' + (video.error.message || '') : ''
    });
    if (obrady.errors.length > 1000) obrady.errors.splice(0, obrady.errors.length - 1000);
    if (!data.fatal) return;

    if (data.type === Hls.ErrorTypes.NETWORK_ERROR) {
      if (isManifestError(data.details)) {
        // No multivariant playlist (404 / server down / not started yet): the session is probably
        // not being broadcast. Keep polling; this is not counted as a failure.
        var code = data.response && data.response.code;
        setStatus(code === 404 || code === 410 ? 'offline' : 'reconnecting');
        // Jitter so that many waiting viewers do not poll in lock-step.
        scheduleRestart((code === 404 || code === 410 ? OFFLINE_RETRY_MS : 3000) * (0.8 + 0.4 * Math.random()), false);
        return;
      }
      // hls.js docs: fatal network error => try hls.startLoad(). Back off, then re-initialise.
      netRetries++;
      setStatus('reconnecting');
      if (netRetries > MAX_NET_RETRIES) {
        netRetries = 0;
        scheduleRestart(3000, true);
        return;
      }
      var hls = obrady.hls;
      clearTimeout(timers.netRetry);
      timers.netRetry = setTimeout(function () {
        if (obrady.hls === hls) hls.startLoad();
      }, Math.min(500 * Math.pow(2, netRetries - 1), 8000));
      return;
    }

    if (data.type === Hls.ErrorTypes.MEDIA_ERROR) {
      // hls.js docs: fatal media error => hls.recoverMediaError(); if it happens again right away,
      // re-initialise.
      var now = performance.now();
      if (now - lastMediaRecovery < 3000) {
        lastMediaRecovery = 0;
        setStatus('reconnecting');
        scheduleRestart(1000, true);
      } else {
        lastMediaRecovery = now;
        obrady.hls.recoverMediaError();
      }
      return;
    }

    // Any other fatal error (mux, key system, ...): hls.js cannot recover, destroy and retry.
    setStatus('reconnecting');
    scheduleRestart(3000, true);
  }

  function startHls() {
    var Hls = window.Hls;
    clearTimers();
    destroyHls();
    var base = mode === 'vod' ? VOD_CONFIG : HLS_CONFIG;
    var config = {};
    for (var key in base) {
      if (Object.prototype.hasOwnProperty.call(base, key)) config[key] = base[key];
    }
    if (mode === 'vod' && startPosition >= 0) config.startPosition = startPosition;
    var hls = new Hls(config);
    obrady.hls = hls;
    if (state !== 'offline') setStatus('connecting');
    hls.on(Hls.Events.ERROR, onHlsError);
    hls.on(Hls.Events.MANIFEST_PARSED, function () {
      if (!userPaused) tryPlay();
    });
    hls.on(Hls.Events.FRAG_LOADED, function () { netRetries = 0; });
    hls.attachMedia(video);
    hls.loadSource(streamUrl);
  }

  // ---------------------------------------------------------------------------------------------
  // Native HLS (Safari, iOS)

  var nativeStarted = false;
  var nativeSeek = -1;

  function startNative() {
    if (nativeStarted) {
      video.src = streamUrl;
      nativeSeek = startPosition;
      tryPlay();
      return;
    }
    nativeStarted = true;
    nativeSeek = startPosition;
    video.addEventListener('loadedmetadata', function () {
      if (nativeSeek >= 0) { video.currentTime = nativeSeek; nativeSeek = -1; }
    });
    var retryTimer = 0;
    video.addEventListener('error', function () {
      setStatus('reconnecting');
      clearTimeout(retryTimer);
      retryTimer = setTimeout(function () {
        video.src = streamUrl;
        video.load();
        tryPlay();
      }, OFFLINE_RETRY_MS);
    });
    video.src = streamUrl;
    tryPlay();
  }

  // ---------------------------------------------------------------------------------------------

  // ---------------------------------------------------------------------------------------------
  // Switching playlists (the session page: chapters, ?t=, back to live)

  var engine = null;                // 'hls', 'native' or null (unsupported)

  function start() {
    if (engine === 'hls') startHls();
    else if (engine === 'native') startNative();
  }

  // Plays `url` from `startSeconds` (a recording) or, with `live`, as the live stream.
  function load(url, startSeconds, live) {
    streamUrl = new URL(url, document.baseURI).href;
    mode = live ? 'live' : 'vod';
    obrady.mode = mode;
    if (live) liveUrl = streamUrl;
    startPosition = (typeof startSeconds === 'number' && isFinite(startSeconds) && startSeconds >= 0)
      ? startSeconds : -1;
    restarts = 0;
    netRetries = 0;
    userPaused = false;
    if (!engine) return;
    setStatus('connecting', true);
    start();
  }

  obrady.load = load;
  obrady.setLiveUrl = function (url) {
    liveUrl = url ? new URL(url, document.baseURI).href : null;
    setStatus(state, true);
  };

  setStatus(state, true);
  updateMuteButton();

  if (window.Hls && window.Hls.isSupported()) {
    engine = 'hls';
  } else if (video.canPlayType('application/vnd.apple.mpegurl')) {
    engine = 'native';
  } else {
    setStatus('unsupported');
  }
  start();
})();
