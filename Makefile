# Carrier: the two commands a newcomer runs are `make run` and `make test`.
# Every target installs the Debian packages it needs first (see `deps`).

SWIFT        ?= swift
DEBIAN_PKGS  := libsodium-dev libsqlite3-dev pkg-config gcc
# The tests' real peers: Debian's dhtnode (OpenDHT 2.4, run with --proxyclient) and chromium (the
# browser light node, headless); the network lab's NAT (Tests/TestSupport/NetworkLab.swift):
# iproute2, nftables, conntrack, procps (sysctl), and python3 for the peers its tests run.
TEST_PKGS    := dhtnode chromium iproute2 nftables conntrack procps python3
# The benchmark's comparison peers: OpenDHT's Python binding (driven by Debian's /usr/bin/python3)
# and dhtnode --proxyserver, loaded with wrk; iperf3 and h2load (nghttp2-client) through a Shadow tunnel,
# and socat, a relay that only copies, as the ceiling a relay reaches here.
BENCH_PKGS   := python3-opendht dhtnode wrk iperf3 nghttp2-client socat
# `make fuzz-http` runs Schemathesis (from PyPI, pinned in Tests/FuzzHTTP/run.sh) in a venv of
# Debian's python3 under .build/fuzz-http-venv.
FUZZ_HTTP_PKGS := python3 python3-venv
# Suites and tests that `make test` runs after the others, one test at a time (a regular expression).
SERIAL_TESTS := AdversarialTests|ProxyWebSocketLimitsTests|aTestnetStopsOnCtrlCWhileItsNodesJoin|ShadowRelayTests|ShadowLimitsTests|ShadowSpareTests|ShadowThroughNATTests|NetworkLabTests|ThreadingModelTests
SUDO         := $(shell [ "$$(id -u)" = 0 ] || echo sudo)

# $(call install_missing,PACKAGES): apt-get install those of PACKAGES that are not installed.
define install_missing
	@missing=""; for p in $(1); do dpkg -s $$p >/dev/null 2>&1 || missing="$$missing $$p"; done; \
	if [ -n "$$missing" ]; then \
		echo "installing:$$missing"; \
		$(SUDO) apt-get update -qq && DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -qq $$missing; \
	fi
endef

.PHONY: deps build run test bench fuzz fuzz-http clean

## deps: install the Debian packages the build needs, if any is missing.
deps:
	$(call install_missing,$(DEBIAN_PKGS))
	@command -v $(SWIFT) >/dev/null || { echo "error: swift not found (install Swift 6 from swift.org)"; exit 1; }

## build: release build of the `carrier` executable.
build: deps
	$(SWIFT) build -c release --product carrier

## run: start a supernode on the default manifests (Manifests/: node.toml, hello-c, the proxy on
## port 39200 and Shadow on port 39300, each in its own process), with its data under
## ./.carrier/node. Builds the plugins and pins their hashes first. Ctrl-C stops it; SIGHUP reloads
## the manifests.
run: build
	$(MAKE) -s -C Plugins/examples/hello-c
	$(SWIFT) build -c release --product ProxyPlugin
	$(SWIFT) build -c release --product ShadowPlugin
	.build/release/carrier plugins pin Manifests/hello-c.toml >/dev/null
	.build/release/carrier plugins pin Manifests/proxy.toml >/dev/null
	.build/release/carrier plugins pin Manifests/shadow.toml >/dev/null
	.build/release/carrier run --manifests Manifests

## test: build everything and run every test (the adversarial suites last, one test at a time).
test: deps
	$(call install_missing,$(TEST_PKGS))
	$(SWIFT) build --build-tests
	$(SWIFT) build --product HelloSwiftPlugin
	$(SWIFT) build --product ProxyPlugin
	$(SWIFT) build --product ShadowPlugin
	# The UDP flood test runs the release node: a debug SwiftNIO reads a flood slower than it comes.
	$(SWIFT) build -c release --product carrier
	# The attacks (floods, thousands of connections, a subscriber buried under 20 MB of events), a
	# 200-node testnet interrupted while it joins, and the Shadow relays (hundreds of sealed streams,
	# supernodes behind a NAT in network namespaces) load both cores: they run after the rest, one
	# at a time, so the others' deadlines hold (and theirs).
	$(SWIFT) test --skip-build --disable-xctest --skip "$(SERIAL_TESTS)"
	$(SWIFT) test --skip-build --disable-xctest --no-parallel --filter "$(SERIAL_TESTS)"

## bench: codec and envelope against raw libsodium, request rate against a UDP echo, Carrier next to
## OpenDHT on loopback, the plugin host, billing, the DHT proxy next to `dhtnode --proxyserver` under
## wrk, Shadow's tunnel next to the direct path (iperf3, round trips, HTTP latency at fixed rates) and its
## memory, and the 10,000-node simulation, each baseline measured in the same run.
bench: deps
	$(call install_missing,$(BENCH_PKGS))
	$(MAKE) -s -C Plugins/examples/hello-c
	$(SWIFT) build -c release --product carrier-bench
	$(SWIFT) build -c release --product carrier
	$(SWIFT) build -c release --product HelloSwiftPlugin
	$(SWIFT) build -c release --product ProxyPlugin
	$(SWIFT) build -c release --product ShadowPlugin
	.build/release/carrier-bench

## fuzz: libFuzzer over each parser of outside input (Tests/Fuzz/README.md: datagram, http, websocket,
## json, opendht, runner, shadow), FUZZ_RUNS executions each (default 1000000); FUZZ_TARGET=http for one.
fuzz: deps
	Tests/Fuzz/run.sh

## fuzz-http: Schemathesis against a live proxy on loopback (a `carrier testnet` and a supernode
## joined to it), from Plugins/proxy/openapi.yaml: every phase and check, positive and negative
## data, FUZZ_HTTP_EXAMPLES (default 300) per operation and phase; fails on any finding or crash.
fuzz-http: deps
	$(call install_missing,$(FUZZ_HTTP_PKGS))
	Tests/FuzzHTTP/run.sh

clean:
	rm -rf .build Tests/Fuzz/.build
