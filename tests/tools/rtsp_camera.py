#!/usr/bin/python3
"""A tiny RTSP camera for the tests: gst-rtsp-server on loopback.

    rtsp_camera.py PORT [PATTERN [FREQ]]

Serves rtsp://127.0.0.1:PORT/cam: H.264 video (videotestsrc PATTERN moving
20 pixels a frame, 640x360, 25 fps) and AAC sound (a FREQ Hz sine, 440 by
default). Prints "ready" once it listens. The
media is shared between clients and stops with the process (kill it to make
the camera disappear; start it again on the same port to bring it back).
Needs Debian's gir1.2-gst-rtsp-server-1.0 and python3-gi.
"""
import sys

import gi

gi.require_version("Gst", "1.0")
gi.require_version("GstRtspServer", "1.0")
from gi.repository import GLib, Gst, GstRtspServer  # noqa: E402


def main() -> None:
    port = sys.argv[1]
    pattern = sys.argv[2] if len(sys.argv) > 2 else "white"
    freq = int(sys.argv[3]) if len(sys.argv) > 3 else 440
    Gst.init(None)
    server = GstRtspServer.RTSPServer()
    server.set_address("127.0.0.1")
    server.set_service(port)
    factory = GstRtspServer.RTSPMediaFactory()
    factory.set_launch(
        "( videotestsrc is-live=true pattern={p} horizontal-speed=20 "
        "! video/x-raw,width=640,height=360,framerate=25/1 "
        "! x264enc tune=zerolatency speed-preset=ultrafast key-int-max=25 bitrate=600 "
        "! rtph264pay name=pay0 pt=96 config-interval=1 "
        "audiotestsrc is-live=true wave=sine freq={f} volume=0.3 "
        "! audioconvert ! voaacenc ! rtpmp4gpay name=pay1 pt=97 )".format(p=pattern, f=freq)
    )
    factory.set_shared(True)
    server.get_mount_points().add_factory("/cam", factory)
    if server.attach(None) == 0:
        print(f"cannot listen on 127.0.0.1:{port}", file=sys.stderr, flush=True)
        sys.exit(1)
    print("ready", flush=True)
    GLib.MainLoop().run()


if __name__ == "__main__":
    main()
