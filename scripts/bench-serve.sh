#!/usr/bin/env bash
# Load bench of `fave-lock serve`, loopback only, bounded in time: starts Debian's docker-registry and
# the release binary on free 127.0.0.1 ports, pushes small real images (scripts/oci_push.py), then
#   1. wrk against the cached dashboard page, the cached tags API and /healthz (goal: >= 10,000 req/s
#      with p99 < 10 ms for the page on a 2-core machine);
#   2. a repository with 1,000 tags (one manifest, many tags): first view (cold caches, goal < 2 s),
#      the same page again (cached), and wrk against it.
# Prints a Markdown table. Everything it starts is stopped by PID on exit.
#   scripts/bench-serve.sh                 # 10 s per wrk run, 2 wrk threads; the page at 16, 32 and 64
#                                          # connections, everything else at 32
#   DURATION=5 CONNECTIONS=16 PAGE_CONNECTIONS="16 64" scripts/bench-serve.sh
#   NICE=-10 scripts/bench-serve.sh        # run the server and wrk at a higher priority than other jobs
#                                          # of a shared machine (root only); the table says so
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
DURATION="${DURATION:-10}"
CONNECTIONS="${CONNECTIONS:-32}"
PAGE_CONNECTIONS="${PAGE_CONNECTIONS:-16 32 64}"
THREADS="${THREADS:-2}"
NICE="${NICE:-0}"
TAGS="${TAGS:-1000}"
# Bounds: wrk runs are at most 60 s each.
((DURATION >= 1 && DURATION <= 60)) || { echo "DURATION must be 1..60 seconds" >&2; exit 2; }

log() { printf '[bench-serve] %s\n' "$*" >&2; }

scripts/setup/serve-deps.sh
LOAD="$(cut -d' ' -f1-3 /proc/loadavg)"
log "building the release binary"
cargo build --release --quiet --bin fave-lock
BIN="${CARGO_TARGET_DIR:-$ROOT/target}/release/fave-lock"

WORK="$(mktemp -d)"
PIDS=()
cleanup() {
  for pid in "${PIDS[@]}"; do kill "$pid" 2>/dev/null || true; done
  for pid in "${PIDS[@]}"; do wait "$pid" 2>/dev/null || true; done
  rm -rf "$WORK"
}
trap cleanup EXIT

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }

# ---- registry ----------------------------------------------------------------------------------
PORT="$(free_port)"
cat > "$WORK/registry.yml" <<YAML
version: 0.1
log: {level: error}
storage: {filesystem: {rootdirectory: $WORK/data}, delete: {enabled: true}}
http: {addr: 127.0.0.1:$PORT, secret: bench-only}
YAML
docker-registry serve "$WORK/registry.yml" > "$WORK/registry.log" 2>&1 &
PIDS+=($!)
for _ in $(seq 100); do curl -fs "http://127.0.0.1:$PORT/v2/" > /dev/null && break; sleep 0.1; done
curl -fs "http://127.0.0.1:$PORT/v2/" > /dev/null || { cat "$WORK/registry.log" >&2; exit 1; }
REG="127.0.0.1:$PORT"

LOCK_SHA="$(sha256sum locks/fave-base/requirements.txt | cut -d' ' -f1)"
log "pushing images to $REG"
python3 scripts/oci_push.py "$REG" fave-base --tags 0.1 latest --platforms linux/amd64 linux/arm64 \
  --label "io.fave.lock.sha256=$LOCK_SHA" > /dev/null
python3 scripts/oci_push.py "$REG" fave-base --tags 0.0.9 --platforms linux/amd64 linux/arm64 \
  --label "io.fave.lock.sha256=$(printf '0%.0s' {1..64})" > /dev/null
python3 scripts/oci_push.py "$REG" fave-base --tags 0.0.8 > /dev/null
start=$(date +%s.%N)
# shellcheck disable=SC2046
python3 scripts/oci_push.py "$REG" big --tags $(seq -f 'v1.%g' "$TAGS") > /dev/null
log "pushed $TAGS tags of one manifest in $(python3 -c "print(f'{$(date +%s.%N) - $start:.1f}')") s"

