#!/usr/bin/env bash
# A real single-node OpenSearch from Maven Central, for the tests, CI and local trials (no Docker).
#
#   scripts/opensearch-local.sh start    # download (once), assemble (once), start; prints the URL last
#   scripts/opensearch-local.sh stop     # stops the node (SIGTERM, then SIGKILL after 60 s)
#   scripts/opensearch-local.sh status   # running or stopped, the URL and pid; exit 0 only if running
#   scripts/opensearch-local.sh kill     # SIGKILL the node (fault tests); `start` brings it back
#   scripts/opensearch-local.sh reset    # stop and delete the node's data (the download stays)
#
# A faiss or nmslib field kills this node at its first flush (no native libraries), and again at
# every restart while the index is on disk: `reset` is the way out. The tests map Lucene only.
#
# Environment:
#   OS_VERSION            OpenSearch version (default 3.6.0; 2.19.1 runs on Java 17). Plugins are
#                         the same version plus ".0": opensearch-knn and neural-search.
#   OS_PORT               HTTP port on 127.0.0.1 (default 9200); each port is its own node and data.
#   OS_HEAP               JVM heap (default 1g).
#   OS_WAIT_S             how long `start` waits for yellow (default 240).
#   OPENSEARCH_LOCAL_DIR  downloads (ignored by git; default .opensearch-local in the repository).
#   OPENSEARCH_LOCAL_RUN  assembled distribution, data and logs (default the same folder; when run
#                         as root, /var/tmp/hybrid-search-opensearch, since the node runs as the
#                         unprivileged user `opensearch`: OpenSearch refuses root).
#   OPENSEARCH_JAVA_HOME  the JDK (default: Temurin 25 for 3.x, Java 17 for 2.x under /usr/lib/jvm).
#
# What Maven Central serves (checked 2026-12): the integ-test-zip distribution has no JDK; from 3.x
# it ships lang-painless, analysis-common and mapper-extras, while 2.19's has only transport-netty4,
# so those three module folders are assembled from their jars and runtime dependencies. The k-NN zip
# has no native libraries: faiss and nmslib fields fail at their first flush; the Lucene engine works.
set -euo pipefail

cmd="${1:-}"
here="$(cd "$(dirname "$0")/.." && pwd)"
version="${OS_VERSION:-3.6.0}"
plugin_version="$version.0"
port="${OS_PORT:-9200}"
heap="${OS_HEAP:-1g}"
wait_s="${OS_WAIT_S:-240}"
major="${version%%.*}"
downloads="${OPENSEARCH_LOCAL_DIR:-$here/.opensearch-local}/downloads"
if [[ "$(id -u)" == 0 ]]; then
  run_root="${OPENSEARCH_LOCAL_RUN:-/var/tmp/hybrid-search-opensearch}"
  run_as=opensearch
else
  run_root="${OPENSEARCH_LOCAL_RUN:-${OPENSEARCH_LOCAL_DIR:-$here/.opensearch-local}}"
  run_as=""
fi
dist="$run_root/dist/opensearch-$version"
node="$run_root/nodes/$version-$port"
pidfile="$node/opensearch.pid"
url="http://127.0.0.1:$port"

die() { echo "opensearch-local: $*" >&2; exit 1; }
say() { echo "opensearch-local: $*" >&2; }

java_home() {
  if [[ -n "${OPENSEARCH_JAVA_HOME:-}" ]]; then echo "$OPENSEARCH_JAVA_HOME"; return; fi
  local want
  if ((major >= 3)); then want=/usr/lib/jvm/temurin-25-jdk-amd64; else want=/usr/lib/jvm/java-17-openjdk-amd64; fi
  [[ -x "$want/bin/java" ]] || die "no JDK at $want for OpenSearch $version: set OPENSEARCH_JAVA_HOME"
  echo "$want"
}

# mvn dependency:copy of one coordinate into $downloads; fails naming the coordinate.
fetch() {
  local coordinate="$1" file="$2"
  [[ -s "$downloads/$file" ]] && return 0
  command -v mvn >/dev/null || die "mvn not found (apt-get install maven): needed for $coordinate"
  mkdir -p "$downloads"
  say "downloading $coordinate"
  if ! mvn -B -q dependency:copy -Dartifact="$coordinate" -DoutputDirectory="$downloads" \
      -Dmdep.overWriteReleases=true >"$downloads/mvn.log" 2>&1; then
    tail -n 20 "$downloads/mvn.log" >&2
    die "Maven Central did not serve $coordinate (log: $downloads/mvn.log)"
  fi
  [[ -s "$downloads/$file" ]] || die "$coordinate downloaded, but $downloads/$file is missing"
}

