//! Headless Chromium (Debian's package, driven by playwright-core from npm;
//! the scripts are in tests/browser/): the public page plays the live stream
//! with hls.js; the operator's console and the residents' site end to end,
//! with axe-core, screenshots, no JavaScript and the keyboard alone.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use serde_json::Value;

use crate::support::{client, heavy, run_for, server, start, Obrady, ADMIN_PASSWORD};

/// The live spine's goal: what hls.js reports, under 3 s.
const MAX_LATENCY_S: f64 = 3.0;

#[test]
fn the_page_plays_live_video_with_sound_in_chromium_with_low_latency() {
    let base = server().url("");
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/browser");
    assert!(
        dir.join("node_modules/playwright-core").exists(),
        "playwright-core is not installed: run `make test-deps` (npm ci in tests/browser)"
    );
    let _guard = heavy();
    let (code, output) = run_for(
        Command::new("node")
            .arg(dir.join("live_play.mjs"))
            .arg(&base)
            .arg("10")
            .env("MAX_LATENCY", MAX_LATENCY_S.to_string()),
        Duration::from_secs(60),
    );
    let json_line = output
        .lines()
        .rev()
        .find(|l| l.starts_with('{'))
        .unwrap_or_else(|| panic!("no result from the browser check:\n{output}"));
    let result: serde_json::Value = serde_json::from_str(json_line).expect("JSON result");
    // Shown with --nocapture; the figure the README quotes.
    eprintln!("browser check: {json_line}");
    if code != Some(0) {
        // Whether what the browser played decodes elsewhere: the last
        // segments of the recording of the run it played.
        let rt = tokio::runtime::Runtime::new().expect("runtime");
        let located = rt.block_on(async {
            let live = crate::support::get_text(&format!("{base}/live/main/720p/index.m3u8")).await;
            let run = crate::support::parse_playlist(&live).run();
            crate::support::undecodable_segments(
                &base,
                &format!("/archive/main/{run}/index.m3u8"),
                20,
            )
            .await
        });
        panic!("browser check failed: {json_line}\nthe recording, segment by segment:\n{located}");
    }
    assert_eq!(result["ok"], true, "{json_line}");
    assert!(
        result["advanced"].as_f64().unwrap_or(0.0) >= 10.0,
        "{json_line}"
    );
    assert_eq!(
        result["errors"].as_array().map(Vec::len),
        Some(0),
        "hls.js errors: {json_line}"
    );
    // hls.js's estimate, sampled every 500 ms while playback is watched:
    // its median (the script's `MAX_LATENCY` check, repeated here).
    let latency = result["latencyMedian"].as_f64().expect("hls.js latency");
    assert!(
        latency < MAX_LATENCY_S,
        "live latency {latency} s is not under {MAX_LATENCY_S} s"
    );
    assert!(
        result["audioBytes"].as_u64().unwrap_or(0) > 0,
        "no sound decoded: {json_line}"
    );
    assert!(
        result["videoBytes"].as_u64().unwrap_or(0) > 0,
        "no picture decoded: {json_line}"
    );
    assert_eq!(
        result["thirdPartyRequests"].as_array().map(Vec::len),
        Some(0),
        "{json_line}"
    );
}

/// Runs `node tests/browser/{script} BASE` (with `ADMIN_PASSWORD`, the
/// fixture and the screenshot folder in its environment) for at most
/// `limit`; returns its exit code and the JSON line it printed last. The
/// limit only guards against a hang: alone on the 2-core machine `site.mjs`
/// takes about 100 s, but beside three other tests (each with a server
/// encoding the ladder) one CI run needed more than 170 s.
fn node_script(script: &str, base: &str, limit: Duration) -> (Option<i32>, Value, String) {
    let dir = browser_dir();
    // The script's own guard fires first, so that it prints how far it got.
    let own_limit = limit.saturating_sub(Duration::from_secs(15)).as_secs();
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let (code, output) = run_for(
        Command::new("node")
            .arg(dir.join(script))
            .arg(base)
            .env("ADMIN_PASSWORD", ADMIN_PASSWORD)
            .env("FIXTURE", root.join("tests/fixtures/agenda-sesja-xlv.json"))
            .env("SCREENSHOT_DIR", screenshot_dir())
            .env("LIMIT_SECONDS", own_limit.to_string()),
        limit,
    );
    let line = output
        .lines()
        .rev()
        .find(|l| l.starts_with('{'))
        .unwrap_or_else(|| panic!("no result from {script}:\n{output}"))
        .to_owned();
    let value: Value = serde_json::from_str(&line)
        .unwrap_or_else(|e| panic!("{script} printed no JSON ({e}):\n{output}"));
    (code, value, line)
}

