#!/usr/bin/env bash
# The README's per-adapter figures, measured together in one run: the same
# jobs on every adapter reachable without a GPU, printed as one markdown
# table (rows: job, columns: adapter).
#
#   scripts/adapters.sh [--quick] [--adapters lp4,lp8,lp16,gl,swiftshader] [OUT]
#
# Jobs, on each adapter:
#   adding  the README's adding problem, `kairo train seq --task adding --cell
#           lstm --length 100`, for 200 steps (README: 2000) with a held-out
#           evaluation every 50: steps per second between the first and the last
#           evaluation (150 steps), so start-up and pipeline builds are left out
#   demo    `kairo demo`: wall seconds, start to end, and its accuracy
#   rnn     `kairo bench --only rnn`: ms of each entry
#   matmul  `kairo bench --only matmul --sizes 512,1024`: GFLOP/s of the autotuned choice
# Adapters: lavapipe Vulkan at 4, 8 and 16 lanes (LP_NATIVE_VECTOR_WIDTH=128,
# 256, 512), llvmpipe GL (KAIRO_BACKEND=gl), SwiftShader Vulkan (chromium's ICD).
# --quick: 40 adding steps (evaluation every 10), bench --reps 2, matmul at 512
# only: a check that the script works, not figures (~8 minutes here).
# ADDING_STEPS, BENCH_REPS and MATMUL_SIZES override those of either mode.
# A full run takes ~25 minutes on 2 cores (SwiftShader a third of it); run it on a quiet machine,
# since others' compiles skew the figures. Logs and JSON go to OUT (default
# adapters-out/<UTC date and time>), the table to OUT/table.md and stdout.
# Needs python3 and the release binary (built here if missing).
set -euo pipefail
cd "$(dirname "$0")/.."
quick=0
adapters=lp4,lp8,lp16,gl,swiftshader
out=
while [ $# -gt 0 ]; do
    case $1 in
        --quick) quick=1 ;;
        --adapters) adapters=$2; shift ;;
        -h|--help) sed -n '2,25p' "$0"; exit 0 ;;
        -*) echo "unknown option $1" >&2; exit 2 ;;
        *) out=$1 ;;
    esac
    shift
done
out=${out:-adapters-out/$(date -u +%Y%m%d-%H%M%S)}
mkdir -p "$out"
out=$(cd "$out" && pwd)
export XDG_RUNTIME_DIR="${XDG_RUNTIME_DIR:-/tmp/xdg-runtime}"
mkdir -p "$XDG_RUNTIME_DIR" && chmod 700 "$XDG_RUNTIME_DIR"

if [ "$quick" = 1 ]; then
    steps=40 every=10 reps=(--reps 2) sizes=512 cap=300
else
    steps=200 every=50 reps=() sizes=512,1024 cap=900
fi
# Overrides for a shorter run of the same jobs: ADDING_STEPS (evaluation
# every quarter of them), BENCH_REPS, MATMUL_SIZES.
steps=${ADDING_STEPS:-$steps}
[ -n "${ADDING_STEPS:-}" ] && every=$((steps / 4))
[ -n "${BENCH_REPS:-}" ] && reps=(--reps "$BENCH_REPS")
sizes=${MATMUL_SIZES:-$sizes}
cargo build --release --quiet --bin kairo
kairo=${CARGO_TARGET_DIR:-$PWD/target}/release/kairo
swiftshader=$({ dpkg -L chromium chromium-common 2>/dev/null || true; } | grep swiftshader_icd.json | head -n 1 || true)

# adapter_env NAME: the environment that selects adapter NAME.
adapter_env() {
    case $1 in
        lp4) echo KAIRO_BACKEND=vulkan LP_NATIVE_VECTOR_WIDTH=128 ;;
        lp8) echo KAIRO_BACKEND=vulkan LP_NATIVE_VECTOR_WIDTH=256 ;;
        lp16) echo KAIRO_BACKEND=vulkan LP_NATIVE_VECTOR_WIDTH=512 ;;
        lp32) echo KAIRO_BACKEND=vulkan LP_NATIVE_VECTOR_WIDTH=1024 ;;
        gl) echo KAIRO_BACKEND=gl ;;
        swiftshader)
            [ -n "$swiftshader" ] || { echo "no SwiftShader ICD (apt-get install chromium)" >&2; return 1; }
            echo KAIRO_BACKEND=vulkan VK_ICD_FILENAMES=$swiftshader ;;
        *) echo "unknown adapter $1 (lp4, lp8, lp16, lp32, gl, swiftshader)" >&2; return 1 ;;
    esac
}

