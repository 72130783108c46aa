#!/usr/bin/env bash
# Arranges the npm package emoji-datasource-google's 64×64 emoji into one
# subfolder per Unicode category (ImageFolder's convention: the subfolder is
# the label), as symbolic links: `kairo train gan --data DEST` then scores
# its samples with a classifier of the categories (quality.csv), and
# `--conditional` generates by category. Each emoji's default image only
# (its skin-tone variations would make "people-and-body" 60% of the set);
# the 5 "Component" images (skin-tone swatches, hair parts) are left out.
# Nothing is copied: DEST holds links into the installed package.
#
#   scripts/emoji-categories.sh PACKAGE_DIR DEST
#   (PACKAGE_DIR: where npm put it, e.g.
#    /tmp/emoji/node_modules/emoji-datasource-google after
#    npm install --prefix /tmp/emoji emoji-datasource-google)
set -euo pipefail
[ $# -eq 2 ] || { echo "usage: $0 PACKAGE_DIR DEST" >&2; exit 2; }
pkg=$(cd "$1" && pwd)
[ -f "$pkg/emoji.json" ] && [ -d "$pkg/img/google/64" ] || {
    echo "emoji-categories: $pkg has no emoji.json and img/google/64 (npm install emoji-datasource-google)" >&2
    exit 1
}
python3 - "$pkg" "$2" <<'PY'
import collections, json, os, re, sys
pkg, dest = sys.argv[1], sys.argv[2]
images = os.path.join(pkg, "img", "google", "64")
counts = collections.Counter()
for e in json.load(open(os.path.join(pkg, "emoji.json"))):
    src = os.path.join(images, e["image"])
    if e["category"] == "Component" or not e.get("has_img_google") or not os.path.isfile(src):
        continue
    slug = re.sub(r"[^a-z0-9]+", "-", e["category"].lower().replace("&", "and")).strip("-")
    os.makedirs(os.path.join(dest, slug), exist_ok=True)
    link = os.path.join(dest, slug, e["image"])
    if not os.path.lexists(link):
        os.symlink(src, link)
    counts[slug] += 1
print(f"emoji-categories: {sum(counts.values())} emoji in {len(counts)} categories under {dest}")
for slug, n in sorted(counts.items()):
    print(f"  {slug}: {n}")
PY
