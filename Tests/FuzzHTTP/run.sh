#!/usr/bin/env bash
# `make fuzz-http`: Schemathesis against a live proxy, from Plugins/proxy/openapi.yaml (issue #12).
#
# Starts, all on 127.0.0.1: `carrier testnet` (FUZZ_HTTP_NODES DHT nodes), and a supernode
# bootstrapped to it that runs the proxy in a plugin runner, open to anonymous use with its rate
# limits raised out of the way. Waits until /v1/health says healthy, then runs every Schemathesis
# phase (examples, coverage, fuzzing, stateful) with every check, positive and negative data, all
# but the two streaming routes (/key/{hash}/listen never ends; /v1/ws is a WebSocket).
# Fails if Schemathesis finds anything, or if the proxy's runner was lost (a crash) or the proxy is
# no longer healthy afterwards. Every process it started is stopped on the way out.
#
#   FUZZ_HTTP_EXAMPLES=300   examples per operation and phase (Schemathesis --max-examples)
#   FUZZ_HTTP_SEED=N         replay a run (default: a new seed, printed)
#   FUZZ_HTTP_WORKERS=1      concurrent Schemathesis workers (threads: Python 3.11's ast.parse,
#                            which Hypothesis calls to describe a strategy, is not thread-safe)
#   FUZZ_HTTP_SERVE=1        only start the network and the proxy, print the URL and wait (for
#                            `st replay` or curl); Ctrl-C stops everything
#   FUZZ_HTTP_NODES=4        DHT nodes besides the supernode
#   FUZZ_HTTP_CONFIG=release or debug (which build of carrier and libProxyPlugin.so)
#   Other arguments go to `st run` (e.g. --include-path /v1/values --max-failures 1).
#
# Logs and reports (JUnit, NDJSON of every request) are kept in .build/fuzz-http/.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(cd "$here/../.." && pwd)"
cd "$root"

schemathesis_version=4.32.5
venv="$root/.build/fuzz-http-venv"
out="$root/.build/fuzz-http"
config="${FUZZ_HTTP_CONFIG:-release}"
examples="${FUZZ_HTTP_EXAMPLES:-300}"
seed="${FUZZ_HTTP_SEED:-$(od -An -N4 -tu4 /dev/urandom | tr -d ' ')}"
workers="${FUZZ_HTTP_WORKERS:-1}"
nodes="${FUZZ_HTTP_NODES:-4}"

# Schemathesis, pinned, in a venv of Debian's python3 (python3-venv; `make fuzz-http` installs it).
python=/usr/bin/python3
[[ -x $python ]] || python=python3
if [[ "$("$venv/bin/st" --version 2>/dev/null)" != *" $schemathesis_version" ]]; then
    echo "==> installing schemathesis $schemathesis_version into $venv"
    rm -rf "$venv"
    "$python" -m venv "$venv"
    "$venv/bin/pip" install --quiet --disable-pip-version-check "schemathesis==$schemathesis_version"
fi

for product in carrier ProxyPlugin; do
    echo "==> swift build -c $config --product $product"
    swift build -c "$config" --product "$product"
done
bin="$(swift build -c "$config" --show-bin-path)"
carrier="$bin/carrier"

