"""The test's HTTP client: real sockets, cluster DNS names resolved to Service addresses
(what a pod's resolver would answer), JSON in and out."""

import http.client
import json
import urllib.parse


class Response:
    def __init__(self, status, headers, body):
        self.status, self.headers, self.body = status, headers, body

    def json(self):
        try:
            return json.loads(self.body)
        except ValueError as e:
            raise AssertionError(f"HTTP {self.status}: body is not JSON: {self.body[:300]!r}") from e

    def __repr__(self):
        return f"HTTP {self.status} {self.body[:300]!r}"


def request(method, url, dns=None, body=None, headers=None, token=None, timeout=20):
    u = urllib.parse.urlsplit(url)
    host = (dns or {}).get(u.hostname, u.hostname)
    port = u.port or (443 if u.scheme == "https" else 80)
    if u.scheme != "http":
        raise AssertionError(f"{url}: only plain HTTP is reachable here")
    hdrs = dict(headers or {})
    hdrs["Host"] = u.netloc
    if token:
        hdrs["Authorization"] = f"Bearer {token}"
    if isinstance(body, (dict, list)):
        body = json.dumps(body).encode()
        hdrs.setdefault("Content-Type", "application/json")
    path = u.path or "/"
    if u.query:
        path += "?" + u.query
    c = http.client.HTTPConnection(host, port, timeout=timeout)
    try:
        c.request(method, path, body=body, headers=hdrs)
        r = c.getresponse()
        return Response(r.status, dict(r.getheaders()), r.read())
    finally:
        c.close()
