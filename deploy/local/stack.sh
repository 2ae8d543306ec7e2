#!/usr/bin/env bash
# Local development stack: one Apache Kafka 4.1.1 broker (KRaft, combined broker+controller,
# assembled from Maven Central jars), one Redis (Debian's redis-server binary) and one Apicurio
# Registry 2.4.2.Final (Confluent-compatible schema registry, built from Maven Central jars).
#
#   deploy/local/stack.sh up       start whatever is not running; returns once all answer
#   deploy/local/stack.sh down     stop what this script started
#   deploy/local/stack.sh status   exit 0 if all answer, 1 otherwise
#   deploy/local/stack.sh reset    down, then delete Kafka, Redis and registry data
#
# Environment: KAFKA_PORT (9092), KAFKA_CONTROLLER_PORT (9093), REDIS_PORT (6379),
# REGISTRY_PORT (8085), STACK_REGISTRY (1; 0 leaves the registry out), STACK_DIR (<repo>/.local),
# KAFKA_HEAP ("-Xms256m -Xmx1g"), KAFKA_OPTS (extra JVM flags), REGISTRY_HEAP ("-Xms64m -Xmx512m"),
# STACK_UP_TIMEOUT (120, seconds). See deploy/local/README.md.
set -euo pipefail

SCRIPT_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
REPO_ROOT="$(cd "$SCRIPT_DIR/../.." && pwd)"

KAFKA_PORT="${KAFKA_PORT:-9092}"
KAFKA_CONTROLLER_PORT="${KAFKA_CONTROLLER_PORT:-9093}"
REDIS_PORT="${REDIS_PORT:-6379}"
REGISTRY_PORT="${REGISTRY_PORT:-8085}"
REGISTRY_HEAP="${REGISTRY_HEAP:--Xms64m -Xmx512m}"
STACK_REGISTRY="${STACK_REGISTRY:-1}"
KAFKA_HEAP="${KAFKA_HEAP:--Xms256m -Xmx1g}"
KAFKA_OPTS="${KAFKA_OPTS:-}"
UP_TIMEOUT="${STACK_UP_TIMEOUT:-120}"
STACK_DIR="${STACK_DIR:-$REPO_ROOT/.local}"
mkdir -p "$STACK_DIR"
STACK_DIR="$(cd "$STACK_DIR" && pwd)"   # absolute, whatever the caller's cwd

POM="$SCRIPT_DIR/kafka/pom.xml"
LOG4J_CONFIG="$SCRIPT_DIR/log4j2.properties"

KAFKA_HOME="$STACK_DIR/kafka"
KAFKA_LIBS="$KAFKA_HOME/libs"
KAFKA_STAMP="$KAFKA_LIBS/.stack-stamp"
KAFKA_DATA="$KAFKA_HOME/data"
KAFKA_LOGS="$KAFKA_HOME/logs"
KAFKA_PROPS="$KAFKA_HOME/server.properties"
KAFKA_PIDFILE="$KAFKA_HOME/kafka.pid"

REDIS_HOME="$STACK_DIR/redis"
REDIS_DATA="$REDIS_HOME/data"
REDIS_CONF="$REDIS_HOME/redis.conf"
REDIS_PIDFILE="$REDIS_HOME/redis.pid"
REDIS_LOG="$REDIS_HOME/redis.log"

REGISTRY_SRC="$SCRIPT_DIR/registry"
REGISTRY_HOME="$STACK_DIR/registry"
REGISTRY_JAR="$REGISTRY_HOME/apicurio-registry-runner.jar"
REGISTRY_STAMP="$REGISTRY_HOME/.stack-stamp"
REGISTRY_DATA="$REGISTRY_HOME/data"
REGISTRY_PIDFILE="$REGISTRY_HOME/registry.pid"
REGISTRY_LOG="$REGISTRY_HOME/registry.log"

