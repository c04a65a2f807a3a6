# NESS SMS build. Shipped binaries are static (CGO_ENABLED=0); tests build with CGO_ENABLED=1
# because the race detector needs cgo.
#
#   make build          host binaries into ./bin/   (GOARCH=arm64 make: arm64 binaries into ./bin/linux_arm64/)
#   make test           setup, vet, all tests with -race, interop vectors against libsodium
#   make bench          the benchmarks that matter, with their baselines, written to BENCHMARKS.md
#   make e2e            system tests: hostile clients, then the whole network under faults (docs/TESTING.md)
#   make hostile        only the hostile-client suite
#   make lint           gofmt, go vet, staticcheck (when it installs from the module proxy)
#   make cross          static linux/arm64, linux/arm v7, linux/arm v6 binaries into ./dist/
#   make fuzz           every fuzz target for FUZZTIME (default 10s) each, within FUZZBUDGET in all
#   make demo           the whole system on one machine (see README)

GO        ?= go
GOOS      ?= $(shell $(GO) env GOOS)
GOARCH    ?= $(shell $(GO) env GOARCH)
HOSTARCH  := $(shell GOARCH= GOOS= $(GO) env GOARCH)
HOSTOS    := $(shell GOARCH= GOOS= $(GO) env GOOS)
VERSION   ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo devel)
LDFLAGS   := -s -w -X github.com/ness-network/ness-sms/internal/version.Version=$(VERSION)
FUZZTIME  ?= 10s
FUZZBUDGET ?= 15m
# Every main package that ships.
CMDS      := $(shell $(GO) list -f '{{if eq .Name "main"}}{{.ImportPath}}{{end}}' ./... 2>/dev/null | grep '/cmd/')

ifeq ($(GOOS)_$(GOARCH),$(HOSTOS)_$(HOSTARCH))
BINDIR := bin
else
BINDIR := bin/$(GOOS)_$(GOARCH)$(if $(GOARM),v$(GOARM))
endif

.PHONY: all build test unit bench e2e hostile lint cross fuzz demo setup interop clean

all: build

build:
	@mkdir -p $(BINDIR)
	CGO_ENABLED=0 GOOS=$(GOOS) GOARCH=$(GOARCH) $(GO) build -trimpath -ldflags '$(LDFLAGS)' -o $(BINDIR)/ $(CMDS)
	@echo "built $(GOOS)/$(GOARCH) into $(BINDIR)/"

setup:
	./scripts/setup

# Tests always run on the host architecture, whatever GOARCH the caller exported for builds.
test: setup
	GOOS= GOARCH= $(GO) vet ./...
	GOOS= GOARCH= CGO_ENABLED=1 $(GO) test -race -count=1 -timeout 12m ./...
	$(MAKE) interop

# Quick unit tier: no race detector, short mode (integration tests still run; they are fast).
unit:
	GOOS= GOARCH= $(GO) test -count=1 -short ./...

interop:
	GOOS= GOARCH= ./scripts/interop-check

# BENCHMARKS.md from scratch: scripts/bench runs each benchmark with its baseline and writes the
# figures, ratios and the machine. BENCH_OUT=file writes elsewhere.
bench: setup
	GOOS= GOARCH= ./scripts/bench $(BENCH_OUT)

# System tests (scripts/systest): private Mosquitto, PostgreSQL cluster, hubs, agent, simulator.
e2e: setup
	GOOS= GOARCH= ./scripts/e2e

hostile: setup
	GOOS= GOARCH= E2E_RUN='^TestHostile$$' ./scripts/e2e

lint:
	@out=$$(gofmt -l $$(git ls-files '*.go')); if [ -n "$$out" ]; then echo "gofmt would change:"; echo "$$out"; exit 1; fi
	GOOS= GOARCH= $(GO) vet ./...
	@if GOOS= GOARCH= $(GO) run honnef.co/go/tools/cmd/staticcheck@v0.8.2 -version >/dev/null 2>&1; then \
		GOOS= GOARCH= $(GO) run honnef.co/go/tools/cmd/staticcheck@v0.8.2 ./...; \
	else echo "lint: staticcheck did not install from the module proxy; skipped it (gofmt and vet ran)"; fi

cross:
	@mkdir -p dist
	@for t in arm64: arm:7 arm:6; do \
		arch=$${t%%:*}; arm=$${t#*:}; dir=dist/linux_$$arch$${arm:+v$$arm}; mkdir -p $$dir; \
		echo "cross: linux/$$arch$${arm:+ v$$arm} -> $$dir"; \
		CGO_ENABLED=0 GOOS=linux GOARCH=$$arch GOARM=$$arm $(GO) build -trimpath -ldflags '$(LDFLAGS)' -o $$dir/ $(CMDS) || exit 1; \
	done

fuzz:
	GOOS= GOARCH= FUZZBUDGET=$(FUZZBUDGET) ./scripts/fuzz-all $(FUZZTIME)

demo: setup
	./scripts/demo

# The web dashboard (hub/dashboard, docs/DASHBOARD.md): install the pinned npm packages and build
# web/ into hub/dashboard/dist, which go:embed serves and git keeps (so `go build` needs no npm;
# TestBundleUpToDate fails when dist/ is stale). Its tests, including the chromium ones, are Go
# tests in hub/dashboard and run in `make test`.
.PHONY: dashboard
dashboard:
	cd hub/dashboard && npm ci --no-audit --no-fund && node build.mjs

clean:
	rm -rf bin dist

# The Raspberry Pi image (image/, docs/IMAGE.md): dist/ness-agent-rpi-arm64.img.gz. image-test
# builds it twice (reproducibility) and boots it under qemu-system-aarch64.
.PHONY: image image-test
image:
	./image/build.sh dist/ness-agent-rpi-arm64.img.gz

image-test:
	cd image && GOOS= GOARCH= $(GO) test -count=1 -timeout 20m ./...

# The ness-agent .deb packages for custom boards (image/deb, docs/IMAGE.md): dist/ness-agent_<v>_{amd64,arm64,armhf}.deb.
# deb-test builds them, checks them with dpkg-deb and systemd-analyze, installs the amd64 one here
# (dpkg -i: root, a disposable machine), runs it against ness-modemsim and purges it.
.PHONY: deb deb-test
deb:
	./image/deb.sh dist

deb-test:
	cd image && GOOS= GOARCH= $(GO) test -count=1 -tags debtest -timeout 10m -run 'TestPackages|TestDebVersion' ./deb/