rm -rf "$out"
mkdir -p "$out"
work="$(mktemp -d "${TMPDIR:-/tmp}/carrier-fuzz-http.XXXXXX")"
pids=()
stop_all() {
    local status=$? pid
    trap - EXIT INT TERM
    # Newest first: Schemathesis, the supernode (which stops its plugin runner), then the network.
    # SIGTERM, which carrier takes as an orderly stop (a background job of a script ignores SIGINT).
    for ((index = ${#pids[@]} - 1; index >= 0; index--)); do
        pid=${pids[index]}
        kill -TERM "$pid" 2>/dev/null || continue
        for _ in $(seq 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
        kill -KILL "$pid" 2>/dev/null || true
        wait "$pid" 2>/dev/null || true
    done
    rm -rf "$work"
    exit "$status"
}
trap stop_all EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# Waits up to $2 seconds for the first line of file $1 matching $3, and prints it.
wait_for_line() {
    local file=$1 seconds=$2 pattern=$3 line
    for _ in $(seq $((seconds * 10))); do
        line="$(grep -m1 -E "$pattern" "$file" 2>/dev/null || true)"
        if [[ -n $line ]]; then echo "$line"; return 0; fi
        sleep 0.1
    done
    echo "error: nothing matching /$pattern/ in $file after ${seconds}s" >&2
    return 1
}

# An HTTP GET with Debian's python3: prints the status and the body.
http_get() {
    "$python" - "$1" <<'EOF'
import sys, urllib.request, urllib.error
try:
    with urllib.request.urlopen(sys.argv[1], timeout=5) as answer:
        print(answer.status, answer.read().decode())
except urllib.error.HTTPError as error:
    print(error.code, error.read().decode())
except OSError as error:
    print(0, error)
EOF
}

echo "==> carrier testnet: $nodes nodes on 127.0.0.1"
"$carrier" testnet --nodes "$nodes" --base-port 0 --data-dir "$work/testnet" >"$out/testnet.out" 2>"$out/testnet.log" &
pids+=($!)
bootstrap="$(wait_for_line "$out/testnet.out" 60 '@127\.0\.0\.1:[0-9]+$')"

mkdir -p "$work/manifests"
cat >"$work/manifests/node.toml" <<EOF
data_dir = "data"
listen = ["127.0.0.1:0"]
bootstrap = ["$bootstrap"]
allow_local = true
admin = "127.0.0.1:0"
EOF
cat >"$work/manifests/proxy.toml" <<EOF
id = "org.carrier.proxy"
version = "0.2.0"
library = "$bin/libProxyPlugin.so"
isolation = "process"

[config]
host = "127.0.0.1"
port = 0
pollSeconds = 1
anonymous = true
anonymousRate = 1000000
clientRate = 1000000
addressRate = 1000000
EOF
"$carrier" plugins pin "$work/manifests/proxy.toml" >/dev/null
cp "$work/manifests/"*.toml "$out/"

echo "==> carrier run: the supernode with the proxy, bootstrapped to $bootstrap"
"$carrier" run --manifests "$work/manifests" >"$out/supernode.out" 2>"$out/supernode.log" &
pids+=($!)
admin="$(wait_for_line "$out/supernode.out" 60 '^admin: ' | sed -E 's|^admin: http://([^/]+)/status$|\1|')"
wait_for_line "$out/supernode.out" 60 '^plugin org\.carrier\.proxy: ' >/dev/null
port="$("$carrier" plugins list --admin "$admin" | sed -nE 's/.*serving HTTP on port ([0-9]+).*/\1/p')"
[[ -n $port ]] || { echo "error: the proxy is not serving:" >&2; "$carrier" plugins list --admin "$admin" >&2; exit 1; }
base="http://127.0.0.1:$port"

echo "==> waiting for $base/v1/health to say healthy"
for attempt in $(seq 120); do
    health="$(http_get "$base/v1/health")"
    [[ $health == "200 "*'"healthy":true'* ]] && break
    ((attempt < 120)) || { echo "error: the proxy did not become healthy: $health" >&2; exit 1; }
    sleep 0.5
done
echo "    $health"

if [[ -n ${FUZZ_HTTP_SERVE:-} ]]; then
    echo "==> serving on $base (admin $admin); Ctrl-C stops"
    while kill -0 "${pids[@]}" 2>/dev/null; do sleep 1; done
    exit 1
fi

# Every check (the config file turns off the ones that cannot apply to an operation, and says why).
command=("$venv/bin/st" --config-file "$here/schemathesis.toml" run "$root/Plugins/proxy/openapi.yaml"
         --url "$base" --mode all --phases examples,coverage,fuzzing,stateful
         --exclude-path '/key/{hash}/listen' --exclude-path /v1/ws
         --max-examples "$examples" --seed "$seed" --workers "$workers"
         --report junit,ndjson --report-dir "$out" --no-color "$@")
echo "==> ${command[*]}"
start=$SECONDS
status=0
# In the background, so a signal to this script is handled at once (bash runs a trap only after
# the foreground command ends), and Schemathesis is stopped with the rest.
# Run from .build/fuzz-http-state, where Hypothesis keeps its example database (a failure found
# once is tried first on the next run) and Schemathesis its cache, out of the work tree.
mkdir -p "$root/.build/fuzz-http-state"
(cd "$root/.build/fuzz-http-state" && PYTHONPATH="$here${PYTHONPATH:+:$PYTHONPATH}" exec "${command[@]}") > >(tee "$out/schemathesis.log") 2>&1 &
pids+=($!)
wait "${pids[-1]}" || status=$?
echo "==> schemathesis exited with status $status after $((SECONDS - start)) s (seed $seed; reports in $out)"

# A crash in the proxy shows as a lost runner (the host restarts it): none may have happened.
plugins="$("$carrier" plugins list --admin "$admin" --json)"
echo "==> after the run: $plugins"
health="$(http_get "$base/v1/health")"
if [[ $plugins != *'"runnerLosses":0'* || $plugins != *'"state":"running"'* ]]; then
    echo "==> FAILED: the proxy's plugin runner was lost (a crash?): see $out/supernode.log" >&2
    status=1
elif [[ $health != "200 "* ]]; then
    echo "==> FAILED: the proxy is not healthy after the run: $health" >&2
    status=1
fi
((status == 0)) || echo "==> FAILED (replay with FUZZ_HTTP_SEED=$seed make fuzz-http)" >&2
exit "$status"
