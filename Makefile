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

# Short fuzzing of every client-input parser (longer: FUZZTIME=5m).
FUZZTIME ?= 20s
fuzz:
	$(GO) test ./internal/webrtc/payload -run '^$$' -fuzz FuzzDecode -fuzztime $(FUZZTIME)
	$(GO) test ./internal/websocket -run '^$$' -fuzz FuzzDispatch -fuzztime $(FUZZTIME)
	$(GO) test ./internal/config -run '^$$' -fuzz FuzzParseScreen -fuzztime $(FUZZTIME)
	$(GO) test ./internal/config -run '^$$' -fuzz FuzzICEServers -fuzztime $(FUZZTIME)

bench:
	$(GO) run ./bench

clean:
	rm -rf bin web/dist
