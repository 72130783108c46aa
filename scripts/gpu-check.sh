#!/usr/bin/env bash
# kairo's GPU check: runs from a bundle made by scripts/gpu-bundle.sh, on a
# Linux x86-64 machine with a GPU and a Vulkan driver, without a Rust
# toolchain or network, in under 8 minutes (every step has its own timeout
# and the whole run a deadline; a step that hangs is reported as timed out).
#
#   scripts/gpu-check.sh [--dry-run] [BUNDLE] [OUT]
#     BUNDLE  default: the folder this script is in if it holds payload.tar.xz, else gpu-bundle/
#             (a first argument without payload.tar.xz in it is taken as OUT)
#     OUT     default: gpu-check-out/<UTC date and time>; OUT.tar.gz is written beside it
#   --dry-run (or KAIRO_GPU_CHECK_DRY=1): matmul at 256³ and 512³ instead of
#     2048³ and 4096³, fewer repetitions, a longer deadline: the same steps on
#     a software adapter (CI runs it on lavapipe).
#
# KAIRO_GPU_CHECK_ONLY=<regex> runs only the steps whose names match
# (info, info-kernels, test-<name>, bench-matmul, bench-matmul-variants,
# bench-rnn, bench-ctc, bench-dcgan, bench-speech), e.g. '^bench-' to redo the figures.
#
# OUT gets: env.log (machine, driver, Vulkan loader and ICDs), info.log and
# info-kernels.log (`kairo info`, `kairo info --kernels`), test-<name>.log per
# test binary, bench-<group>.json and .log (matmul with --variants, rnn, ctc,
# dcgan, speech), steps.tsv, and summary.md (steps, tests, figures).
#
# No Vulkan loader? (`ldconfig -p | grep libvulkan` prints nothing.) The
# bundle carries Debian 12's libvulkan.so.1 and this script uses it by itself.
# To bring Debian's package instead, on any Debian/Ubuntu machine with network:
#   apt-get download libvulkan1            # libvulkan1_<version>_amd64.deb
# copy the .deb over and, on the GPU machine:
#   dpkg -x libvulkan1_*_amd64.deb /       # as root; or unpack elsewhere:
#   dpkg -x libvulkan1_*_amd64.deb $HOME/vk && export LD_LIBRARY_PATH=$HOME/vk/usr/lib/x86_64-linux-gnu
# No driver found? NVIDIA containers may keep the ICD file outside the
# loader's search path; this script looks in /usr/local/nvidia/share/vulkan/icd.d
# and sets VK_DRIVER_FILES (and VK_ICD_FILENAMES, for older loaders) to it,
# or set them yourself: export VK_DRIVER_FILES=/path/to/nvidia_icd.json
set -uo pipefail

dry=${KAIRO_GPU_CHECK_DRY:-0}
pos=()
for a in "$@"; do
    case $a in
        --dry-run) dry=1 ;;
        -h|--help) sed -n '2,35p' "$0"; exit 0 ;;
        -*) echo "unknown option $a" >&2; exit 2 ;;
        *) pos+=("$a") ;;
    esac
done
# A first argument that holds payload.tar.xz is the bundle, any other the output.
here=$(cd "$(dirname "$0")" && pwd)
if [ -n "${pos[0]:-}" ] && [ -f "${pos[0]}/payload.tar.xz" ]; then
    BUNDLE=${pos[0]}; pos=("${pos[@]:1}")
elif [ -f "$here/payload.tar.xz" ]; then
    BUNDLE=$here
else
    BUNDLE=gpu-bundle
fi
OUT=${pos[0]:-gpu-check-out/$(date -u +%Y%m%d-%H%M%S)}
[ -f "$BUNDLE/payload.tar.xz" ] || { echo "no $BUNDLE/payload.tar.xz: build it with scripts/gpu-bundle.sh" >&2; exit 2; }
BUNDLE=$(cd "$BUNDLE" && pwd)
mkdir -p "$OUT" || exit 2
OUT=$(cd "$OUT" && pwd)

# Budgets in seconds: each step's own cap, all under one deadline (455 s
# from the start, so with the last kill (5 s after its timeout), unpacking
# and the summary the run ends inside 8 minutes). Full run:
# the caps add up to 470 s. A dry run on a software adapter (about 5 minutes
# on lavapipe with 2 cores) gets caps 3 times as long and 20 minutes in all.
if [ "$dry" = 1 ]; then
    budget=${KAIRO_GPU_CHECK_BUDGET:-1200}; scale=3
    matmul_args=(--sizes 256,512 --reps 3); model_reps=(--reps 2)
else
    budget=${KAIRO_GPU_CHECK_BUDGET:-455}; scale=1
    matmul_args=(--sizes 2048,4096); model_reps=()
fi
t0=$SECONDS
deadline=$((t0 + budget))
tests_deadline=$((t0 + 40 * scale + 170 * scale))   # info steps, then 170 s for all tests

