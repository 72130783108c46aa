#!/usr/bin/env bash
# CI: bounded fuzzing of every parser that reads user files (safetensors
# loader, WAV reader, speech manifest, image loading), on the stable
# toolchain. tests/fuzz.rs holds the in-process fuzzer: a seeded mutation
# loop over valid seed files with each call under catch_unwind.
#
#   KAIRO_FUZZ_SECONDS  time per target and fuzzer (default 45; four targets)
#   KAIRO_FUZZ_SEED     mutation seed (default: a new one per run, printed)
#   KAIRO_FUZZ_OUT      where crashing inputs go (default target/fuzz-crashes)
#
# A panic fails the run and leaves its input in KAIRO_FUZZ_OUT; an abort
# (say, an allocation too large) fails it too and leaves the input as
# $TMPDIR/kairo-fuzz-<pid>-<target>/input.*. Rerun one
# target with the printed seed to reproduce it, e.g.
#   KAIRO_FUZZ_SEED=123 cargo test --test fuzz -- --ignored --exact fuzz_wav
set -euo pipefail
cd "$(dirname "$0")/.."

export KAIRO_FUZZ_SECONDS="${KAIRO_FUZZ_SECONDS:-45}"
export KAIRO_FUZZ_SEED="${KAIRO_FUZZ_SEED:-$(( $(date +%s) ^ $$ ))}"
export KAIRO_FUZZ_OUT="${KAIRO_FUZZ_OUT:-$PWD/target/fuzz-crashes}"
# The in-process runs leave their seed files here for cargo fuzz.
export KAIRO_FUZZ_CORPUS="$PWD/fuzz/corpus"
export XDG_RUNTIME_DIR="${XDG_RUNTIME_DIR:-/tmp/xdg-runtime}"
mkdir -p "$XDG_RUNTIME_DIR" && chmod 700 "$XDG_RUNTIME_DIR"

echo "== fuzzing: ${KAIRO_FUZZ_SECONDS}s per target, seed ${KAIRO_FUZZ_SEED}"
cargo test --test fuzz --no-run
status=0
for target in fuzz_safetensors fuzz_wav fuzz_manifest fuzz_images; do
    # A hard limit per target as well: an input that hangs fails the run.
    if ! timeout $(( KAIRO_FUZZ_SECONDS + 120 )) \
        cargo test --test fuzz -- --ignored --exact "$target" --nocapture; then
        echo "!! $target failed (seed ${KAIRO_FUZZ_SEED}); inputs in ${KAIRO_FUZZ_OUT}" >&2
        status=1
    fi
done

# Coverage-guided runs of the same targets (fuzz/) where cargo-fuzz is
# installed (`cargo install cargo-fuzz`); stable toolchains need
# RUSTC_BOOTSTRAP=1 for its -Z flags. No sanitizer: kairo is safe Rust, and
# the Vulkan driver is not instrumented. KAIRO_FUZZ_LIBFUZZER=0 skips them.
if [ "${KAIRO_FUZZ_LIBFUZZER:-1}" != 0 ] && cargo fuzz --version >/dev/null 2>&1; then
    echo "== libFuzzer (cargo fuzz): ${KAIRO_FUZZ_SECONDS}s per target"
    pushd fuzz >/dev/null
    for target in safetensors wav manifest images; do
        if ! RUSTC_BOOTSTRAP=1 cargo fuzz run -s none "$target" -- \
            -max_total_time="$KAIRO_FUZZ_SECONDS" -max_len=65536 -rss_limit_mb=4096 -timeout=30; then
            echo "!! cargo fuzz $target failed; input in fuzz/artifacts/$target" >&2
            status=1
        fi
    done
    popd >/dev/null
fi
exit $status
