#!/usr/bin/env bash
# The Redis tests start their own private redis-server processes on free loopback ports; they only
# need the binary. Install it from the distribution's packages when it is missing.
set -euo pipefail
# Sentinel runs as `redis-server --sentinel`; the Redis Cluster fixture creates its cluster with redis-cli.
if command -v redis-server >/dev/null 2>&1 && command -v redis-cli >/dev/null 2>&1; then
  exit 0
fi
if command -v apt-get >/dev/null 2>&1; then
  SUDO=""
  [ "$(id -u)" -eq 0 ] || SUDO="sudo"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq redis-server redis-tools >/dev/null
else
  echo "redis-server is required for the test suite; install it with your package manager" >&2
  exit 1
fi
