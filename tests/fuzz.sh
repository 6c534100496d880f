#!/usr/bin/env bash
# Fuzz smoke run: builds every cargo-fuzz target in fuzz/ and runs each for a bounded time.
# Fails on any crash, leak, timeout or OOM. Usage: tests/fuzz.sh [seconds-per-target, default 10]
#
# cargo-fuzz needs nightly-only rustc flags (-Zsanitizer=address); RUSTC_BOOTSTRAP=1 lets the
# stable toolchain accept them. Corpora go to fuzz/corpus/<target> (ignored by git), seeded from
# fuzz/seeds/<target> when present; crashes to fuzz/artifacts/<target>.
set -euo pipefail
cd "$(dirname "$0")/.."
SECS="${1:-10}"
export RUSTC_BOOTSTRAP=1

if ! command -v cargo-fuzz >/dev/null 2>&1; then
    echo "== installing cargo-fuzz"
    cargo install cargo-fuzz --locked
fi

start=$(date +%s)
echo "== building fuzz targets"
cargo fuzz build -O
echo "== build took $(( $(date +%s) - start ))s"

failed=()
for target in $(cargo fuzz list); do
    corpus="fuzz/corpus/$target"
    mkdir -p "$corpus"
    seeds=()
    [ -d "fuzz/seeds/$target" ] && seeds=("fuzz/seeds/$target")
    log="fuzz/target/smoke-$target.log"
    if cargo fuzz run -O "$target" "$corpus" "${seeds[@]}" -- \
        -max_total_time="$SECS" -rss_limit_mb=2048 -timeout=10 -max_len=65536 \
        -print_final_stats=1 >"$log" 2>&1; then
        status=ok
    else
        status=FAILED
        failed+=("$target")
    fi
    execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -1)
    speed=$(sed -n 's/^stat::average_exec_per_sec: *//p' "$log" | tail -1)
    printf '%-20s %-6s execs=%-9s exec/s=%-7s corpus=%s files\n' \
        "$target" "$status" "${execs:-?}" "${speed:-?}" "$(ls "$corpus" | wc -l)"
    if [ "$status" = FAILED ]; then
        grep -A40 -E "^==[0-9]+==ERROR|panicked|SUMMARY" "$log" | head -60 || tail -40 "$log"
    fi
done

echo "== total $(( $(date +%s) - start ))s"
if [ ${#failed[@]} -gt 0 ]; then
    echo "FAILED: ${failed[*]} (inputs in fuzz/artifacts/<target>/)"
    exit 1
fi
echo "all fuzz targets ok"
