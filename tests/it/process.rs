//! The `obrady` binary as an operator runs it: start-up, config errors, and
//! stopping on SIGTERM/SIGINT.

use std::process::Command;
use std::time::{Duration, Instant};

use crate::support::{client, heavy, signal, start, Obrady};

async fn wait_for_playlist(addr: &str, within: Duration) {
    let deadline = Instant::now() + within;
    loop {
        if let Ok(r) = client()
            .get(format!("http://{addr}/live/main/index.m3u8"))
            .send()
            .await
        {
            if r.status() == 200 {
                return;
            }
        }
        assert!(
            Instant::now() < deadline,
            "the playlist did not answer within {within:?}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

fn wait_exit(o: &mut Obrady, within: Duration) -> Option<i32> {
    let deadline = Instant::now() + within;
    loop {
        if let Some(status) = o.child.try_wait().expect("wait") {
            return status.code();
        }
        assert!(
            Instant::now() < deadline,
            "obrady did not exit within {within:?}"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

#[test]
fn starts_live_within_15_s_and_stops_cleanly_on_sigterm_within_5_s() {
    let _guard = heavy();
    let rt = tokio::runtime::Runtime::new().expect("runtime");
    let started = Instant::now();
    let mut o = start(&[]);
    rt.block_on(start_and_stop(&mut o, started));
}

async fn start_and_stop(o: &mut Obrady, started: Instant) {
    wait_for_playlist(
        &o.addr,
        Duration::from_secs(15).saturating_sub(started.elapsed()),
    )
    .await;
    // A held request in flight when the signal arrives still gets an answer.
    let text = client()
        .get(format!("http://{}/live/main/720p/index.m3u8", o.addr))
        .send()
        .await
        .expect("playlist")
        .text()
        .await
        .expect("body");
    let last = crate::support::parse_playlist(&text)
        .segments
        .last()
        .expect("segments")
        .msn;
    let held = tokio::spawn({
        // Two segments ahead: allowed, and held for seconds.
        let url = format!(
            "http://{}/live/main/720p/index.m3u8?_HLS_msn={}",
            o.addr,
            last + 2
        );
        async move { client().get(url).send().await.map(|r| r.status().as_u16()) }
    });
    tokio::time::sleep(Duration::from_millis(300)).await;
    let stop = Instant::now();
    signal(o.child.id(), "TERM");
    let code = wait_exit(o, Duration::from_secs(5));
    assert_eq!(code, Some(0), "exit status after SIGTERM");
    assert!(stop.elapsed() < Duration::from_secs(5));
    let held = held.await.expect("task");
    assert_eq!(
        held.as_ref().ok(),
        Some(&200),
        "the in-flight request got no answer: {held:?}"
    );
    let log: Vec<String> = o.lines.try_iter().collect();
    assert!(
        log.iter().any(|l| l.contains("end of stream")),
        "no end of stream in the log:\n{}",
        log.join("\n")
    );
}

#[test]
fn a_second_signal_exits_at_once() {
    let _guard = heavy();
    let mut o = start(&[]);
    signal(o.child.id(), "INT");
    std::thread::sleep(Duration::from_millis(50));
    signal(o.child.id(), "INT");
    let code = wait_exit(&mut o, Duration::from_secs(5));
    assert!(code == Some(130) || code == Some(0), "exit status {code:?}");
}

#[test]
fn a_config_error_names_the_file_and_the_key() {
    let dir = tempfile::tempdir().expect("temp dir");
    let file = dir.path().join("site.toml");
    std::fs::write(&file, "[hls]\nsegment_duraton = 4.0\n").expect("write");
    let out = Command::new(env!("CARGO_BIN_EXE_obrady"))
        .args(["serve", "--config"])
        .arg(&file)
        .output()
        .expect("run obrady");
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("site.toml"), "{err}");
    assert!(err.contains("segment_duraton"), "{err}");

    let out = Command::new(env!("CARGO_BIN_EXE_obrady"))
        .args(["serve", "--config"])
        .arg(dir.path().join("missing.toml"))
        .output()
        .expect("run obrady");
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("missing.toml"), "{err}");
}