# Every output line with the seconds since the start before it.
stamp() { python3 -u -c '
import sys, time
t0 = time.monotonic()
for line in sys.stdin:
    sys.stdout.write(f"{time.monotonic() - t0:.3f} {line}")
'; }

: >"$out/results.tsv"
# record ADAPTER JOB VALUE
record() { printf '%s\t%s\t%s\n' "$1" "$2" "$3" >>"$out/results.tsv"; }

for a in ${adapters//,/ }; do
    envs=$(adapter_env "$a")
    echo "== $a ($envs)"
    run() { env $envs timeout -k 5 "$cap" "$@"; }
    { run "$kairo" info || true; } | grep '^\* ' | sed "s/^\* //" | while read -r l; do record "$a" "_adapter" "$l"; done || true

    s=$SECONDS
    if run "$kairo" train seq --task adding --cell lstm --length 100 --steps "$steps" --eval-every "$every" 2>&1 |
        stamp >"$out/$a-adding.log"; then
        rate=$(awk '/step +[0-9]+: test MSE/ { sub(":", "", $3); if (n++ == 0) { t1 = $1; s1 = $3 } t2 = $1; s2 = $3 }
            END { if (t2 > t1) printf "%.2f", (s2 - s1) / (t2 - t1); else print "?" }' "$out/$a-adding.log")
        record "$a" "adding (LSTM, T 100): steps/s" "$rate"
    else
        record "$a" "adding (LSTM, T 100): steps/s" "failed"
    fi
    echo "   adding: $((SECONDS - s)) s"

    s=$SECONDS
    mkdir -p "$out/$a-demo"
    if (cd "$out/$a-demo" && run "$kairo" demo >"$out/$a-demo.log" 2>&1); then
        acc=$(grep -o 'training accuracy [0-9.]*%' "$out/$a-demo.log" | awk '{ print $3 }' || true)
        record "$a" "demo: seconds (MLP accuracy)" "$((SECONDS - s)) ($acc)"
    else
        record "$a" "demo: seconds (MLP accuracy)" "failed"
    fi
    echo "   demo: $((SECONDS - s)) s"

    for b in rnn matmul; do
        s=$SECONDS
        extra=()
        [ "$b" = matmul ] && extra=(--sizes "$sizes")
        if ! run "$kairo" bench --only "$b" "${extra[@]}" "${reps[@]}" --json "$out/$a-$b.json" >"$out/$a-$b.log" 2>&1; then
            record "$a" "bench $b" "failed"
        fi
        echo "   bench $b: $((SECONDS - s)) s"
    done
done

python3 - "$out" "$adapters" <<'EOF' | tee "$out/table.md"
import json, os, sys
out, adapters = sys.argv[1], sys.argv[2].split(",")
cells, rows, names = {}, [], {}
def put(a, job, v):
    if job not in rows:
        rows.append(job)
    cells[(job, a)] = v
for line in open(os.path.join(out, "results.tsv")):
    a, job, v = line.rstrip("\n").split("\t")
    if job == "_adapter":
        names[a] = v
    else:
        put(a, job, v)
for a in adapters:
    for b in ("rnn", "matmul"):
        p = os.path.join(out, f"{a}-{b}.json")
        if not os.path.exists(p):
            continue
        for r in json.load(open(p))["results"]:
            s = r["sizes"]
            if r.get("gflops") is not None:
                put(a, f"{r['name']} {s['m']}³: GFLOP/s (variant)", f"{r['gflops']:.1f} ({r.get('variant', '')})")
            else:
                put(a, f"{r['name']}: ms", f"{r['ms']:.1f}")
print("| job | " + " | ".join(adapters) + " |")
print("|---" * (len(adapters) + 1) + "|")
for job in rows:
    print(f"| {job} | " + " | ".join(cells.get((job, a), "") for a in adapters) + " |")
print()
for a in adapters:
    print(f"- {a}: {names.get(a, '?')}")
EOF
