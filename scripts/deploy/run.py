"""Runs what `postagram-operator manifests <example>` prints, the way a kubelet and
kube-proxy would on this machine (see node.py for how), and drives the deployed Postagram
through its Service: sign up, post, upload a real photo, labels, `?label=`, delete. In aws
mode it runs against the pinned moto server and takes it away and back (outage and
recovery without restarts). Usage (as root, inside `unshare -n`; scripts/test-deploy.sh):

    run.py <repo root> <bin dir> <operator/examples/x.yaml> <work dir>
"""

import copy
import os
import sqlite3
import signal
import subprocess
import sys
import time
import traceback
import uuid
from urllib.parse import quote, urlencode

import boto3
import yaml

import client
import dockerfile
import static_checks
from manifests import Objects, container_env
from node import NODE_IP, Node, probe_http

MOTO_PORT = 5000
MOTO_URL = f"http://{NODE_IP}:{MOTO_PORT}"
CREDENTIALS_SECRET = "postagram-aws-credentials"
READY_TIMEOUT = 40


class Run:
    def __init__(self, root, bin_dir, example, work):
        self.root, self.bin_dir, self.example, self.work = root, bin_dir, example, work
        self.failures = []
        self.moto = None
        self.node = None

    def fail(self, msg):
        self.failures.append(msg)
        print(f"  FAIL {msg}", flush=True)

    def ok(self, msg):
        print(f"  ok {msg}", flush=True)

    def check(self, cond, msg, detail=""):
        if cond:
            self.ok(msg)
        else:
            self.fail(f"{msg}: {detail}" if detail else msg)
        return cond

    # ---- the Postagram and its manifests ------------------------------------------
    def postagram(self):
        pg = yaml.safe_load(open(self.example))
        pg["metadata"].setdefault("namespace", "default")
        if "aws" in pg["spec"]["storage"]:
            # The overlay (documented in scripts/test-deploy.sh): point the example at the
            # emulator and give it static credentials from a Secret the user creates, and
            # the queue URL init-aws prints for that emulator. Nothing else changes.
            aws = pg["spec"]["storage"]["aws"]
            aws["endpointUrl"] = MOTO_URL
            aws["credentialsSecret"] = CREDENTIALS_SECRET
            aws["queueUrl"] = f"{MOTO_URL}/123456789012/{aws['queueUrl'].rstrip('/').rsplit('/', 1)[-1]}"
        return pg

    def manifests(self, pg):
        path = os.path.join(self.work, "postagram.yaml")
        with open(path, "w") as f:
            yaml.safe_dump(pg, f)
        out = subprocess.run([os.path.join(self.bin_dir, "postagram-operator"), "manifests", path],
                             capture_output=True, text=True)
        if out.returncode != 0:
            raise RuntimeError(f"postagram-operator manifests failed: {out.stderr}")
        with open(os.path.join(self.work, "manifests.yaml"), "w") as f:
            f.write(out.stdout)
        extra = []
        if "aws" in pg["spec"]["storage"]:
            extra.append({"apiVersion": "v1", "kind": "Secret", "type": "Opaque",
                          "metadata": {"name": CREDENTIALS_SECRET, "namespace": pg["metadata"]["namespace"]},
                          "stringData": {"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing"}})
        return Objects.from_yaml(out.stdout, extra)

    def static(self, objs, pg):
        problems = static_checks.check(objs, pg)
        for p in problems:
            self.fail(f"static: {p}")
        if not problems:
            self.ok(f"static checks on {len(objs.all)} objects (HPA targets + CPU requests, selectors, Ingress backend, owner references)")
        # the checks must be able to fail: break each rule once and expect a complaint
        # (kind the rule is about, breaker): rules about a kind the example lacks are skipped
        breakers = {
            "HPA aimed at a missing Deployment": ("HorizontalPodAutoscaler", lambda o: [h["spec"]["scaleTargetRef"].update(name="nope") for h in o.kind("HorizontalPodAutoscaler")]),
            "container without CPU request": ("HorizontalPodAutoscaler", lambda o: [c["resources"]["requests"].pop("cpu", None) for d in o.kind("Deployment") for c in d["spec"]["template"]["spec"]["containers"]]),
            "Service selecting nothing": ("Service", lambda o: [s["spec"]["selector"].update({"x": "y"}) for s in o.kind("Service")]),
            "PDB selecting nothing": ("PodDisruptionBudget", lambda o: [p["spec"]["selector"]["matchLabels"].update({"x": "y"}) for p in o.kind("PodDisruptionBudget")]),
            "Ingress on a missing port": ("Ingress", lambda o: [r["http"]["paths"][0]["backend"]["service"]["port"].update(name="nope") for i in o.kind("Ingress") for r in i["spec"]["rules"]]),
            "child without owner": ("ConfigMap", lambda o: o.kind("ConfigMap")[0]["metadata"].pop("ownerReferences")),
        }
        for what, (kind, breaker) in breakers.items():
            if not objs.kind(kind):
                continue
            broken = Objects(copy.deepcopy(objs.all), copy.deepcopy(objs.extra))
            before = len(static_checks.check(broken, pg))
            breaker(broken)
            self.check(len(static_checks.check(broken, pg)) > before, f"static checks reject a {what}")

    # ---- moto ---------------------------------------------------------------------
    def start_moto(self):
        moto = os.path.join(os.environ.get("POSTAGRAM_VENV", os.path.join(self.root, ".venv")), "bin", "moto_server")
        if not os.path.exists(moto):
            raise RuntimeError(f"{moto} missing: run scripts/venv.sh")
        log = open(os.path.join(self.work, "moto.log"), "a")
        self.moto = subprocess.Popen([moto, "-H", NODE_IP, "-p", str(MOTO_PORT)], stdout=log, stderr=log,
                                     stdin=subprocess.DEVNULL, start_new_session=True)
        self.node.extra_procs.append(self.moto)
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            try:
                client.request("GET", f"{MOTO_URL}/moto-api/", timeout=1)
                return
            except OSError:
                if self.moto.poll() is not None:
                    raise RuntimeError(f"moto_server exited: {open(log.name).read()[-2000:]}")
                time.sleep(0.2)
        raise RuntimeError("moto_server did not listen within 60 s")

    def stop_moto(self):
        os.killpg(self.moto.pid, 9)
        self.moto.wait()

    def init_aws(self, objs, api_dep):
        """`postagram-api admin init-aws` with the API container's own environment, as an
        admin Job would run it; returns the queue URL it reports."""
        pod_ns = api_dep["metadata"]["namespace"]
        c = api_dep["spec"]["template"]["spec"]["containers"][0]
        image = self.node.images[c["image"]]
        env = container_env(objs, pod_ns, c, image, "init-aws")
        env.pop("POSTAGRAM_MODEL_PATH", None)
        out = subprocess.run([os.path.join(self.bin_dir, "postagram-api"), "admin", "init-aws"],
                             env=env, capture_output=True, text=True, timeout=60)
        if out.returncode != 0:
            raise RuntimeError(f"init-aws failed: {out.stdout}{out.stderr}")
        for line in out.stdout.splitlines():
            if line.startswith("POSTAGRAM_QUEUE_URL="):
                return line.split("=", 1)[1].strip()
        raise RuntimeError(f"init-aws printed no queue URL: {out.stdout}")

    # ---- the user flow through the Service ------------------------------------------
    def api(self, method, path, **kw):
        return client.request(method, self.base + path, dns=self.node.dns(), **kw)

    def user_flow(self, photo, aws):
        user = "u" + uuid.uuid4().hex[:10]
        r = self.api("POST", "/auth/signup", body={"username": user, "password": "correct horse"})
        self.check(r.status == 201, "POST /auth/signup through the Service", r)
        r = self.api("POST", "/auth/login", body={"username": user, "password": "correct horse"})
        if not self.check(r.status == 200, "POST /auth/login", r):
            return
        token = r.json()["token"]
        r = self.api("POST", "/posts", body={"title": "deployed", "body": "from the manifests"}, token=token)
        if not self.check(r.status == 201, "POST /posts", r):
            return
        pid = r.json()["id"]
        r = self.api("GET", "/signedUrlPut?" + urlencode({"filename": "photo.png", "filetype": "image/png", "postId": pid}), token=token)
        if not self.check(r.status == 200, "GET /signedUrlPut", r):
            return
        up = r.json()
        data = open(photo, "rb").read()
        put = client.request("PUT", up["uploadURL"], dns=self.node.dns(), body=data,
                             headers={"Content-Type": "image/png"}, timeout=60)
        self.check(200 <= put.status < 300, f"PUT {len(data)} bytes of {os.path.basename(photo)} to the upload URL", put)
        post = None
        deadline = time.monotonic() + 75
        while time.monotonic() < deadline:
            r = self.api("GET", f"/posts/{quote(pid, safe='')}")
            if r.status == 200 and r.json().get("label_status") in ("done", "failed"):
                post = r.json()
                break
            time.sleep(0.5)
        labels = (post or {}).get("labels") or []
        self.check(post is not None and post["label_status"] == "done" and labels,
                   "labels appear on the post", f"post after 75 s: {post or r}")
        if labels:
            self.ok(f"labels: {labels}")
            r = self.api("GET", "/posts?" + urlencode({"label": labels[0]}))
            ids = [p["id"] for p in r.json()] if r.status == 200 else []
            self.check(pid in ids, f"GET /posts?label={labels[0]} finds the post", r)
        # Only derived sizes are served (JPEG, metadata dropped), never the uploaded PNG.
        self.check(bool(post and post.get("image") and post.get("thumbnail")),
                   "the labelled post has its display size and thumbnail", f"post: {post}")
        for field in ("image", "thumbnail"):
            if post and post.get(field):
                img = client.request("GET", post[field], dns=self.node.dns(), timeout=30)
                self.check(img.status == 200 and img.body[:3] == b"\xff\xd8\xff" and img.body != data,
                           f"the post's {field} URL returns a derived JPEG, not the uploaded bytes", img.status)
        self.check(bool(self.traces(aws, pid)), "the picture is stored before the delete", "no trace found")
        r = self.api("DELETE", f"/posts/{quote(pid, safe='')}", token=token)
        self.check(r.status == 204, "DELETE /posts/{id}", r)
        r = self.api("GET", f"/posts/{quote(pid, safe='')}")
        self.check(r.status == 404, "GET after delete is 404", r)
        self.check_deleted(aws, user, pid, up["objectName"], labels)

    def traces(self, aws, pid):
        """Stored pictures of a post: S3 keys or files on the data volume."""
        post_uuid = pid.split("#", 1)[-1]
        if aws:
            s3 = boto3.client("s3", endpoint_url=MOTO_URL, region_name=self.region,
                              aws_access_key_id="testing", aws_secret_access_key="testing")
            return [o["Key"] for o in s3.list_objects_v2(Bucket=self.bucket).get("Contents", []) if post_uuid in o["Key"]]
        pvc = os.path.join(self.work, "pvc")
        return [os.path.join(d, f) for d, _, fs in os.walk(pvc) for f in fs if post_uuid in os.path.join(d, f)]

    def check_deleted(self, aws, user, pid, key, labels):
        post_uuid = pid.split("#", 1)[-1]
        if aws:
            kw = dict(endpoint_url=MOTO_URL, region_name=self.region,
                      aws_access_key_id="testing", aws_secret_access_key="testing")
            ddb = boto3.client("dynamodb", **kw)
            s3 = boto3.client("s3", **kw)
            items = ddb.scan(TableName=self.table)["Items"]
            left = [i for i in items if post_uuid in str(i)]
            self.check(not left, "DynamoDB has no item of the deleted post", left)
            objs = s3.list_objects_v2(Bucket=self.bucket).get("Contents", [])
            left = [o["Key"] for o in objs if post_uuid in o["Key"]]
            self.check(not left, "S3 has no object of the deleted post", left)
        else:
            pvc = os.path.join(self.work, "pvc")
            files = [os.path.join(d, f) for d, _, fs in os.walk(pvc) for f in fs]
            left = [f for f in files if post_uuid in f]
            self.check(not left, "no picture file of the deleted post on the data volume", left)
            dbs = [f for f in files if f.endswith((".db", ".sqlite", ".sqlite3"))]
            if self.check(bool(dbs), "the SQLite database is on the data volume (PVC)", files):
                con = sqlite3.connect(f"file:{dbs[0]}?mode=ro", uri=True)
                n = con.execute("SELECT count(*) FROM posts").fetchone()[0]
                nl = con.execute("SELECT count(*) FROM post_labels").fetchone()[0]
                con.close()
                self.check(n == 0 and nl == 0, "no post or label row left in SQLite", f"posts={n} post_labels={nl}")

    def assert_confined(self, pod):
        """The process cannot write outside its mounts (readOnlyRootFilesystem)."""
        for c in pod.containers:
            pid = str(c.proc.pid)
            mounts = [m["mountPath"] for m in c.spec.get("volumeMounts") or []]
            def try_write(path):
                return subprocess.run(["nsenter", "-t", pid, "-m", "-r", "-w", "/usr/bin/setpriv",
                                       "--reuid", "65532", "--regid", "65532", "--clear-groups",
                                       "/usr/bin/touch", path], capture_output=True).returncode == 0
            root_ro = not any(try_write(p) for p in ("/deploy-test-probe", "/usr/local/bin/x", "/models/x", "/etc/x"))
            mounts_rw = all(try_write(os.path.join(m, ".deploy-test-probe")) for m in mounts)
            self.check(root_ro and mounts_rw, f"pod {pod.name}: root filesystem read-only, {mounts} writable",
                       f"root read-only={root_ro} mounts writable={mounts_rw}")

    # ---- the whole run ------------------------------------------------------------
    def main(self):
        name = os.path.basename(self.example)
        print(f"test-deploy: {name}", flush=True)
        images = dockerfile.images(os.path.join(self.root, "docker"))
        pg = self.postagram()
        objs = self.manifests(pg)
        self.static(objs, pg)
        ns = pg["metadata"]["namespace"]
        self.node = Node(self.work, self.bin_dir, self.root, images)
        aws = "aws" in pg["spec"]["storage"]
        deps = {d["metadata"]["name"]: d for d in objs.kind("Deployment")}
        api_dep = objs.get("Deployment", ns, f"{pg['metadata']['name']}-api")
        cm = objs.get("ConfigMap", ns, f"{pg['metadata']['name']}-config")["data"]
        if aws:
            self.region, self.table, self.bucket = cm["AWS_REGION"], cm["POSTAGRAM_TABLE"], cm["POSTAGRAM_BUCKET"]
            self.start_moto()
            q = self.init_aws(objs, api_dep)
            self.check(q == cm["POSTAGRAM_QUEUE_URL"], "init-aws (API container's environment) created the queue the ConfigMap names",
                       f"{q} != {cm['POSTAGRAM_QUEUE_URL']}")
        pods = {}
        for dname, d in deps.items():
            replicas = d["spec"].get("replicas")
            hpa = next((h for h in objs.kind("HorizontalPodAutoscaler") if h["spec"]["scaleTargetRef"]["name"] == dname), None)
            if replicas is None:
                replicas = hpa["spec"].get("minReplicas", 1) if hpa else 1
            pods[dname] = self.node.run_deployment(objs, d, replicas)
            print(f"  started {replicas} pod(s) of {dname}: " + ", ".join(f"{p.name} {p.ip}" for p in pods[dname]), flush=True)
        svc = {s["metadata"]["name"]: self.node.run_service(s) for s in objs.kind("Service")}
        all_pods = [p for ps in pods.values() for p in ps]
        problems = self.node.wait_ready(all_pods, READY_TIMEOUT)
        for p in problems:
            self.fail(p)
        for p in all_pods:
            if p.ready():
                self.ok(f"pod {p.name} Ready (readinessProbe " + ", ".join(
                    f"GET :{c.probe_target('readinessProbe')[1]}{c.probe_target('readinessProbe')[2]}" for c in p.containers) + ")")
                for c in p.containers:
                    ip, port, path, pr = c.probe_target("livenessProbe")
                    live, detail = probe_http(ip, port, path, pr.get("timeoutSeconds", 1))
                    self.check(live, f"pod {p.name} livenessProbe GET :{port}{path}", detail)
                self.assert_confined(p)
        api_svc = svc[f"{pg['metadata']['name']}-api"]
        port = api_svc["svc"]["spec"]["ports"][0]["port"]
        self.base = f"http://{api_svc['names'][0]}:{port}"
        api_pods = pods[api_dep["metadata"]["name"]]
        if any(p.ready() for p in api_pods):
            photo = os.path.join(self.root, "labeler/testdata/photos/chelsea.png")
            self.user_flow(photo, aws)
        else:
            self.fail("no API pod is Ready: the user flow through the Service cannot run")
        if aws:
            self.outage(all_pods, api_pods)
        for p in all_pods:
            for c in p.containers:
                self.check(c.restarts == 0, f"pod {p.name} container {c.name} never restarted",
                           f"{c.restarts} restart(s) (liveness failures {c.liveness_failures_total}, last: {c.last_liveness})")
        return self.failures

    def outage(self, all_pods, api_pods):
        print("  -- moto stopped (outage)", flush=True)
        self.stop_moto()
        deadline = time.monotonic() + 20  # one bound for all pods
        for p in all_pods:
            for c in p.containers:
                ip, port, path, pr = c.probe_target("readinessProbe")
                while True:
                    r = None
                    try:
                        r = client.request("GET", f"http://{ip}:{port}{path}", timeout=5)
                    except OSError as e:
                        detail = str(e)
                    if r is not None and r.status == 503:
                        break
                    if time.monotonic() > deadline:
                        break
                    time.sleep(0.5)
                good = r is not None and r.status == 503
                detail = r if r is not None else detail
                if good:
                    try:
                        good = isinstance(r.json().get("error"), str)
                    except AssertionError as e:
                        good, detail = False, str(e)
                self.check(good, f"pod {p.name}: {path} answers 503 JSON during the outage", detail)
        for p in api_pods:
            r = client.request("GET", f"http://{p.ip}:8080/posts", timeout=15)
            ok = r.status == 503
            body = {}
            if ok:
                try:
                    body = r.json()
                except AssertionError:
                    ok = False
            self.check(ok and body.get("error") == "unavailable" and body.get("message"),
                       f"pod {p.name}: GET /posts answers 503 JSON error=unavailable", r)
        deadline = time.monotonic() + 25
        while time.monotonic() < deadline and any(p.ready() for p in all_pods):
            time.sleep(0.5)
        self.check(not any(p.ready() for p in all_pods), "the kubelet marks every pod NotReady during the outage",
                   [p.name for p in all_pods if p.ready()])
        print("  -- moto started again (empty state: init-aws re-run)", flush=True)
        self.start_moto()
        api_dep = api_pods[0].deployment
        objs = self.manifests(self.postagram())
        self.init_aws(objs, api_dep)
        problems = self.node.wait_ready(all_pods, READY_TIMEOUT)
        for p in problems:
            self.fail(f"after the outage: {p}")
        if not problems:
            self.ok("every pod Ready again after the outage")
        if any(p.ready() for p in api_pods):
            r = self.api("POST", "/auth/signup", body={"username": "after" + uuid.uuid4().hex[:8], "password": "correct horse"})
            self.check(r.status == 201, "the API serves through the Service again", r)


def main():
    root, bin_dir, example, work = sys.argv[1:5]
    # `timeout` sends SIGTERM: leave through the finally below, which cleans up
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    run = Run(root, bin_dir, example, work)
    try:
        failures = run.main()
    except Exception as e:  # report, then clean up in finally
        traceback.print_exc()
        failures = run.failures + [f"{type(e).__name__}: {e}"]
    finally:
        if run.node:
            run.node.close()
    name = os.path.basename(example)
    if failures:
        print(f"test-deploy: {name}: {len(failures)} failure(s):", flush=True)
        for f in failures:
            print(f"  - {f.splitlines()[0]}", flush=True)
        return 1
    print(f"test-deploy: {name}: OK", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
