#!/usr/bin/env bash
# Runs every fuzz target in fuzz/ for a bounded time; fails on any crash, panic, timeout or OOM.
#
#   tests/fuzz.sh [SECONDS-PER-TARGET] [--asan] [TARGET...]
#
# Default: 5 s per target, no sanitizer: the CI smoke run of tests/run.sh. `--asan` adds
# AddressSanitizer (what `cargo fuzz run` does) for longer runs by hand (README "Test").
#
# Why not `cargo fuzz`: a fresh CI machine has neither cargo-fuzz (2m47s to install) nor time for
# an ASan build of every dependency with one codegen unit (~8 min on 2 cores). The targets are
# ordinary libfuzzer-sys binaries, so plain `cargo build` with the coverage flags cargo-fuzz
# passes (SanitizerCoverage: 8-bit counters, PC table, compare tracing, stack depth; `--cfg
# fuzzing`; debug assertions and overflow checks) builds the same fuzzers. Without ASan they still
# catch every panic (the targets assert their invariants), arithmetic overflow, timeout and OOM;
# what only ASan sees is memory misuse in unsafe or C code (ring's C and assembly), so long runs
# use it. The flags are stable rustc options except -Zsanitizer, for which RUSTC_BOOTSTRAP=1 lets
# the stable toolchain accept it.
#
# Corpora: fuzz/corpus/<target> (ignored by git) grows across runs; the committed seeds in
# fuzz/seeds/<target> are read too, never written. Crashes go to fuzz/artifacts/<target>/.
# Build output: $FUZZ_TARGET_DIR (default fuzz/target)/{smoke,asan}.
set -euo pipefail
cd "$(dirname "$0")/.."

secs=5
sanitizer=none
targets=()
for arg in "$@"; do
    case "$arg" in
    --asan) sanitizer=address ;;
    [0-9]*) secs="$arg" ;;
    *) targets+=("$arg") ;;
    esac
done

triple=$(rustc -vV | sed -n 's/^host: //p')
flags=(
    -Cpasses=sancov-module
    -Cllvm-args=-sanitizer-coverage-level=4
    -Cllvm-args=-sanitizer-coverage-inline-8bit-counters
    -Cllvm-args=-sanitizer-coverage-pc-table
    -Cllvm-args=-sanitizer-coverage-trace-compares
    -Cllvm-args=-sanitizer-coverage-stack-depth
    -Cllvm-args=-simplifycfg-branch-fold-threshold=0
    --cfg fuzzing
    -Cdebug-assertions
    -Coverflow-checks
)
mode=smoke
if [ "$sanitizer" = address ]; then
    mode=asan
    flags+=(-Zsanitizer=address)
    export RUSTC_BOOTSTRAP=1
    # cargo-fuzz's default: ODR checks misfire on Rust's duplicated symbols.
    export ASAN_OPTIONS="${ASAN_OPTIONS:-detect_odr_violation=0}"
fi
target_dir="${FUZZ_TARGET_DIR:-fuzz/target}/$mode"

start=$(date +%s)
echo "== building fuzz targets ($mode, $target_dir)"
# --target: RUSTFLAGS then apply to the fuzzers only, not to build scripts and proc macros.
# Locked to fuzz/Cargo.lock; build output only (no cargo-fuzz metadata needed).
RUSTFLAGS="${flags[*]}" cargo build --manifest-path fuzz/Cargo.toml --locked --release \
    --config 'profile.release.debug="line-tables-only"' \
    --target "$triple" --target-dir "$target_dir" --bins
built=$(date +%s)
echo "== build took $((built - start))s"

if [ ${#targets[@]} -eq 0 ]; then
    mapfile -t targets < <(sed -n 's/^name = "\(.*\)"$/\1/p' fuzz/Cargo.toml | grep -v '^dane-exporter-fuzz$')
fi
bin_dir="$target_dir/$triple/release"
mkdir -p fuzz/logs
failed=()
for target in "${targets[@]}"; do
    corpus="fuzz/corpus/$target"
    artifacts="fuzz/artifacts/$target"
    mkdir -p "$corpus" "$artifacts"
    seeds=()
    [ -d "fuzz/seeds/$target" ] && seeds=("fuzz/seeds/$target")
    log="fuzz/logs/$mode-$target.log"
    if "$bin_dir/$target" "$corpus" "${seeds[@]}" \
        -artifact_prefix="$artifacts/" -max_total_time="$secs" -rss_limit_mb=2048 -timeout=10 \
        -max_len=65536 -print_final_stats=1 >"$log" 2>&1; then
        status=ok
    else
        status=FAILED
        failed+=("$target")
    fi
    execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -1)
    speed=$(sed -n 's/^stat::average_exec_per_sec: *//p' "$log" | tail -1)
    printf '%-18s %-6s execs=%-9s exec/s=%-7s corpus=%s files, %s KiB\n' \
        "$target" "$status" "${execs:-?}" "${speed:-?}" "$(find "$corpus" -type f | wc -l)" \
        "$(du -sk "$corpus" | cut -f1)"
    if [ "$status" = FAILED ]; then
        grep -A40 -E "^==[0-9]+==ERROR|panicked|SUMMARY|deadly signal" "$log" | head -60 || tail -40 "$log"
    fi
done

echo "== fuzzing took $(($(date +%s) - built))s, total $(($(date +%s) - start))s"
if [ ${#failed[@]} -gt 0 ]; then
    echo "FAILED: ${failed[*]} (inputs in fuzz/artifacts/<target>/, logs in fuzz/logs/)"
    exit 1
fi
echo "all fuzz targets ok"
