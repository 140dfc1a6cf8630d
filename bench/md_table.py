#!/usr/bin/env python3
"""md_table.py - turn `ustcp bench ... --json` output (one JSON object per
line, any number of files or stdin) into the Markdown table docs/bench.md
shows: median [min..max] per side, the ratio (> 1 favours ustcp) and the
target verdict. Lines that are not JSON objects are ignored."""
import json
import sys


def fmt(v):
    if v >= 1e6:
        return f"{v:.0f}"
    if v >= 100:
        return f"{v:.1f}"
    return f"{v:.3g}"


def side(s):
    if not s:
        return "-"
    return f"{fmt(s['median'])} [{fmt(s['min'])}..{fmt(s['max'])}]"


def main():
    files = sys.argv[1:] or ["-"]
    rows = []
    for name in files:
        f = sys.stdin if name == "-" else open(name)
        for line in f:
            line = line.strip()
            if not line.startswith("{"):
                continue
            try:
                o = json.loads(line)
            except ValueError:
                continue
            if all(k in o for k in ("bench", "unit", "ustcp", "linux")):
                rows.append(o)  # other shapes (bench tun's) are skipped
    print("| bench | unit | ustcp median [min..max] | Linux median [min..max] | ratio | target |")
    print("|---|---|---|---|---|---|")
    for o in rows:
        ratio = f"{o['ratio']:.2f}x" if o.get("ratio") else "-"
        target = ""
        if o.get("target"):
            met = o.get("met")
            target = f"{o['target']}: " + ("met" if met else "n/a" if met is None else "**missed**")
        err = o.get("ustcp_error") or o.get("linux_error")
        if err:
            target += f" (error: {err})"
        print(f"| {o['bench']} | {o['unit']} | {side(o['ustcp'])} | {side(o['linux'])} "
              f"| {ratio} | {target} |")


if __name__ == "__main__":
    main()
