#!/usr/bin/env python3
"""kiln validate --url: deploy.smoke against a loopback HTTP server this test
starts (and stops): status, body, header, latency bound, retries with
backoff, timeouts, redirects not followed unless asked, a Host header, a
server that closes mid-reply; JSON and human reports; a URL that is not
http(s) is bad input (exit 2). Nothing but 127.0.0.1 is contacted."""
import json
import os
import socket
import subprocess
import sys
import tempfile
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "fixtures"))
from lctest import Results  # noqa: E402

KILN = os.environ["KILN_BIN"]
hits = {}
lock = threading.Lock()


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *args):
        pass

    def send(self, status, body, headers=()):
        data = body.encode() if isinstance(body, str) else body
        self.send_response(status)
        for k, v in headers:
            self.send_header(k, v)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def do_GET(self):
        with lock:
            hits[self.path] = hits.get(self.path, 0) + 1
            n = hits[self.path]
        if self.path == "/ok":
            self.send(200, "hello from v1.0.0", [("X-Version", "v1.0.0")])
        elif self.path == "/down":
            self.send(503, "the service is down\x1b[2J")
        elif self.path == "/slow":
            time.sleep(0.6)
            self.send(200, "slow")
        elif self.path == "/hang":
            time.sleep(8)
            self.send(200, "late")
        elif self.path.startswith("/flaky"):
            if n <= 2:
                self.send(503, "not yet")
            else:
                self.send(200, "ready")
        elif self.path == "/close":
            # A reply cut short: headers promise 1000 bytes, 7 come, then the connection closes.
            self.wfile.write(b"HTTP/1.1 200 OK\r\nContent-Length: 1000\r\n\r\npartial")
            self.wfile.flush()
            self.connection.shutdown(socket.SHUT_RDWR)
            self.close_connection = True
        elif self.path == "/redirect":
            self.send(302, "moved", [("Location", "/ok")])
        elif self.path == "/host":
            self.send(200, "host=" + self.headers.get("Host", ""))
        else:
            self.send(404, "no such page")


