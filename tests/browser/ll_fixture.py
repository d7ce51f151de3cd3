#!/usr/bin/env python3
"""Tiny LL-HLS test fixture (no obrady server needed) for tests/browser/live_play.mjs.

    python3 tests/browser/ll_fixture.py --web web --port 8735 [--part 0.2] [--parts-per-seg 5]

Runs ffmpeg (testsrc2 + 1 kHz sine, H.264/AAC, fMP4) cutting a keyframe every PART seconds, so
every ffmpeg "segment" is one independent LL-HLS part. It serves, on 127.0.0.1:PORT:
  /                      the static files of --web (the player page)
  /live/main/index.m3u8  multivariant playlist (one variant, muxed A/V)
  /live/main/media.m3u8  LL-HLS media playlist: EXT-X-PART, PRELOAD-HINT, blocking reload
                         (_HLS_msn/_HLS_part), segments = PARTS_PER_SEG concatenated parts
  /live/main/init.mp4, p<N>.m4s (parts), s<K>.m4s (segments)
It is a test fixture only: short keyframe interval, no delta updates, no rendition reports.
Stop it with SIGTERM/SIGINT; it also stops its ffmpeg child.
"""
import argparse
import functools
import http.server
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time

PART_RE = re.compile(r'#EXTINF:([0-9.]+),\s*\n(p(\d+)\.m4s)')


class Stream:
    def __init__(self, workdir, part_target, parts_per_seg):
        self.dir = workdir
        self.part_target = part_target
        self.pps = parts_per_seg
        self.lock = threading.Condition()
        self.parts = []  # durations of completed parts, index = part number

    def poll(self):
        """Refresh the list of completed parts from ffmpeg's own playlist."""
        try:
            with open(os.path.join(self.dir, 'ff.m3u8')) as f:
                text = f.read()
        except OSError:
            return
        found = {int(m.group(3)): float(m.group(1)) for m in PART_RE.finditer(text)}
        with self.lock:
            n = len(self.parts)
            while n in found:
                self.parts.append(found[n])
                n += 1
            self.lock.notify_all()

    def wait_for(self, pred, timeout):
        with self.lock:
            return self.lock.wait_for(pred, timeout)

    def playlist(self):
        with self.lock:
            parts = list(self.parts)
        pps, pt = self.pps, self.part_target
        full = len(parts) // pps
        first = max(0, full - 6)
        target = max(1, round(pps * pt + 0.49))
        out = ['#EXTM3U', '#EXT-X-VERSION:9', f'#EXT-X-TARGETDURATION:{target}',
               f'#EXT-X-SERVER-CONTROL:CAN-BLOCK-RELOAD=YES,PART-HOLD-BACK={3 * pt:.3f}',
               f'#EXT-X-PART-INF:PART-TARGET={pt:.3f}', f'#EXT-X-MEDIA-SEQUENCE:{first}',
               '#EXT-X-INDEPENDENT-SEGMENTS', '#EXT-X-MAP:URI="init.mp4"']
        for seg in range(first, full + 1):
            idx = range(seg * pps, min((seg + 1) * pps, len(parts)))
            if seg >= full - 3:  # parts only for the last few segments
                for i in idx:
                    out.append(f'#EXT-X-PART:DURATION={parts[i]:.5f},URI="p{i}.m4s",INDEPENDENT=YES')
            if seg < full:
                out.append(f'#EXTINF:{sum(parts[i] for i in idx):.5f},')
                out.append(f's{seg}.m4s')
        out.append(f'#EXT-X-PRELOAD-HINT:TYPE=PART,URI="p{len(parts)}.m4s"')
        return '\n'.join(out) + '\n'