fn browser_dir() -> PathBuf {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/browser");
    for package in ["playwright-core", "axe-core"] {
        assert!(
            dir.join("node_modules").join(package).exists(),
            "{package} is not installed: run `make test-deps` (npm ci in tests/browser)"
        );
    }
    dir
}

/// Where the screenshots go (the README names it).
fn screenshot_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("target/screenshots")
}

/// A fresh `obrady serve` that is live (its first segments are out).
fn live_server() -> (Obrady, String) {
    let o = start(&[]);
    let base = format!("http://{}", o.addr);
    let url = format!("{base}/live/main/720p/index.m3u8");
    let rt = tokio::runtime::Runtime::new().expect("runtime");
    rt.block_on(async {
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            if let Ok(r) = client().get(&url).send().await {
                if r.status().is_success() {
                    break;
                }
            }
            assert!(
                Instant::now() < deadline,
                "{base} did not go live within 20 s"
            );
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    });
    (o, base)
}

/// Shows what the server warned about while the browser ran (with
/// --nocapture, or when the test fails).
fn server_warnings(server: &Obrady) {
    let warnings: Vec<String> = server
        .lines
        .try_iter()
        .filter(|l| l.contains(" WARN ") || l.contains(" ERROR "))
        .take(40)
        .collect();
    if !warnings.is_empty() {
        eprintln!("server warnings:\n{}", warnings.join("\n"));
    }
}

/// The session as the catalog has it: state, timeline kinds, items begun.
fn catalog_session(base: &str, id: i64) -> (String, Vec<String>, Vec<String>) {
    let rt = tokio::runtime::Runtime::new().expect("runtime");
    let s: Value = rt.block_on(async {
        let r = client()
            .get(format!("{base}/api/v1/sessions/{id}"))
            .send()
            .await
            .expect("GET the session");
        assert_eq!(r.status(), 200);
        r.json().await.expect("JSON")
    });
    let marks = s["timeline"].as_array().cloned().unwrap_or_default();
    let field = |m: &Value, k: &str| m[k].as_str().unwrap_or_default().to_owned();
    (
        field(&s, "state"),
        marks.iter().map(|m| field(m, "kind")).collect(),
        marks
            .iter()
            .filter(|m| m["kind"] == "item")
            .map(|m| field(m, "agenda_number"))
            .collect(),
    )
}

fn strings(v: &Value) -> Vec<String> {
    v.as_array()
        .map(|a| {
            a.iter()
                .map(|s| s.as_str().unwrap_or_default().to_owned())
                .collect()
        })
        .unwrap_or_default()
}

fn secs(v: &Value, what: &str) -> f64 {
    v.as_f64()
        .unwrap_or_else(|| panic!("{what}: not a number: {v}"))
}

