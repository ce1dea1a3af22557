#!/usr/bin/env python3
"""The apply benchmark: weir apply against kubectl apply --server-side, side by side on a
fresh local control plane per run, in three steps (create, unchanged re-apply, change 10
ConfigMaps). Reports the median wall time and peak memory of the client process over the runs
and the API requests each tool made (from the API server's audit log), with ratios.

Called by bench/apply/run, which builds weir; see there for the arguments.
"""
import json
import os
import statistics
import subprocess
import sys

root, weir, count, runs = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
work = os.path.join(root, ".cache/bench/apply")
WRITES = {"create", "update", "patch", "delete", "deletecollection"}


def sh(*args, **kw):
    return subprocess.run(args, check=True, **kw)


def measure(label, cmd, env):
    """Runs cmd under GNU time; returns (seconds, MiB)."""
    out = os.path.join(work, "time.out")
    with open(os.path.join(work, f"{label}.log"), "w") as log:
        r = subprocess.run(["/usr/bin/time", "-f", "%e %M", "-o", out] + cmd,
                           stdout=log, stderr=subprocess.STDOUT, env=env)
    if r.returncode != 0:
        sys.exit(f"command failed ({label}): {' '.join(cmd)}\n"
                 + open(os.path.join(work, f"{label}.log")).read()[-3000:])
    seconds, kib = open(out).read().split()
    return float(seconds), int(kib) / 1024


def requests(audit, start, agent):
    """Requests made by clients whose user agent starts with `agent`, after byte `start`."""
    total = writes = 0
    with open(audit) as f:
        f.seek(start)
        for line in f:
            event = json.loads(line)
            if event.get("stage") != "ResponseComplete":
                continue
            if not event.get("userAgent", "").startswith(agent):
                continue
            total += 1
            if event["verb"] in WRITES and "dryRun=" not in event.get("requestURI", ""):
                writes += 1
    return total, writes


results = {}  # (step, tool) -> list of (seconds, mib, requests, writes)
for run in range(runs):
    cluster = os.path.join(work, f"cluster-{run}")
    env = dict(os.environ, WEIR_TESTENV_AUDIT="1")
    sh(os.path.join(root, "tools/cluster"), "up", cluster, env=env, stdout=subprocess.DEVNULL)
    try:
        env["KUBECONFIG"] = os.path.join(cluster, "kubeconfig")
        audit = os.path.join(cluster, "logs/audit.log")
        files = {}
        for tool, prefix in (("weir", f"w{run}"), ("kubectl", f"k{run}")):
            base = os.path.join(work, f"{prefix}.yaml")
            changed = os.path.join(work, f"{prefix}-changed.yaml")
            sh("python3", os.path.join(root, "bench/apply/gen.py"), prefix, str(count), base)
            sh("python3", os.path.join(root, "bench/apply/gen.py"), prefix, str(count), changed, "10")
            files[tool] = (prefix, base, changed)
        for step in ("create", "unchanged", "change-10"):
            for tool in ("weir", "kubectl"):
                prefix, base, changed = files[tool]
                manifests = changed if step == "change-10" else base
                crd = base.removesuffix(".yaml") + "-crd.yaml"
                if tool == "weir":
                    cmd = [weir, "apply", "-f", crd, "-f", manifests,
                           "--inventory", f"default/{prefix}", "-n", "default"]
                    agent = "weir/"
                else:
                    # kubectl cannot apply custom resources before their CRD is established.
                    cmd = ["sh", "-ec",
                           f"kubectl apply --server-side --field-manager bench -f {crd}\n"
                           f"kubectl wait --for condition=established crd/widgets.{prefix}.bench.weir.dev\n"
                           f"kubectl apply --server-side --field-manager bench -f {manifests}"]
                    agent = "kubectl/"
                start = os.path.getsize(audit)
                seconds, mib = measure(f"{step}-{tool}-{run}", cmd, env)
                total, writes = requests(audit, start, agent)
                results.setdefault((step, tool), []).append((seconds, mib, total, writes))
        objects = sum(1 for line in open(files["weir"][1]) if line.startswith("kind:")) + 1
        for tool, (prefix, _, _) in files.items():
            got = subprocess.run(["kubectl", "get", "configmaps", "-A", "-l", "app=bench",
                                  "--no-headers"], env=env, capture_output=True, text=True,
                                 check=True).stdout
            n = sum(1 for line in got.splitlines() if line.startswith(prefix + "-"))
            if n != count:
                sys.exit(f"{tool}: expected {count} ConfigMaps, found {n}")
    finally:
        sh(os.path.join(root, "tools/cluster"), "down", cluster, stdout=subprocess.DEVNULL)

print(f"{objects} objects per tool, median of {runs} run(s); requests and writes from the audit log")
print(f"{'step':<10} {'tool':<8} {'wall (s)':>9} {'peak MiB':>9} {'requests':>9} {'writes':>7}")
for step in ("create", "unchanged", "change-10"):
    row = {}
    for tool in ("weir", "kubectl"):
        samples = results[(step, tool)]
        wall = statistics.median(s[0] for s in samples)
        mib = statistics.median(s[1] for s in samples)
        req = statistics.median(s[2] for s in samples)
        wr = statistics.median(s[3] for s in samples)
        row[tool] = (wall, mib)
        print(f"{step:<10} {tool:<8} {wall:>9.2f} {mib:>9.1f} {req:>9.0f} {wr:>7.0f}")
    (wt, wm), (kt, km) = row["weir"], row["kubectl"]
    print(f"{step:<10} ratio: weir {kt / max(wt, 0.001):.1f}x faster, {wm / km:.0%} of kubectl's memory")
