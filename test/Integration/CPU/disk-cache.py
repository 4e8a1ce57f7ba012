"""einsum-run processes sharing one --cache-dir (used by disk-cache.test).

Starts PROCS processes at once on the same signature, then checks that each
printed the matmul of two arange inputs (the closed form, computed here with
integer arithmetic), that the directory holds one entry and no temporary
file, and that a later process links the entry instead of compiling.
"""
import os
import subprocess
import sys

einsum_run, cache, inputs = sys.argv[1], sys.argv[2], sys.argv[3]
PROCS = 6
m, k, n = 7, 5, 3
a = os.path.join(inputs, "a.npy")
b = os.path.join(inputs, "b.npy")
expected = [[sum((i * k + p) * (p * n + j) for p in range(k)) for j in range(n)]
            for i in range(m)]


def run(*extra):
    return subprocess.Popen([einsum_run, "--cache-dir", cache, "--stats", "--print",
                             "ij,jk->ik", a, b, *extra],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def check(proc):
    out, err = proc.communicate()
    if proc.returncode != 0:
        sys.exit(f"einsum-run failed ({proc.returncode}): {err}")
    body = out[out.index("\n") + 1:out.index("cache:")]
    values = [float(x) for x in body.replace("[", " ").replace("]", " ")
              .replace(",", " ").split()]
    want = [float(x) for row in expected for x in row]
    if values != want:
        sys.exit(f"wrong result: {values} != {want}")
    return out


outs = [check(p) for p in [run() for _ in range(PROCS)]]
entries = os.listdir(cache)
if len(entries) != 1 or not entries[0].endswith(".ejk"):
    sys.exit(f"the cache should hold one entry, it holds {entries}")
later = check(run())
print(later.splitlines()[-1])
compiled = sum("1 written" in o for o in outs)
loaded = sum("1 loaded" in o for o in outs)
print(f"{PROCS} concurrent processes: {compiled + loaded} compiled or loaded")
