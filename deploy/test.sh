#!/usr/bin/env bash
# Runs the whole test suite: installs what is missing (system packages, Go
# modules, npm packages), builds the web client, then vet, gofmt, the Go
# tests with the race detector (unit, integration against a real Xorg,
# PulseAudio and GStreamer, and end-to-end with headless Chromium) and the
# web client's unit tests and format check.
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH=$PATH:/usr/local/go/bin

./deploy/install.sh --no-build

step() { printf '\n\033[1m== %s\033[0m\n' "$*"; }

step "web client: build"
(cd web && npm run build)

step "go vet + gofmt"
go vet ./...
unformatted=$(gofmt -l $(git ls-files '*.go'))
if [[ -n $unformatted ]]; then
  echo "gofmt would change: $unformatted" >&2
  exit 1
fi

step "web client: unit tests + format"
(cd web && npm test && npm run format:check)

step "go test -race (unit, integration, end-to-end)"
# One package at a time: several packages start their own Xorg, PulseAudio
# and Chromium, and on two cores running them side by side only adds
# contention (and display-number races) without saving much time.
go test -race -count=1 -p 1 -timeout 25m ./...

step "go benchmarks: one iteration each (they still run; figures come from make bench)"
go test -run '^$' -bench . -benchtime 1x -count=1 -p 1 -timeout 15m ./...

step "fuzz: client-input parsers (short runs; make fuzz FUZZTIME=5m for longer)"
make fuzz FUZZTIME=5s

echo
echo "all tests passed"
