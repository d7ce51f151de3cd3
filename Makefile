# obrady: the two commands of the README, and the benchmark.
#   make run   install what is missing, then run the service on the embedded default
#   make test  install what the tests need, then run the whole suite
#   make bench print the latency and CPU table (obrady next to gst-launch-1.0)

SHELL := /bin/bash
CARGO ?= cargo

# Debian 12 packages: GStreamer 1.22 and its plugins, ffmpeg for validation,
# Chromium for the browser tests, Node.js/npm for playwright-core, Debian's
# Python with gst-rtsp-server for the tests' RTSP camera, nginx with the RTMP
# module as the restream test's destination; and, into
# target/pyvenv, openapi-spec-validator for the OpenAPI document.
RUN_PACKAGES := pkg-config libgstreamer1.0-dev libgstreamer-plugins-base1.0-dev \
	gstreamer1.0-plugins-base gstreamer1.0-plugins-good gstreamer1.0-plugins-bad \
	gstreamer1.0-plugins-ugly gstreamer1.0-libav gstreamer1.0-x gstreamer1.0-tools \
	gstreamer1.0-alsa gstreamer1.0-pulseaudio fonts-dejavu-core
TEST_PACKAGES := $(RUN_PACKAGES) ffmpeg chromium nodejs npm python3-venv \
	python3-gi gir1.2-gst-rtsp-server-1.0 nginx-light libnginx-mod-rtmp \
	pip:openapi-spec-validator==0.9.0

.PHONY: run test deps test-deps bench check

deps:
	@./.ci/install-deps $(RUN_PACKAGES)

test-deps:
	@./.ci/install-deps $(TEST_PACKAGES)
	cd tests/browser && npm ci --no-audit --no-fund

# MALLOC_ARENA_MAX: GStreamer's streaming threads come and go with every
# source reconnect; without a cap glibc gives them new malloc arenas and the
# resident memory creeps up (see README, "Troubleshooting").
run: deps
	MALLOC_ARENA_MAX=2 $(CARGO) run --release -- serve

# Two test threads: the tests that run a server of their own take turns
# (tests/it/support.rs, `heavy`), and one light test runs beside each. With
# four threads on the 2-core machine the suite was slower (621-664 s against
# 576 s with an extra CPU hog) and its browser and camera checks starved.
test: test-deps
	$(CARGO) test --all-targets -- --test-threads 2

check:
	$(CARGO) fmt --check
	$(CARGO) clippy --all-targets -- -D warnings

bench: deps
	$(CARGO) run --release --example bench
