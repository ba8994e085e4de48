#!/usr/bin/env bash
# `make fuzz`: builds the libFuzzer harness (Sources/CarrierFuzz) and fuzzes the datagram path.
#
#   FUZZ_RUNS=1000000              executions (libFuzzer -runs)
#   FUZZ_SANITIZE=fuzzer,address   use "fuzzer" alone if ASan gets in the way
#   FUZZ_CONFIG=release            or debug
#   Other arguments go to libFuzzer (`run.sh -jobs=2`); files given (`run.sh crash-<sha1>`) are
#   replayed once each instead of fuzzing.
#
# The working corpus is corpus/ (ignored by git), seeded from seeds/ (committed). A crash is saved as
# crash-<sha1> here and makes this script exit non-zero; see README.md for turning it into a test.
set -euo pipefail

options=() inputs=()
for argument in "$@"; do
    if [[ $argument != -* && -f $argument ]]; then inputs+=("$(realpath "$argument")"); else options+=("$argument"); fi
done

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
cd "$here"

build=(swift build -c "${FUZZ_CONFIG:-release}" -Xswiftc "-sanitize=${FUZZ_SANITIZE:-fuzzer,address}" -Xswiftc -parse-as-library)
echo "==> ${build[*]}"
"${build[@]}"
fuzzer="$("${build[@]}" --show-bin-path)/CarrierFuzz"

if ((${#inputs[@]} > 0)); then
    command=("$fuzzer" "${options[@]}" "${inputs[@]}")
else
    mkdir -p corpus
    for seed in seeds/*; do
        [[ -e "corpus/${seed##*/}" ]] || cp "$seed" corpus/
    done
    # 1912 bytes = the largest datagram a node accepts (IPv4: 1400 + 512).
    command=("$fuzzer" corpus "-runs=${FUZZ_RUNS:-1000000}" -max_len=1912 -timeout=10
             -dict=boson.dict -print_final_stats=1 "-artifact_prefix=$here/" "${options[@]}")
fi

# Swift's in-process backtracer trips ASan (a false heap-buffer-overflow in its memory reader), so
# leave crash reports to libFuzzer; its stack is demangled below.
export SWIFT_BACKTRACE="${SWIFT_BACKTRACE:-enable=no}"
log="$here/.build/fuzz.log"
echo "==> ${command[*]}"
start=$SECONDS
status=0
"${command[@]}" 2>&1 | tee "$log" || status=$?
echo "==> libFuzzer exited with status $status after $((SECONDS - start)) s (log: $log)"
if ((status != 0)); then
    echo "==> the failure, demangled:"
    sed -En '/Fatal error|ERROR: /,/^SUMMARY/p' "$log" | swift demangle --simplified
fi
((${#inputs[@]} == 0)) || exit "$status"

shopt -s nullglob
artifacts=(crash-* timeout-* oom-* leak-*)
if ((status != 0 || ${#artifacts[@]} > 0)); then
    for artifact in "${artifacts[@]}"; do
        echo "==> $artifact (hex): $(od -An -v -tx1 "$artifact" | tr -d ' \n')"
    done
    echo "==> FAILED: fix the bug, then add the input as a regression test (README.md)" >&2
    exit $((status != 0 ? status : 1))
fi
