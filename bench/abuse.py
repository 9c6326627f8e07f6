#!/usr/bin/env python3
"""The attacks of bench/abuse.sh, one per sub-command, each bounded in count and time.

Standard library only, so it runs with any Python 3. Every attack prints one line
`attack=<name> <key>=<value> …` with the statuses it saw; bench/abuse.sh reads the
server's peak RSS around it.

  abuse.py seed URL POSTS         a user `abuse` and POSTS posts with 40 KB bodies
  abuse.py junk URL N PAR         N x GET /posts?limit=100&x=<i>, PAR at a time
  abuse.py signups URL N          N sign-ups at once (distinct names)
  abuse.py halfopen HOST PORT N SECS   N connections that send half a request line and wait
  abuse.py pngs URL SIDE N        N SIDExSIDE 16-bit PNG uploads at once, waits for their jobs
  abuse.py load URL PATH N PAR    exactly N x GET PATH over PAR keep-alive connections (not an
                                  attack: the fixed request count bench/abuse-instructions.sh needs)
"""

import concurrent.futures as cf
import http.client
import json
import socket
import struct
import sys
import time
import urllib.parse
import zlib
from collections import Counter

PASSWORD = "abuse-password"


def request(url, method="GET", path="/", body=None, headers=None, timeout=60):
    u = urllib.parse.urlsplit(url)
    conn = http.client.HTTPConnection(u.hostname, u.port, timeout=timeout)
    try:
        data = None
        hdrs = dict(headers or {})
        if body is not None:
            data = body if isinstance(body, bytes) else json.dumps(body, ensure_ascii=False).encode()
            hdrs.setdefault("content-type", "application/json")
        conn.request(method, path, body=data, headers=hdrs)
        resp = conn.getresponse()
        payload = resp.read()
        return resp.status, payload
    except OSError as e:
        return type(e).__name__, b""
    finally:
        conn.close()


def token(url, user="abuse", password=PASSWORD):
    request(url, "POST", "/auth/signup", {"username": user, "password": password})
    status, payload = request(url, "POST", "/auth/login", {"username": user, "password": password})
    if status != 200:
        sys.exit(f"abuse: login as {user} failed: {status} {payload[:200]!r}")
    return json.loads(payload)["token"]


def seed(url, posts):
    auth = {"authorization": f"Bearer {token(url)}"}
    body = "\U0001F600" * 10_000  # 10 000 characters, 40 000 bytes of UTF-8
    seen = Counter()
    for i in range(int(posts)):
        status, _ = request(url, "POST", "/posts", {"title": f"big {i}", "body": body}, auth)
        seen[status] += 1
    report("seed", seen)


def junk(url, n, par):
    def one(i):
        return request(url, "GET", f"/posts?limit=100&x={i}")[0]

    with cf.ThreadPoolExecutor(int(par)) as pool:
        seen = Counter(pool.map(one, range(int(n))))
    report("junk", seen)


def signups(url, n):
    stamp = int(time.time() * 1000) % 1_000_000

    def one(i):
        return request(url, "POST", "/auth/signup", {"username": f"s{stamp}x{i}", "password": PASSWORD})[0]

    with cf.ThreadPoolExecutor(int(n)) as pool:
        seen = Counter(pool.map(one, range(int(n))))
    report("signups", seen)


def halfopen(host, port, n, secs):
    socks, refused = [], 0
    for _ in range(int(n)):
        try:
            s = socket.create_connection((host, int(port)), timeout=5)
            s.sendall(b"GET /posts HTTP/1.1\r\nHost: x\r\n")  # never finishes the headers
            socks.append(s)
        except OSError:
            refused += 1
    time.sleep(float(secs))
    # A connection the server gave up on is readable: EOF, a reset, or an error response.
    closed = 0
    for s in socks:
        s.setblocking(False)
        try:
            s.recv(65536)
            closed += 1
        except BlockingIOError:
            pass  # still open, waiting for the rest of the headers
        except OSError:
            closed += 1
        s.close()
    print(f"attack=halfopen opened={len(socks)} refused={refused} closed_by_server={closed}")


def png(side):
    """A 16-bit RGB PNG of side x side zeros: small on disk, huge decoded."""

    def chunk(kind, data):
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    row = b"\x00" + bytes(side * 6)
    comp = zlib.compressobj(9)
    idat = b"".join(comp.compress(row) for _ in range(side)) + comp.flush()
    ihdr = struct.pack(">IIBBBBB", side, side, 16, 2, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", idat) + chunk(b"IEND", b"")


def pngs(url, side, n):
    auth = {"authorization": f"Bearer {token(url)}"}
    picture = png(int(side))
    ids = []
    for i in range(int(n)):
        status, payload = request(url, "POST", "/posts", {"title": f"huge {i}", "body": "png"}, auth)
        if status != 201:
            sys.exit(f"abuse: creating a post failed: {status} {payload[:200]!r}")
        ids.append(json.loads(payload)["id"])

    def upload(post_id):
        q = urllib.parse.urlencode({"filename": "huge.png", "filetype": "image/png", "postId": post_id})
        status, payload = request(url, "GET", f"/signedUrlPut?{q}", headers=auth)
        if status != 200:
            return f"signedUrlPut {status}"
        target = urllib.parse.urlsplit(json.loads(payload)["uploadURL"])
        path = target.path + ("?" + target.query if target.query else "")
        return request(url, "PUT", path, picture, {"content-type": "image/png"})[0]

    with cf.ThreadPoolExecutor(len(ids)) as pool:
        seen = Counter(pool.map(upload, ids))
    # Wait (bounded) until every job has ended, labelled or failed.
    states = Counter()
    deadline = time.time() + 120
    while time.time() < deadline:
        states = Counter()
        for post_id in ids:
            status, payload = request(url, "GET", f"/posts/{urllib.parse.quote(post_id)}", headers=auth)
            states[json.loads(payload).get("label_status", "?") if status == 200 else f"http {status}"] += 1
        if "pending" not in states:
            break
        time.sleep(0.5)
    report("pngs", seen, states=dict(states), bytes=len(picture))


def load(url, path, n, par):
    u = urllib.parse.urlsplit(url)
    n, par = int(n), int(par)

    def worker(count):
        seen = Counter()
        conn = http.client.HTTPConnection(u.hostname, u.port, timeout=120)
        try:
            for _ in range(count):
                conn.request("GET", path)
                resp = conn.getresponse()
                resp.read()
                seen[resp.status] += 1
        finally:
            conn.close()
        return seen

    shares = [n // par + (1 if i < n % par else 0) for i in range(par)]
    seen = Counter()
    with cf.ThreadPoolExecutor(par) as pool:
        for part in pool.map(worker, shares):
            seen.update(part)
    report("load", seen)


def report(name, seen, **extra):
    statuses = ",".join(f"{k}:{v}" for k, v in sorted(seen.items(), key=str))
    more = " ".join(f"{k}={json.dumps(v, separators=(',', ':'))}" for k, v in extra.items())
    print(f"attack={name} statuses={statuses} {more}".rstrip())


if __name__ == "__main__":
    commands = {"seed": seed, "junk": junk, "signups": signups, "halfopen": halfopen, "pngs": pngs, "load": load}
    if len(sys.argv) < 2 or sys.argv[1] not in commands:
        sys.exit(__doc__)
    commands[sys.argv[1]](*sys.argv[2:])