# ---- servers -------------------------------------------------------------------------------------
# start_serve NAME ARGS…: start the release binary on a free port; sets ADDR.
start_serve() {
  local name="$1"; shift
  nice -n "$NICE" "$BIN" serve --addr 127.0.0.1:0 --config "$ROOT/fave-lock.toml" "$@" 2> "$WORK/$name.log" &
  PIDS+=($!)
  ADDR=""
  for _ in $(seq 100); do
    ADDR="$(grep -o '"addr":"[^"]*"' "$WORK/$name.log" 2>/dev/null | head -1 | cut -d'"' -f4 || true)"
    [[ -n $ADDR ]] && break
    sleep 0.1
  done
  [[ -n $ADDR ]] || { cat "$WORK/$name.log" >&2; exit 1; }
  curl -fs "http://$ADDR/healthz" > /dev/null
}

ROWS=()
# server_p99 ROUTE BEFORE AFTER: the upper bound of the /metrics latency bucket holding the 99th
# percentile of the requests between two scrapes (time inside the server's handlers and middleware).
server_p99() {
  python3 - "$1" "$2" "$3" <<'PY'
import re, sys
route, before, after = sys.argv[1], open(sys.argv[2]).read(), open(sys.argv[3]).read()
def buckets(text):
    pattern = r'fave_lock_http_request_duration_seconds_bucket\{route="%s",le="([^"]+)"\} (\d+)' % re.escape(route)
    return {le: int(n) for le, n in re.findall(pattern, text)}
b, a = buckets(before), buckets(after)
total = a.get("+Inf", 0) - b.get("+Inf", 0)
for le, n in a.items():
    if le != "+Inf" and total and n - b.get(le, 0) >= 0.99 * total:
        print(f"≤ {float(le) * 1000:g} ms"); break
else:
    print("n/a")
PY
}

# bench LABEL URL ROUTE [CONNECTIONS]: one wrk run; appends a table row.
bench() {
  local label="$1" url="$2" route="$3" connections="${4:-$CONNECTIONS}" out rps p50 p99 bytes inner
  local base
  base="$(sed -E 's#^(http://[^/]+).*#\1#' <<< "$url")"
  bytes="$(curl -fs "$url" | wc -c)"
  curl -fs "$base/metrics" > "$WORK/metrics.before"
  out="$(nice -n "$NICE" wrk -t"$THREADS" -c"$connections" -d"${DURATION}s" --latency "$url")"
  curl -fs "$base/metrics" > "$WORK/metrics.after"
  inner="$(server_p99 "$route" "$WORK/metrics.before" "$WORK/metrics.after")"
  rps="$(awk '/^Requests\/sec:/ {printf "%d", $2}' <<< "$out")"
  p50="$(awk '$1 == "50%" {print $2}' <<< "$out")"
  p99="$(awk '$1 == "99%" {print $2}' <<< "$out")"
  if grep -q 'Non-2xx' <<< "$out"; then label="$label (NON-2xx!)"; fi
  ROWS+=("| $label | $connections | $bytes | $rps | $p50 | $p99 | $inner |")
}

# time_get URL: seconds for one GET.
time_get() { curl -fs -o /dev/null -w '%{time_total}' "$1"; }

log "server 1: the fave-base repository (page and API benchmarks)"
start_serve small --image "fave-base=$REG/fave-base"
SMALL="$ADDR"
first_small="$(time_get "http://$SMALL/")"
for connections in $PAGE_CONNECTIONS; do
  bench "\`/\` dashboard (cached)" "http://$SMALL/" "/" "$connections"
done
bench "\`/api/images/fave-base/tags\` (cached)" "http://$SMALL/api/images/fave-base/tags" "/api/images/{name}/tags"
bench "\`/healthz\` (baseline)" "http://$SMALL/healthz" "/healthz"

log "server 2: a repository with $TAGS tags"
start_serve big --image "big=$REG/big"
BIG="$ADDR"
first_big="$(time_get "http://$BIG/images/big")"
second_big="$(time_get "http://$BIG/images/big")"
bench "\`/images/big\` ($TAGS tags, cached)" "http://$BIG/images/big" "/images/{name}"

cores="$(nproc)"
echo
echo "fave-lock serve (release) and wrk -t$THREADS -d${DURATION}s sharing $cores cores on loopback; load average before: $LOAD; nice $NICE ($(date -u +%F))"
echo
echo "| target | connections | body bytes | req/s | p50 | p99 | server-side p99 |"
echo "| --- | ---: | ---: | ---: | ---: | ---: | ---: |"
printf '%s\n' "${ROWS[@]}"
echo
echo "| first view | seconds |"
echo "| --- | ---: |"
echo "| \`/\` with the fave-base repository, cold | $first_small |"
echo "| \`/images/big\` with $TAGS tags, cold (tag list + $TAGS manifests + config) | $first_big |"
echo "| \`/images/big\` again (cached) | $second_big |"
echo
grep -h '"snapshot built"' "$WORK/small.log" "$WORK/big.log" | head -3 >&2 || true