if [[ -n "${JAVA_HOME:-}" && -x "$JAVA_HOME/bin/java" ]]; then JAVA="$JAVA_HOME/bin/java"; else JAVA="java"; fi

log() { printf '[stack] %s\n' "$*"; }
die() { printf '[stack] ERROR: %s\n' "$*" >&2; exit 1; }

# ---------------------------------------------------------------------------------------
# helpers
# ---------------------------------------------------------------------------------------
port_open() {  # port_open PORT -> 0 if something accepts TCP connections on 127.0.0.1:PORT
  timeout 2 bash -c "exec 3<>/dev/tcp/127.0.0.1/$1" 2>/dev/null
}

# pid_of PIDFILE PATTERN -> prints the pid if the pidfile names a live process whose
# command line contains PATTERN (guards against a stale pidfile and pid reuse).
pid_of() {
  local pidfile="$1" pattern="$2" pid
  [[ -f "$pidfile" ]] || return 1
  pid="$(tr -dc '0-9' <"$pidfile")"
  [[ -n "$pid" && -r "/proc/$pid/cmdline" ]] || return 1
  tr '\0' ' ' <"/proc/$pid/cmdline" | grep -qF -- "$pattern" || return 1
  printf '%s\n' "$pid"
}

kafka_pid() { pid_of "$KAFKA_PIDFILE" "kafka.Kafka"; }
redis_pid() { pid_of "$REDIS_PIDFILE" "redis-server"; }
registry_pid() { pid_of "$REGISTRY_PIDFILE" "apicurio-registry-runner.jar"; }

# Ready = the registry's readiness check answers 200 (storage up, Confluent API served). Plain
# bash HTTP/1.0, so neither curl nor wget is needed.
registry_answers() {
  local status
  status="$(timeout 3 bash -c '
    exec 3<>"/dev/tcp/127.0.0.1/$0" || exit 1
    printf "GET /health/ready HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n" >&3
    head -n 1 <&3' "$REGISTRY_PORT" 2>/dev/null)" || return 1
  [[ "$status" == "HTTP/1."?" 200"* ]]
}

redis_answers() {
  command -v redis-cli >/dev/null 2>&1 || { port_open "$REDIS_PORT"; return; }
  [[ "$(timeout 3 redis-cli -h 127.0.0.1 -p "$REDIS_PORT" ping 2>/dev/null)" == "PONG" ]]
}

# Run one of Kafka's own command-line tools from the assembled classpath, quietly.
kafka_tool() {
  "$JAVA" -Xms32m -Xmx256m -XX:+UseSerialGC -XX:TieredStopAtLevel=1 \
    -Dlog4j2.level=ERROR \
    -cp "$KAFKA_LIBS/*" "$@"
}

