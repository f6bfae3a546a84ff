#!/usr/bin/env bash
# Makes sure the machine's PostgreSQL (127.0.0.1:5432) and Redis (127.0.0.1:6379) are running,
# installing and starting them if needed. `make test` runs this first: the database and store
# suites run against the real servers as well as the embedded ones.
set -euo pipefail

log() { printf '[services] %s\n' "$*"; }

apt_install() {
  log "installing $*"
  if [ -z "${GUAHAO_APT_UPDATED:-}" ]; then apt-get update -qq; export GUAHAO_APT_UPDATED=1; fi
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$@" >/dev/null
}

port_open() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

wait_port() {
  for _ in $(seq 1 60); do port_open "$1" && return 0; sleep 0.5; done
  log "port $1 did not open"; return 1
}

# PostgreSQL
if ! ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1; then apt_install postgresql; fi
if ! port_open 5432; then
  log "starting PostgreSQL"
  pg_ctlcluster --skip-systemctl-redirect "$(ls /etc/postgresql | sort -V | tail -n1)" main start
  wait_port 5432
fi
psql -h 127.0.0.1 -U postgres -d postgres -Atqc 'SELECT 1' >/dev/null
log "PostgreSQL is up on 127.0.0.1:5432"

# Redis
if ! command -v redis-server >/dev/null 2>&1; then apt_install redis-server; fi
if ! port_open 6379; then
  log "starting Redis"
  redis-server --daemonize yes --bind 127.0.0.1 --port 6379 --save "" --appendonly no
  wait_port 6379
fi
[ "$(redis-cli -h 127.0.0.1 -p 6379 ping)" = "PONG" ]
log "Redis is up on 127.0.0.1:6379"
