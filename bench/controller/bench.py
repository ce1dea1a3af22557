#!/usr/bin/env python3
"""The controller benchmark: N Kustomizations (3 ConfigMaps each, from one GitRepository) on a
fresh local control plane; time from the controller's start until all are Ready, the
controller's peak memory, and its memory when idle afterwards. Weir, and Flux's
source-controller + kustomize-controller when bench/controller/build-flux has built them, side
by side in the same run, each on its own cluster.

Called by bench/controller/run; see there for the arguments.
"""
import os
import shutil
import signal
import subprocess
import sys
import time

root, weir, counts, concurrent = sys.argv[1], sys.argv[2], [int(c) for c in sys.argv[3].split(",")], sys.argv[4]
work = os.path.join(root, ".cache/bench/controller")
bin_dir = os.path.join(root, ".cache/bin")
testenv = os.path.join(root, "target/debug/weir-testenv")
flux_source = os.path.join(bin_dir, "flux-source-controller")
flux_kustomize = os.path.join(bin_dir, "flux-kustomize-controller")
flux_crds = os.path.join(root, ".cache/flux-crds")
have_flux = all(os.path.exists(p) for p in (flux_source, flux_kustomize, flux_crds))


def free_ports(n):
    import socket
    socks = [socket.socket() for _ in range(n)]
    for s in socks:
        s.bind(("127.0.0.1", 0))
    ports = [s.getsockname()[1] for s in socks]
    for s in socks:
        s.close()
    return ports


def memory(pid, field):
    """VmHWM (peak) or VmRSS (now) of a process, in MiB."""
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                if line.startswith(field + ":"):
                    return int(line.split()[1]) / 1024
    except FileNotFoundError:
        pass
    return 0.0


