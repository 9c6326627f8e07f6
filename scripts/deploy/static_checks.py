"""Checks on the generated objects that a real API server would accept but that would leave
a cluster broken: autoscalers aimed at nothing or at pods without CPU requests, selectors
that select no pods, an Ingress pointing at a missing Service port, children without an
owner (never garbage-collected)."""

from manifests import ManifestError, named_port, selector_matches


def _templates(objs):
    """(Deployment, its pod template) for every Deployment."""
    return [(d, d["spec"]["template"]) for d in objs.kind("Deployment")]


def check(objs, owner):
    """Returns a list of problems (empty when all is well). `owner` is the Postagram."""
    problems = []
    ns = owner["metadata"].get("namespace", "default")
    name = owner["metadata"]["name"]
    templates = _templates(objs)

    for d, t in templates:
        labels = t["metadata"].get("labels") or {}
        if not selector_matches(d["spec"]["selector"], labels):
            problems.append(f"Deployment {d['metadata']['name']}: selector does not match its pod template labels")
        for c in t["spec"]["containers"]:
            for kind in ("readinessProbe", "livenessProbe"):
                probe = c.get(kind)
                if probe is None:
                    problems.append(f"Deployment {d['metadata']['name']}/{c['name']}: no {kind}")
                    continue
                try:
                    named_port(c, probe["httpGet"]["port"])
                except (ManifestError, KeyError) as e:
                    problems.append(f"Deployment {d['metadata']['name']}/{c['name']}: {kind}: {e}")
        for v in t["spec"].get("volumes") or []:
            claim = (v.get("persistentVolumeClaim") or {}).get("claimName")
            if claim and objs.get("PersistentVolumeClaim", ns, claim) is None:
                problems.append(f"Deployment {d['metadata']['name']}: volume {v['name']} claims missing PVC {claim}")

    for hpa in objs.kind("HorizontalPodAutoscaler"):
        ref = hpa["spec"]["scaleTargetRef"]
        target = objs.get(ref["kind"], ns, ref["name"])
        hname = hpa["metadata"]["name"]
        if target is None or target.get("apiVersion") != ref.get("apiVersion"):
            problems.append(f"HPA {hname}: scaleTargetRef {ref} names no generated object")
            continue
        if target["spec"].get("replicas") is not None:
            problems.append(f"HPA {hname}: {ref['name']} sets spec.replicas, which fights the autoscaler")
        uses_cpu = any(m.get("resource", {}).get("name") == "cpu" for m in hpa["spec"].get("metrics") or [])
        for c in target["spec"]["template"]["spec"]["containers"]:
            cpu = ((c.get("resources") or {}).get("requests") or {}).get("cpu")
            if uses_cpu and not cpu:
                problems.append(f"HPA {hname}: container {c['name']} of {ref['name']} has no CPU request")

    def pods_selected(selector):
        return [d["metadata"]["name"] for d, t in templates
                if selector_matches(selector, t["metadata"].get("labels") or {})]

    for pdb in objs.kind("PodDisruptionBudget"):
        sel = pods_selected(pdb["spec"]["selector"])
        if len(sel) != 1:
            problems.append(f"PDB {pdb['metadata']['name']}: selector matches the pods of {sel}, want exactly one Deployment")

    for svc in objs.kind("Service"):
        sname = svc["metadata"]["name"]
        sel = pods_selected(svc["spec"].get("selector") or {})
        if len(sel) != 1:
            problems.append(f"Service {sname}: selector matches the pods of {sel}, want exactly one Deployment")
            continue
        d = objs.get("Deployment", ns, sel[0])
        for port in svc["spec"]["ports"]:
            for c in d["spec"]["template"]["spec"]["containers"]:
                try:
                    named_port(c, port.get("targetPort", port["port"]))
                    break
                except ManifestError:
                    pass
            else:
                problems.append(f"Service {sname}: targetPort {port.get('targetPort')} is no container port of {sel[0]}")

    for ing in objs.kind("Ingress"):
        for rule in ing["spec"].get("rules") or []:
            for path in (rule.get("http") or {}).get("paths") or []:
                be = path["backend"]["service"]
                svc = objs.get("Service", ns, be["name"])
                if svc is None:
                    problems.append(f"Ingress {ing['metadata']['name']}: backend Service {be['name']} does not exist")
                    continue
                want = be["port"]
                ok = any((want.get("name") and p.get("name") == want["name"])
                         or (want.get("number") and p["port"] == want["number"])
                         for p in svc["spec"]["ports"])
                if not ok:
                    problems.append(f"Ingress {ing['metadata']['name']}: Service {be['name']} has no port {want}")

    for o in objs.all:
        what = f"{o['kind']} {o['metadata']['name']}"
        if o["metadata"].get("namespace", "default") != ns:
            problems.append(f"{what}: namespace {o['metadata'].get('namespace')} is not the Postagram's {ns}")
        refs = o["metadata"].get("ownerReferences") or []
        ctl = [r for r in refs if r.get("controller")]
        if len(ctl) != 1 or ctl[0].get("kind") != owner["kind"] or ctl[0].get("name") != name \
                or ctl[0].get("apiVersion") != owner["apiVersion"] or not ctl[0].get("uid"):
            problems.append(f"{what}: no controller ownerReference to {owner['kind']} {name} ({refs})")
    return problems