: >"$OUT/steps.tsv"
failed=0
# step NAME CAP [--until T] CMD...: runs CMD with output in OUT/NAME.log under
# a timeout of CAP seconds (less if the deadline, or T, is nearer).
step() {
    local name=$1 cap=$(($2 * scale)) until=$deadline; shift 2
    if [ "$1" = --until ]; then until=$2; shift 2; fi
    if [ -n "${KAIRO_GPU_CHECK_ONLY:-}" ] && ! echo "$name" | grep -Eq "$KAIRO_GPU_CHECK_ONLY"; then
        return
    fi
    [ "$until" -gt "$deadline" ] && until=$deadline
    local left=$((until - SECONDS))
    [ "$left" -lt "$cap" ] && cap=$left
    if [ "$cap" -lt 3 ]; then
        printf '%s\tskipped\t0\tno time left\n' "$name" >>"$OUT/steps.tsv"
        echo "[skip] $name: no time left"; failed=1; return
    fi
    local s=$SECONDS rc
    timeout -k 5 "$cap" "$@" >"$OUT/$name.log" 2>&1
    rc=$?
    local took=$((SECONDS - s)) result
    case $rc in
        0) result=ok ;;
        124|137) result=timeout; echo "step $name timed out after ${cap} s" >>"$OUT/$name.log" ;;
        *) result="failed (exit $rc)" ;;
    esac
    [ "$rc" = 0 ] || failed=1
    printf '%s\t%s\t%s\t%s\n' "$name" "$result" "$took" "cap ${cap} s" >>"$OUT/steps.tsv"
    if [ "$result" = timeout ]; then
        echo "[TIMEOUT] $name: timed out after $cap s (log: $OUT/$name.log)"
    else
        echo "[$result] $name (${took} s)"
    fi
}

work=$(mktemp -d "${TMPDIR:-/tmp}/kairo-gpu-check.XXXXXX")
trap 'rm -rf "$work"' EXIT
xz=xz
if ! command -v xz >/dev/null 2>&1; then
    xz=$BUNDLE/tools/xz
    export LD_LIBRARY_PATH=$BUNDLE/tools/lib${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}
fi
echo "== unpacking $BUNDLE/payload.tar.xz"
"$xz" -dc "$BUNDLE/payload.tar.xz" | tar -C "$work" -xf - || { echo "cannot unpack the bundle" >&2; exit 2; }
(cd "$work" && grep -E '^[0-9a-f]{64}  ' "$BUNDLE/MANIFEST" | awk '{ print $1 "  " $3 }' | sha256sum --quiet -c -) ||
    { echo "the unpacked files do not match $BUNDLE/MANIFEST" >&2; exit 2; }
kairo=$work/bin/kairo

