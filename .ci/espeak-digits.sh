#!/usr/bin/env bash
# Speaks random digit strings ("three one four") with several English
# espeak-ng voices, voice variants and speeds into WAV files (22.05 kHz,
# 16-bit mono, as espeak-ng writes them) and writes the manifest
# OUT/manifest.csv (wav_filename,wav_filesize,transcript) beside them.
#
#   .ci/espeak-digits.sh OUT [COUNT=300] [SEED=7]
set -euo pipefail
out="${1:?usage: $0 OUT [COUNT] [SEED]}"
count="${2:-300}"
RANDOM="${3:-7}"
command -v espeak-ng >/dev/null || { echo "espeak-ng is not installed (apt-get install -y espeak-ng)" >&2; exit 1; }
mkdir -p "$out/wav"
words=(zero one two three four five six seven eight nine)
voices=(en en-us en-gb en-gb-scotland en-gb-x-rp en-029)
variants=("" +m3 +f2 +f4 +klatt2)
manifest="$out/manifest.csv"
tmp="$manifest.tmp"
echo "wav_filename,wav_filesize,transcript" > "$tmp"
for ((i = 0; i < count; i++)); do
    n=$((2 + RANDOM % 3))
    text=""
    for ((j = 0; j < n; j++)); do
        text+="${text:+ }${words[RANDOM % 10]}"
    done
    voice="${voices[RANDOM % ${#voices[@]}]}${variants[RANDOM % ${#variants[@]}]}"
    speed=$((130 + RANDOM % 71))
    name=$(printf "wav/%04d.wav" "$i")
    espeak-ng -v "$voice" -s "$speed" -w "$out/$name" "$text"
    echo "$name,$(stat -c %s "$out/$name"),$text" >> "$tmp"
done
mv "$tmp" "$manifest"
echo "$count utterances in $manifest"
