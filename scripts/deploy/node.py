"""One machine acting as a Kubernetes node: a network, pods, the kubelet's probes and
restarts, and kube-proxy's Services.

Network. The whole test runs in a network namespace of its own (scripts/test-deploy.sh
starts it under `unshare -n`), the "node". There a bridge has 10.213.0.1/24 (moto listens
there); each pod is a named network namespace (`ip netns add`) joined to the bridge by a
veth pair, with its own address and loopback, so every pod listens on 8080 as in a cluster.
Each Service gets an address on the bridge and a TCP proxy (like kube-proxy's userspace
mode) that forwards to a Ready pod chosen by the Service's selector, at its targetPort.
Nothing touches the machine's own network namespace.

Filesystem. Each container runs in its own mount namespace with a root built like the
image's: a tmpfs root holding read-only binds of the host's /usr, /etc and library
directories (the image's glibc base), the files the Dockerfile COPYs (the built binary at
its ENTRYPOINT path, the model directory), /dev and /proc; then a writable directory bound
at each volume's mountPath (emptyDir per pod, a PVC directory per claim); then, with
readOnlyRootFilesystem, the root is remounted read-only. The process runs chrooted there as
runAsUser/runAsGroup (fsGroup as supplementary group; volumes are owned by it), with
no_new_privs when allowPrivilegeEscalation is false; a non-root process has no capabilities.
Not emulated: seccomp profiles, memory/CPU limits, the service-account token mount and
Service environment variables (enableServiceLinks)."""

import http.client
import itertools
import os
import shlex
import shutil
import socket
import subprocess
import threading
import time

from manifests import command_line, container_env, named_port, selector_matches

BRIDGE = "pgdt0"
NODE_IP = "10.213.0.1"
PREFIX = "10.213.0."


def sh(*argv, check=True):
    r = subprocess.run(list(argv), capture_output=True, text=True)
    if check and r.returncode != 0:
        raise RuntimeError(f"{' '.join(argv)}: exit {r.returncode}: {r.stderr.strip()}")
    return r


def probe_http(ip, port, path, timeout):
    """One HTTP GET probe as the kubelet makes it: success is a status in 200..399."""
    try:
        c = http.client.HTTPConnection(ip, port, timeout=timeout)
        c.request("GET", path, headers={"User-Agent": "kube-probe/1.35"})
        r = c.getresponse()
        body = r.read(300)
        c.close()
        return 200 <= r.status < 400, f"HTTP {r.status} {body.decode(errors='replace').strip()[:200]}"
    except OSError as e:
        return False, f"{type(e).__name__}: {e}"


class Container:
    """One container of a pod: its process, restarts and probe state."""

    def __init__(self, pod, spec, image, env, argv):
        self.pod, self.spec, self.image, self.env, self.argv = pod, spec, image, env, argv
        self.name = spec["name"]
        self.proc = None
        self.starts = 0
        self.ready = False
        self.last_readiness = "not probed yet"
        self.last_liveness = "not probed yet"
        self.liveness_failures_total = 0
        self.log_path = os.path.join(pod.dir, f"{self.name}.log")

    @property
    def restarts(self):
        return max(0, self.starts - 1)

    def probe_target(self, kind):
        p = self.spec.get(kind)
        if not p:
            return None
        g = p["httpGet"]
        return (self.pod.ip, named_port(self.spec, g["port"]), g.get("path", "/"), p)

    def log_tail(self, n=15):
        try:
            lines = open(self.log_path, errors="replace").read().splitlines()
        except OSError:
            return "(no log)"
        return "\n".join("      | " + l for l in lines[-n:])