/// The operator and resident flows, axe-core on every page (Polish
/// and English, light and dark), screenshots, the pages without JavaScript,
/// and no request to another host: `tests/browser/site.mjs` against a fresh
/// server.
#[test]
fn an_operator_runs_a_session_in_the_console_and_residents_follow_it_in_chromium() {
    let _guard = heavy();
    let (server, base) = live_server();
    let began = std::time::SystemTime::now();
    let (code, r, line) = node_script("site.mjs", &base, Duration::from_secs(420));
    eprintln!("site.mjs: {line}");
    server_warnings(&server);
    let reason = r["reason"].as_str().unwrap_or_default();
    assert_eq!(
        r["ok"], true,
        "site.mjs failed: {reason}; its phases began at (s) {}",
        r["timings"]
    );
    assert_eq!(code, Some(0), "{reason}");

    // 1. The operator: every step shown by the console and in the catalog.
    let steps = r["operator"]["steps"].as_array().expect("steps");
    let names: Vec<&str> = steps.iter().filter_map(|s| s["step"].as_str()).collect();
    assert_eq!(
        names,
        [
            "open",
            "start",
            "item 1 (button)",
            "item 5 (button)",
            "item 7 (button)",
            "item 7a (key n)",
            "recess",
            "resume",
            "stop"
        ]
    );
    for s in steps {
        assert_eq!(s["ok"], true, "step {}: {}", s["step"], s["problems"]);
        assert_eq!(s["banner"], s["apiState"], "{s}");
    }
    let kinds = [
        "start", "item", "item", "item", "item", "recess", "resume", "stop",
    ];
    assert_eq!(strings(&steps[8]["apiKinds"]), kinds);
    assert_eq!(steps[6]["bannerText"], "PRZERWA");
    assert_eq!(steps[8]["bannerText"], "ZAKOŃCZONA");
    assert_eq!(
        r["operator"]["preview"]["rows"].as_array().map(Vec::len),
        Some(15)
    );
    // The stop dialog opens on Cancel, the safe choice.
    assert_eq!(r["operator"]["stopDialog"], "dialog-cancel");
    let id = r["sessionId"].as_i64().expect("session id");
    let (state, catalog_kinds, items) = catalog_session(&base, id);
    assert_eq!(state, "ended");
    assert_eq!(catalog_kinds, kinds);
    assert_eq!(items, ["1", "5", "7", "7a"]);

    // 2. The resident: live video plays; each item begun highlighted within
    // 2 s, without a reload; the end shown.
    let res = &r["resident"];
    assert_eq!(res["playing"], true, "{res}");
    let (advanced, wall) = (
        secs(&res["advanced"], "advanced"),
        secs(&res["wall"], "wall"),
    );
    // From the page's opening to the stop (three items, the screenshots, the
    // recess): it plays on.
    eprintln!("live playback: {advanced} s in {wall} s");
    assert!(
        advanced >= 8.0 && advanced >= 0.5 * wall,
        "live playback advanced {advanced} s in {wall} s"
    );
    assert_eq!(
        res["fatalErrors"].as_array().map(Vec::len),
        Some(0),
        "{res}"
    );
    let highlights = res["highlights"].as_array().expect("highlights");
    // The page opened while item 1 was under discussion; the three items
    // begun after that.
    assert_eq!(highlights.len(), 3, "{res}");
    for h in highlights {
        let delay = secs(&h["delayMs"], "highlight delay");
        eprintln!(
            "item {} ({}): highlighted after {delay} ms",
            h["item"], h["via"]
        );
        assert!(
            delay <= 2000.0,
            "item {} highlighted after {delay} ms",
            h["item"]
        );
    }
    assert_eq!(res["reloads"], 0, "{res}");
    assert_eq!(res["stillSamePage"], true, "{res}");
    assert_eq!(res["endedShown"], true, "{res}");
    assert_eq!(
        strings(&res["highlightHistory"]),
        ["1", "5", "7", "7a", ""],
        "{res}"
    );

    // After the session: a chapter link, a deep link and a search hit each
    // start the recording within one segment (2 s) of the item's chapter.
    eprintln!(
        "chapters complete {} ms after the stop",
        r["recorded"]["chaptersAfterMs"]
    );
    let chapters = r["recorded"]["chapters"].as_array().expect("chapters");
    let ids: Vec<&str> = chapters.iter().filter_map(|c| c["id"].as_str()).collect();
    assert_eq!(ids, ["punkt-1", "punkt-5", "punkt-7", "punkt-7a"]);
    for (what, p) in [
        ("chapter link 5", &r["recorded"]["chapterClick"]),
        ("#punkt-7a", &r["recorded"]["deepLink"]),
        ("search hit 7", &r["search"]["playback"]),
    ] {
        let error = secs(&p["error"], what);
        let start = secs(&p["cueStart"], what);
        eprintln!(
            "{what}: chapter at {start} s, played from {} s (error {error} s)",
            p["position"]
        );
        assert!(error.abs() <= 2.0, "{what}: {p}");
        assert!(
            secs(&p["oneSecondLater"], what) > secs(&p["position"], what),
            "{what} does not play on: {p}"
        );
    }
    assert_eq!(r["recorded"]["chapterClick"]["hash"], "#punkt-5");
    assert_eq!(r["search"]["opened"], format!("/sesje/{id}#punkt-7"));

    // 3. Search without Polish letters finds both items with "nieruchomości".
    let hits: Vec<String> = r["search"]["hits"]
        .as_array()
        .expect("hits")
        .iter()
        .filter_map(|h| h["href"].as_str().map(str::to_owned))
        .collect();
    for n in ["7", "7a"] {
        assert!(hits.contains(&format!("/sesje/{id}#punkt-{n}")), "{hits:?}");
    }

    // 4. axe-core: no violation on any page, in both languages and schemes.
    let pages = r["axe"]["pages"].as_array().expect("axe pages");
    for p in pages {
        assert!(p["error"].is_null(), "axe on {}: {}", p["name"], p["error"]);
        assert_eq!(
            p["violations"].as_array().map(Vec::len),
            Some(0),
            "axe violations on {} ({} {}): {}",
            p["name"],
            p["lang"],
            p["scheme"],
            p["violations"]
        );
    }
    for name in [
        "home (live)",
        "session page (live)",
        "console session (live)",
        "console session (live) (private-part dialog open)",
        "home",
        "session page (recorded)",
        "archive",
        "search results",
        "login",
        "login (wrong password)",
        "console home",
        "console home (agenda preview)",
        "console session (ended)",
    ] {
        for lang in ["pl", "en"] {
            for scheme in ["light", "dark"] {
                assert!(
                    pages
                        .iter()
                        .any(|p| p["name"] == name && p["lang"] == lang && p["scheme"] == scheme),
                    "axe did not check {name} ({lang}, {scheme})"
                );
            }
        }
    }
    eprintln!(
        "axe-core {}: {} page states, no violations",
        r["axe"]["version"],
        pages.len()
    );

    // 6. Screenshots, phone and desktop, written by this run.
    for name in [
        "home-live",
        "session-live",
        "console-live",
        "session-recorded",
        "archive",
    ] {
        for size in ["phone", "desktop"] {
            let file = screenshot_dir().join(format!("{name}-{size}.png"));
            let bytes = std::fs::read(&file).unwrap_or_else(|e| panic!("{}: {e}", file.display()));
            let written = std::fs::metadata(&file).and_then(|m| m.modified());
            assert!(
                written.is_ok_and(|t| t >= began),
                "{} is older than this run",
                file.display()
            );
            assert!(
                bytes.starts_with(b"\x89PNG") && bytes.len() > 10_000,
                "{}",
                file.display()
            );
        }
    }

    // 7. Without JavaScript: the agenda, the timeline and the downloads.
    let nojs = r["nojs"].as_array().expect("nojs");
    let page = |name: &str| {
        nojs.iter()
            .find(|p| p["name"] == name)
            .unwrap_or_else(|| panic!("no-JS {name} not checked"))
    };
    let session = page("session page");
    assert_eq!(session["scriptsRan"], false);
    assert_eq!(session["agendaItems"], 15, "{session}");
    assert_eq!(strings(&session["timeline"]), kinds, "{session}");
    assert_eq!(session["watchLinks"], 4, "{session}");
    assert_eq!(
        session["itemDownloads"].as_array().map(Vec::len),
        Some(8),
        "{session}"
    );
    assert_eq!(
        strings(&session["sessionDownloads"]),
        [
            format!("/vod/sessions/{id}/download/session.mp4"),
            format!("/vod/sessions/{id}/download/session.m4a")
        ]
    );
    for name in ["home", "archive"] {
        assert!(
            strings(&page(name)["sessionLinks"]).contains(&format!("/sesje/{id}")),
            "no-JS {name}: {}",
            page(name)
        );
    }
    for d in nojs.iter().filter(|p| p["name"] == "download") {
        assert_eq!(d["status"], 206, "{d}");
    }

    // 8. Nothing but our own host, no page error, no CSP violation.
    for key in ["thirdPartyRequests", "pageErrors", "cspViolations"] {
        assert_eq!(
            r[key].as_array().map(Vec::len),
            Some(0),
            "{key}: {}",
            r[key]
        );
    }
    eprintln!("site.mjs took {} s", r["elapsed"]);
}

