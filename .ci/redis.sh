#!/usr/bin/env bash
# Makes a Redis server answer on 127.0.0.1:6379 for the rate-limit tests:
# uses a running one, else starts the installed one, else installs Debian's
# redis-server first. It keeps nothing on disk.
set -euo pipefail
ready() { redis-cli -h 127.0.0.1 -p 6379 ping 2>/dev/null | grep -q PONG; }
if ready; then exit 0; fi
if ! command -v redis-server >/dev/null; then
  echo "installing Redis from Debian's packages"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq redis-server >/dev/null
fi
mkdir -p /var/lib/redis /var/log/redis
redis-server --daemonize yes --bind 127.0.0.1 --port 6379 --save "" --appendonly no \
  --dir /var/lib/redis --logfile /var/log/redis/ci.log
for _ in $(seq 1 40); do ready && exit 0; sleep 0.25; done
echo "Redis did not start"; exit 1
