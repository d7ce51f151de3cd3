//! The live stream plays in players no one here wrote: ffmpeg and
//! GStreamer's own HLS demuxer (hlsdemux2 through uridecodebin3).

use std::process::Command;
use std::time::Duration;

use crate::support::{heavy, run_for, server};

#[test]
fn ffmpeg_decodes_ten_seconds_without_a_word() {
    let url = server().url("/live/main/index.m3u8");
    let _guard = heavy();
    let (code, output) =
        crate::support::ffmpeg_decode(&url, &["-t", "10"], Duration::from_secs(60));
    assert_eq!(code, Some(0), "ffmpeg failed: {output}");
    assert_eq!(output.trim(), "", "ffmpeg printed something");
}

#[test]
fn ffprobe_sees_the_ladder_and_the_audio() {
    let url = server().url("/live/main/index.m3u8");
    let (code, output) = run_for(
        Command::new("ffprobe").args([
            "-v",
            "error",
            "-show_entries",
            "stream=codec_name,width,height,sample_rate,channels",
            "-of",
            "compact",
            &url,
        ]),
        Duration::from_secs(60),
    );
    assert_eq!(code, Some(0), "ffprobe failed: {output}");
    assert!(
        output.contains("codec_name=h264|width=1280|height=720"),
        "{output}"
    );
    assert!(
        output.contains("codec_name=h264|width=640|height=360"),
        "{output}"
    );
    assert!(
        output.contains("codec_name=aac") && output.contains("sample_rate=48000"),
        "{output}"
    );
}

#[test]
fn gstreamer_hlsdemux_plays_ten_seconds_without_errors_or_drops() {
    let url = server().url("/live/main/index.m3u8");
    let _guard = heavy();
    // fpsdisplaysink reports rendered and dropped frames in its
    // last-message; -v prints each update.
    let (_, output) = run_for(
        Command::new("gst-launch-1.0").args([
            "-v",
            "uridecodebin3",
            &format!("uri={url}"),
            "name=d",
            "d.",
            "!",
            "queue",
            "!",
            "videoconvert",
            "!",
            "fpsdisplaysink",
            "video-sink=fakesink",
            "text-overlay=false",
            "sync=true",
            "d.",
            "!",
            "queue",
            "!",
            "audioconvert",
            "!",
            "fakesink",
            "sync=true",
        ]),
        Duration::from_secs(16),
    );
    assert!(
        !output.contains("ERROR"),
        "GStreamer reported an error:\n{output}"
    );
    let last = output
        .lines()
        .filter_map(|l| l.split("last-message = rendered: ").nth(1))
        .next_back()
        .unwrap_or_else(|| panic!("fpsdisplaysink reported nothing:\n{output}"));
    let mut numbers = last
        .split(|c: char| !c.is_ascii_digit())
        .filter(|s| !s.is_empty())
        .map(|s| s.parse::<u64>().expect("number"));
    let rendered = numbers.next().expect("rendered");
    let dropped = numbers.next().expect("dropped");
    assert!(
        rendered >= 250,
        "only {rendered} frames rendered (10 s at 25 fps is 250)"
    );
    assert_eq!(dropped, 0, "{dropped} frames dropped");
}
