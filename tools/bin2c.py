#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""Turns a binary file into a C array: bin2c.py IN OUT.c NAME (defines NAME and NAME_len)."""
import sys

data = open(sys.argv[1], "rb").read()
name = sys.argv[3]
with open(sys.argv[2], "w") as f:
    f.write(f"/* Generated from {sys.argv[1].split('/')[-1]} by tools/bin2c.py. */\n")
    f.write("#include <stddef.h>\n")
    f.write(f"extern const unsigned char {name}[];\nextern const size_t {name}_len;\n")
    f.write(f"const unsigned char {name}[] = {{\n")
    for i in range(0, len(data), 12):
        f.write("    " + " ".join(f"0x{b:02x}," for b in data[i:i + 12]) + "\n")
    f.write(f"}};\nconst size_t {name}_len = {len(data)};\n")
