"""What an image is, read from the project's own docker/*.Dockerfile: the tag it is built
as (the `docker build ... -t <image>` line of its header), the final stage's ENTRYPOINT,
CMD, ENV, USER and the files it COPYs in. A change to a Dockerfile changes what
scripts/test-deploy.sh runs."""

import glob
import json
import os
import re
import shlex


class DockerfileError(Exception):
    """A Dockerfile the test cannot read as an image."""


class Image:
    """The final stage of one Dockerfile, as far as a container runtime uses it."""

    def __init__(self, path):
        self.path = path
        self.tags = []
        self.entrypoint = []
        self.cmd = []
        self.env = {}
        self.user = None
        self.workdir = "/"
        # (destination in the image, source stage, source path) of the final stage's COPYs
        self.copies = []

    def __repr__(self):
        return f"Image({os.path.basename(self.path)}, entrypoint={self.entrypoint}, cmd={self.cmd})"


def _exec_form(value, where):
    value = value.strip()
    if value.startswith("["):
        try:
            parsed = json.loads(value)
        except json.JSONDecodeError as e:
            raise DockerfileError(f"{where}: bad exec form {value!r}: {e}") from e
        if not all(isinstance(x, str) for x in parsed):
            raise DockerfileError(f"{where}: exec form must be strings: {value!r}")
        return parsed
    # shell form: what Docker runs is /bin/sh -c, which a distroless image does not have
    raise DockerfileError(f"{where}: shell form {value!r} needs /bin/sh; the images have no shell")


def _logical_lines(text):
    buf = ""
    for raw in text.splitlines():
        line = raw.rstrip()
        if not buf and line.lstrip().startswith("#"):
            yield line.lstrip()
            continue
        if line.endswith("\\"):
            buf += line[:-1] + " "
            continue
        buf += line
        if buf.strip():
            yield buf.strip()
        buf = ""
    if buf.strip():
        yield buf.strip()


def parse(path):
    """Parses one Dockerfile; raises DockerfileError on anything it does not understand
    in the final stage."""
    text = open(path).read()
    img = Image(path)
    for m in re.finditer(r"docker build\s+(?:.*?\s)?-t\s+(\S+)", text):
        img.tags.append(m.group(1))
    stage = None
    for line in _logical_lines(text):
        if line.startswith("#"):
            continue
        word, _, rest = line.partition(" ")
        word = word.upper()
        where = f"{os.path.basename(path)}: {word}"
        if word == "FROM":
            # a new stage: only the last one is the image
            stage = rest
            img.entrypoint, img.cmd, img.env, img.user, img.copies = [], [], {}, None, []
            img.workdir = "/"
        elif word == "ENTRYPOINT":
            img.entrypoint = _exec_form(rest, where)
        elif word == "CMD":
            img.cmd = _exec_form(rest, where)
        elif word == "ENV":
            parts = shlex.split(rest)
            if len(parts) >= 2 and "=" not in parts[0]:
                img.env[parts[0]] = " ".join(parts[1:])
            else:
                for p in parts:
                    k, eq, v = p.partition("=")
                    if not eq:
                        raise DockerfileError(f"{where}: cannot read {rest!r}")
                    img.env[k] = v
        elif word == "USER":
            img.user = rest.strip()
        elif word == "WORKDIR":
            img.workdir = rest.strip()
        elif word == "COPY":
            parts = shlex.split(rest)
            src_stage = None
            args = []
            for p in parts:
                if p.startswith("--from="):
                    src_stage = p.split("=", 1)[1]
                elif p.startswith("--"):
                    continue
                else:
                    args.append(p)
            if len(args) != 2:
                raise DockerfileError(f"{where}: expected one source and one destination: {rest!r}")
            img.copies.append((args[1], src_stage, args[0]))
    if stage is None:
        raise DockerfileError(f"{path}: no FROM")
    if not img.entrypoint:
        raise DockerfileError(f"{path}: final stage has no ENTRYPOINT")
    if not img.tags:
        raise DockerfileError(f"{path}: no `docker build ... -t <image>` line names the image it builds")
    return img


def images(docker_dir):
    """Every image the project builds, by tag."""
    out = {}
    for path in sorted(glob.glob(os.path.join(docker_dir, "*.Dockerfile"))):
        img = parse(path)
        for tag in img.tags:
            if tag in out:
                raise DockerfileError(f"image {tag} is built by both {out[tag].path} and {path}")
            out[tag] = img
    if not out:
        raise DockerfileError(f"no Dockerfiles in {docker_dir}")
    return out
