/* obrady – live LL-HLS player.
 *
 * Uses hls.js (vendored in vendor/hls.js/, global `Hls`) where Media Source Extensions are
 * available, otherwise native HLS (Safari / iOS). Test hook: window.obrady = { hls, video, errors }.
 * Every hls.js ERROR event is pushed to window.obrady.errors as
 * { type, details, fatal, t } where t = performance.now()/1000 when it happened.
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

  var obrady = window.obrady = { hls: null, video: video, errors: [], state: 'connecting' };

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
    goLiveBtn.hidden = newState !== 'behind';
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
    var info = liveEdgeInfo();
    var behind = info && info.target != null && info.latency > info.target + BEHIND_SLACK_S;
    setStatus(behind ? 'behind' : 'live');
  }

  video.addEventListener('playing', function () {
    userPaused = false;
    netRetries = 0;
    restarts = 0;
    setStatus('live');
    refreshPlayingState();
  });
  video.addEventListener('waiting', function () {
    if (state === 'live' || state === 'behind' || state === 'connecting') setStatus('buffering');
  });
  video.addEventListener('pause', function () {
    if (video.ended) return;
    userPaused = true;
    if (state === 'live' || state === 'behind' || state === 'buffering') setStatus('paused');
  });
  video.addEventListener('play', function () {
    // Resuming after a long pause: jump back to the live edge (it is a live broadcast).
    if (userPaused) {
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
      t: Math.round(performance.now()) / 1000
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
    var hls = new Hls(HLS_CONFIG);
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

  function startNative() {
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

  setStatus(state, true);
  updateMuteButton();

  if (window.Hls && window.Hls.isSupported()) {
    startHls();
  } else if (video.canPlayType('application/vnd.apple.mpegurl')) {
    startNative();
  } else {
    setStatus('unsupported');
  }
})();
