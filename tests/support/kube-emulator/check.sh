#!/usr/bin/env bash
# End-to-end self-check of the kube emulator with the real helm and kubectl.
#
#   LBC_TEST_HELM     helm binary    (default: helm on PATH; v4 expected, v3 works with --atomic)
#   LBC_TEST_KUBECTL  kubectl binary (default: kubectl on PATH)
#   LBC_TEST_PYTHON   python with the packages of requirements.txt (default: python3)
#   KEEP_TMP=1        keep the temporary directory (logs, kubeconfig, chart) even on success
#
# Starts emulators on free loopback ports, runs the scenarios, stops the emulators by PID.
# Prints one line per check and closes with "N passed, N failed"; exits non-zero on any failure.
# Without the tools: fails when CI=true, otherwise skips with one line saying what is missing.
set -u

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
HELM="${LBC_TEST_HELM:-helm}"
KUBECTL="${LBC_TEST_KUBECTL:-kubectl}"
PY="${LBC_TEST_PYTHON:-python3}"

missing=()
command -v "$HELM" >/dev/null 2>&1 || missing+=("helm ($HELM)")
command -v "$KUBECTL" >/dev/null 2>&1 || missing+=("kubectl ($KUBECTL)")
if ! command -v "$PY" >/dev/null 2>&1; then
    missing+=("python ($PY)")
elif ! "$PY" -c 'import kmock, aiohttp, jsonpatch' >/dev/null 2>&1; then
    missing+=("kmock in $PY (pip install -r $HERE/requirements.txt)")