# A module folder built from its jar and runtime dependencies (2.x integ-test-zip lacks them).
assemble_module() {
  local name="$1" artifact="$2" package="$3" extended="$4" description="$5"
  local dir="$dist/modules/$name" pom
  [[ -f "$dir/plugin-descriptor.properties" ]] && return 0
  say "assembling module $name from org.opensearch.plugin:$artifact:$version"
  pom="$(mktemp -d)"
  cat >"$pom/pom.xml" <<EOF
<project xmlns="http://maven.apache.org/POM/4.0.0">
  <modelVersion>4.0.0</modelVersion>
  <groupId>local</groupId><artifactId>module-$name</artifactId><version>1</version>
  <dependencies>
    <dependency><groupId>org.opensearch.plugin</groupId><artifactId>$artifact</artifactId>
      <version>$version</version></dependency>
  </dependencies>
</project>
EOF
  mkdir -p "$dir"
  if ! mvn -B -q -f "$pom/pom.xml" dependency:copy-dependencies -DincludeScope=runtime \
      -DoutputDirectory="$dir" >"$pom/mvn.log" 2>&1; then
    tail -n 20 "$pom/mvn.log" >&2
    rm -rf "$dir"
    die "Maven Central did not serve org.opensearch.plugin:$artifact:$version or its dependencies"
  fi
  # Jars that lib/ holds already (core, Lucene, Jackson, zstd, ...) would be jar hell: the node
  # refuses to start. The module keeps only its own jar and the dependencies core lacks.
  local jar base
  for jar in "$dir"/*.jar; do
    base="$(basename "$jar")"
    if [[ -e "$dist/lib/$base" || "$base" == opensearch-[0-9]*.jar ]]; then rm -f "$jar"; fi
  done
  # The plugin class, read from the jar: 2.x names it PainlessPlugin, 3.x PainlessModulePlugin.
  local classname
  classname="$(unzip -Z1 "$dir/$artifact-$version.jar" | grep -E "^${package//.//}/[A-Za-z]+Plugin\.class$" |
    sed -e 's/\.class$//' -e 's#/#.#g' | head -n 1)"
  [[ -n "$classname" ]] || die "no plugin class under $package in $artifact-$version.jar"
  local java_version=11
  ((major >= 3)) && java_version=21
  cat >"$dir/plugin-descriptor.properties" <<EOF
description=$description
version=$version
name=$name
classname=$classname
java.version=$java_version
opensearch.version=$version
custom.foldername=
extended.plugins=$extended
has.native.controller=false
EOF
  if [[ "$name" == lang-painless ]]; then
    cat >"$dir/plugin-security.policy" <<'EOF'
grant {
  permission java.lang.RuntimePermission "createClassLoader";
  permission java.lang.RuntimePermission "getClassLoader";
};
EOF
  fi
  rm -rf "$pom"
}

assemble() {
  [[ -f "$dist/.assembled" ]] && return 0
  command -v unzip >/dev/null || die "unzip not found (apt-get install unzip)"
  fetch "org.opensearch.distribution.integ-test-zip:opensearch:$version:zip" "opensearch-$version.zip"
  fetch "org.opensearch.plugin:opensearch-knn:$plugin_version:zip" "opensearch-knn-$plugin_version.zip"
  fetch "org.opensearch.plugin:neural-search:$plugin_version:zip" "neural-search-$plugin_version.zip"
  rm -rf "$dist"
  mkdir -p "$run_root/dist"
  unzip -q -o "$downloads/opensearch-$version.zip" -d "$run_root/dist"
  [[ -x "$dist/bin/opensearch" ]] || die "opensearch-$version.zip has no bin/opensearch"
  assemble_module lang-painless lang-painless org.opensearch.painless "" \
    "An easy, safe and fast scripting language for OpenSearch"
  assemble_module analysis-common analysis-common org.opensearch.analysis.common \
    lang-painless 'Adds "built in" analyzers to OpenSearch.'
  assemble_module mapper-extras mapper-extras-client org.opensearch.index.mapper "" \
    "Adds advanced field mappers"
  local jh
  jh="$(java_home)"
  for plugin in "opensearch-knn-$plugin_version" "neural-search-$plugin_version"; do
    say "installing $plugin"
    JAVA_HOME="$jh" OPENSEARCH_JAVA_HOME="$jh" "$dist/bin/opensearch-plugin" install --batch \
      "file://$downloads/$plugin.zip" >"$run_root/dist/install-$plugin.log" 2>&1 ||
      { tail -n 20 "$run_root/dist/install-$plugin.log" >&2; die "installing $plugin failed"; }
  done
  touch "$dist/.assembled"
}

pid_alive() { [[ -f "$pidfile" ]] && kill -0 "$(cat "$pidfile")" 2>/dev/null; }

healthy() {
  curl -fsS -m 5 "$url/_cluster/health?wait_for_status=yellow&timeout=1s" 2>/dev/null |
    grep -Eq '"status":"(green|yellow)"'
}

as_node_user() {
  if [[ -n "$run_as" ]]; then runuser -u "$run_as" -- "$@"; else "$@"; fi
}

start() {
  if pid_alive && healthy; then echo "$url"; return 0; fi
  command -v curl >/dev/null || die "curl not found (apt-get install curl)"
  assemble
  local jh
  jh="$(java_home)"
  if curl -fsS -m 2 "$url" >/dev/null 2>&1 && ! pid_alive; then
    die "something else answers on $url: pick another OS_PORT"
  fi
  if [[ -n "$run_as" ]]; then
    id -u "$run_as" >/dev/null 2>&1 || useradd -r -M -d "$run_root" -s /usr/sbin/nologin "$run_as"
  fi
  mkdir -p "$node/data" "$node/logs" "$node/tmp"
  if [[ -n "$run_as" ]]; then
    chmod 755 "$run_root" "$run_root/dist" "$run_root/nodes"
    chown -R "$run_as" "$dist" "$node"
  fi
  rm -f "$pidfile"
  say "starting OpenSearch $version on $url (heap $heap, Java $jh, logs $node/logs)"
  as_node_user env JAVA_HOME="$jh" OPENSEARCH_JAVA_HOME="$jh" OPENSEARCH_TMPDIR="$node/tmp" \
    OPENSEARCH_JAVA_OPTS="-Xms$heap -Xmx$heap" \
    "$dist/bin/opensearch" -d -p "$pidfile" \
    -Ediscovery.type=single-node -Enetwork.host=127.0.0.1 -Ehttp.port="$port" \
    -Etransport.port="$((port + 100))" -Ecluster.name="hybrid-search-local-$port" \
    -Enode.name="local-$port" -Epath.data="$node/data" -Epath.logs="$node/logs" \
    -Ecluster.routing.allocation.disk.threshold_enabled=false \
    -Eaction.destructive_requires_name=true \
    >"$node/logs/stdout.log" 2>&1 ||
    { tail -n 40 "$node/logs/stdout.log" >&2; die "OpenSearch $version did not start"; }
  # The node writes its pid file once its plugins are loaded; no pid file after 90 s is a failure.
  local deadline=$((SECONDS + wait_s)) launched=$SECONDS
  until healthy; do
    if ! pid_alive && { [[ -f "$pidfile" ]] || ((SECONDS - launched > 90)); }; then
      tail -n 40 "$node/logs/"*.log >&2 || true
      die "OpenSearch $version exited during start-up (logs: $node/logs)"
    fi
    ((SECONDS < deadline)) || { tail -n 40 "$node/logs/"*.log >&2 || true; die "not yellow after $wait_s s"; }
    sleep 1
  done
  say "OpenSearch $version is up: $(curl -fsS -m 5 "$url/_cat/plugins?h=component" | tr '\n' ' ')"
  echo "$url"
}

stop() {
  if ! pid_alive; then say "not running ($url)"; return 0; fi
  local pid
  pid="$(cat "$pidfile")"
  kill "$pid" 2>/dev/null || true
  for _ in $(seq 60); do kill -0 "$pid" 2>/dev/null || break; sleep 1; done
  kill -9 "$pid" 2>/dev/null || true
  rm -f "$pidfile"
  say "stopped ($url)"
}

case "$cmd" in
  start) start ;;
  stop) stop ;;
  reset) stop; rm -rf "$node"; say "data deleted ($node)" ;;
  kill)
    if pid_alive; then kill -9 "$(cat "$pidfile")"; say "killed ($url)"; else say "not running"; fi
    ;;
  status)
    if pid_alive && healthy; then echo "running $url pid $(cat "$pidfile") OpenSearch $version"
    elif pid_alive; then echo "starting or unhealthy $url pid $(cat "$pidfile")"; exit 1
    else echo "stopped $url"; exit 1; fi
    ;;
  *) echo "usage: $0 start|stop|status|kill|reset (OS_VERSION, OS_PORT, OS_HEAP)" >&2; exit 2 ;;
esac
