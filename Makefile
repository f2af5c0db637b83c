# Build, test and benchmark neko. deploy/install.sh installs what these need.
GO      ?= go
VERSION ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)
LDFLAGS := -X main.version=$(VERSION)
export PATH := $(PATH):/usr/local/go/bin

.PHONY: all build web go run test test-go test-web bench fmt vet fuzz clean

all: build

build: web go

web:
	cd web && npm run build

go:
	$(GO) build -ldflags "$(LDFLAGS)" -o bin/neko ./cmd/neko

run: build
	./bin/neko serve

# The whole suite, exactly as CI runs it.
test:
	./deploy/test.sh

test-go:
	$(GO) test -race -count=1 ./...

test-web:
	cd web && npm test && npm run format:check

vet:
	$(GO) vet ./...
	@test -z "$$(gofmt -l $$(git ls-files '*.go'))" || (gofmt -l $$(git ls-files '*.go'); exit 1)

fmt:
	gofmt -w $$(git ls-files '*.go')
	cd web && npm run format

# Fuzz every Fuzz* target in the module for FUZZTIME each (make fuzz
# FUZZTIME=5m for a longer run); new fuzzers are picked up automatically.
FUZZTIME ?= 20s
fuzz:
	@set -e; log=$$(mktemp); grep -rl --include='*_test.go' '^func Fuzz' cmd internal pkg test | while read -r f; do \
	  dir=./$$(dirname $$f); \
	  for name in $$(sed -n 's/^func \(Fuzz[A-Za-z0-9_]*\)(.*/\1/p' $$f); do \
	    echo "fuzz $$dir $$name"; \
	    run() { $(GO) test $$dir -run '^$$' -fuzz "^$$name$$" -fuzztime $(FUZZTIME) >$$log 2>&1; }; \
	    if ! run; then \
	      cat $$log; \
	      if [ -n "$$(git status --porcelain -- $$dir/testdata/fuzz/$$name 2>/dev/null)" ]; then \
	        echo "fuzz: $$name found a failing input (saved in $$dir/testdata/fuzz/$$name)"; rm -f $$log; exit 1; \
	      fi; \
	      echo "fuzz: $$name failed without a reproducer (Go's coordinator can report its own deadline as a failure under load, golang/go#75804); retrying"; \
	      run || { cat $$log; echo "fuzz: $$name failed again; one last try"; run; } || { cat $$log; rm -f $$log; exit 1; }; \
	    fi; \
	  done; \
	done; rm -f $$log

# The end-to-end table (latency, first frame, fps, CPU, memory) against the
# real binary, then the component benchmarks (HTTP, WebSocket fan-out,
# media fan-out, X input and screenshots).
bench:
	$(GO) run ./bench
	$(GO) test -run '^$$' -bench . -benchtime 2s ./internal/api ./internal/websocket ./internal/webrtc ./internal/desktop ./internal/capture

clean:
	rm -rf bin web/dist