fi
if [ ${#missing[@]} -gt 0 ]; then
    if [ "${CI:-}" = "true" ]; then
        echo "kube-emulator check: FAILED: missing $(printf '%s; ' "${missing[@]}")" >&2
        exit 1
    fi
    echo "kube-emulator check: SKIPPED: missing $(printf '%s; ' "${missing[@]}")"
    exit 0
fi

TMP="$(mktemp -d /tmp/kube-emulator-check.XXXXXX)"
export KUBECONFIG="$TMP/kubeconfig"
export KUBECACHEDIR="$TMP/kube-cache"
export HELM_CACHE_HOME="$TMP/helm/cache" HELM_CONFIG_HOME="$TMP/helm/config" HELM_DATA_HOME="$TMP/helm/data"
PIDS=()
PASSED=0
FAILED=0

cleanup() {
    local pid
    for pid in "${PIDS[@]}"; do
        if kill -0 "$pid" 2>/dev/null; then
            kill -TERM "$pid" 2>/dev/null
            wait "$pid" 2>/dev/null
        fi
    done
    if [ "$FAILED" -eq 0 ] && [ "${KEEP_TMP:-}" != "1" ]; then
        rm -rf "$TMP"
    else
        echo "kube-emulator check: logs and files kept in $TMP"
    fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM

ok()   { PASSED=$((PASSED + 1)); echo "PASS: $*"; }
bad()  { FAILED=$((FAILED + 1)); echo "FAIL: $*"; }
# check "description" command...  (output goes to $TMP/last.log, shown on failure)
check() {
    local what="$1"; shift
    if "$@" >"$TMP/last.log" 2>&1; then ok "$what"; else bad "$what"; sed 's/^/    | /' "$TMP/last.log" | tail -20; fi
}
# check_fails "description" command...  (the command must fail)
check_fails() {
    local what="$1"; shift
    if "$@" >"$TMP/last.log" 2>&1; then bad "$what (it succeeded)"; sed 's/^/    | /' "$TMP/last.log" | tail -20; else ok "$what"; fi
}
jq_py() { "$PY" -c "import json,sys; d=json.load(sys.stdin); $1"; }

# start_emulator NAME CONTEXT [ARGS...]: starts one emulator; sets EMU_PID and EMU_PORT.
start_emulator() {
    local name="$1" context="$2"; shift 2
    rm -f "$TMP/$name.port"
    "$PY" "$HERE/emulator.py" --host 127.0.0.1 --port 0 --port-file "$TMP/$name.port" \
        --kubeconfig-out "$KUBECONFIG" --context "$context" "$@" >"$TMP/$name.log" 2>&1 &
    EMU_PID=$!
    PIDS+=("$EMU_PID")
    local i
    for i in $(seq 1 200); do
        [ -s "$TMP/$name.port" ] && break
        if ! kill -0 "$EMU_PID" 2>/dev/null; then break; fi
        sleep 0.05
    done
    if [ ! -s "$TMP/$name.port" ]; then
        echo "kube-emulator check: emulator $name did not start; its log:" >&2
        cat "$TMP/$name.log" >&2
        FAILED=$((FAILED + 1))
        exit 1
    fi
    EMU_PORT="$(cat "$TMP/$name.port")"
}

stop_emulator() {
    local pid="$1"
    kill -TERM "$pid" 2>/dev/null && wait "$pid" 2>/dev/null
    return 0
}

HELM_VERSION="$("$HELM" version --template '{{.Version}}' 2>/dev/null)"
KUBECTL_VERSION="$("$KUBECTL" version --client -o json 2>/dev/null | jq_py 'print(d["clientVersion"]["gitVersion"])' 2>/dev/null)"
echo "kube-emulator check: helm $HELM_VERSION, kubectl $KUBECTL_VERSION, $("$PY" --version 2>&1), tmp $TMP"
case "$HELM_VERSION" in
    v3.*) ROLLBACK_FLAG="--atomic" ;;
    *)    ROLLBACK_FLAG="--rollback-on-failure" ;;
esac

# ------------------------------------------------------------------ a chart
"$HELM" create "$TMP/demo" >/dev/null || { echo "helm create failed" >&2; FAILED=1; exit 1; }
CHART="$TMP/demo"

start_emulator emu-a emu-a --set-current
PID_A=$EMU_PID
echo "emulator emu-a: pid $PID_A, port $EMU_PORT"

# ------------------------------------------------------------------ helm
T0=$(date +%s%N)
check "helm upgrade --install (first install, --create-namespace --wait)" \
    "$HELM" upgrade --install demo "$CHART" -n ns1 --create-namespace --wait --timeout 60s
T1=$(date +%s%N)
echo "      took $(( (T1 - T0) / 1000000 )) ms"
check "helm status" "$HELM" status demo -n ns1
check "helm history" "$HELM" history demo -n ns1
check "helm get values -o json" sh -c "'$HELM' get values demo -n ns1 -o json | '$PY' -c 'import json,sys; json.load(sys.stdin)'"
check "helm list -o json shows demo deployed" sh -c "'$HELM' list -n ns1 -o json | '$PY' -c '
import json,sys
d=json.load(sys.stdin)
assert [(r[\"name\"], r[\"status\"], r[\"revision\"]) for r in d] == [(\"demo\", \"deployed\", \"1\")], d'"
check "the Deployment is ready (kubectl rollout status)" "$KUBECTL" -n ns1 rollout status deployment/demo --timeout 20s

GEN1="$("$KUBECTL" -n ns1 get deploy demo -o jsonpath='{.metadata.generation}')"
check "helm upgrade with a new image tag" \
    "$HELM" upgrade --install demo "$CHART" -n ns1 --wait --timeout 60s --set image.tag=1.27
GEN2="$("$KUBECTL" -n ns1 get deploy demo -o jsonpath='{.metadata.generation}')"
IMG="$("$KUBECTL" -n ns1 get deploy demo -o jsonpath='{.spec.template.spec.containers[0].image}')"
check "the generation increased ($GEN1 -> $GEN2) and the image is nginx:1.27 ($IMG)" \
    test "$GEN2" -gt "$GEN1" -a "$IMG" = "nginx:1.27"

T0=$(date +%s%N)
check_fails "helm upgrade to image tag 'broken' with --wait --timeout 10s $ROLLBACK_FLAG fails" \
    "$HELM" upgrade --install demo "$CHART" -n ns1 --wait --timeout 10s "$ROLLBACK_FLAG" --set image.tag=broken
T1=$(date +%s%N)
echo "      took $(( (T1 - T0) / 1000000 )) ms"
check "history: revision 3 failed, revision 4 is the deployed rollback" sh -c "'$HELM' history demo -n ns1 -o json | '$PY' -c '
import json,sys
d=json.load(sys.stdin)
st=[(h[\"revision\"], h[\"status\"]) for h in d]
assert st[-2:] == [(3, \"failed\"), (4, \"deployed\")], st
assert \"Rollback\" in d[-1][\"description\"], d[-1]'"
IMG="$("$KUBECTL" -n ns1 get deploy demo -o jsonpath='{.spec.template.spec.containers[0].image}')"
check "the rolled back Deployment runs nginx:1.27 again ($IMG)" test "$IMG" = "nginx:1.27"

check "helm rollback demo 1 --wait" "$HELM" rollback demo 1 -n ns1 --wait --timeout 30s
check "history: revision 5 deployed" sh -c "'$HELM' history demo -n ns1 -o json | '$PY' -c '
import json,sys
d=json.load(sys.stdin)
assert (d[-1][\"revision\"], d[-1][\"status\"]) == (5, \"deployed\"), d[-1]'"
check "helm uninstall --wait" "$HELM" uninstall demo -n ns1 --wait --timeout 30s
check "no Deployment, Service or release left" sh -c "
    test -z \"\$('$KUBECTL' -n ns1 get deploy,svc,secrets -o name)\" && test \"\$('$HELM' list -n ns1 -q)\" = ''"

# ------------------------------------------------------------------ kubectl
cat >"$TMP/app.yaml" <<'EOF'
apiVersion: apps/v1
kind: Deployment
metadata:
  name: web
  labels: {app: web}
spec:
  replicas: 2
  selector:
    matchLabels: {app: web}
  template:
    metadata:
      labels: {app: web}
    spec:
      containers:
      - name: web
        image: nginx:1.27
        ports:
        - containerPort: 80
        env:
        - {name: A, value: "1"}
---
apiVersion: v1
kind: Service
metadata:
  name: web
spec:
  selector: {app: web}
  ports:
  - {port: 80, targetPort: 80}
EOF
sed -e 's/nginx:1.27/nginx:1.28/' -e 's/name: A, value: "1"/name: B, value: "2"/' "$TMP/app.yaml" >"$TMP/app2.yaml"

check "kubectl create namespace" "$KUBECTL" create namespace k1
check "kubectl apply -f (client-side)" "$KUBECTL" -n k1 apply -f "$TMP/app.yaml"
check "kubectl rollout status (ready)" "$KUBECTL" -n k1 rollout status deployment/web --timeout 20s
check "kubectl get deploy -o json: 2 ready replicas, observedGeneration current" sh -c "'$KUBECTL' -n k1 get deploy web -o json | '$PY' -c '
import json,sys
d=json.load(sys.stdin)
assert d[\"status\"][\"readyReplicas\"] == 2, d[\"status\"]
assert d[\"status\"][\"observedGeneration\"] == d[\"metadata\"][\"generation\"], d'"
check "kubectl apply -f again (client-side, changed image and env)" "$KUBECTL" -n k1 apply -f "$TMP/app2.yaml"
check "the client-side apply replaced env A by B" sh -c "'$KUBECTL' -n k1 get deploy web -o json | '$PY' -c '
import json,sys
c=json.load(sys.stdin)[\"spec\"][\"template\"][\"spec\"][\"containers\"][0]
assert c[\"image\"] == \"nginx:1.28\" and [e[\"name\"] for e in c[\"env\"]] == [\"B\"], c'"
check "kubectl rollout status (ready after the change)" "$KUBECTL" -n k1 rollout status deployment/web --timeout 20s
check "kubectl apply --server-side" "$KUBECTL" -n k1 apply --server-side -f "$TMP/app.yaml"
check "kubectl rollout status (ready after server-side apply)" "$KUBECTL" -n k1 rollout status deployment/web --timeout 20s
check "kubectl set image to a broken tag" "$KUBECTL" -n k1 set image deployment/web web=nginx:broken
check_fails "kubectl rollout status fails for the broken image" \
    "$KUBECTL" -n k1 rollout status deployment/web --timeout 20s
check "kubectl get pods lists the emulated pods" sh -c "'$KUBECTL' -n k1 get pods | grep -q CrashLoopBackOff"
check "kubectl get events" sh -c "'$KUBECTL' -n k1 get events | grep -q ScalingReplicaSet"
check "kubectl rollout undo" "$KUBECTL" -n k1 rollout undo deployment/web
check "kubectl rollout status (ready after undo)" "$KUBECTL" -n k1 rollout status deployment/web --timeout 20s
IMG="$("$KUBECTL" -n k1 get deploy web -o jsonpath='{.spec.template.spec.containers[0].image}')"
check "the undo restored nginx:1.27 ($IMG)" test "$IMG" = "nginx:1.27"
check "kubectl logs deploy/web answers" "$KUBECTL" -n k1 logs deploy/web
check "kubectl delete -f" "$KUBECTL" -n k1 delete -f "$TMP/app.yaml" --wait=true --timeout 20s
check "nothing left after delete (deploy, rs, pods, svc)" sh -c "test -z \"\$('$KUBECTL' -n k1 get deploy,rs,pods,svc -o name)\""
check "kubectl delete namespace" "$KUBECTL" delete namespace k1 --timeout 20s

# ------------------------------------------------------------------ two environments, two contexts
start_emulator emu-b emu-b
PID_B=$EMU_PID
echo "emulator emu-b: pid $PID_B, port $EMU_PORT"
check "the kubeconfig has both contexts" sh -c "'$KUBECTL' config get-contexts -o name | sort | tr '\n' ' ' | grep -qx 'emu-a emu-b '"
check "helm install into emu-a (--kube-context)" \
    "$HELM" upgrade --install demo "$CHART" -n app --create-namespace --wait --timeout 60s --kube-context emu-a --set image.tag=a1
check "helm install into emu-b (--kube-context)" \
    "$HELM" upgrade --install demo "$CHART" -n app --create-namespace --wait --timeout 60s --kube-context emu-b --set image.tag=b1
check "helm upgrade emu-b only" \
    "$HELM" upgrade --install demo "$CHART" -n app --wait --timeout 60s --kube-context emu-b --set image.tag=b2
check "emu-a has revision 1 with nginx:a1, emu-b revision 2 with nginx:b2" sh -c "
    test \"\$('$HELM' --kube-context emu-a history demo -n app -o json | '$PY' -c 'import json,sys; print(json.load(sys.stdin)[-1][\"revision\"])')\" = 1 &&
    test \"\$('$HELM' --kube-context emu-b history demo -n app -o json | '$PY' -c 'import json,sys; print(json.load(sys.stdin)[-1][\"revision\"])')\" = 2 &&
    test \"\$('$KUBECTL' --context emu-a -n app get deploy demo -o jsonpath='{.spec.template.spec.containers[0].image}')\" = nginx:a1 &&
    test \"\$('$KUBECTL' --context emu-b -n app get deploy demo -o jsonpath='{.spec.template.spec.containers[0].image}')\" = nginx:b2"

# ------------------------------------------------------------------ timing
TIMES=""
for i in 1 2 3 4 5; do
    T0=$(date +%s%N)
    "$HELM" upgrade --install "perf$i" "$CHART" -n perf --create-namespace --wait --timeout 60s --kube-context emu-a >/dev/null 2>&1 || bad "timing install perf$i"
    T1=$(date +%s%N)
    TIMES="$TIMES $(( (T1 - T0) / 1000000 ))"
done
for i in 1 2 3 4 5; do
    T0=$(date +%s%N)
    "$HELM" upgrade --install perf1 "$CHART" -n perf --wait --timeout 60s --kube-context emu-a --set image.tag="t$i" >/dev/null 2>&1 || bad "timing upgrade perf1 t$i"
    T1=$(date +%s%N)
    TIMES="$TIMES $(( (T1 - T0) / 1000000 ))"
done
echo "timing: helm upgrade --install --wait (5 installs, 5 upgrades), ms:$TIMES"

# ------------------------------------------------------------------ stop
stop_emulator "$PID_B"
check "emu-b stopped on SIGTERM" sh -c "! kill -0 $PID_B 2>/dev/null"
stop_emulator "$PID_A"
check "emu-a stopped on SIGTERM" sh -c "! kill -0 $PID_A 2>/dev/null"

echo "kube-emulator check: $PASSED passed, $FAILED failed"
[ "$FAILED" -eq 0 ]
