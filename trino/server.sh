#!/usr/bin/env bash
# A single-node Trino for the dbt project's `trino` target, on this machine.
#
#   trino/server.sh install   fetch trino-server-core and the Hive and Iceberg plugins
#                             from Maven Central (Maven's local repository caches them)
#   trino/server.sh start     install if needed, start, wait until it answers queries
#   trino/server.sh stop      stop it
#   trino/server.sh status    say whether it runs
#
# Catalogs: `hive` (file metastore) holds the lake as external tables over the
# workspace's Parquet folders; `iceberg` holds the dbt models. Both use Trino's native
# local file system, so no other service is needed. Each is rooted at its own folder, so
# no query reaches a file outside it: `hive` at TRINO_LOCAL_ROOT (the workspaces it may
# read; `local:///x` there is TRINO_LOCAL_ROOT/x), `iceberg` at its warehouse in the
# server's state folder.
#
# The server has no authentication: it listens on 127.0.0.1 only (node.bind-ip), so only
# users of this machine reach it, and its catalogs are static (fixed at start) unless
# TRINO_CATALOG_MANAGEMENT=dynamic, which lets any client add a catalog (CREATE
# CATALOG) with any file system: the tests need that for a lake on S3.
#
# Settings (environment): TRINO_VERSION (476), TRINO_PORT (8080), TRINO_DIR (.trino in
# the repository), TRINO_HEAP (4G), TRINO_CATALOG_MANAGEMENT (static), TRINO_LOCAL_ROOT
# (the repository's `workspace` folder, the default ENERGY_HOME), TRINO_JAVA_HOME
# (else JAVA_HOME, else the newest JDK found; Trino 476 needs Java 24 or newer).
set -euo pipefail

REPO="$(cd "$(dirname "$0")/.." && pwd)"
VERSION="${TRINO_VERSION:-476}"
PORT="${TRINO_PORT:-8080}"
ROOT="${TRINO_DIR:-$REPO/.trino}"
HEAP="${TRINO_HEAP:-4G}"
CATALOG_MANAGEMENT="${TRINO_CATALOG_MANAGEMENT:-static}"
SERVER="$ROOT/trino-server-$VERSION"
STATE="$ROOT/state"
LOCAL_ROOT="${TRINO_LOCAL_ROOT:-$REPO/workspace}"
PLUGINS=(trino-hive trino-iceberg)

say() { printf 'trino: %s\n' "$*" >&2; }
die() { say "$*"; exit 1; }

java_major() {  # the major version of the java binary $1
  "$1" -XshowSettings:properties -version 2>&1 | awk -F'= ' '/java.specification.version/ {print $2}'
}