def cpu(pid):
    """User + system CPU seconds of a process so far."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            fields = f.read().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    except FileNotFoundError:
        return 0.0


def apiserver_pid(cluster):
    """The kube-apiserver serving the cluster in directory `cluster`."""
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/cmdline", "rb") as f:
                args = f.read().split(b"\0")
        except OSError:
            continue
        if args and args[0].endswith(b"kube-apiserver") and any(cluster.encode() in a for a in args):
            return int(entry)
    return None


def generate(count, files):
    shutil.rmtree(files, ignore_errors=True)
    for i in range(count):
        d = os.path.join(files, "apps", f"app-{i}")
        os.makedirs(d)
        for j in range(3):
            with open(os.path.join(d, f"cm-{j}.yaml"), "w") as f:
                f.write(f"apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: app-{i}-cm-{j}\n"
                        f"data:\n  key: value-{i}-{j}\n")


def objects(count, env):
    docs = ["apiVersion: v1\nkind: Namespace\nmetadata:\n  name: bench\n",
            f"apiVersion: v1\nkind: Secret\nmetadata:\n  name: git\n  namespace: bench\nstringData:\n"
            f"  username: {env['USERNAME']}\n  password: {env['PASSWORD']}\n",
            f"apiVersion: source.toolkit.fluxcd.io/v1\nkind: GitRepository\nmetadata:\n  name: fleet\n"
            f"  namespace: bench\nspec:\n  interval: 1h\n  url: {env['HTTP_URL']}\n  ref:\n    branch: main\n"
            f"  secretRef:\n    name: git\n"]
    for i in range(count):
        docs.append(
            f"apiVersion: kustomize.toolkit.fluxcd.io/v1\nkind: Kustomization\nmetadata:\n  name: app-{i}\n"
            f"  namespace: bench\nspec:\n  interval: 1h\n  path: ./apps/app-{i}\n  prune: true\n"
            f"  targetNamespace: bench\n  sourceRef:\n    kind: GitRepository\n    name: fleet\n")
    return "---\n".join(docs)


class Poller:
    """Counts Ready Kustomizations with one HTTPS request to the API server (admin client
    certificate), much cheaper than running kubectl at every poll."""

    def __init__(self, cluster):
        import http.client
        import ssl
        pki = os.path.join(cluster, "pki")
        server = next(line.split()[1] for line in open(os.path.join(cluster, "kubeconfig"))
                      if line.strip().startswith("server:"))
        host, port = server.removeprefix("https://").rsplit(":", 1)
        context = ssl.create_default_context(cafile=os.path.join(pki, "ca.crt"))
        context.load_cert_chain(os.path.join(pki, "admin.crt"), os.path.join(pki, "admin.key"))
        self.connection = http.client.HTTPSConnection(host, int(port), context=context)

    def ready(self):
        import json
        self.connection.request(
            "GET", "/apis/kustomize.toolkit.fluxcd.io/v1/namespaces/bench/kustomizations")
        response = self.connection.getresponse()
        body = json.loads(response.read())
        return sum(
            1 for item in body.get("items", [])
            if any(c.get("type") == "Ready" and c.get("status") == "True"
                   for c in item.get("status", {}).get("conditions", [])))


def run(tool, count):
    base = os.path.join(work, f"{tool}-{count}")
    shutil.rmtree(base, ignore_errors=True)
    os.makedirs(base)
    cluster = os.path.join(base, "cluster")
    subprocess.run([os.path.join(root, "tools/cluster"), "up", cluster], check=True,
                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    procs = []
    try:
        env = dict(os.environ, KUBECONFIG=os.path.join(cluster, "kubeconfig"))
        files = os.path.join(base, "files")
        generate(count, files)
        git_dir = os.path.join(base, "git")
        procs.append(subprocess.Popen([testenv, "git-server", git_dir, files], stdout=subprocess.DEVNULL,
                                      stderr=open(os.path.join(base, "git.log"), "w"), start_new_session=True))
        env_file = os.path.join(git_dir, "git.env")
        for _ in range(600):
            if os.path.exists(env_file):
                break
            time.sleep(0.1)
        git = dict(line.split("=", 1) for line in open(env_file).read().split())
        if tool == "weir":
            subprocess.run([weir, "install"], env=env, check=True, stdout=subprocess.DEVNULL)
        else:
            subprocess.run(["kubectl", "apply", "--server-side", "-f", flux_crds], env=env, check=True,
                           stdout=subprocess.DEVNULL)
            subprocess.run(["kubectl", "wait", "--for", "condition=established", "--timeout=60s",
                            "crd/gitrepositories.source.toolkit.fluxcd.io",
                            "crd/kustomizations.kustomize.toolkit.fluxcd.io"], env=env, check=True,
                           stdout=subprocess.DEVNULL)
        manifest = os.path.join(base, "objects.yaml")
        with open(manifest, "w") as f:
            f.write(objects(count, git))
        subprocess.run(["kubectl", "apply", "--server-side", "-f", manifest], env=env, check=True,
                       stdout=subprocess.DEVNULL)

        storage = os.path.join(base, "storage")
        os.makedirs(storage)
        ports = free_ports(6)
        log = open(os.path.join(base, "controller.log"), "w")
        server = apiserver_pid(cluster)
        server_cpu = cpu(server) if server else 0.0
        poller = Poller(cluster)
        started = time.time()
        if tool == "weir":
            controllers = [subprocess.Popen(
                [weir, "controller", "--storage-path", storage,
                 f"--storage-addr=127.0.0.1:{ports[0]}", f"--storage-adv-addr=127.0.0.1:{ports[0]}",
                 f"--health-addr=127.0.0.1:{ports[1]}", f"--metrics-addr=127.0.0.1:{ports[2]}",
                 f"--receiver-addr=127.0.0.1:{ports[3]}", "--enable-leader-election=false",
                 "--concurrent", concurrent], env=env, stdout=log, stderr=log)]
        else:
            flux_env = dict(env, RUNTIME_NAMESPACE="bench")
            controllers = [
                subprocess.Popen([flux_source, f"--storage-path={storage}",
                                  f"--storage-addr=127.0.0.1:{ports[0]}",
                                  f"--storage-adv-addr=127.0.0.1:{ports[0]}",
                                  f"--metrics-addr=127.0.0.1:{ports[1]}",
                                  f"--health-addr=127.0.0.1:{ports[2]}",
                                  "--enable-leader-election=false", "--events-addr=",
                                  f"--concurrent={concurrent}", "--log-level=error"],
                                 env=flux_env, stdout=log, stderr=log),
                subprocess.Popen([flux_kustomize, f"--metrics-addr=127.0.0.1:{ports[3]}",
                                  f"--health-addr=127.0.0.1:{ports[4]}",
                                  "--enable-leader-election=false", "--events-addr=",
                                  f"--concurrent={concurrent}", "--log-level=error"],
                                 env=flux_env, stdout=log, stderr=log),
            ]
        procs.extend(controllers)
        deadline = started + 1800
        ready = 0
        while time.time() < deadline:
            ready = poller.ready()
            if ready >= count:
                break
            if any(c.poll() is not None for c in controllers):
                sys.exit(f"{tool}: a controller exited; see {log.name}")
            # Polled often so that the figure is not rounded up to whole seconds; each poll
            # costs the same for both tools.
            time.sleep(0.1)
        took = time.time() - started
        if ready < count:
            sys.exit(f"{tool}: only {ready}/{count} Ready after {took:.0f}s; see {log.name}")
        used = sum(cpu(c.pid) for c in controllers)
        server_cpu = (cpu(server) - server_cpu) if server else 0.0
        peak = sum(memory(c.pid, "VmHWM") for c in controllers)
        time.sleep(30)
        idle = sum(memory(c.pid, "VmRSS") for c in controllers)
        applied = subprocess.run(["kubectl", "get", "configmaps", "-n", "bench", "--no-headers"],
                                 env=env, capture_output=True, text=True).stdout.count("app-")
        if applied != 3 * count:
            sys.exit(f"{tool}: expected {3 * count} ConfigMaps, found {applied}")
        return took, peak, idle, used, server_cpu
    finally:
        for p in procs:
            try:
                os.killpg(p.pid, signal.SIGTERM) if p.pid and p.args[1:2] == ["git-server"] else p.terminate()
            except Exception:
                pass
        for p in procs:
            try:
                p.wait(timeout=20)
            except Exception:
                p.kill()
        subprocess.run([os.path.join(root, "tools/cluster"), "down", cluster],
                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


tools = ["weir"] + (["flux"] if have_flux else [])
if os.environ.get("BENCH_TOOLS"):
    tools = os.environ["BENCH_TOOLS"].split(",")
if not have_flux:
    print("(Flux's controllers not built: run bench/controller/build-flux for the comparison)")
print(f"concurrency {concurrent}; time from controller start until all Kustomizations are Ready")
print("CPU: seconds used by the controller(s) and by kube-apiserver until all were Ready")
print(f"{'count':>6} {'tool':<6} {'ready in (s)':>12} {'peak MiB':>9} {'idle MiB':>9} {'CPU s':>7} "
      f"{'API CPU s':>9}")
for count in counts:
    results = {}
    for tool in tools:
        took, peak, idle, used, server_cpu = run(tool, count)
        results[tool] = (took, peak, idle)
        print(f"{count:>6} {tool:<6} {took:>12.1f} {peak:>9.1f} {idle:>9.1f} {used:>7.1f} "
              f"{server_cpu:>9.1f}", flush=True)
    if "flux" in results and "weir" in results:
        (wt, wp, wi), (ft, fp, fi) = results["weir"], results["flux"]
        print(f"{count:>6} ratio: weir {ft / max(wt, 0.01):.1f}x faster, {wp / fp:.0%} of Flux's peak "
              f"memory, {wi / fi:.0%} of its idle memory", flush=True)
