#!/usr/bin/env python3
"""Memory under hostile requests: `make bench-hostile`.

Starts the release binary with its embedded defaults (SQLite, the built-in mock
provider), then sends what once took the server to gigabytes:
  1. one 2 MB request to mock/echo, whole and streamed;
  2. 16 concurrent 10 MiB requests to mock/echo (the largest body allowed);
and prints the server's peak resident memory (VmHWM) after each. The goal is
under 100 MiB for the 16 concurrent 10 MiB requests.

Only the Python standard library is used.
"""

import json
import os
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
BINARY = os.path.join(ROOT, "target", "release", "tollgate")
GOAL_MIB = 100


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def rss_kib(pid, field):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith(field + ":"):
                return int(line.split()[1])
    return 0


def call(base, path, body=None, token=None, timeout=120):
    data = body if isinstance(body, bytes) or body is None else json.dumps(body).encode()
    req = urllib.request.Request(base + path, data=data, method="POST")
    req.add_header("content-type", "application/json")
    if token:
        req.add_header("authorization", "Bearer " + token)
    with urllib.request.urlopen(req, timeout=timeout) as resp:
        return resp.status, resp.read()


def request_body(size, stream=False):
    filler = "lorem ipsum dolor sit amet "
    content = (filler * (size // len(filler) + 1))[: size - 200]
    body = {"model": "mock/echo", "messages": [{"role": "user", "content": content}]}
    if stream:
        body["stream"] = True
    return json.dumps(body).encode()


def main():
    if not os.path.exists(BINARY):
        sys.exit(f"{BINARY} is missing: run `cargo build --release --bin tollgate` first")
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    with tempfile.TemporaryDirectory() as data_dir:
        env = dict(os.environ, LISTEN_ADDR=f"127.0.0.1:{port}", DATA_DIR=data_dir, RUST_LOG="warn", FRONTEND_DIR="")
        server = subprocess.Popen([BINARY], env=env, cwd=data_dir)
        try:
            for _ in range(200):
                try:
                    urllib.request.urlopen(base + "/healthz", timeout=1)
                    break
                except OSError:
                    time.sleep(0.05)
            token = json.loads(call(base, "/auth/join")[1])["token"]
            secret = json.loads(call(base, "/gateways", {"name": "bench"}, token)[1])["secret"]
            idle = rss_kib(server.pid, "VmRSS")
            rows = [("idle", idle, idle)]

            two_mb = request_body(2 * 1024 * 1024)
            status, answer = call(base, "/v1/chat/completions", two_mb, secret)
            assert status == 200, status
            call(base, "/v1/chat/completions", request_body(2 * 1024 * 1024, stream=True), secret)
            rows.append(("one 2 MB request, whole then streamed", rss_kib(server.pid, "VmRSS"), rss_kib(server.pid, "VmHWM")))

            ten_mib = request_body(10 * 1024 * 1024 - 1024)
            statuses = []

            def worker():
                try:
                    statuses.append(call(base, "/v1/chat/completions", ten_mib, secret)[0])
                except urllib.error.HTTPError as e:
                    statuses.append(e.code)

            threads = [threading.Thread(target=worker) for _ in range(16)]
            started = time.time()
            for t in threads:
                t.start()
            for t in threads:
                t.join()
            took = time.time() - started
            peak = rss_kib(server.pid, "VmHWM")
            rows.append((f"16 concurrent 10 MiB requests ({took:.1f} s)", rss_kib(server.pid, "VmRSS"), peak))
        finally:
            server.terminate()
            server.wait(timeout=60)

    print()
    print(f"{'phase':<52} {'RSS after':>10} {'peak RSS':>10}")
    for name, now, high in rows:
        print(f"{name:<52} {now / 1024:>8.1f} M {high / 1024:>8.1f} M")
    codes = {c: statuses.count(c) for c in set(statuses)}
    print(f"\nstatuses of the 16 concurrent calls: {codes}")
    ok = peak / 1024 < GOAL_MIB and all(c in (200, 503) for c in statuses)
    print(f"goal: peak RSS under {GOAL_MIB} MiB with every call answered 200 (or 503 server_busy): {'met' if ok else 'NOT met'}")
    sys.exit(0 if ok else 1)


if __name__ == "__main__":
    main()
