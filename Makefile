# Molar's everyday commands. `make test` is the README's test command and
# what CI runs; it installs the Debian packages the tests need first.
GO ?= go
BIN := bin/molar
VERSION := $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)
# staticcheck 2026.2.2 is module version v0.8.2.
STATICCHECK_VERSION := v0.8.2

.PHONY: all build run test deps vet lint bench fuzz clean

all: build

build:
	$(GO) build -ldflags "-X main.version=$(VERSION)" -o $(BIN) ./cmd/molar

# Runs the server on its embedded defaults with demo data.
run: build
	./$(BIN) serve --demo

deps:
	./scripts/install-deps.sh

vet:
	$(GO) vet ./...

# The whole test suite: unit, table, golden, interop (DCMTK), browser
# (Chromium) and crash tests. The browser tests save a screenshot of each
# page in ./artifacts/pages for people to look at.
test: deps vet
	MOLAR_ARTIFACTS=$(CURDIR)/artifacts $(GO) test -count=1 -timeout 30m ./...

lint: vet
	@unformatted=$$(gofmt -l $$(git ls-files '*.go')); \
	  if [ -n "$$unformatted" ]; then echo "gofmt would change:"; echo "$$unformatted"; exit 1; fi
	$(GO) run honnef.co/go/tools/cmd/staticcheck@$(STATICCHECK_VERSION) ./...

# Benchmarks against the issue's targets, printed as a table. Long: builds
# a 1,000,000-instance index the first time (cached in ./bench-data).
bench:
	./scripts/bench.sh

# A short run of every fuzzer; raise FUZZTIME for a real session.
FUZZTIME ?= 20s
fuzz:
	@for pkg in $$($(GO) list ./...); do \
	  for fn in $$($(GO) test -list 'Fuzz.*' $$pkg | grep '^Fuzz'); do \
	    echo "fuzz $$pkg $$fn"; \
	    $(GO) test -run XXX -fuzz "^$$fn$$" -fuzztime $(FUZZTIME) $$pkg || exit 1; \
	  done; \
	done

clean:
	rm -rf bin
