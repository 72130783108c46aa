#!/usr/bin/env bash
# Builds the web page into web/dist: the web/ crate for wasm32-unknown-unknown
# (release), wasm-bindgen's JavaScript glue, and the static files. Installs
# the wasm32 target and the wasm-bindgen CLI of the version web/Cargo.toml
# pins when they are missing. Then: `kairo serve-web` and open the address.
#
#   scripts/web-build.sh [OUT_DIR]     (default web/dist)
#
# CARGO_TARGET_DIR is honoured (default web/target).
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
out=${1:-$root/web/dist}
target=${CARGO_TARGET_DIR:-$root/web/target}

want=$(sed -n 's/^wasm-bindgen = "=\([0-9.]*\)".*/\1/p' "$root/web/Cargo.toml")
have=$(wasm-bindgen --version 2>/dev/null | awk '{print $2}' || true)
if [ "$have" != "$want" ]; then
  echo "web-build: installing wasm-bindgen-cli $want (found: ${have:-none})"
  # Not --locked: the registry mirror may lack the newest patch releases the
  # CLI's lock file names; any compatible set builds the same tool.
  cargo install wasm-bindgen-cli --version "$want"
fi
if ! rustup target list --installed 2>/dev/null | grep -qx wasm32-unknown-unknown; then
  rustup target add wasm32-unknown-unknown
fi

start=$(date +%s)
CARGO_TARGET_DIR=$target cargo build --manifest-path "$root/web/Cargo.toml" \
  --target wasm32-unknown-unknown --release
rm -rf "$out"
mkdir -p "$out/pkg"
wasm-bindgen --target web --no-typescript --out-dir "$out/pkg" \
  "$target/wasm32-unknown-unknown/release/kairo_web.wasm"
cp "$root/web/index.html" "$root/web/main.js" "$root/web/style.css" "$out/"
size=$(stat -c %s "$out/pkg/kairo_web_bg.wasm")
gz=$(gzip -9 -c "$out/pkg/kairo_web_bg.wasm" | wc -c)
echo "web-build: $out in $(( $(date +%s) - start )) s; kairo_web_bg.wasm $((size / 1024)) KiB ($((gz / 1024)) KiB gzipped)"