find_java_home() {
  local candidate
  for candidate in "${TRINO_JAVA_HOME:-}" "${JAVA_HOME:-}" /usr/lib/jvm/* /opt/java/*; do
    [[ -n "$candidate" && -x "$candidate/bin/java" ]] || continue
    if (( $(java_major "$candidate/bin/java") >= 24 )); then
      echo "$candidate"
      return 0
    fi
  done
  die "Trino $VERSION needs Java 24 or newer and none was found; install a JDK 24+ and set TRINO_JAVA_HOME to it"
}

fetch() {  # fetch io.trino:$1:$VERSION:$2 into $3
  command -v mvn >/dev/null || die "Maven (mvn) is needed to fetch Trino from Maven Central; install it (Debian: apt-get install maven)"
  if ! mvn --batch-mode --quiet -Dstyle.color=never dependency:copy \
      -Dartifact="io.trino:$1:$VERSION:$2" -DoutputDirectory="$3" >"$3/mvn.log" 2>&1; then
    tail -20 "$3/mvn.log" >&2
    die "could not fetch io.trino:$1:$VERSION:$2 from Maven Central (see above)"
  fi
}

install() {
  if [[ -x "$SERVER/bin/launcher" && -f "$SERVER/.complete" ]]; then
    return 0
  fi
  say "installing Trino $VERSION into $SERVER"
  local downloads="$ROOT/downloads"
  rm -rf "$SERVER" && mkdir -p "$downloads" "$SERVER"
  fetch trino-server-core tar.gz "$downloads"
  tar -xzf "$downloads/trino-server-core-$VERSION.tar.gz" -C "$SERVER" --strip-components=1
  local plugin
  for plugin in "${PLUGINS[@]}"; do
    fetch "$plugin" zip "$downloads"
    unzip -q -o "$downloads/$plugin-$VERSION.zip" -d "$SERVER/plugin"
  done
  # The artifacts stay in Maven's local repository: the copies here are not needed.
  rm -rf "$downloads"
  touch "$SERVER/.complete"
}

configure() {
  [[ "$CATALOG_MANAGEMENT" == static || "$CATALOG_MANAGEMENT" == dynamic ]] ||
    die "TRINO_CATALOG_MANAGEMENT must be static or dynamic, not '$CATALOG_MANAGEMENT'"
  local etc="$STATE/etc"
  mkdir -p "$etc/catalog" "$STATE/data" "$STATE/hive-metastore" "$STATE/iceberg"
  rm -f "$etc/catalog/"*.properties
  cat > "$etc/node.properties" <<PROPS
node.environment=energy
node.id=energy-local
node.data-dir=$STATE/data
# Listen on loopback only: the server has no authentication.
node.bind-ip=127.0.0.1
PROPS
  cat > "$etc/jvm.config" <<PROPS
-server
-Xmx$HEAP
-XX:+UseG1GC
-XX:+ExitOnOutOfMemoryError
-Djdk.attach.allowAttachSelf=true
--enable-native-access=ALL-UNNAMED
PROPS
  cat > "$etc/config.properties" <<PROPS
coordinator=true
node-scheduler.include-coordinator=true
http-server.http.port=$PORT
discovery.uri=http://127.0.0.1:$PORT
node.internal-address=127.0.0.1
# Keep query statistics for the benchmark's bytes-read figures (a dbt build runs hundreds).
query.max-history=10000
query.min-expire-age=60m
# static: only the catalogs below. dynamic: clients can add catalogs at run time
# (CREATE CATALOG, e.g. a lake on S3), kept in etc/catalog until dropped and cleared at
# the next start.
catalog.management=$CATALOG_MANAGEMENT
PROPS
  cat > "$etc/log.properties" <<PROPS
io.trino=WARN
PROPS
  # The lake: external Hive tables (see dbt_project/macros/lake_views.sql), over the
  # workspaces under LOCAL_ROOT only; its metastore has to live on the same file system.
  mkdir -p "$LOCAL_ROOT" "$STATE/warehouse"
  local local_root
  local_root="$(cd "$LOCAL_ROOT" && pwd -P)"
  cat > "$etc/catalog/hive.properties" <<PROPS
connector.name=hive
hive.metastore=file
hive.metastore.catalog.dir=local:///.trino-metastore
fs.native-local.enabled=true
local.location=$local_root
hive.non-managed-table-writes-enabled=false
PROPS
  # The warehouse: Iceberg tables, which take the MERGE and DELETE that incremental
  # models need.
  cat > "$etc/catalog/iceberg.properties" <<PROPS
connector.name=iceberg
iceberg.catalog.type=TESTING_FILE_METASTORE
hive.metastore.catalog.dir=local:///
fs.native-local.enabled=true
local.location=$STATE/warehouse
PROPS
}

answers() {
  curl --silent --max-time 2 "http://127.0.0.1:$PORT/v1/info" 2>/dev/null | grep -q '"starting":false'
}

launcher() {
  local java_home
  java_home="$(find_java_home)"
  JAVA_HOME="$java_home" PATH="$java_home/bin:$PATH" "$SERVER/bin/launcher" \
    --etc-dir="$STATE/etc" --data-dir="$STATE/data" "$@"
}

start() {
  install
  if answers; then
    say "already running on port $PORT"
    return 0
  fi
  configure
  if curl --silent --max-time 2 "http://127.0.0.1:$PORT/" >/dev/null 2>&1; then
    die "port $PORT is taken by something else; set TRINO_PORT to a free port"
  fi
  launcher start >/dev/null
  local waited=0
  until answers; do
    if ! launcher status >/dev/null 2>&1; then
      die "Trino stopped while starting; see $STATE/data/var/log/server.log"
    fi
    (( waited++ < 180 )) || die "Trino did not answer within 180 s; see $STATE/data/var/log/server.log"
    sleep 1
  done
  say "running on http://127.0.0.1:$PORT (catalogs hive and iceberg; local files under $LOCAL_ROOT)"
}

stop() {
  [[ -x "$SERVER/bin/launcher" && -d "$STATE/etc" ]] || return 0
  launcher stop >/dev/null 2>&1 || true
  say "stopped"
}

status() {
  if answers; then say "running on port $PORT"; else say "not running"; return 1; fi
}

case "${1:-}" in
  install) install ;;
  start) start ;;
  stop) stop ;;
  status) status ;;
  *) die "usage: trino/server.sh install|start|stop|status" ;;
esac
