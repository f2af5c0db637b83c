#!/usr/bin/env bash
# Installs everything neko needs on Debian 12 (bookworm): system packages,
# Go modules and the web client's npm packages, then builds bin/neko.
# Idempotent: each step is skipped when its result is already present.
# The Dockerfiles run this same script, so native and container installs match.
#
# Usage: deploy/install.sh [--no-build] [--packages-only]
set -euo pipefail

here=$(cd "$(dirname "$0")/.." && pwd)
cd "$here"

build=1
packages_only=0
for a in "$@"; do
  case "$a" in
    --no-build) build=0 ;;
    --packages-only) packages_only=1 ;;
    *) echo "install.sh: unknown argument $a" >&2; exit 2 ;;
  esac
done

log() { printf '\033[1m[install]\033[0m %s\n' "$*" >&2; }

# Runtime: Xorg with the dummy driver (resizable via RandR; Xvfb is not),
# PulseAudio, openbox, Chromium. Capture: GStreamer with its plugin sets.
# Build: gcc + pkg-config + GStreamer dev headers for cgo (go-gst).
# Tests: xvfb is not used by the product; xdotool/xclip help tests;
# iproute2 (ip, tc) builds the network namespaces of test/netns.
packages=(
  ca-certificates curl git make gcc pkg-config procps psmisc iproute2
  xserver-xorg-core xserver-xorg-video-dummy x11-xserver-utils x11-utils
  xauth xdotool xclip openbox xvfb
  pulseaudio pulseaudio-utils
  gstreamer1.0-tools gstreamer1.0-plugins-base gstreamer1.0-plugins-good
  gstreamer1.0-plugins-bad gstreamer1.0-plugins-ugly gstreamer1.0-libav
  gstreamer1.0-pulseaudio gstreamer1.0-x
  libgstreamer1.0-dev libgstreamer-plugins-base1.0-dev libglib2.0-dev
  chromium fonts-liberation fonts-dejavu-core fonts-noto-color-emoji
  nodejs npm
  nginx-light libnginx-mod-rtmp ffmpeg
)

missing=()
for p in "${packages[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed'; then
    missing+=("$p")
  fi
done
if ((${#missing[@]})); then
  # node/npm may come from elsewhere (e.g. NodeSource); don't fight them.
  if command -v node >/dev/null && command -v npm >/dev/null; then
    filtered=()
    for p in "${missing[@]}"; do [[ $p == nodejs || $p == npm ]] || filtered+=("$p"); done
    missing=("${filtered[@]}")
  fi
fi
if ((${#missing[@]})); then
  if [[ $(id -u) -ne 0 ]]; then
    echo "install.sh: missing packages (${missing[*]}); run as root or install them" >&2
    exit 1
  fi
  log "apt: installing ${#missing[@]} packages: ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
else
  log "apt: all packages present"
fi

((packages_only)) && exit 0

if ! command -v go >/dev/null; then
  if [[ -x /usr/local/go/bin/go ]]; then
    export PATH=$PATH:/usr/local/go/bin
  else
    echo "install.sh: Go toolchain not found (expected /usr/local/go)" >&2
    exit 1
  fi
fi

log "go: downloading modules"
go mod download

if [[ -f web/package.json ]]; then
  if [[ ! -d web/node_modules ]] || [[ web/package-lock.json -nt web/node_modules/.package-lock.json ]]; then
    log "npm: installing web client packages"
    (cd web && npm ci --no-audit --no-fund --loglevel=error)
  else
    log "npm: packages present"
  fi
fi

if ((build)); then
  log "build: web client + bin/neko"
  make build
fi
