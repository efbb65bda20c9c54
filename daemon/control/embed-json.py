#!/usr/bin/env python3
"""Turn a JSON file into a C header holding it as a char array.

Usage: embed-json.py INPUT OUTPUT SYMBOL

The JSON is validated and re-encoded compactly, so a syntax error in the
source fails the build instead of the daemon at run time. The output is
ASCII (non-ASCII text becomes \\u escapes), so every byte fits a plain char.
The array is not NUL-terminated: use sizeof(SYMBOL) as its length.
"""
import json
import sys


def main():
    src, out, symbol = sys.argv[1:4]
    with open(src, encoding="utf-8") as f:
        doc = json.load(f)
    data = json.dumps(doc, separators=(",", ":"), ensure_ascii=True).encode("utf-8")
    lines = []
    for i in range(0, len(data), 16):
        lines.append("\t" + ", ".join("0x%02x" % b for b in data[i:i + 16]) + ",")
    with open(out, "w", encoding="utf-8") as f:
        f.write("/* Generated from %s by embed-json.py; do not edit. */\n" % src.split("/")[-1])
        f.write("#pragma once\n\n")
        f.write("static const char %s[%d] = {\n" % (symbol, len(data)))
        f.write("\n".join(lines))
        f.write("\n};\n")


if __name__ == "__main__":
    main()
