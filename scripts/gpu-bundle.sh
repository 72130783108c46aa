#!/usr/bin/env bash
# Builds the GPU-check bundle: everything scripts/gpu-check.sh needs on a
# Linux machine with a GPU and a Vulkan driver but no Rust toolchain and no
# network. Usage: scripts/gpu-bundle.sh [DIR]   (default gpu-bundle/)
#
# DIR holds
#   gpu-check.sh, bench-summary.py   the check and its figure formatter
#   payload.tar.xz                   bin/kairo and tests/<name>, the release
#                                    test binaries of the kernel, gradient and
#                                    training tests (stripped), lib/libvulkan.so.1
#   tools/xz, tools/lib/liblzma.so.5 to unpack it where xz-utils is missing
#   MANIFEST                         commit, toolchain, glibc, sha256 of every file
# The stripped binaries come to ~140 MB, but they share most of their code,
# so xz with a dictionary larger than the whole tar (192 MiB) packs them into
# ~13 MB (preset 1: ~20 s here; gzip -9 would give 55 MB). DIR must stay
# under 60 MiB: the device machines take 64 MiB of working tree in all.
set -euo pipefail
cd "$(dirname "$0")/.."
DIR=${1:-gpu-bundle}
# DIR is replaced: refuse a folder that holds anything but an earlier bundle.
if [ -d "$DIR" ] && [ -n "$(ls -A "$DIR")" ] && [ ! -f "$DIR/MANIFEST" ]; then
    echo "$DIR exists and is not a bundle; give an empty or new folder" >&2
    exit 2
fi
LIMIT_MIB=60

# The kernel, gradient and training tests of .ci/run's adapter matrix
# (scripts/kernel-tests.txt), plus pipelines (every entry point builds).
# Tests that read the checkout (shaders.rs, speech.rs, pytorch_weights.rs) or
# run the kairo binary by its build path (cli_validation, engine, text,
# gan_judge) are not in the list.
TESTS=()
while read -r t; do TESTS+=("$t"); done < <(grep -v "^#" scripts/kernel-tests.txt)
TESTS+=(pipelines)

args=()
for t in "${TESTS[@]}"; do args+=(--test "$t"); done
json=$(mktemp)
stage=$(mktemp -d)
trap 'rm -rf "$json" "$stage"' EXIT

echo "== cargo test --release --no-run (${#TESTS[@]} test binaries and the kairo binary)"
start=$SECONDS
cargo test --release --no-run --message-format=json-render-diagnostics "${args[@]}" >"$json"
echo "   built in $((SECONDS - start)) s"

# name<TAB>kind<TAB>path of every executable cargo reported.
if command -v python3 >/dev/null 2>&1; then
    list=$(python3 -c '
import json, sys
for line in open(sys.argv[1]):
    m = json.loads(line)
    if m.get("reason") == "compiler-artifact" and m.get("executable"):
        print(m["target"]["name"], m["target"]["kind"][0], m["executable"], sep="\t")
' "$json")
elif command -v jq >/dev/null 2>&1; then
    list=$(jq -r 'select(.reason == "compiler-artifact" and .executable != null)
        | [.target.name, .target.kind[0], .executable] | @tsv' "$json")
else
    echo "gpu-bundle.sh needs python3 or jq to read cargo's JSON" >&2
    exit 1
fi

mkdir -p "$stage/bin" "$stage/tests" "$stage/lib"
while IFS=$'\t' read -r name kind path; do
    case $kind in
        bin) [ "$name" = kairo ] && strip -o "$stage/bin/kairo" "$path" ;;
        test) strip -o "$stage/tests/$name" "$path" ;;
    esac
done <<<"$list"
[ -x "$stage/bin/kairo" ] || { echo "cargo reported no kairo binary" >&2; exit 1; }
for t in "${TESTS[@]}"; do
    [ -x "$stage/tests/$t" ] || { echo "cargo reported no test binary for $t" >&2; exit 1; }
done

# The Vulkan loader (it needs only libc), used where the GPU machine has none.
vulkan=$( { ldconfig -p 2>/dev/null || true; } | awk '/libvulkan\.so\.1 .*x86-64/ { print $NF; exit }')
if [ -n "$vulkan" ]; then
    cp -L "$vulkan" "$stage/lib/libvulkan.so.1"
else
    echo "note: no libvulkan.so.1 here to carry along; the GPU machine must have its own" >&2
fi

rm -rf "$DIR"
mkdir -p "$DIR/tools/lib"
start=$SECONDS
tar -C "$stage" -cf - bin tests lib | xz -T1 --lzma2=preset=1,dict=192MiB >"$DIR/payload.tar.xz"
echo "   packed in $((SECONDS - start)) s"
xz_bin=$(command -v xz)
cp -L "$xz_bin" "$DIR/tools/xz"
lzma=$(ldd "$xz_bin" | awk '/liblzma/ { print $3 }')
[ -n "$lzma" ] && cp -L "$lzma" "$DIR/tools/lib/"
cp scripts/gpu-check.sh scripts/bench-summary.py "$DIR/"

{
    echo "kairo GPU-check bundle"
    echo "commit: $(git rev-parse HEAD 2>/dev/null || echo unknown)$(git diff --quiet HEAD 2>/dev/null || echo ' (with uncommitted changes)')"
    echo "built: $(date -u +%Y-%m-%dT%H:%M:%SZ) on $(uname -m), $(. /etc/os-release 2>/dev/null && echo "$PRETTY_NAME")"
    echo "toolchain: $(rustc -V)"
    echo "needs: glibc >= $(ldd --version | head -n 1 | awk '{ print $NF }') (the binaries link the build machine's)"
    echo "tests: ${TESTS[*]}"
    echo
    echo "# sha256 and size of every file in payload.tar.xz"
    (cd "$stage" && find bin tests lib -type f | sort | while read -r f; do
        printf '%s  %s  %s\n' "$(sha256sum "$f" | cut -d' ' -f1)" "$(stat -c %s "$f")" "$f"
    done)
} >"$DIR/MANIFEST"

raw=$(du -sb "$stage" | cut -f1)
total=$(du -sb "$DIR" | cut -f1)
echo "== $DIR: $((total / 1024 / 1024)) MiB ($total bytes; the binaries unpacked: $((raw / 1024 / 1024)) MiB)"
if [ "$total" -gt $((LIMIT_MIB * 1024 * 1024)) ]; then
    echo "$DIR is over $LIMIT_MIB MiB" >&2
    exit 1
fi
