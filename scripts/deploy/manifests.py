"""The objects `postagram-operator manifests` prints, indexed, and what the kubelet derives
from them: a container's exact environment (image ENV, envFrom ConfigMaps, env with
secretKeyRef/configMapKeyRef, $(VAR) references) and its command line."""

import base64
import re

import yaml


class ManifestError(Exception):
    """Something in the generated objects a cluster would refuse or could not run."""


class Objects:
    """Every generated object, plus objects the user creates beside them (Secrets)."""

    def __init__(self, docs, extra=()):
        self.all = [d for d in docs if d]
        self.extra = list(extra)
        self.by_key = {}
        for d in self.all + self.extra:
            key = (d["kind"], d["metadata"].get("namespace", "default"), d["metadata"]["name"])
            if key in self.by_key:
                raise ManifestError(f"duplicate object {key}")
            self.by_key[key] = d

    @classmethod
    def from_yaml(cls, text, extra=()):
        return cls(list(yaml.safe_load_all(text)), extra)

    def kind(self, kind):
        return [d for d in self.all if d["kind"] == kind]

    def get(self, kind, namespace, name):
        return self.by_key.get((kind, namespace, name))


def _expand(value, env):
    """Kubernetes $(VAR) expansion: defined names are replaced, $$ escapes, others stay."""
    def sub(m):
        if m.group(0) == "$$":
            return "$"
        name = m.group(1)
        return env[name] if name in env else m.group(0)
    return re.sub(r"\$\$|\$\(([A-Za-z_][A-Za-z0-9_.-]*)\)", sub, value)


def container_env(objs, namespace, container, image, pod_name):
    """The environment the container's process gets, resolved as the kubelet does:
    image ENV (and the runtime's default PATH), HOSTNAME, then envFrom in order, then env
    (later wins). Missing ConfigMaps/Secrets/keys fail unless marked optional."""
    env = {"PATH": "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"}
    env.update(image.env)
    env["HOSTNAME"] = pod_name
    what = f"container {container['name']}"
    for src in container.get("envFrom") or []:
        prefix = src.get("prefix", "")
        if "configMapRef" in src:
            ref = src["configMapRef"]
            cm = objs.get("ConfigMap", namespace, ref["name"])
            if cm is None:
                if ref.get("optional"):
                    continue
                raise ManifestError(f"{what}: envFrom ConfigMap {ref['name']} does not exist")
            for k, v in (cm.get("data") or {}).items():
                env[prefix + k] = v
        elif "secretRef" in src:
            ref = src["secretRef"]
            sec = objs.get("Secret", namespace, ref["name"])
            if sec is None:
                if ref.get("optional"):
                    continue
                raise ManifestError(f"{what}: envFrom Secret {ref['name']} does not exist")
            for k, v in _secret_data(sec).items():
                env[prefix + k] = v
        else:
            raise ManifestError(f"{what}: unsupported envFrom {src}")
    for var in container.get("env") or []:
        name = var["name"]
        if "value" in var:
            env[name] = _expand(var["value"], env)
            continue
        frm = var.get("valueFrom")
        if frm is None:
            env[name] = ""
            continue
        if "secretKeyRef" in frm:
            ref = frm["secretKeyRef"]
            sec = objs.get("Secret", namespace, ref["name"])
            data = _secret_data(sec) if sec else None
            if data is None or ref["key"] not in data:
                if ref.get("optional"):
                    continue
                raise ManifestError(
                    f"{what}: env {name} needs key {ref['key']} of Secret {ref['name']}, which "
                    + ("does not exist" if sec is None else "has no such key"))
            env[name] = data[ref["key"]]
        elif "configMapKeyRef" in frm:
            ref = frm["configMapKeyRef"]
            cm = objs.get("ConfigMap", namespace, ref["name"])
            data = (cm or {}).get("data") or {}
            if ref["key"] not in data:
                if ref.get("optional"):
                    continue
                raise ManifestError(f"{what}: env {name} needs key {ref['key']} of ConfigMap {ref['name']}")
            env[name] = data[ref["key"]]
        else:
            raise ManifestError(f"{what}: env {name}: unsupported valueFrom {frm}")
    return env


def _secret_data(sec):
    out = {}
    for k, v in (sec.get("data") or {}).items():
        out[k] = base64.b64decode(v).decode()
    out.update(sec.get("stringData") or {})
    return out


def command_line(container, image, env):
    """ENTRYPOINT/CMD overridden by command/args, the Kubernetes way: `command` replaces
    ENTRYPOINT and drops CMD; `args` replaces CMD."""
    if container.get("command"):
        argv = list(container["command"]) + list(container.get("args") or [])
    else:
        argv = list(image.entrypoint) + list(
            container["args"] if container.get("args") is not None else image.cmd)
    return [_expand(a, env) for a in argv]


def named_port(container, port):
    """A probe's or Service's port (number or the name of a containerPort) as a number."""
    if isinstance(port, int):
        return port
    if isinstance(port, str) and port.isdigit():
        return int(port)
    for p in container.get("ports") or []:
        if p.get("name") == port:
            return p["containerPort"]
    raise ManifestError(f"container {container['name']} has no port named {port!r}")


def selector_matches(selector, labels):
    """matchLabels (and a plain Service selector map) against pod labels."""
    if "matchExpressions" in selector:
        raise ManifestError(f"matchExpressions are not handled here: {selector}")
    wanted = selector.get("matchLabels", selector) if isinstance(selector, dict) else {}
    return bool(wanted) and all(labels.get(k) == v for k, v in wanted.items())