/// The console with the keyboard alone: every control reachable with Tab
/// and Shift+Tab and showing its focus, a session created, started, its
/// items begun, the private-part dialog opened and cancelled (Escape, then
/// its Cancel button), recess, resume and stop through the confirmation
/// dialog: `tests/browser/keyboard.mjs` against a fresh server.
#[test]
fn the_console_works_with_the_keyboard_alone_in_chromium() {
    let _guard = heavy();
    let (server, base) = live_server();
    let (code, r, line) = node_script("keyboard.mjs", &base, Duration::from_secs(120));
    eprintln!("keyboard.mjs: {line}");
    server_warnings(&server);
    let reason = r["reason"].as_str().unwrap_or_default();
    assert_eq!(r["ok"], true, "keyboard.mjs failed: {reason}");
    assert_eq!(code, Some(0), "{reason}");

    let walks = r["walks"].as_array().expect("walks");
    let pages: Vec<&str> = walks.iter().filter_map(|w| w["page"].as_str()).collect();
    assert_eq!(
        pages,
        [
            "login",
            "console home",
            "console session (planned)",
            "console session (planned, details open)",
            "console session (live)",
            "console session (ended)"
        ]
    );
    for w in walks {
        assert_eq!(w["missing"].as_array().map(Vec::len), Some(0), "{w}");
        assert_eq!(w["noRing"].as_array().map(Vec::len), Some(0), "{w}");
        assert_eq!(w["shiftTabRetraces"], true, "{w}");
    }
    // The live console: the six controls, the next-item button and one
    // begin button per agenda item are all stops.
    let live = &walks[4];
    let order = strings(&live["order"]);
    for control in [
        "button#btn-recess[recess]",
        "button#btn-private-begin[private-begin]",
        "button#btn-stop[stop]",
        "button#btn-next[next-item]",
    ] {
        assert!(
            order.iter().any(|o| o == control),
            "{control} not in {order:?}"
        );
    }
    assert_eq!(
        order
            .iter()
            .filter(|o| o.starts_with("button[begin-item "))
            .count(),
        15,
        "{order:?}"
    );

    for s in r["steps"].as_array().expect("steps") {
        assert_eq!(s["ok"], true, "{s}");
    }
    let private = &r["dialogs"]["private"];
    assert_eq!(private["focusInReason"], true, "{private}");
    assert_eq!(private["trapped"], true, "{private}");
    assert_eq!(private["escapeClosed"], true, "{private}");
    assert_eq!(private["cancelClosed"], true, "{private}");
    assert_eq!(private["focusBackOnOpener"], true, "{private}");
    let stop = &r["dialogs"]["stop"];
    assert_eq!(stop["onCancel"], true, "{stop}");
    assert_eq!(stop["closed"], true, "{stop}");

    // The catalog: no private part (both dialogs were cancelled), the rest
    // in order.
    let id = r["sessionId"].as_i64().expect("session id");
    let (state, kinds, items) = catalog_session(&base, id);
    assert_eq!(state, "ended");
    assert_eq!(
        kinds,
        ["start", "item", "item", "item", "recess", "resume", "stop"]
    );
    assert_eq!(items, ["1", "5", "6"]);
    assert_eq!(
        r["thirdPartyRequests"].as_array().map(Vec::len),
        Some(0),
        "{line}"
    );
    assert_eq!(r["pageErrors"].as_array().map(Vec::len), Some(0), "{line}");
    eprintln!("keyboard.mjs took {} s", r["elapsed"]);
}