# Ready for clients = port accepts connections AND an ApiVersions/Metadata round trip
# through the admin client works (the broker only opens its client listener once it has
# caught up with the metadata log and is unfenced).
kafka_answers() {
  port_open "$KAFKA_PORT" || return 1
  [[ -f "$KAFKA_LIBS/kafka-tools-4.1.1.jar" ]] || return 0   # cannot check deeper without jars
  local out
  out="$(timeout 30 "$JAVA" -Xms32m -Xmx256m -XX:+UseSerialGC -XX:TieredStopAtLevel=1 \
      -Dlog4j2.level=OFF \
      -cp "$KAFKA_LIBS/*" org.apache.kafka.tools.BrokerApiVersionsCommand \
      --bootstrap-server "127.0.0.1:$KAFKA_PORT" 2>/dev/null)" || return 1
  [[ "$out" == *"(id: "* ]]
}

tail_logs() {
  local f
  for f in "$@"; do
    [[ -s "$f" ]] || continue
    printf -- '----- tail -n 40 %s -----\n' "$f" >&2
    tail -n 40 "$f" >&2
  done
}

# stop_pid NAME PID: SIGTERM, wait up to 30 s, then SIGKILL.
stop_pid() {
  local name="$1" pid="$2" i
  log "stopping $name (pid $pid)"
  kill -TERM "$pid" 2>/dev/null || return 0
  for ((i = 0; i < 300; i++)); do
    kill -0 "$pid" 2>/dev/null || { log "$name stopped"; return 0; }
    sleep 0.1
  done
  log "$name did not stop within 30 s, sending SIGKILL"
  kill -KILL "$pid" 2>/dev/null || true
  for ((i = 0; i < 50; i++)); do kill -0 "$pid" 2>/dev/null || return 0; sleep 0.1; done
}

# Serialise up/down/reset between concurrent callers (several people share one stack).
# The daemons are started with fd 9 closed so they do not inherit (and hold) the lock.
take_lock() {
  exec 9>"$STACK_DIR/.stack.lock"
  if ! flock -n 9; then
    log "another stack.sh is working on $STACK_DIR, waiting for it"
    flock 9
  fi
}

# ---------------------------------------------------------------------------------------
# installation steps
# ---------------------------------------------------------------------------------------
ensure_redis_binary() {
  command -v redis-server >/dev/null 2>&1 && return 0
  command -v apt-get >/dev/null 2>&1 || die "redis-server is not on PATH; install Redis (>= 6) and retry"
  local sudo=""
  if [[ "$(id -u)" != 0 ]]; then
    command -v sudo >/dev/null 2>&1 || die "redis-server is missing and installing it needs root (apt-get install redis-server)"
    sudo="sudo"
  fi
  log "installing redis-server with apt-get"
  local apt_log="$STACK_DIR/apt-install-redis.log"
  if ! { $sudo apt-get update -qq && $sudo env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq redis-server; } \
       >"$apt_log" 2>&1 </dev/null; then
    tail -n 30 "$apt_log" >&2
    die "apt-get install redis-server failed (full output: $apt_log)"
  fi
  # We run our own redis-server process; the package's service must not hold the port.
  if [[ -d /run/systemd/system ]] && command -v systemctl >/dev/null 2>&1; then
    $sudo systemctl disable --now redis-server >/dev/null 2>&1 || true
  elif command -v service >/dev/null 2>&1; then
    $sudo service redis-server stop >/dev/null 2>&1 || true
  fi
  command -v redis-server >/dev/null 2>&1 || die "apt-get install redis-server did not provide redis-server"
}

ensure_java() {
  command -v "$JAVA" >/dev/null 2>&1 || die "java not found (Kafka 4.1 needs Java 17+; set JAVA_HOME)"
  local v
  v="$("$JAVA" -XshowSettings:properties -version 2>&1 | awk -F'= ' '/java.specification.version/ {print $2}')"
  [[ "${v%%.*}" =~ ^[0-9]+$ && "${v%%.*}" -ge 17 ]] || die "Kafka 4.1 needs Java 17+, found '$v' ($JAVA)"
}

ensure_kafka_libs() {
  local want
  want="$(sha256sum "$POM" | cut -d' ' -f1)"
  if [[ -f "$KAFKA_STAMP" && "$(cat "$KAFKA_STAMP")" == "$want" ]]; then
    return 0
  fi
  command -v mvn >/dev/null 2>&1 || die "mvn not found; it is needed once to fetch the Kafka jars from Maven Central"
  log "fetching Kafka jars from Maven Central into $KAFKA_LIBS"
  rm -rf "$KAFKA_LIBS"
  mkdir -p "$KAFKA_LIBS"
  local mvn_log="$KAFKA_HOME/mvn-copy-dependencies.log"
  if ! mvn -B -q -Dstyle.color=never -f "$POM" dependency:copy-dependencies -DincludeScope=runtime \
        -DoutputDirectory="$KAFKA_LIBS" >"$mvn_log" 2>&1 </dev/null; then
    sed 's/\x1b\[[0-9;]*m//g' "$mvn_log" | tail -n 40 >&2
    rm -rf "$KAFKA_LIBS"
    die "mvn dependency:copy-dependencies failed (full output: $mvn_log)"
  fi
  [[ -f "$KAFKA_LIBS/kafka_2.13-4.1.1.jar" ]] || die "kafka_2.13 jar missing after mvn copy"
  printf '%s\n' "$want" >"$KAFKA_STAMP"
  log "$(find "$KAFKA_LIBS" -name '*.jar' | wc -l) jars ready"
}

# ---------------------------------------------------------------------------------------
# Redis
# ---------------------------------------------------------------------------------------
write_redis_conf() {
  mkdir -p "$REDIS_DATA"
  cat >"$REDIS_CONF" <<EOF
# generated by deploy/local/stack.sh -- rewritten on every start, do not edit
bind 127.0.0.1
port $REDIS_PORT
protected-mode no
daemonize yes
pidfile "$REDIS_PIDFILE"
logfile "$REDIS_LOG"
loglevel notice
dir "$REDIS_DATA"
appendonly yes
appendfilename "appendonly.aof"
appenddirname "appendonlydir"
appendfsync everysec
save 3600 1 300 100 60 10000
EOF
}

start_redis() {
  local pid
  if redis_answers; then
    if pid="$(redis_pid)"; then log "redis: already running on 127.0.0.1:$REDIS_PORT (pid $pid)"
    else log "redis: something already answers PING on 127.0.0.1:$REDIS_PORT (not started by this script) -- using it"; fi
    return 0
  fi
  if ! redis_pid >/dev/null; then
    port_open "$REDIS_PORT" && die "port $REDIS_PORT is in use by something that does not answer Redis PING"
    rm -f "$REDIS_PIDFILE"
    write_redis_conf
    log "redis: starting on 127.0.0.1:$REDIS_PORT (data $REDIS_DATA)"
    redis-server "$REDIS_CONF" 9>&- || { tail_logs "$REDIS_LOG"; die "redis-server failed to start"; }
  fi
}

wait_redis() {
  local deadline=$((SECONDS + UP_TIMEOUT))
  until redis_answers; do
    if ((SECONDS >= deadline)); then
      tail_logs "$REDIS_LOG"
      die "redis did not answer PING on 127.0.0.1:$REDIS_PORT within ${UP_TIMEOUT}s"
    fi
    if [[ -f "$REDIS_PIDFILE" ]] && ! redis_pid >/dev/null; then
      tail_logs "$REDIS_LOG"
      die "redis-server exited during startup"
    fi
    sleep 0.2
  done
}

# ---------------------------------------------------------------------------------------
# Kafka
# ---------------------------------------------------------------------------------------
write_kafka_props() {
  mkdir -p "$KAFKA_DATA" "$KAFKA_LOGS"
  cat >"$KAFKA_PROPS" <<EOF
# generated by deploy/local/stack.sh -- rewritten on every start, do not edit
# Single-node KRaft cluster: this process is both broker and (the only) controller.
process.roles=broker,controller
node.id=1
controller.quorum.voters=1@127.0.0.1:$KAFKA_CONTROLLER_PORT
listeners=PLAINTEXT://127.0.0.1:$KAFKA_PORT,CONTROLLER://127.0.0.1:$KAFKA_CONTROLLER_PORT
advertised.listeners=PLAINTEXT://127.0.0.1:$KAFKA_PORT
inter.broker.listener.name=PLAINTEXT
controller.listener.names=CONTROLLER
listener.security.protocol.map=CONTROLLER:PLAINTEXT,PLAINTEXT:PLAINTEXT
log.dirs=$KAFKA_DATA

# one broker: every internal topic has exactly one replica
offsets.topic.replication.factor=1
offsets.topic.num.partitions=10
transaction.state.log.replication.factor=1
transaction.state.log.min.isr=1
transaction.state.log.num.partitions=10
share.coordinator.state.topic.replication.factor=1
share.coordinator.state.topic.min.isr=1
default.replication.factor=1
min.insync.replicas=1

num.partitions=1
auto.create.topics.enable=false
delete.topic.enable=true
group.initial.rebalance.delay.ms=0

# small footprint for a dev box
num.network.threads=2
num.io.threads=4
num.recovery.threads.per.data.dir=1
log.segment.bytes=67108864
log.retention.hours=72
log.retention.bytes=1073741824
log.retention.check.interval.ms=300000
log.cleaner.threads=1
log.cleaner.dedupe.buffer.size=16777216
metadata.log.segment.bytes=8388608
EOF
}

kafka_formatted() { [[ -f "$KAFKA_DATA/meta.properties" ]]; }

format_kafka() {
  local cluster_id out
  cluster_id="$(kafka_tool kafka.tools.StorageTool random-uuid 2>/dev/null | tail -n 1)"
  [[ "$cluster_id" =~ ^[A-Za-z0-9_-]{22}$ ]] || die "could not generate a Kafka cluster id (got '$cluster_id')"
  log "kafka: formatting $KAFKA_DATA (cluster id $cluster_id)"
  if ! out="$(kafka_tool kafka.tools.StorageTool format -t "$cluster_id" -c "$KAFKA_PROPS" 2>&1)"; then
    printf '%s\n' "$out" >&2
    die "kafka storage format failed"
  fi
}

start_kafka() {
  local pid
  if port_open "$KAFKA_PORT"; then
    if pid="$(kafka_pid)"; then log "kafka: already running on 127.0.0.1:$KAFKA_PORT (pid $pid)"
    else log "kafka: something already listens on 127.0.0.1:$KAFKA_PORT (not started by this script) -- using it"; fi
    return 0
  fi
  if pid="$(kafka_pid)"; then
    log "kafka: pid $pid is still starting up"
    return 0
  fi
  rm -f "$KAFKA_PIDFILE"
  port_open "$KAFKA_CONTROLLER_PORT" && die "controller port $KAFKA_CONTROLLER_PORT is already in use (set KAFKA_CONTROLLER_PORT)"
  write_kafka_props
  kafka_formatted || format_kafka
  log "kafka: starting broker+controller on 127.0.0.1:$KAFKA_PORT (controller $KAFKA_CONTROLLER_PORT, data $KAFKA_DATA)"
  : >"$KAFKA_LOGS/kafka.out"
  # remember where this run starts in server.log so errors show only this run's lines
  KAFKA_LOG_OFFSET="$(stat -c %s "$KAFKA_LOGS/server.log" 2>/dev/null || echo 0)"
  # shellcheck disable=SC2086  # KAFKA_HEAP / KAFKA_OPTS are intentionally word-split
  (
    cd "$KAFKA_HOME"
    nohup setsid bash -c 'echo $$ >"$0"; exec "$@"' "$KAFKA_PIDFILE" \
      "$JAVA" $KAFKA_HEAP -XX:+UseG1GC -XX:MaxGCPauseMillis=20 -XX:InitiatingHeapOccupancyPercent=35 \
      -XX:+ExplicitGCInvokesConcurrent -Djava.awt.headless=true \
      "-Xlog:gc*:file=$KAFKA_LOGS/kafka-gc.log:time,tags:filecount=3,filesize=10M" \
      -Dkafka.logs.dir="$KAFKA_LOGS" -Dlog4j2.configurationFile="$LOG4J_CONFIG" \
      $KAFKA_OPTS \
      -cp "$KAFKA_LIBS/*" kafka.Kafka "$KAFKA_PROPS" \
      >>"$KAFKA_LOGS/kafka.out" 2>&1 </dev/null 9>&- &
  )
  local i
  for ((i = 0; i < 50; i++)); do [[ -s "$KAFKA_PIDFILE" ]] && break; sleep 0.1; done
}

KAFKA_LOG_OFFSET=0
tail_kafka_logs() {
  local log="$KAFKA_LOGS/server.log" size
  tail_logs "$KAFKA_LOGS/kafka.out"
  [[ -s "$log" ]] || return 0
  size="$(stat -c %s "$log")"
  ((size > KAFKA_LOG_OFFSET)) || return 0   # nothing new (or rolled over: see the file)
  printf -- '----- tail -n 40 %s (this run) -----\n' "$log" >&2
  tail -c "+$((KAFKA_LOG_OFFSET + 1))" "$log" | tail -n 40 >&2
}

wait_kafka() {
  local deadline=$((SECONDS + UP_TIMEOUT)) started_by_us=0
  [[ -f "$KAFKA_PIDFILE" ]] && started_by_us=1
  while true; do
    if port_open "$KAFKA_PORT" && kafka_answers; then return 0; fi
    if ((started_by_us)) && ! kafka_pid >/dev/null; then
      tail_kafka_logs
      rm -f "$KAFKA_PIDFILE"
      die "kafka exited during startup (logs: $KAFKA_LOGS)"
    fi
    if ((SECONDS >= deadline)); then
      tail_kafka_logs
      die "kafka did not become ready on 127.0.0.1:$KAFKA_PORT within ${UP_TIMEOUT}s (logs: $KAFKA_LOGS)"
    fi
    sleep 0.5
  done
}

# ---------------------------------------------------------------------------------------
# Schema registry (Apicurio Registry 2.4.2.Final, see deploy/local/registry/ and
# docs/schema-registry.md). Built once into one runnable jar; the stamp rebuilds it when the
# build files change. Storage is the registry's embedded H2 database in a file under
# $REGISTRY_DATA, so a restarted registry keeps its schema ids (what producers' bytes name).
# ---------------------------------------------------------------------------------------
registry_inputs_hash() {
  (cd "$REGISTRY_SRC" && find . -type f \( -name '*.xml' -o -name '*.java' -o -name '*.properties' -o -name '*.list' \) \
      -not -path './target/*' -not -path '*/target/*' | LC_ALL=C sort | xargs sha256sum) | sha256sum | cut -d' ' -f1
}

ensure_registry_jar() {
  local want t0=$SECONDS
  want="$(registry_inputs_hash)"
  if [[ -f "$REGISTRY_JAR" && -f "$REGISTRY_STAMP" && "$(cat "$REGISTRY_STAMP")" == "$want" ]]; then
    return 0
  fi
  command -v mvn >/dev/null 2>&1 || die "mvn not found; it is needed once to build the schema registry from Maven Central"
  mkdir -p "$REGISTRY_HOME"
  local build="$REGISTRY_HOME/build" mvn_log="$REGISTRY_HOME/mvn-build.log"
  local mvn=(mvn -B -Dstyle.color=never -s "$REGISTRY_SRC/settings.xml")
  log "registry: building Apicurio Registry 2.4.2.Final from Maven Central (first time: a few minutes)"
  rm -rf "$build"
  # 1. the config-index extension's build step, into the local Maven repository (see its pom)
  # 2. the registry app, packaged by the Quarkus plugin as one runnable jar
  if ! { "${mvn[@]}" -f "$REGISTRY_SRC/config-index-deployment/pom.xml" -Dregistry.build.dir="$build/config-index-deployment" install \
         && "${mvn[@]}" -f "$REGISTRY_SRC/pom.xml" -Dregistry.build.dir="$build/app" package; } >"$mvn_log" 2>&1 </dev/null; then
    sed 's/\x1b\[[0-9;]*m//g' "$mvn_log" | grep -v 'Download' | tail -n 40 >&2
    rm -rf "$build"
    die "building the schema registry failed (full output: $mvn_log)"
  fi
  mv "$build/app/apicurio-registry-2.4.2.Final-runner.jar" "$REGISTRY_JAR"
  rm -rf "$build"
  printf '%s\n' "$want" >"$REGISTRY_STAMP"
  log "registry: $REGISTRY_JAR built in $((SECONDS - t0))s"
}

start_registry() {
  local pid
  if registry_answers; then
    if pid="$(registry_pid)"; then log "registry: already running on 127.0.0.1:$REGISTRY_PORT (pid $pid)"
    else log "registry: something already answers /health/ready on 127.0.0.1:$REGISTRY_PORT (not started by this script) -- using it"; fi
    return 0
  fi
  if pid="$(registry_pid)"; then
    log "registry: pid $pid is still starting up"
    return 0
  fi
  rm -f "$REGISTRY_PIDFILE"
  port_open "$REGISTRY_PORT" && die "port $REGISTRY_PORT is in use by something that is not a schema registry (set REGISTRY_PORT)"
  mkdir -p "$REGISTRY_DATA"
  log "registry: starting on 127.0.0.1:$REGISTRY_PORT (data $REGISTRY_DATA)"
  : >"$REGISTRY_LOG"
  # The app's own application.properties sets %prod.quarkus.http.port=${HTTP_PORT:8080}: the
  # port and address must be given on the command line, which wins over it.
  # shellcheck disable=SC2086  # REGISTRY_HEAP is intentionally word-split
  (
    cd "$REGISTRY_HOME"
    REGISTRY_DATASOURCE_URL="jdbc:h2:file:$REGISTRY_DATA/registry" LOG_LEVEL=WARN \
      nohup setsid bash -c 'echo $$ >"$0"; exec "$@"' "$REGISTRY_PIDFILE" \
      "$JAVA" $REGISTRY_HEAP -XX:+UseSerialGC -XX:TieredStopAtLevel=1 -Djava.awt.headless=true \
      -Dquarkus.http.host=127.0.0.1 -Dquarkus.http.port="$REGISTRY_PORT" \
      -jar "$REGISTRY_JAR" >>"$REGISTRY_LOG" 2>&1 </dev/null 9>&- &
  )
  local i
  for ((i = 0; i < 50; i++)); do [[ -s "$REGISTRY_PIDFILE" ]] && break; sleep 0.1; done
}

wait_registry() {
  local deadline=$((SECONDS + UP_TIMEOUT)) started_by_us=0
  [[ -f "$REGISTRY_PIDFILE" ]] && started_by_us=1
  until registry_answers; do
    if ((started_by_us)) && ! registry_pid >/dev/null; then
      tail_logs "$REGISTRY_LOG"
      rm -f "$REGISTRY_PIDFILE"
      die "the schema registry exited during startup (log: $REGISTRY_LOG)"
    fi
    if ((SECONDS >= deadline)); then
      tail_logs "$REGISTRY_LOG"
      die "the schema registry did not become ready on 127.0.0.1:$REGISTRY_PORT within ${UP_TIMEOUT}s (log: $REGISTRY_LOG)"
    fi
    sleep 0.2
  done
}

# ---------------------------------------------------------------------------------------
# commands
# ---------------------------------------------------------------------------------------
cmd_up() {
  take_lock
  local t0=$SECONDS
  ensure_redis_binary
  ensure_java
  ensure_kafka_libs
  registry_enabled && ensure_registry_jar
  start_redis
  start_kafka
  registry_enabled && start_registry
  wait_redis
  wait_kafka
  local registry_note=""
  if registry_enabled; then
    wait_registry
    registry_note=", schema registry http://127.0.0.1:$REGISTRY_PORT/apis/ccompat/v7"
  fi
  log "up in $((SECONDS - t0))s: redis 127.0.0.1:$REDIS_PORT, kafka 127.0.0.1:$KAFKA_PORT (bootstrap localhost:$KAFKA_PORT)$registry_note"
}

registry_enabled() { [[ "$STACK_REGISTRY" != 0 ]]; }

cmd_down() {
  take_lock
  local pid
  if pid="$(kafka_pid)"; then stop_pid kafka "$pid"
  elif port_open "$KAFKA_PORT"; then log "kafka: 127.0.0.1:$KAFKA_PORT is served by a process this script did not start -- leaving it alone"
  else log "kafka: not running"; fi
  rm -f "$KAFKA_PIDFILE"
  if pid="$(redis_pid)"; then stop_pid redis "$pid"
  elif port_open "$REDIS_PORT"; then log "redis: 127.0.0.1:$REDIS_PORT is served by a process this script did not start -- leaving it alone"
  else log "redis: not running"; fi
  rm -f "$REDIS_PIDFILE"
  if pid="$(registry_pid)"; then stop_pid registry "$pid"
  elif registry_answers; then log "registry: 127.0.0.1:$REGISTRY_PORT is served by a process this script did not start -- leaving it alone"
  else log "registry: not running"; fi
  rm -f "$REGISTRY_PIDFILE"
}

cmd_status() {
  local rc=0 pid owner
  if redis_answers; then
    if pid="$(redis_pid)"; then owner="pid $pid, started by stack.sh"; else owner="external process"; fi
    log "redis: UP   127.0.0.1:$REDIS_PORT ($owner)"
  else
    log "redis: DOWN 127.0.0.1:$REDIS_PORT"; rc=1
  fi
  if kafka_answers; then
    if pid="$(kafka_pid)"; then owner="pid $pid, started by stack.sh"; else owner="external process"; fi
    log "kafka: UP   127.0.0.1:$KAFKA_PORT ($owner)"
  else
    if pid="$(kafka_pid)"; then log "kafka: DOWN 127.0.0.1:$KAFKA_PORT (pid $pid alive but not ready)"
    else log "kafka: DOWN 127.0.0.1:$KAFKA_PORT"; fi
    rc=1
  fi
  if registry_enabled; then
    if registry_answers; then
      if pid="$(registry_pid)"; then owner="pid $pid, started by stack.sh"; else owner="external process"; fi
      log "registry: UP   127.0.0.1:$REGISTRY_PORT ($owner)"
    else
      if pid="$(registry_pid)"; then log "registry: DOWN 127.0.0.1:$REGISTRY_PORT (pid $pid alive but not ready)"
      else log "registry: DOWN 127.0.0.1:$REGISTRY_PORT"; fi
      rc=1
    fi
  fi
  return "$rc"
}

cmd_reset() {
  cmd_down
  log "deleting $KAFKA_DATA, $REDIS_DATA and $REGISTRY_DATA"
  rm -rf "$KAFKA_DATA" "$REDIS_DATA" "$REGISTRY_DATA"
}

usage() {
  cat <<EOF
usage: $0 {up|down|status|reset}
  up      start Redis, Kafka and the schema registry (idempotent); returns when all answer
  down    stop the processes this script started
  status  report; exit 0 if all answer, 1 otherwise
  reset   down, then delete Kafka, Redis and registry data (fresh stack on next up)
env: KAFKA_PORT=$KAFKA_PORT KAFKA_CONTROLLER_PORT=$KAFKA_CONTROLLER_PORT REDIS_PORT=$REDIS_PORT
     REGISTRY_PORT=$REGISTRY_PORT STACK_REGISTRY=$STACK_REGISTRY
     STACK_DIR=$STACK_DIR KAFKA_HEAP="$KAFKA_HEAP" REGISTRY_HEAP="$REGISTRY_HEAP"
EOF
}

# sourced (by deploy/local/cluster.sh, for the helpers above): define, do not dispatch
[[ "${BASH_SOURCE[0]}" != "$0" ]] && return 0

case "${1:-}" in
  up) cmd_up ;;
  down) cmd_down ;;
  status) cmd_status ;;
  reset) cmd_reset ;;
  -h | --help | help) usage ;;
  *) usage >&2; exit 2 ;;
esac
