//! The public page plays the live stream with hls.js in headless Chromium
//! (Debian's package, driven by playwright-core from npm).

use std::path::Path;
use std::process::Command;
use std::time::Duration;

use crate::support::{heavy, run_for, server};

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
            .env("MAX_LATENCY", "3"),
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
    assert_eq!(code, Some(0), "browser check failed: {json_line}");
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
    let latency = result["latency"].as_f64().expect("hls.js latency");
    assert!(latency < 3.0, "live latency {latency} s is not under 3 s");
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
