#!/usr/bin/env bash
# The page's training steps in headless Chromium (WebGPU on SwiftShader here)
# beside native kairo on SwiftShader Vulkan and on lavapipe, in one run:
# the adding problem (LSTM, T 50, hidden 64, batch 64) and the DCGAN default
# configuration (32×32 RGB, ngf = ndf = 32, batch 64). Also the wasm size
# and the page's first-load time. Needs the built page (scripts/web-build.sh),
# Chromium, mesa-vulkan-drivers and a release kairo binary.
#
#   scripts/web-bench.sh [ADDING_STEPS] [GAN_ITERS]     (default 40, 12)
#
# KAIRO_CHROMIUM_FLAGS adds browser flags, e.g.
# --enable-dawn-features=disable_robustness,skip_validation to see what
# Dawn's bounds checks and validation cost (never for users).
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
steps=${1:-40}
iters=${2:-12}
kairo=${KAIRO_BIN:-target/release/kairo}
[ -x "$kairo" ] || cargo build --release --bin kairo
swiftshader=$({ dpkg -L chromium chromium-common 2>/dev/null || true; } | grep swiftshader_icd.json | head -n 1 || true)
[ -n "$swiftshader" ] || { echo "web-bench: Chromium's SwiftShader ICD not found (apt-get install chromium)"; exit 1; }
out=$(mktemp -d)
trap 'kill $(jobs -p) 2>/dev/null || true; rm -rf "$out"' EXIT

"$kairo" serve-web --addr 127.0.0.1:0 --report-to "$out/reports.jsonl" > "$out/serve.log" 2>&1 &
for _ in $(seq 50); do grep -q 'http://' "$out/serve.log" && break; sleep 0.2; done
url=$(grep -o 'http://[0-9.:]*/' "$out/serve.log")

browse() {  # $1: query; waits for the page's report
  local before
  before=$(wc -l < "$out/reports.jsonl" 2>/dev/null || echo 0)
  rm -rf "$out/profile"
  chromium --headless=new --enable-unsafe-webgpu --no-sandbox --disable-gpu-sandbox --no-first-run \
    --disable-background-networking --disable-component-update --disable-sync --disable-dev-shm-usage \
    --disable-background-timer-throttling --disable-renderer-backgrounding \
    ${KAIRO_CHROMIUM_FLAGS:-} --user-data-dir="$out/profile" "$url?$1" > /dev/null 2>&1 &
  local pid=$!
  for _ in $(seq 1800); do
    [ "$(wc -l < "$out/reports.jsonl" 2>/dev/null || echo 0)" -gt "$before" ] && break
    sleep 0.5
  done
  kill $pid 2>/dev/null || true
  wait $pid 2>/dev/null || true
}

browse "test=adding&steps=$steps&length=50&hidden=64&batch=64"
browse "test=gan&iters=$iters&image_size=32&channels=3&ngf=32&ndf=32&batch=64"
VK_ICD_FILENAMES=$swiftshader KAIRO_BACKEND=vulkan "$kairo" bench --only jobs --reps 5 --json "$out/swiftshader.json" > /dev/null
"$kairo" bench --only jobs --reps 5 --json "$out/lavapipe.json" > /dev/null

python3 - "$out" "$root/web/dist/pkg/kairo_web_bg.wasm" <<'PY'
import gzip, json, os, sys
out, wasm = sys.argv[1], sys.argv[2]
reports = [json.loads(l) for l in open(f"{out}/reports.jsonl")]
web = {r["test"]: r for r in reports}
for r in reports:
    if "error" in r: sys.exit(f"web-bench: the page failed: {r['error']}")
def native(name):
    j = json.load(open(f"{out}/{name}.json"))
    return j["adapter"]["name"], {r["name"]: r["sizes"]["steps_per_s"] for r in j["results"]}
ss_name, ss = native("swiftshader")
lp_name, lp = native("lavapipe")
a = web["adding"]["adapter"]
print(f"browser: headless Chromium, WebGPU adapter {a['adapter']!r} (vendor {a['vendor']!r}, {a['device_type']}), "
      f"page ready in {web['adding']['load_ms']:.0f} ms")
size = os.path.getsize(wasm)
print(f"wasm: {size/1024:.0f} KiB, {len(gzip.compress(open(wasm,'rb').read(), 9))/1024:.0f} KiB gzipped")
print()
print(f"| steps/s | browser (SwiftShader WebGPU) | native SwiftShader Vulkan | native {lp_name} | browser ÷ native SwiftShader |")
print("|---|---|---|---|---|")
for test, bench, label in [("adding", "adding_train_step", "adding problem, LSTM T 50 H 64 B 64"),
                           ("gan", "gan_iteration", "DCGAN default (32×32 RGB, ngf = ndf = 32, batch 64)")]:
    w = web[test]["steps_per_s"]
    print(f"| {label} | {w:.2f} | {ss[bench]:.2f} | {lp[bench]:.2f} | {ss[bench] / w:.2f}× the time |")
print()
print(f"browser step kernel tuning: {web['adding'].get('tuned')}")
print(f"browser first chunk (compiles every pipeline): adding {web['adding']['first_chunk_s']:.1f} s, gan {web['gan']['first_chunk_s']:.1f} s")
PY
