#!/usr/bin/env bash
# Benchmarks of issue #14 (recorded in docs/performance.md; no test asserts a time):
#   1. save -> new version answering: `lbc watch` on a service of the python stack; each
#      round changes the greeting in app.py and times until GET / answers the new text
#      (median and all rounds; goal <= 3 s);
#   2. local chaos: the same service with 3 replicas behind the balancer, `lbc chaos local
#      --duration 60s --kill-every 5s` while a second client sends a steady load (goal:
#      100 % answered).
# Needs the test environment: eval "$(bash scripts/test-env.sh)" (Docker, the python
# and haproxy images in the catalogue named by LBC_CATALOG).
#
# Usage: scripts/bench-local-ha.sh [ROUNDS]   (default 7 rounds of save -> answer)
#        LBC_BENCH_BIN=PATH to use that lbc binary instead of building a release one
set -euo pipefail
BENCH_NAME=bench-local-ha
# shellcheck source=scripts/bench-lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/bench-lib.sh"
ROUNDS="${1:-7}"
: "${LBC_CATALOG:?run eval \"\$(bash scripts/test-env.sh)\" first}"

# LBC_BENCH_BIN: an lbc binary to use instead of a release build (lbc's own time is
# milliseconds here; docker build and the app's start are the seconds).
if [ -n "${LBC_BENCH_BIN:-}" ]; then LBC="$LBC_BENCH_BIN"; else build_lbc; fi
WORK=$(mktemp -d)
PORT=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
NAME="benchha$$"
WATCH_PID=""
cleanup() {
    if [ -n "$WATCH_PID" ] && kill -0 "$WATCH_PID" 2>/dev/null; then
        kill -INT "$WATCH_PID"; wait "$WATCH_PID" 2>/dev/null || true
    fi
    (cd "$WORK/$NAME" 2>/dev/null && "$LBC" -q destroy local >/dev/null 2>&1) || true
    docker images -q --filter "label=org.opencontainers.image.title=$NAME" | xargs -r docker rmi -f >/dev/null 2>&1 || true
    rm -rf "$WORK"
}
trap cleanup EXIT

body() { curl -s --max-time 2 "http://127.0.0.1:$PORT/" || true; }
now() { date +%s.%N; }

log "scaffolding a python-stack service in $WORK/$NAME (port $PORT)"
(cd "$WORK" && "$LBC" -q init "$NAME" --stack python --yes >/dev/null)
cd "$WORK/$NAME"
sed -i "s/^port = 8080$/port = $PORT/" lbc.toml
grep -q "^port = $PORT$" lbc.toml || { log "could not set the port in lbc.toml"; exit 1; }
[ -d .git ] || git init -q
git add -A >/dev/null && git -c user.email=bench@lbc -c user.name=bench commit -qm port

log "starting lbc watch"
"$LBC" watch >"$WORK/watch.out" 2>"$WORK/watch.err" </dev/null &
WATCH_PID=$!
for _ in $(seq 1 600); do [ -n "$(body)" ] && break; sleep 0.2; done
[ -n "$(body)" ] || { tail -30 "$WORK/watch.err" >&2; exit 1; }

times=()
for i in $(seq 1 "$ROUNDS"); do
    sleep 2
    want="bench round $i"
    sed -i "s/^GREETING = os.environ.get(\"GREETING\", \".*\")$/GREETING = os.environ.get(\"GREETING\", \"$want\")/" app.py
    t0=$(now)
    for _ in $(seq 1 1200); do [ "$(body)" = "$want" ] && break; sleep 0.02; done
    t1=$(now)
    [ "$(body)" = "$want" ] || { tail -30 "$WORK/watch.err" >&2; log "round $i never answered"; exit 1; }
    t=$(echo "$t1 - $t0" | bc)
    times+=("$t")
    log "round $i: save -> answering in ${t}s"
done
median=$(printf '%s\n' "${times[@]}" | sort -n | awk '{a[NR]=$1} END {print (NR%2 ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2)}')
kill -INT "$WATCH_PID"; wait "$WATCH_PID" 2>/dev/null || true; WATCH_PID=""

log "chaos: 3 replicas, one killed every 5 s for 60 s under a steady load"
"$LBC" -q build >/dev/null
"$LBC" -q deploy local --replicas 3 >/dev/null
load_ok=0; load_failed=0
(
    ok=0; failed=0
    while [ ! -f "$WORK/stop" ]; do
        if [ "$(curl -s -o /dev/null -w '%{http_code}' --max-time 5 "http://127.0.0.1:$PORT/")" = 200 ]; then ok=$((ok + 1)); else failed=$((failed + 1)); fi
    done
    echo "$ok $failed" >"$WORK/load"
) &
LOAD_PID=$!
"$LBC" chaos local --duration 60s --kill-every 5s --output json >"$WORK/chaos.json" 2>"$WORK/chaos.err" || true
touch "$WORK/stop"; wait "$LOAD_PID"
read -r load_ok load_failed <"$WORK/load"
python3 - "$WORK/chaos.json" "$median" "$load_ok" "$load_failed" "${times[@]}" <<'EOF'
import json, sys
r = json.load(open(sys.argv[1]))
median, ok, failed, rounds = sys.argv[2], int(sys.argv[3]), int(sys.argv[4]), sys.argv[5:]
rec = [k["recovered_ms"] for k in r["kills"] if k["recovered_ms"] is not None]
print(f"save -> answering (python stack, lbc watch): median {float(median):.2f} s over {len(rounds)} rounds: {' '.join(f'{float(t):.2f}' for t in rounds)}")
print(f"chaos (3 replicas, kill every 5 s, 60 s): probe {r['requests']} requests, {r['failures']} failed, availability {r['availability']:.3f} %, longest outage {r['longest_outage_ms']} ms, {len(r['kills'])} kills, recovery {min(rec) if rec else '-'}-{max(rec) if rec else '-'} ms")
print(f"outside load during chaos: {ok} answered, {failed} failed ({100.0 * ok / max(ok + failed, 1):.3f} %)")
EOF