def main():
    r = Results()
    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    port = server.server_address[1]
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    url = "http://127.0.0.1:%d" % port
    tmp = tempfile.mkdtemp(prefix="kiln-smoke-")
    env = dict(os.environ)
    env.pop("KILN_POLICY", None)
    for k in ("http_proxy", "HTTP_PROXY", "https_proxy", "HTTPS_PROXY", "all_proxy", "ALL_PROXY"):
        env.pop(k, None)

    def validate(smoke, *extra, name="p"):
        profile = {"name": "web", "layers": {"app": {"repo": "/nonexistent", "ref": "v1"}},
                   "deploy": {"smoke": smoke}}
        path = os.path.join(tmp, name + ".json")
        with open(path, "w") as f:
            json.dump(profile, f)
        t0 = time.monotonic()
        p = subprocess.run([KILN, "validate", path] + list(extra), capture_output=True,
                           text=True, timeout=120, env=env)
        return p, time.monotonic() - t0

    def one(check, *extra):
        p, secs = validate([check], "--url", url, "--json", *extra)
        try:
            rep = json.loads(p.stdout)
            res = rep["smoke"][0] if rep["smoke"] else None
        except (ValueError, KeyError, IndexError):
            rep, res = None, None
        return p, rep, res, secs

    try:
        p, rep, res, _ = one({"path": "/ok", "status": 200, "contains": "v1.0.0",
                              "header": {"x-version": "v1.0.0"}, "max_latency_ms": 5000})
        r.check("status, body, header and latency all hold: exit 0", p.returncode == 0 and
                rep["passed"] and res["passed"] and res["kind"] == "smoke" and
                res["name"] == "GET /ok" and res["duration_s"] >= 0 and res["message"] == "",
                p.stdout + p.stderr)
        r.check("the report has exactly its keys", rep is not None and set(rep) ==
                {"profile", "env", "passed", "policy", "checks", "smoke"} and
                set(res) == {"name", "kind", "passed", "duration_s", "message"}, p.stdout)

        p, rep, res, _ = one({"path": "/down"})
        r.check("a 503: exit 1 with the status and the body, escaped",
                p.returncode == 1 and not res["passed"] and
                "status 503, expected 200; body: 'the service is down\\x1b[2J'" in res["message"]
                and "\x1b" not in p.stdout + p.stderr, p.stdout + p.stderr)

        p, rep, res, _ = one({"path": "/ok", "contains": "v2.0.0"})
        r.check("a body without the text: what it begins with",
                p.returncode == 1 and "the body does not contain 'v2.0.0'; it begins: "
                "'hello from v1.0.0'" in res["message"], p.stdout)

        p, rep, res, _ = one({"path": "/ok", "header": {"X-Version": "v2.0.0"}})
        r.check("a header with another value", p.returncode == 1 and
                "header X-Version is 'v1.0.0', expected 'v2.0.0'" in res["message"], p.stdout)
        p, rep, res, _ = one({"path": "/ok", "header": {"X-Missing": "x"}})
        r.check("a missing header", p.returncode == 1 and
                "no header X-Missing (expected 'x')" in res["message"], p.stdout)

        p, rep, res, _ = one({"path": "/slow", "max_latency_ms": 200})
        r.check("a latency bound exceeded", p.returncode == 1 and "more than max_latency_ms 200"
                in res["message"], p.stdout)
        p, rep, res, _ = one({"path": "/slow", "max_latency_ms": 5000})
        r.check("a latency bound met", p.returncode == 0, p.stdout + p.stderr)

        hits.clear()
        p, rep, res, secs = one({"path": "/flaky-a", "retries": 3})
        r.check("retries: passes on the third attempt (%.2f s of backoff)" % secs,
                p.returncode == 0 and res["passed"] and hits.get("/flaky-a") == 3,
                "%s %s hits %s" % (p.stdout, p.stderr, hits))
        p, rep, res, _ = one({"path": "/flaky-b", "retries": 1})
        r.check("retries exhausted: fails, saying how many attempts",
                p.returncode == 1 and "status 503" in res["message"] and
                "(after 2 attempts)" in res["message"] and hits.get("/flaky-b") == 2,
                "%s hits %s" % (p.stdout, hits))

        p, rep, res, secs = one({"path": "/hang", "timeout_s": 1})
        r.check("a server that does not answer: timed out within the bound (%.1f s)" % secs,
                p.returncode == 1 and "timed out" in res["message"].lower() and secs < 6,
                "%.1f s: %s" % (secs, p.stdout))

        p, rep, res, _ = one({"path": "/close"})
        r.check("a server that closes mid-reply: fails with what curl saw",
                p.returncode == 1 and not res["passed"] and
                ("transfer closed" in res["message"] or "partial" in res["message"].lower()),
                p.stdout)

        p, rep, res, _ = one({"path": "/redirect"})
        r.check("a redirect is not followed unless asked", p.returncode == 1 and
                "status 302, expected 200" in res["message"], p.stdout)
        p, rep, res, _ = one({"path": "/redirect", "follow_redirects": True, "contains": "hello"})
        r.check("follow_redirects follows it", p.returncode == 0, p.stdout + p.stderr)

        p, rep, res, _ = one({"path": "/host", "host": "www.example.com", "contains":
                              "host=www.example.com:%d" % port})
        r.check("host: name-based routing sends that Host, connects to the URL's address",
                p.returncode == 0 and res["name"] == "GET /host (Host: www.example.com)",
                p.stdout + p.stderr)

        # Several at once, human output: one line per check, every one run.
        p, _ = validate([{"path": "/ok"}, {"path": "/down", "name": "down page"},
                         {"path": "/nope", "status": 404}], "--url", url, name="several")
        lines = p.stdout.splitlines()
        r.check("several checks: one line each, all run, exit 1",
                p.returncode == 1 and any(l.startswith("ok    smoke   GET /ok (") for l in lines)
                and any(l.startswith("FAIL  smoke   down page (") for l in lines) and
                any(l.startswith("ok    smoke   GET /nope (") for l in lines) and
                "1 of 3 smoke checks failed" in p.stderr, p.stdout + p.stderr)

        p, _ = validate([{"path": "/ok"}], "--url", "ftp://127.0.0.1/", name="badurl")
        r.check("a URL that is not http(s): exit 2", p.returncode == 2 and
                "not an http or https URL" in p.stderr, p.stdout + p.stderr)

        junit = os.path.join(tmp, "smoke.xml")
        p, _ = validate([{"path": "/ok"}, {"path": "/down"}], "--url", url, "--junit", junit,
                        name="junit")
        import xml.etree.ElementTree as ET
        x = ET.parse(junit).getroot()
        smoke = [s for s in x if s.get("name") == "smoke"]
        r.check("--junit: a smoke testsuite with its failure", p.returncode == 1 and
                len(smoke) == 1 and smoke[0].get("tests") == "2" and
                smoke[0].get("failures") == "1", open(junit).read())
    finally:
        server.shutdown()
        server.server_close()
        subprocess.run(["rm", "-rf", tmp])
    return r.finish()


if __name__ == "__main__":
    sys.exit(main())