class Pod:
    """A pod of one Deployment: a network namespace, an address, its containers."""

    def __init__(self, node, deployment, index):
        self.node = node
        self.deployment = deployment
        tmpl = deployment["spec"]["template"]
        self.spec = tmpl["spec"]
        self.labels = tmpl["metadata"].get("labels") or {}
        self.namespace = deployment["metadata"].get("namespace", "default")
        self.name = f"{deployment['metadata']['name']}-{index}"
        self.ip = PREFIX + str(10 + node.next_ip())
        self.netns = f"pgdt{os.getpid()}-{len(node.pods)}"
        self.dir = os.path.join(node.work, "pods", self.name)
        os.makedirs(self.dir)
        self.containers = []

    def ready(self):
        return all(c.ready for c in self.containers)


class Node:
    """The node: network, pods, kubelet loop, Service proxies. `close()` undoes all."""

    def __init__(self, work, bin_dir, repo_root, images):
        self.work = work
        self.bin_dir = bin_dir
        self.root = repo_root
        self.images = images
        self.pods = []
        self.services = []
        self._ip = itertools.count()
        self._svc_ip = itertools.count(200)
        self._stop = threading.Event()
        self._lock = threading.Lock()
        self.extra_procs = []
        sh("ip", "link", "set", "lo", "up")
        sh("ip", "link", "add", BRIDGE, "type", "bridge")
        sh("ip", "addr", "add", f"{NODE_IP}/24", "dev", BRIDGE)
        sh("ip", "link", "set", BRIDGE, "up")
        self._kubelet = threading.Thread(target=self._kubelet_loop, daemon=True)
        self._kubelet.start()

    def next_ip(self):
        return next(self._ip)

    # ---- pods ---------------------------------------------------------------------
    def run_deployment(self, objs, deployment, replicas):
        pods = []
        for i in range(replicas):
            pod = Pod(self, deployment, i)
            self._network(pod)
            for cspec in pod.spec["containers"]:
                image = self.images.get(cspec["image"])
                if image is None:
                    raise RuntimeError(
                        f"pod {pod.name}: image {cspec['image']} is built by no docker/*.Dockerfile "
                        f"(known: {sorted(self.images)})")
                env = container_env(objs, pod.namespace, cspec, image, pod.name)
                argv = command_line(cspec, image, env)
                pod.containers.append(Container(pod, cspec, image, env, argv))
            with self._lock:
                self.pods.append(pod)
            for c in pod.containers:
                self._start(c)
            pods.append(pod)
        return pods

    def _network(self, pod):
        host_if = f"pgh{len(self.pods)}x{os.getpid() % 10000}"[:15]
        sh("ip", "netns", "add", pod.netns)
        sh("ip", "link", "add", host_if, "type", "veth", "peer", "name", "eth0", "netns", pod.netns)
        sh("ip", "link", "set", host_if, "master", BRIDGE)
        sh("ip", "link", "set", host_if, "up")
        for cmd in (["ip", "link", "set", "lo", "up"],
                    ["ip", "addr", "add", f"{pod.ip}/24", "dev", "eth0"],
                    ["ip", "link", "set", "eth0", "up"],
                    ["ip", "route", "add", "default", "via", NODE_IP]):
            sh("ip", "netns", "exec", pod.netns, *cmd)

    def _image_source(self, image, stage, src):
        """Where on this machine the file an image COPYs from a build stage is."""
        base = os.path.basename(src.rstrip("/"))
        if stage == "build":
            path = os.path.join(self.bin_dir, base)
        elif stage == "model" and base == "models":
            path = os.path.join(self.root, "models")
        else:
            raise RuntimeError(f"{image.path}: do not know where `COPY --from={stage} {src}` comes from")
        if not os.path.exists(path):
            raise RuntimeError(f"{image.path}: {src} from stage {stage} should be {path}, which is missing")
        if os.path.isdir(path):
            # an image holds files, not links to this machine's paths: stage the directory
            # with its symlinks resolved (hard links, same filesystem, no copy)
            staged = os.path.join(self.work, "image-files", stage, base)
            if not os.path.isdir(staged):
                for d, _, files in os.walk(path, followlinks=True):
                    out = os.path.join(staged, os.path.relpath(d, path))
                    os.makedirs(out, exist_ok=True)
                    for f in files:
                        real = os.path.realpath(os.path.join(d, f))
                        try:
                            os.link(real, os.path.join(out, f))
                        except OSError:
                            shutil.copy2(real, os.path.join(out, f))
            return staged
        return path

    def _volume_dir(self, pod, name):
        for v in pod.spec.get("volumes") or []:
            if v["name"] != name:
                continue
            if "emptyDir" in v:
                d = os.path.join(pod.dir, "volumes", name)
            elif "persistentVolumeClaim" in v:
                d = os.path.join(self.work, "pvc", v["persistentVolumeClaim"]["claimName"])
            else:
                raise RuntimeError(f"pod {pod.name}: volume {name}: only emptyDir and PVCs are emulated")
            return d
        raise RuntimeError(f"pod {pod.name}: volumeMount names missing volume {name}")

    def _start(self, c):
        pod, spec = c.pod, c.spec
        psec = pod.spec.get("securityContext") or {}
        csec = spec.get("securityContext") or {}
        user = csec.get("runAsUser", psec.get("runAsUser"))
        group = csec.get("runAsGroup", psec.get("runAsGroup"))
        if user is None and c.image.user:
            u, _, g = c.image.user.partition(":")
            user, group = int(u), int(g or u)
        user = 0 if user is None else user
        group = 0 if group is None else group
        fs_group = psec.get("fsGroup")
        if (csec.get("runAsNonRoot", psec.get("runAsNonRoot"))) and user == 0:
            raise RuntimeError(f"pod {pod.name}: runAsNonRoot but the container would run as root")
        root = os.path.join(pod.dir, f"root-{c.name}")
        os.makedirs(root, exist_ok=True)
        q = shlex.quote
        lines = ["set -e", f"R={q(root)}", 'mount -t tmpfs -o mode=755 tmpfs "$R"']
        for d in ("bin", "sbin", "lib", "lib64", "lib32", "libx32"):
            hp = "/" + d
            if os.path.islink(hp):
                lines.append(f'ln -s {q(os.readlink(hp))} "$R/{d}"')
            elif os.path.isdir(hp):
                lines += [f'mkdir "$R/{d}"', f'mount --rbind {hp} "$R/{d}"', f'mount -o remount,bind,ro "$R/{d}"']
        for d in ("usr", "etc"):
            lines += [f'mkdir "$R/{d}"', f'mount --rbind /{d} "$R/{d}"', f'mount -o remount,bind,ro "$R/{d}"']
        for d in ("dev", "proc"):
            lines += [f'mkdir "$R/{d}"', f'mount --rbind /{d} "$R/{d}"']
        tmpfs_parents = []
        for dest, stage, src in c.image.copies:
            host = self._image_source(c.image, stage, src)
            parent = os.path.dirname(dest.rstrip("/")) or "/"
            top = parent.strip("/").split("/")[0]
            if top in ("usr", "etc") and parent not in tmpfs_parents:
                # the image's own directory: hide the host's content there
                lines.append(f'mount -t tmpfs -o mode=755 tmpfs "$R"{q(parent)}')
                tmpfs_parents.append(parent)
            elif top not in ("usr", "etc"):
                lines.append(f'mkdir -p "$R"{q(parent)}')
            if os.path.isdir(host):
                lines.append(f'mkdir -p "$R"{q(dest)}')
            else:
                lines.append(f'touch "$R"{q(dest)}')
            lines += [f'mount --bind {q(host)} "$R"{q(dest)}', f'mount -o remount,bind,ro "$R"{q(dest)}']
        for p in tmpfs_parents:
            lines.append(f'mount -o remount,ro "$R"{q(p)}')
        for m in spec.get("volumeMounts") or []:
            hd = self._volume_dir(pod, m["name"])
            os.makedirs(hd, exist_ok=True)
            os.chown(hd, user, fs_group if fs_group is not None else group)
            os.chmod(hd, 0o2775 if fs_group is not None else 0o755)
            mp = m["mountPath"]
            if mp.strip("/").split("/")[0] in ("usr", "etc", "dev", "proc"):
                raise RuntimeError(f"pod {pod.name}: mountPath {mp} inside a host bind is not emulated")
            lines += [f'mkdir -p "$R"{q(mp)}', f'mount --bind {q(hd)} "$R"{q(mp)}']
            if m.get("readOnly"):
                lines.append(f'mount -o remount,bind,ro "$R"{q(mp)}')
        if csec.get("readOnlyRootFilesystem"):
            lines.append('mount -o remount,ro "$R"')
        lines.append('exec /usr/bin/env -i "$@"')
        script = os.path.join(pod.dir, f"start-{c.name}.sh")
        with open(script, "w") as f:
            f.write("\n".join(lines) + "\n")
        groups = [str(fs_group if fs_group is not None else group)]
        runner = ["/usr/bin/setpriv"]
        if csec.get("allowPrivilegeEscalation") is False:
            runner.append("--no-new-privs")
        runner += ["/usr/sbin/chroot", f"--userspec={user}:{group}", f"--groups={','.join(groups)}", root]
        argv = ["ip", "netns", "exec", pod.netns, "unshare", "-m", "--propagation", "private",
                "/bin/sh", script] + [f"{k}={v}" for k, v in sorted(c.env.items())] + runner + c.argv
        log = open(c.log_path, "a")
        log.write(f"--- start {c.starts + 1}: {' '.join(c.argv)}\n")
        log.flush()
        c.proc = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=log, stderr=log,
                                  start_new_session=True, env={"PATH": "/usr/sbin:/usr/bin:/sbin:/bin"})
        log.close()
        c.starts += 1
        c.started_at = time.monotonic()
        c.ready = False
        c.next_ready_probe = c.next_live_probe = time.monotonic()
        c.ready_fail = c.live_fail = 0

    def _kill(self, c):
        if c.proc and c.proc.poll() is None:
            try:
                os.killpg(c.proc.pid, 15)
                c.proc.wait(timeout=10)
            except (ProcessLookupError, subprocess.TimeoutExpired):
                try:
                    os.killpg(c.proc.pid, 9)
                except ProcessLookupError:
                    pass
                c.proc.wait()

    # ---- kubelet ------------------------------------------------------------------
    def _kubelet_loop(self):
        while not self._stop.is_set():
            with self._lock:
                containers = [c for p in self.pods for c in p.containers]
            now = time.monotonic()
            for c in containers:
                if c.proc is None:
                    continue
                if c.proc.poll() is not None:
                    c.ready = False
                    c.last_readiness = f"process exited with {c.proc.returncode}"
                    if now - c.started_at > 2:  # restartPolicy Always (a short back-off)
                        self._start(c)
                    continue
                for kind in ("readinessProbe", "livenessProbe"):
                    t = c.probe_target(kind)
                    if t is None:
                        if kind == "readinessProbe":
                            c.ready = True
                        continue
                    ip, port, path, p = t
                    attr = "next_ready_probe" if kind == "readinessProbe" else "next_live_probe"
                    if now < getattr(c, attr) or now - c.started_at < p.get("initialDelaySeconds", 0):
                        continue
                    setattr(c, attr, now + p.get("periodSeconds", 10))
                    ok, detail = probe_http(ip, port, path, p.get("timeoutSeconds", 1))
                    thr = p.get("failureThreshold", 3)
                    if kind == "readinessProbe":
                        c.last_readiness = detail
                        c.ready_fail = 0 if ok else c.ready_fail + 1
                        if ok:
                            c.ready = True
                        elif c.ready_fail >= thr:
                            c.ready = False
                    else:
                        c.last_liveness = detail
                        c.live_fail = 0 if ok else c.live_fail + 1
                        if not ok:
                            c.liveness_failures_total += 1
                        if c.live_fail >= thr:
                            with open(c.log_path, "a") as log:
                                log.write(f"--- kubelet: liveness GET :{port}{path} failed {thr} times ({detail}); restarting\n")
                            self._kill(c)
                            self._start(c)
            self._stop.wait(0.2)

    def wait_ready(self, pods, timeout):
        """Waits until every container of `pods` is Ready; returns problems (one per
        container that is not), naming the pod, the probe path and port."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline and not all(p.ready() for p in pods):
            time.sleep(0.2)
        problems = []
        for p in pods:
            for c in p.containers:
                if not c.ready:
                    ip, port, path, _ = c.probe_target("readinessProbe")
                    problems.append(
                        f"pod {p.name} container {c.name} not Ready after {timeout:.0f} s: readinessProbe "
                        f"GET http://{ip}:{port}{path} last answered: {c.last_readiness}; livenessProbe "
                        f"last answered: {c.last_liveness}; restarts {c.restarts}\n{c.log_tail()}")
        return problems

    # ---- services -----------------------------------------------------------------
    def run_service(self, svc):
        ip = PREFIX + str(next(self._svc_ip))
        sh("ip", "addr", "add", f"{ip}/32", "dev", BRIDGE)
        ns = svc["metadata"].get("namespace", "default")
        name = svc["metadata"]["name"]
        info = {"ip": ip, "svc": svc, "names": [f"{name}.{ns}.svc", f"{name}.{ns}.svc.cluster.local",
                                                 f"{name}.{ns}", name]}
        for port in svc["spec"]["ports"]:
            lsock = socket.socket()
            lsock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            lsock.bind((ip, port["port"]))
            lsock.listen(64)
            threading.Thread(target=self._proxy_accept, args=(lsock, svc, port), daemon=True).start()
        self.services.append(info)
        return info

    def endpoints(self, svc, port):
        """Ready pods selected by the Service, with the targetPort resolved per pod."""
        out = []
        with self._lock:
            pods = list(self.pods)
        for p in pods:
            if p.namespace != svc["metadata"].get("namespace", "default"):
                continue
            if not selector_matches(svc["spec"].get("selector") or {}, p.labels) or not p.ready():
                continue
            target = port.get("targetPort", port["port"])
            for c in p.containers:
                try:
                    out.append((p.ip, named_port(c.spec, target)))
                    break
                except Exception:
                    continue
        return out

    def _proxy_accept(self, lsock, svc, port):
        rr = itertools.count()
        while not self._stop.is_set():
            try:
                conn, _ = lsock.accept()
            except OSError:
                return
            eps = self.endpoints(svc, port)
            if not eps:
                conn.close()  # no Ready endpoint: the connection is refused
                continue
            ep = eps[next(rr) % len(eps)]
            threading.Thread(target=self._pipe_pair, args=(conn, ep), daemon=True).start()

    @staticmethod
    def _pipe_pair(conn, ep):
        try:
            up = socket.create_connection(ep, timeout=5)
        except OSError:
            conn.close()
            return
        up.settimeout(None)

        def pipe(a, b):
            try:
                while True:
                    data = a.recv(65536)
                    if not data:
                        break
                    b.sendall(data)
            except OSError:
                pass
            finally:
                for s in (a, b):
                    try:
                        s.shutdown(socket.SHUT_RDWR)
                    except OSError:
                        pass
        t = threading.Thread(target=pipe, args=(up, conn), daemon=True)
        t.start()
        pipe(conn, up)
        t.join(5)
        conn.close()
        up.close()

    def dns(self):
        """Cluster DNS names of the Services, for the test's own HTTP client."""
        return {n: s["ip"] for s in self.services for n in s["names"]}

    # ---- teardown -----------------------------------------------------------------
    def close(self):
        self._stop.set()
        for p in self.pods:
            for c in p.containers:
                self._kill(c)
        for proc in self.extra_procs:
            if proc.poll() is None:
                try:
                    os.killpg(proc.pid, 9)
                except ProcessLookupError:
                    pass
                proc.wait()
        for p in self.pods:
            sh("ip", "netns", "del", p.netns, check=False)
        sh("ip", "link", "del", BRIDGE, check=False)
