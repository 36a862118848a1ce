# rigplan: build, test, benchmark, fuzz. CI runs `make test` (see .ci/run).

SHELL := /bin/bash
.SHELLFLAGS := -euo pipefail -c

GO ?= go
# Version stamped into the binary; cmd/rigplan reads main.version.
VERSION ?= $(shell git describe --always --dirty 2>/dev/null || echo dev)
# Per test binary. Packages using testhost run inside a UML test kernel whose
# guard kills it 30 s after this, before go test's own kill a minute after.
TEST_TIMEOUT ?= 15m
# Per fuzz target.
FUZZTIME ?= 30s
# containers/image verifies image signatures with GPGME (cgo) unless built
# with this tag, which selects its pure-Go OpenPGP code. Every go command
# here, and those the tests run (building rigplan for a test host), builds
# with the tag and without cgo, as the shipped static binary is built: one
# build configuration, compiled once. A plain `go test` builds with cgo and
# needs libgpgme-dev (.ci/debian-packages).
GOTAGS ?= containers_image_openpgp
export GOFLAGS := $(strip $(shell $(GO) env GOFLAGS) -tags=$(GOTAGS))
export CGO_ENABLED := 0

.PHONY: build test bench fuzz deps demo docs

# Installs the Debian packages the tests and the demo need, when some are
# missing (needs root; a no-op once they are there).
deps:
	@missing=$$(for p in $$(grep -v '^#' .ci/debian-packages); do dpkg -s "$$p" >/dev/null 2>&1 || echo "$$p"; done); \
	if [ -n "$$missing" ]; then \
		echo "installing:" $$missing; \
		DEBIAN_FRONTEND=noninteractive apt-get update && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends $$missing; \
	fi

# The main job on a safe default: the whole runner host of
# examples/lvm-cache-runner, brought up from bare scratch disks by one
# rigplan apply inside the sandbox (a User-Mode Linux kernel booting a
# Debian root with systemd; your disks are never touched), three jobs run
# through its ephemeral machine, a new image rolled out, and everything
# destroyed. It is the end-to-end test e2e, telling what it does
# (RIGPLAN_DEMO=1); the first run builds the sandbox's Debian root (a few
# minutes, cached under /var/cache/rigplan).
DEMO_TIMEOUT ?= 25m
demo: deps
	@dir=$$(mktemp -d /tmp/rigplan-demo.XXXXXX); trap 'rm -rf "$$dir"' EXIT; \
	$(GO) test -c -o "$$dir/e2e.test" ./e2e; \
	cd e2e && RIGPLAN_DEMO=1 "$$dir/e2e.test" -test.run '^TestRunnerHost$$' -test.count 1 -test.timeout $(DEMO_TIMEOUT)

# The static binary (CGO_ENABLED=0 above), then the man pages (bin/man) and
# shell completion scripts (bin/completion) it generates from its own
# commands; docs/decisions.md says how to install them. The man pages are
# dated by the last commit, so that one commit always gives the same files.
# cmd/rigplan's TestReleaseBuild checks a binary built with these flags.
build:
	$(GO) build -trimpath -ldflags '-s -w -X main.version=$(VERSION)' -o bin/rigplan ./cmd/rigplan
	rm -rf bin/man bin/completion
	SOURCE_DATE_EPOCH=$$(git log -1 --format=%ct 2>/dev/null || date +%s) \
		bin/rigplan docs -man bin/man -completion bin/completion

# The resource reference, docs/reference, generated from the providers'
# schemas. Run it after changing a schema: a test in cmd/rigplan fails
# while the committed pages differ from what the schemas give.
docs:
	rm -f docs/reference/*.md
	$(GO) run ./cmd/rigplan docs -reference docs/reference

# The packages that boot a test kernel, slowest first. go test runs two
# test binaries at a time (two CPUs) and starts them in the order given,
# so listing these before ./... keeps both slots busy to the end instead
# of leaving the longest for last.
SLOW_TESTS := ./providers/lvm/lvmtest ./cmd/rigplan/hosttest \
	./cache/store/lvmstore/lvmstoretest ./providers/nspawn/nspawntest \
	./providers/cache/cachetest ./testhost/systemdtest ./testhost/selftest \
	./cache/agent/lvmagent

# The end-to-end scenario (package e2e) runs once, last, as the demo: the
# same test binary and assertions, telling what it checks. Running it a
# second time among the other packages would cost CI five minutes.
test: deps
	$(GO) vet ./...
	$(GO) test -count=1 -timeout $(TEST_TIMEOUT) $(SLOW_TESTS) $$($(GO) list ./... | grep -v '/e2e$$')
	$(MAKE) --no-print-directory demo

# Benchmarks print figures measured side by side in one run; nothing
# asserts on time (shared/TESTING.md). Packages run one at a time, so that
# one booting the test kernel is not measured while another runs: the
# largest, providers/lvm/lvmtest's BenchmarkPlan, builds a host of 1,000
# LVs in the kernel and plans 500 volumes against it (about 2 minutes).
# -v prints the tables benchmarks log. `go test -list` boots no kernel;
# packages without benchmarks are skipped.
# `make test` runs no benchmark, so none of their setup.
BENCH_TIMEOUT ?= 20m
bench:
	$(GO) test -list '^Benchmark' ./... \
	| awk '/^Benchmark/ { found = 1; next } /^(ok|FAIL)/ { if (found) print $$2; found = 0 }' \
	| { status=0; while read -r pkg; do \
		echo "== bench $$pkg"; \
		$(GO) test -count=1 -v -run '^$$' -bench . -timeout $(BENCH_TIMEOUT) "$$pkg" </dev/null || status=1; \
	done; exit $$status; }

# Each Fuzz* target in turn (go test fuzzes one target of one package at a
# time). `go test -list` prints a package's names, then its "ok" line.
fuzz:
	$(GO) test -list '^Fuzz' ./... \
	| awk '/^Fuzz/ { names = names " " $$1; next } /^ok/ { n = split(names, f, " "); for (i = 1; i <= n; i++) print $$2, f[i]; names = "" }' \
	| while read -r pkg target; do \
		echo "== fuzz $$pkg $$target for $(FUZZTIME)"; \
		$(GO) test -run '^$$' -fuzz "^$$target\$$" -fuzztime $(FUZZTIME) "$$pkg" </dev/null; \
	done
