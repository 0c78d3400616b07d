#!/usr/bin/env bash
# Fuzz every target in fuzz/ for a few seconds each: a smoke run for CI (docs/fuzzing.md).
#
#   scripts/test/fuzz-smoke.sh [SECONDS_PER_TARGET] [TARGET...]     # default: 10 s, every target
#
# Builds the targets once with cargo-fuzz (libFuzzer, no sanitizer: that is what works on stable Rust),
# then runs each binary from the seed corpus in fuzz/corpus/<target>; new inputs go to a temporary folder,
# so the committed corpus stays small. A crash leaves its input in fuzz/artifacts/<target>/ and fails the
# run: add that input to fuzz/regressions/<target>/ with the fix.
#
# Where cargo-fuzz cannot run (not installed, no C++ compiler for libFuzzer, not x86_64/aarch64 Linux),
# it says why and exits 0: tests/fuzz_regressions.rs still replays every corpus and crash input there.
#
# Environment: FUZZ_TARGET_DIR (default fuzz/target), the build folder; FUZZ_SEED (default 1), libFuzzer's
# random seed. A fixed seed makes the smoke run a reproducible gate: the inputs it tries are the same
# sequence on every run (how far it gets depends on the machine's speed), so CI cannot fail on a clean
# commit because a new random walk found an old bug. To explore, set FUZZ_SEED=0 (a new seed each run)
# and give it minutes per target. Each target runs as one process (libFuzzer's default), so the run takes
# one core.
set -euo pipefail

seconds=${1:-10}
shift || true
root=$(cd "$(dirname "$0")/../.." && pwd)
target_dir=${FUZZ_TARGET_DIR:-$root/fuzz/target}
seed=${FUZZ_SEED:-1}

skip() {
    echo "fuzz-smoke: skipped: $*" >&2
    exit 0
}

case "$(uname -s)/$(uname -m)" in
    Linux/x86_64 | Linux/aarch64) ;;
    *) skip "libFuzzer builds here only on x86_64 or aarch64 Linux, not $(uname -s)/$(uname -m)" ;;
esac
command -v cargo-fuzz >/dev/null || skip "cargo-fuzz is not installed (cargo install cargo-fuzz)"
command -v c++ >/dev/null || skip "no C++ compiler (c++) to build libFuzzer"

cd "$root"
# The fuzz crate is its own workspace: start its lock from the main one, so that fuzzing runs the same
# dependency versions as the program (cargo only adds libfuzzer-sys and its few dependencies).
cp Cargo.lock fuzz/Cargo.lock
if [ $# -gt 0 ]; then
    targets=("$@")
else
    mapfile -t targets < <(cargo fuzz list --fuzz-dir fuzz)
fi

started=$(date +%s)
# `-s none`: the address sanitizer needs nightly's -Zsanitizer; Rust code is memory-safe without it, and
# the panics, stack overflows, hangs and allocations this hunts for are caught by libFuzzer itself.
build() {
    cargo fuzz build --fuzz-dir fuzz -s none --target-dir "$target_dir" "$@" >"$target_dir/fuzz-smoke-build.log" 2>&1 ||
        { tail -n 30 "$target_dir/fuzz-smoke-build.log" >&2; echo "fuzz-smoke: the build failed" >&2; exit 1; }
}
mkdir -p "$target_dir"
if [ $# -gt 0 ]; then
    for target in "${targets[@]}"; do build "$target"; done
else
    build
fi
built=$(date +%s)
echo "fuzz-smoke: built ${#targets[@]} targets in $((built - started)) s"

bin_dir="$target_dir/$(rustc -vV | sed -n 's/^host: //p')/release"
scratch=$(mktemp -d)
trap 'rm -rf "$scratch"' EXIT
failed=()
for target in "${targets[@]}"; do
    mkdir -p "$scratch/$target" "fuzz/artifacts/$target"
    log="$scratch/$target.log"
    dict=()
    case "$target" in requirements | marker | metadata) dict=(-dict=fuzz/marker.dict) ;; esac
    # -timeout: one input taking 10 s is a hang; -rss_limit_mb: the readers cap what they allocate far
    # below 2 GB, so going past it is a bug.
    if "$bin_dir/$target" -max_total_time="$seconds" -seed="$seed" -timeout=10 \
        -rss_limit_mb=2048 -print_final_stats=1 "${dict[@]}" -artifact_prefix="fuzz/artifacts/$target/" \
        "$scratch/$target" "fuzz/corpus/$target" >"$log" 2>&1; then
        runs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -n 1)
        echo "fuzz-smoke: $target: ${runs:-?} runs in ${seconds} s (seed $seed), no crash"
    else
        echo "fuzz-smoke: $target: CRASH, input in fuzz/artifacts/$target/:" >&2
        grep -E '^(==|thread|SUMMARY|Test unit written)' "$log" | head -n 20 >&2 || tail -n 30 "$log" >&2
        failed+=("$target")
    fi
done
echo "fuzz-smoke: fuzzed for $(($(date +%s) - built)) s; ${#failed[@]} of ${#targets[@]} targets crashed"
[ "${#failed[@]}" -eq 0 ]