# Where the Vulkan loader and driver come from.
{
    echo "date: $(date -u +%Y-%m-%dT%H:%M:%SZ)   mode: $([ "$dry" = 1 ] && echo dry run || echo full)"
    echo "host: $(uname -srm); $(. /etc/os-release 2>/dev/null && echo "$PRETTY_NAME"); glibc $(ldd --version 2>/dev/null | head -n 1 | awk '{ print $NF }'); $(nproc) CPUs"
    sed -n '1,5p' "$BUNDLE/MANIFEST"
    if command -v nvidia-smi >/dev/null 2>&1; then
        timeout 20 nvidia-smi --query-gpu=name,driver_version,memory.total,clocks.max.sm --format=csv 2>&1
    fi
} >"$OUT/env.log"
loader=$( { ldconfig -p 2>/dev/null || true; } | grep 'libvulkan\.so\.1' | head -n 1)
ldpath=${LD_LIBRARY_PATH:-}
for d in ${ldpath//:/ }; do
    [ -z "$loader" ] && [ -e "$d/libvulkan.so.1" ] && loader="$d/libvulkan.so.1 (from LD_LIBRARY_PATH)"
done
if [ -n "$loader" ]; then
    echo "Vulkan loader: $loader" >>"$OUT/env.log"
elif [ -f "$work/lib/libvulkan.so.1" ]; then
    export LD_LIBRARY_PATH=$work/lib${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}
    echo "Vulkan loader: none in ldconfig -p; using the bundle's lib/libvulkan.so.1 (Debian 12's libvulkan1; see this script's header)" | tee -a "$OUT/env.log"
else
    echo "Vulkan loader: none found (see this script's header for how to bring libvulkan1)" | tee -a "$OUT/env.log"
fi
icds=$(ls /usr/share/vulkan/icd.d/*.json /etc/vulkan/icd.d/*.json /usr/local/share/vulkan/icd.d/*.json 2>/dev/null | tr '\n' ' ')
if [ -z "${VK_DRIVER_FILES:-}${VK_ICD_FILENAMES:-}" ] && ! echo "$icds" | grep -q nvidia &&
    [ -f /usr/local/nvidia/share/vulkan/icd.d/nvidia_icd.json ]; then
    export VK_DRIVER_FILES=/usr/local/nvidia/share/vulkan/icd.d/nvidia_icd.json VK_ICD_FILENAMES=/usr/local/nvidia/share/vulkan/icd.d/nvidia_icd.json
fi
echo "Vulkan ICD files: ${icds:-none}; VK_DRIVER_FILES=${VK_DRIVER_FILES:-} VK_ICD_FILENAMES=${VK_ICD_FILENAMES:-}" >>"$OUT/env.log"
env | grep -E '^(KAIRO_|LP_|VK_|LD_LIBRARY_PATH)' | sort >>"$OUT/env.log"
cat "$OUT/env.log"
export RUST_BACKTRACE=1
threads=${KAIRO_GPU_CHECK_THREADS:-$(( $(nproc) < 8 ? $(nproc) : 8 ))}

echo "== kairo info ($((deadline - SECONDS)) s left)"
step info 20 "$kairo" info
step info-kernels 20 "$kairo" info --kernels
grep -A4 '^\* ' "$OUT/info.log" 2>/dev/null

echo "== test binaries, --test-threads $threads"
mkdir -p "$work/run"
cd "$work/run" || exit 2   # the tests' working folder: nothing of a checkout
for t in "$work"/tests/*; do
    step "test-$(basename "$t")" 90 --until "$tests_deadline" "$t" --test-threads "$threads"
done
cd - >/dev/null || exit 2

echo "== benchmarks"
# The autotuned matmul first, on its own, so a slow variant cannot cost it.
step bench-matmul 40 "$kairo" bench --only matmul "${matmul_args[@]}" --json "$OUT/bench-matmul.json"
step bench-matmul-variants 100 "$kairo" bench --only matmul "${matmul_args[@]}" --variants --json "$OUT/bench-matmul-variants.json"
step bench-rnn 30 "$kairo" bench --only rnn "${model_reps[@]}" --json "$OUT/bench-rnn.json"
step bench-ctc 20 "$kairo" bench --only ctc "${model_reps[@]}" --json "$OUT/bench-ctc.json"
step bench-dcgan 40 "$kairo" bench --only dcgan "${model_reps[@]}" --json "$OUT/bench-dcgan.json"
step bench-speech 30 "$kairo" bench --only speech "${model_reps[@]}" --json "$OUT/bench-speech.json"

# summary.md: the steps, the tests' counts, the figures.
{
    echo "# kairo GPU check$([ "$dry" = 1 ] && echo ' (dry run)')"
    echo
    echo '```'
    cat "$OUT/env.log"
    echo
    cat "$OUT/info.log" 2>/dev/null
    echo '```'
    echo
    echo "| step | result | seconds | timeout |"
    echo "|---|---|---|---|"
    awk -F'\t' '{ print "| " $1 " | " $2 " | " $3 " | " $4 " |" }' "$OUT/steps.tsv"
    echo
    echo "| test binary | passed | failed | ignored |"
    echo "|---|---|---|---|"
    for log in "$OUT"/test-*.log; do
        [ -f "$log" ] || continue
        n=$(basename "$log" .log)
        awk -v n="${n#test-}" '/^test result:/ { for (i = 1; i <= NF; i++) { if ($i ~ /^passed/) p += $(i-1); if ($i ~ /^failed/) f += $(i-1); if ($i ~ /^ignored/) g += $(i-1) } r = 1 }
            END { if (r) print "| " n " | " p " | " f " | " g " |"; else print "| " n " | (no result line) | | |" }' "$log"
    done
    echo
    jsons=() logs=()
    for b in matmul matmul-variants rnn ctc dcgan speech; do
        if [ -f "$OUT/bench-$b.json" ]; then jsons+=("bench-$b.json"); elif [ -f "$OUT/bench-$b.log" ]; then logs+=("bench-$b.log"); fi
    done
    if command -v python3 >/dev/null 2>&1 && [ ${#jsons[@]} -gt 0 ]; then
        (cd "$OUT" && python3 "$BUNDLE/bench-summary.py" "${jsons[@]}") || echo "(bench-summary.py failed; the figures are in bench-*.json)"
    elif [ ${#jsons[@]} -gt 0 ]; then
        logs=("${jsons[@]/%.json/.log}" "${logs[@]}")
        echo "No python3 here: the figures as kairo bench printed them (the JSON files hold them too)."
    fi
    for log in "${logs[@]}"; do
        echo
        echo "\`$log\`$(awk -F'\t' -v n="${log%.log}" '$1 == n && $2 == "ok" { f = 1 } END { exit !f }' "$OUT/steps.tsv" || echo ' (the step did not finish; what it printed)'):"
        echo
        echo '```'
        cat "$OUT/$log"
        echo '```'
    done
    grep -q '^* .*, Cpu)$' "$OUT/info.log" 2>/dev/null && { echo; echo "**Note: the adapter kairo opened is a software (CPU) adapter.**"; }
} >"$OUT/summary.md"

tar -C "$(dirname "$OUT")" -czf "$OUT.tar.gz" "$(basename "$OUT")"
echo "== done in $((SECONDS - t0)) s: $OUT/summary.md, all of it in $OUT.tar.gz"
if [ "$failed" != 0 ]; then
    echo "some steps failed or timed out:"
    awk -F'\t' '$2 != "ok" { print "  " $1 ": " $2 }' "$OUT/steps.tsv"
    exit 1
fi
