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

.PHONY: build test bench fuzz

build:
	CGO_ENABLED=0 $(GO) build -trimpath -ldflags '-s -w -X main.version=$(VERSION)' -o bin/rigplan ./cmd/rigplan

test:
	$(GO) vet ./...
	$(GO) test -count=1 -timeout $(TEST_TIMEOUT) ./...

bench:
	$(GO) test -run '^$$' -bench . ./...

# Each Fuzz* target in turn (go test fuzzes one target of one package at a
# time). `go test -list` prints a package's names, then its "ok" line.
fuzz:
	$(GO) test -list '^Fuzz' ./... \
	| awk '/^Fuzz/ { names = names " " $$1; next } /^ok/ { n = split(names, f, " "); for (i = 1; i <= n; i++) print $$2, f[i]; names = "" }' \
	| while read -r pkg target; do \
		echo "== fuzz $$pkg $$target for $(FUZZTIME)"; \
		$(GO) test -run '^$$' -fuzz "^$$target\$$" -fuzztime $(FUZZTIME) "$$pkg" </dev/null; \
	done
