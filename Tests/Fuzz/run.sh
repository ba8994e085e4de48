#!/usr/bin/env bash
# `make fuzz`: builds the libFuzzer harness (Sources/CarrierFuzz) and runs each target in turn:
# datagram, http, websocket, json, opendht, runner, shadow (README.md says what each feeds).
#
#   run.sh                         every target, one after the other
#   run.sh http json               those targets (or FUZZ_TARGET=http, or FUZZ_TARGET="http json")
#   run.sh FILE...                 replays each file once (a crash: artifacts/<target>/crash-<sha1>,
#                                  the target taken from the path; else name it: run.sh http FILE)
#   FUZZ_RUNS=1000000              executions per target (libFuzzer -runs)
#   FUZZ_SANITIZE=fuzzer,address   use "fuzzer" alone if ASan gets in the way
#   FUZZ_CONFIG=release            or debug
#   Other arguments (-...) go to libFuzzer (`run.sh http -jobs=2`).
#
# The working corpus is corpus/<target>/ (ignored by git), seeded from seeds/<target>/ (committed),
# with dicts/<target>.dict. A crash is saved as artifacts/<target>/crash-<sha1> and makes this
# script exit non-zero, after the other targets ran; see README.md for turning it into a test.
set -euo pipefail

all=(datagram http websocket json opendht runner shadow)
# The largest input per target: 1912 bytes = the largest datagram a node accepts (IPv4: 1400 + 512);
# the others are room for a few requests, frames (4 of the 256-byte maximum the target allows) or a
# bucket (a Carrier value holds 896 bytes), or a few Shadow frames.
declare -A max_len=([datagram]=1912 [http]=4096 [websocket]=1024 [json]=4096 [opendht]=2048 [runner]=4096 [shadow]=4096)

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
targets=() options=() inputs=()
for argument in "$@"; do
    if [[ -n ${max_len[$argument]:-} ]]; then targets+=("$argument")
    elif [[ $argument == -* ]]; then options+=("$argument")
    elif [[ -f $argument ]]; then inputs+=("$(realpath "$argument")")
    else echo "run.sh: \"$argument\" is neither a target (${all[*]}) nor a file" >&2; exit 2; fi
done
((${#targets[@]} > 0)) || read -ra targets <<<"${FUZZ_TARGET:-}"
for target in "${targets[@]}"; do
    [[ -n ${max_len[$target]:-} ]] || { echo "run.sh: unknown target \"$target\" (one of: ${all[*]})" >&2; exit 2; }
done
cd "$here"

build=(swift build -c "${FUZZ_CONFIG:-release}" -Xswiftc "-sanitize=${FUZZ_SANITIZE:-fuzzer,address}" -Xswiftc -parse-as-library
       -Xswiftc -enable-testing)
# SwiftPM's saved build plan misses files added to the root package since it was made: plan again.
find .build -maxdepth 3 -name description.json -delete 2>/dev/null || true
echo "==> ${build[*]}"
"${build[@]}"
fuzzer="$("${build[@]}" --show-bin-path)/CarrierFuzz"

# Swift's in-process backtracer trips ASan (a false heap-buffer-overflow in its memory reader), so
# leave crash reports to libFuzzer; its stack is demangled below.
export SWIFT_BACKTRACE="${SWIFT_BACKTRACE:-enable=no}"
mkdir -p .build

# run TARGET LOG COMMAND...: runs libFuzzer, its output also in LOG; prints the failure demangled.
run() {
    local target=$1 log=$2 status=0 start=$SECONDS
    shift 2
    echo "==> [$target] $*"
    "$@" 2>&1 | tee "$log" || status=$?
    echo "==> [$target] libFuzzer exited with status $status after $((SECONDS - start)) s (log: $log)"
    if ((status != 0)); then
        echo "==> [$target] the failure, demangled:"
        sed -En '/Fatal error|ERROR: /,/^SUMMARY/p' "$log" | swift demangle --simplified
    fi
    return "$status"
}

if ((${#inputs[@]} > 0)); then
    status=0
    for input in "${inputs[@]}"; do
        target=${targets[0]:-$(basename "$(dirname "$input")")}
        [[ -n ${max_len[$target]:-} ]] || { echo "run.sh: which target is $input for? Say it: run.sh <target> FILE" >&2; exit 2; }
        run "$target" ".build/fuzz-$target.log" "$fuzzer" "$target" "${options[@]}" "$input" || status=$?
    done
    exit "$status"
fi

((${#targets[@]} > 0)) || targets=("${all[@]}")
# Allocation stacks 8 frames deep instead of 30 while fuzzing (ASan records one per allocation, a
# tenth of the HTTP targets' time); a replay (run.sh FILE) reports them in full.
export ASAN_OPTIONS="${ASAN_OPTIONS:-malloc_context_size=8}"
failed=() summary=()
for target in "${targets[@]}"; do
    mkdir -p "corpus/$target" "artifacts/$target"
    for seed in "seeds/$target"/*; do
        [[ -e "corpus/$target/${seed##*/}" ]] || cp "$seed" "corpus/$target/"
    done
    dict=() && [[ -f "dicts/$target.dict" ]] && dict=("-dict=dicts/$target.dict")
    log=".build/fuzz-$target.log" start=$SECONDS status=0
    run "$target" "$log" "$fuzzer" "$target" "corpus/$target" "-runs=${FUZZ_RUNS:-1000000}" "-max_len=${max_len[$target]}" -timeout=10 \
        "${dict[@]}" -print_final_stats=1 "-artifact_prefix=$here/artifacts/$target/" "${options[@]}" || status=$?
    shopt -s nullglob
    artifacts=("artifacts/$target"/{crash,timeout,oom,leak}-*)
    shopt -u nullglob
    executions=$(sed -En 's/^stat::number_of_executed_units: *([0-9]+).*/\1/p' "$log" | tail -1)
    summary+=("$(printf '%-10s %10s executions in %5d s (%s exec/s)' "$target" "${executions:-?}" $((SECONDS - start)) \
        "$([[ -n $executions ]] && echo $((executions / (SECONDS - start > 0 ? SECONDS - start : 1))) || echo ?)")")
    if ((status != 0 || ${#artifacts[@]} > 0)); then
        for artifact in "${artifacts[@]}"; do
            echo "==> [$target] $artifact (hex): $(od -An -v -tx1 "$artifact" | tr -d ' \n')"
        done
        failed+=("$target")
    fi
done

echo "==> summary:"
printf '    %s\n' "${summary[@]}"
if ((${#failed[@]} > 0)); then
    echo "==> FAILED: ${failed[*]}; fix the bug, then add the input as a regression test (README.md)" >&2
    exit 1
fi
