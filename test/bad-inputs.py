#!/usr/bin/env python3
"""Runs einsum-run on every row of the bad-input table.

Each row must end with exit status 1 (not a signal, not 0) and a first
stderr line 'einsum-run: error: MESSAGE'. The same table is checked through
the C++ API by test/unit/RuntimeTest.cpp.

usage: bad-inputs.py EINSUM_RUN TABLE
"""
import subprocess
import sys


def main():
    einsum_run, table = sys.argv[1], sys.argv[2]
    passed = failed = 0
    for line in open(table):
        line = line.rstrip("\n")
        if not line or line.startswith("#"):
            continue
        equation, operands, message = line.split("\t")
        proc = subprocess.run([einsum_run, equation, *operands.split()],
                              capture_output=True, text=True)
        first = proc.stderr.split("\n")[0]
        expected = "einsum-run: error: " + message
        if proc.returncode == 1 and first == expected:
            passed += 1
            continue
        failed += 1
        print(f"FAIL {equation!r} {operands}: exit {proc.returncode}, "
              f"stderr {proc.stderr!r}, expected {expected!r}")
    print(f"{passed} passed, {failed} failed")
    return 0 if failed == 0 and passed >= 30 else 1


if __name__ == "__main__":
    sys.exit(main())
