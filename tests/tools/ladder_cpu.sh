#!/usr/bin/env bash
# CPU per minute of the ABR ladder from a real-looking input: a 1080p25
# H.264 file with moving detail and sensor-like noise (made here by ffmpeg),
# decoded and encoded by `obrady serve` (file source, looped), next to
# gst-launch-1.0 doing the same decode and the same x264 ladder into
# fakesinks, in the same run. Prints a table; judges nothing.
#
#   tests/tools/ladder_cpu.sh            # 30 s windows
#   SECONDS_PER_RUN=60 tests/tools/ladder_cpu.sh
#
# Needs target/release/obrady (cargo build --release), ffmpeg, gst-launch-1.0, bc.
set -euo pipefail
root="$(cd "$(dirname "$0")/../.." && pwd)"
bin="${OBRADY_BIN:-$root/target/release/obrady}"
window="${SECONDS_PER_RUN:-30}"
warmup=10
work="$(mktemp -d)"
trap 'kill $(jobs -p) 2>/dev/null || true; rm -rf "$work"' EXIT
hz=$(getconf CLK_TCK)
cores=$(nproc)

input="$work/input.mp4"
ffmpeg -v error -f lavfi -i "testsrc2=s=1920x1080:r=25,noise=alls=12:allf=t+u" \
  -f lavfi -i "sine=f=440:r=48000" -t 45 -c:v libx264 -preset veryfast -crf 20 \
  -g 50 -pix_fmt yuv420p -c:a aac -b:a 128k "$input"

cpu_ticks() { awk '{print $14 + $15}' "/proc/$1/stat"; }

# measure PID: CPU seconds per minute over the window.
measure() {
  local pid=$1 a b
  sleep "$warmup"
  a=$(cpu_ticks "$pid")
  sleep "$window"
  b=$(cpu_ticks "$pid")
  echo "scale=1; ($b - $a) / $hz * 60 / $window" | bc
}

printf '%-28s %-10s %22s %22s\n' "ladder" "preset" "obrady CPU s/min" "gst-launch CPU s/min"
for ladder in "720p+360p" "1080p+720p+360p"; do
  for preset in veryfast superfast; do
    video='[{ name = "720p", width = 1280, height = 720, bitrate = 2500 }, { name = "360p", width = 640, height = 360, bitrate = 800 }]'
    widths="1280x720:2500 640x360:800"
    if [ "$ladder" = "1080p+720p+360p" ]; then
      video='[{ name = "1080p", width = 1920, height = 1080, bitrate = 4500 }, { name = "720p", width = 1280, height = 720, bitrate = 2500 }, { name = "360p", width = 640, height = 360, bitrate = 800 }]'
      widths="1920x1080:4500 1280x720:2500 640x360:800"
    fi
    cat > "$work/c.toml" <<EOF
[encoding]
x264_preset = "$preset"
video = $video

[[channel]]
id = "main"
name = "Sala"
source = { kind = "file", path = "$input" }
EOF
    rm -rf "$work/data"
    "$bin" serve --listen 127.0.0.1:0 --data-dir "$work/data" --config "$work/c.toml" \
      >"$work/obrady.log" 2>&1 &
    pid=$!
    o=$(measure "$pid")
    kill -INT "$pid"; wait "$pid" 2>/dev/null || true

    # The peer: the same decode and x264 settings, into fakesinks.
    branches=""
    for wb in $widths; do
      w=${wb%%x*}; rest=${wb#*x}; h=${rest%%:*}; br=${wb##*:}
      branches+=" t. ! queue ! videoscale ! video/x-raw,width=$w,height=$h ! x264enc tune=zerolatency speed-preset=$preset bitrate=$br key-int-max=100 bframes=0 ! video/x-h264,profile=high ! fakesink sync=false"
    done
    # shellcheck disable=SC2086
    gst-launch-1.0 -q filesrc location="$input" ! qtdemux name=d \
      d.video_0 ! h264parse ! avdec_h264 ! videoconvert ! videorate ! video/x-raw,format=I420,framerate=25/1 \
      ! identity sync=true ! tee name=t $branches \
      d.audio_0 ! queue ! avdec_aac ! audioconvert ! audioresample ! audio/x-raw,format=S16LE ! voaacenc bitrate=128000 ! fakesink sync=false \
      >"$work/gst.log" 2>&1 &
    gpid=$!
    g=$(measure "$gpid")
    kill "$gpid"; wait "$gpid" 2>/dev/null || true
    printf '%-28s %-10s %22s %22s\n' "$ladder" "$preset" "$o" "$g"
  done
done
echo "(${cores} cores: ${cores}×60 = $((cores * 60)) CPU s/min is the whole machine; windows of ${window} s after ${warmup} s of warm-up)"