def make_handler(stream, webdir):
    class Handler(http.server.SimpleHTTPRequestHandler):
        protocol_version = 'HTTP/1.1'

        def __init__(self, *a, **kw):
            super().__init__(*a, directory=webdir, **kw)

        def log_message(self, *a):
            pass

        def send_bytes(self, body, ctype, cache='no-cache'):
            self.send_response(200)
            self.send_header('Content-Type', ctype)
            self.send_header('Content-Length', str(len(body)))
            self.send_header('Cache-Control', cache)
            self.end_headers()
            if self.command != 'HEAD':
                self.wfile.write(body)

        def do_HEAD(self):
            self.do_GET()

        def do_GET(self):
            path, _, query = self.path.partition('?')
            if not path.startswith('/live/main/'):
                return super().do_GET()
            name = path[len('/live/main/'):]
            q = dict(kv.split('=', 1) for kv in query.split('&') if '=' in kv)
            pps = stream.pps
            if name == 'index.m3u8':
                body = ('#EXTM3U\n#EXT-X-VERSION:9\n#EXT-X-INDEPENDENT-SEGMENTS\n'
                        '#EXT-X-STREAM-INF:BANDWIDTH=1000000,RESOLUTION=640x360,'
                        'CODECS="avc1.64001e,mp4a.40.2"\nmedia.m3u8\n').encode()
                return self.send_bytes(body, 'application/vnd.apple.mpegurl')
            if name == 'media.m3u8':
                if '_HLS_msn' in q:  # blocking playlist reload
                    msn, part = int(q['_HLS_msn']), int(q.get('_HLS_part', -1))
                    need = msn * pps + part + 1 if part >= 0 else (msn + 1) * pps
                    stream.wait_for(lambda: len(stream.parts) >= need, 3 * pps * stream.part_target)
                return self.send_bytes(stream.playlist().encode(), 'application/vnd.apple.mpegurl')
            m = re.fullmatch(r'([ps])(\d+)\.m4s', name)
            if m:
                n = int(m.group(2))
                last = n if m.group(1) == 'p' else (n + 1) * pps - 1
                if last > len(stream.parts) + 2 * pps:
                    return self.send_error(404)
                # Parts named in a PRELOAD-HINT may be requested before they exist: block.
                if not stream.wait_for(lambda: len(stream.parts) > last, 3 * pps * stream.part_target):
                    return self.send_error(404)
                first = n if m.group(1) == 'p' else n * pps
                body = b''.join(open(os.path.join(stream.dir, f'p{i}.m4s'), 'rb').read()
                                for i in range(first, last + 1))
                return self.send_bytes(body, 'video/iso.segment', 'max-age=60')
            if name == 'init.mp4' and stream.wait_for(
                    lambda: os.path.exists(os.path.join(stream.dir, 'init.mp4')), 5):
                with open(os.path.join(stream.dir, 'init.mp4'), 'rb') as f:
                    return self.send_bytes(f.read(), 'video/mp4', 'max-age=60')
            return self.send_error(404)

    return Handler


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument('--web', default='web')
    ap.add_argument('--port', type=int, default=8735)
    ap.add_argument('--part', type=float, default=0.2, help='part duration (s), multiple of 1/25')
    ap.add_argument('--parts-per-seg', type=int, default=5)
    a = ap.parse_args()

    # Bind first: if the port is taken we fail before starting ffmpeg.
    stream = Stream(None, 0, a.parts_per_seg)
    srv = http.server.ThreadingHTTPServer(('127.0.0.1', a.port), make_handler(stream, os.path.abspath(a.web)))
    srv.daemon_threads = True

    workdir = tempfile.mkdtemp(prefix='obrady-ll-')
    gop = max(1, round(a.part * 25))
    stream.dir, stream.part_target = workdir, gop / 25
    ff = subprocess.Popen([
        'ffmpeg', '-nostdin', '-loglevel', 'error', '-re',
        '-f', 'lavfi', '-i', 'testsrc2=size=640x360:rate=25',
        '-f', 'lavfi', '-i', 'sine=frequency=1000:sample_rate=48000',
        '-c:v', 'libx264', '-preset', 'veryfast', '-tune', 'zerolatency', '-pix_fmt', 'yuv420p',
        '-g', str(gop), '-keyint_min', str(gop), '-sc_threshold', '0',
        '-c:a', 'aac', '-b:a', '96k',
        '-f', 'hls', '-hls_time', str(stream.part_target), '-hls_list_size', '0',
        '-hls_segment_type', 'fmp4', '-hls_fmp4_init_filename', 'init.mp4',
        '-hls_flags', 'independent_segments+temp_file',
        '-hls_segment_filename', os.path.join(workdir, 'p%d.m4s'),
        os.path.join(workdir, 'ff.m3u8')])

    def poller():
        while ff.poll() is None:
            stream.poll()
            time.sleep(0.01)

    def stop(*_):
        threading.Thread(target=srv.shutdown, daemon=True).start()

    try:
        threading.Thread(target=poller, daemon=True).start()
        signal.signal(signal.SIGTERM, stop)
        signal.signal(signal.SIGINT, stop)
        print(f'LL-HLS fixture on http://127.0.0.1:{a.port}/ (work dir {workdir})', file=sys.stderr, flush=True)
        srv.serve_forever()
    finally:
        ff.terminate()
        try:
            ff.wait(5)
        except subprocess.TimeoutExpired:
            ff.kill()
        srv.server_close()
        shutil.rmtree(workdir, ignore_errors=True)


if __name__ == '__main__':
    main()
