#!/usr/bin/env python3
"""Markdown tables of `kairo bench --json` files: one table per file, headed
by the adapter, one row per entry (name, variant, sizes, ms, rate, timer).
Usage: bench-summary.py FILE.json..."""
import json
import sys


def sizes(s):
    if set(s) >= {"m", "n", "k"} and s["m"] == s["n"] == s["k"]:
        return f"{s['m']}³"
    return " ".join(f"{k}={v}" for k, v in s.items() if k not in ("images_per_s", "audio_s_per_s"))


def rate(r):
    s = r.get("sizes", {})
    if r.get("gflops") is not None:
        return f"{r['gflops']:.1f} GFLOP/s"
    if r.get("us_per_dispatch") is not None:
        return f"{r['us_per_dispatch']:.1f} µs/dispatch"
    if "images_per_s" in s:
        return f"{s['images_per_s']:.1f} images/s"
    if "audio_s_per_s" in s:
        return f"{s['audio_s_per_s']:.1f} s audio/s"
    if r.get("dispatches") is not None:
        return f"{r['dispatches']} dispatches"
    return ""


def table(path):
    with open(path) as f:
        report = json.load(f)
    a = report["adapter"]
    out = [f"`{path}`: {a['name']} ({a['backend']}, {a['type']}, {a['driver']})", ""]
    out += ["| entry | variant | sizes | ms | rate | timer |", "|---|---|---|---|---|---|"]
    for r in report["results"]:
        out.append(f"| {r['name']} | {r.get('variant', '')} | {sizes(r['sizes'])} | {r['ms']:.3f} | {rate(r)} | {r['timer']} |")
    return "\n".join(out)


if __name__ == "__main__":
    print("\n\n".join(table(p) for p in sys.argv[1:]))
