#!/usr/bin/env python3
"""Tollgate's cost measured against the floor: `make bench` (issue 8).

What it measures, in one run:

1. Latency and throughput. Our own nginx (one worker, keep-alive without limit)
   answers a fixed OpenAI chat.completion JSON and a fixed OpenAI SSE stream.
   wrk (-t1) measures it directly (the floor), through a second nginx that only
   proxies (one worker per CPU, pooled upstream connections, no buffering: what a
   proxy that does nothing else costs on this machine, for reference), and
   through Tollgate (the release
   binary, every call metered and its event stored in SQLite, or in a throwaway
   ClickHouse with CLICKHOUSE=1), at 1 and 32 connections, non-streamed
   (`gpt-4o-mini`, routed to openai -> nginx /json) and streamed
   (`groq/llama-3.1-8b-instant`, routed to groq -> nginx /sse). Each row starts
   with a short warm-up that is not in its figures. Then the three rows of one
   mode and connection count take turns, in rounds of DURATION / 5 seconds
   (whole seconds, at least 1; 5 rounds of 2 s by default):
   each figure is the median over the rounds, and what Tollgate adds (latency,
   and its share of the floor's req/s) is the median of its per-round difference
   from, or ratio to, the floor's round right before. The machine is shared: a
   burst of other work then falls on the floor and on Tollgate alike, instead of
   on whichever row it happens to hit. Tollgate's peak RSS (VmHWM, reset through
   /proc/PID/clear_refs after the warm-up) is read after its rounds.
2. Streams' added time. A raw-socket client (one keep-alive connection,
   TCP_NODELAY) times the first body byte and the end of the chunked answer of
   300 streamed calls to mock-upstream, which writes each SSE event on its own
   1 ms apart: directly, through an nginx that only proxies to it (for reference),
   then through Tollgate (provider mistral pointed at it). It starts once the event
   writer has stored what the rows sent, so it times the relay of a stream rather than
   the writer catching up after 32 connections.
3. Sanity checks. wrk's Lua script counts every request it writes (request() is
   called right before each write); each row, the stream timing and the soak use
   a gateway of their own, so once the event writer has flushed, the events
   stored for each gateway (counted in the store itself) must equal the requests sent
   to it, warm-ups included. Any socket error or non-2xx answer seen by wrk, any
   difference between stored and sent, and any event dropped or spooled
   (/metrics) fail the run with exit status 1, after the report is printed.
4. With SOAK=N: wrk at 8 connections, non-streamed, for N seconds, printing
   Tollgate's RSS every SOAK_INTERVAL seconds, then its growth after the first
   minute and the soak's own stored-vs-sent check.

The goals of issue 8 are printed next to the figures; missing one does not fail
the run (only the sanity checks do).

Settings, from the environment: DURATION (seconds per row, default 10),
CLICKHOUSE (1: events to ClickHouse), SOAK (seconds, default 0: no soak),
SOAK_INTERVAL (seconds, default 30), BENCH_BIN_DIR (the directory holding the
tollgate and mock-upstream binaries, default target/release).

Only the Python standard library is used; wrk and nginx come from Debian
(scripts/bench-tools.sh installs them when missing).
"""

import json
import math
import os
import re
import shutil
import signal
import socket
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.parse
import urllib.request
from datetime import datetime, timezone


def env_int(name, default):
    value = os.environ.get(name, "").strip()
    return int(value) if value else default


ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
BIN_DIR = os.environ.get("BENCH_BIN_DIR") or os.path.join(ROOT, "target", "release")
TOLLGATE = os.path.join(BIN_DIR, "tollgate")
MOCK_UPSTREAM = os.path.join(BIN_DIR, "mock-upstream")

DURATION = env_int("DURATION", 10)
# Each row's DURATION is measured in rounds of about a fifth of it (whole seconds: wrk
# takes no less), the rows of one mode and connection count taking turns.
ROUND_SECONDS = max(1, DURATION // 5)
ROUNDS = max(1, DURATION // ROUND_SECONDS)
WARMUP_SECONDS = 2
CONNECTIONS = (1, 32)
MODES = ("non-streamed", "streamed")
USE_CLICKHOUSE = os.environ.get("CLICKHOUSE", "").strip().lower() in ("1", "true", "yes", "on")
SOAK = env_int("SOAK", 0)
SOAK_INTERVAL = env_int("SOAK_INTERVAL", 30)
SOAK_CONNECTIONS = 8
STREAM_CALLS = 300
STREAM_WARMUP_CALLS = 30
WRITER_TIMEOUT_SECONDS = 120

JSON_MODEL = "gpt-4o-mini"  # openai -> nginx /json/v1
SSE_MODEL = "groq/llama-3.1-8b-instant"  # groq -> nginx /sse/v1
STREAM_MODEL = "mistral/mistral-small-latest"  # mistral -> mock-upstream
PROMPT = "one two three four five six seven eight"
CHAT_ROUTE = "/v1/chat/completions"

# Goals from issue 8.
GOAL_ADDED_P50_US = 60
GOAL_ADDED_P99_US = 500
GOAL_FLOOR_SHARE = 0.30
GOAL_STREAM_TTFB_US = 200
GOAL_STREAM_LAST_US = 300
GOAL_PEAK_MIB = 48
GOAL_SOAK_GROWTH_PCT = 5


class BenchError(Exception):
    """The bench itself could not run (a process did not start, a call failed)."""


# --- the fixed upstream's answers -------------------------------------------------------


def compact(value):
    return json.dumps(value, separators=(",", ":"))


def chat_completion():
    """A small OpenAI chat.completion, as nginx answers every non-streamed call."""
    return compact({
        "id": "chatcmpl-bench0000000000000000000001",
        "object": "chat.completion",
        "created": 1735689600,
        "model": "gpt-4o-mini",
        "choices": [{
            "index": 0,
            "message": {"role": "assistant", "content": "Hello! How can I help you today?", "refusal": None},
            "logprobs": None,
            "finish_reason": "stop",
        }],
        "usage": {"prompt_tokens": 13, "completion_tokens": 9, "total_tokens": 22},
        "system_fingerprint": "fp_bench",
    })


def sse_stream():
    """A short OpenAI stream: content chunks, a final usage chunk, then [DONE]."""
    head = {"id": "chatcmpl-bench0000000000000000000002", "object": "chat.completion.chunk",
            "created": 1735689600, "model": "llama-3.1-8b-instant"}
    deltas = [{"role": "assistant", "content": ""}, {"content": "Hello"}, {"content": "! How"},
              {"content": " can I help"}, {"content": " you today?"}]
    chunks = [dict(head, choices=[{"index": 0, "delta": d, "logprobs": None, "finish_reason": None}]) for d in deltas]
    chunks.append(dict(head, choices=[{"index": 0, "delta": {}, "logprobs": None, "finish_reason": "stop"}]))
    chunks.append(dict(head, choices=[], usage={"prompt_tokens": 13, "completion_tokens": 9, "total_tokens": 22}))
    return "".join(f"data: {compact(c)}\n\n" for c in chunks) + "data: [DONE]\n\n"


def request_body(model, stream):
    body = {"model": model, "messages": [{"role": "user", "content": PROMPT}]}
    if stream:
        # With the usage chunk asked for, the provider streams the same events
        # whether it is called directly or through Tollgate (which asks for it anyway).
        body["stream"] = True
        body["stream_options"] = {"include_usage": True}
    return compact(body)


# --- processes ----------------------------------------------------------------------------


class Processes:
    """Every process the bench starts, stopped (newest first) however the bench ends."""

    def __init__(self):
        self.running = []
        self.clickhouse_dir = None  # started by scripts/clickhouse.sh, which also stops it

    def start(self, name, args, log_path, **kwargs):
        log = open(log_path, "ab")
        proc = subprocess.Popen(args, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, **kwargs)
        log.close()
        self.running.append((name, proc))
        return proc

    def stop_all(self):
        while self.running:
            name, proc = self.running.pop()
            stop(proc, name)
        if self.clickhouse_dir:
            stop_clickhouse(self.clickhouse_dir)
            self.clickhouse_dir = None


def stop(proc, name, grace=60):
    """SIGTERM (Tollgate drains its events on it), then SIGKILL after `grace` seconds."""
    if proc.poll() is not None:
        return
    proc.terminate()
    try:
        proc.wait(timeout=grace)
    except subprocess.TimeoutExpired:
        print(f"{name} ignored SIGTERM for {grace} s: killing it", file=sys.stderr)
        proc.kill()
        proc.wait()


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_for_port(port, proc, name, log_path, timeout=30):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise BenchError(f"{name} exited with status {proc.returncode} at start-up:\n{tail(log_path)}")
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            return
        except OSError:
            time.sleep(0.05)
    raise BenchError(f"{name} did not listen on port {port} within {timeout} s:\n{tail(log_path)}")


def tail(path, lines=20):
    try:
        with open(path, errors="replace") as f:
            return "".join(f.readlines()[-lines:])
    except OSError:
        return f"({path} is unreadable)"


def install_tools():
    subprocess.run([os.path.join(ROOT, "scripts", "bench-tools.sh")], check=True)


def tool(name):
    found = shutil.which(name) or (f"/usr/sbin/{name}" if os.access(f"/usr/sbin/{name}", os.X_OK) else None)
    if not found:
        raise BenchError(f"{name} is not installed (scripts/bench-tools.sh installs it)")
    return found


def nginx_string(text):
    """`text` as an nginx single-quoted string (\\n escapes; nothing else to escape here)."""
    if any(c in text for c in "'\\$"):
        raise ValueError("the fixed answers must not contain quotes, backslashes or $")
    return "'" + text.replace("\n", "\\n") + "'"


def run_nginx(procs, tmp, name, workers, http_config):
    """nginx as our own process under `tmp/<name>`, serving `http_config(prefix, port)`
    inside its http block: the port it listens on."""
    port = free_port()
    prefix = os.path.join(tmp, name.replace(" ", "-"))
    os.makedirs(prefix)
    config = os.path.join(prefix, "nginx.conf")
    with open(config, "w") as f:
        f.write(f"""worker_processes {workers};
pid {prefix}/nginx.pid;
error_log {prefix}/error.log warn;
events {{ worker_connections 1024; }}
http {{
    access_log off;
    keepalive_requests 1000000;
    keepalive_timeout 300s;
    client_body_temp_path {prefix}/client_body;
{http_config(prefix, port)}
}}
""")
    log = os.path.join(prefix, "error.log")
    proc = procs.start(name, [tool("nginx"), "-p", prefix, "-c", config, "-e", log, "-g", "daemon off;"],
                       os.path.join(prefix, "stdout.log"))
    wait_for_port(port, proc, name, log)
    return port


def start_nginx(procs, tmp):
    """The floor: the fixed JSON answer and the fixed SSE stream."""
    return run_nginx(procs, tmp, "nginx", 1, lambda prefix, port: f"""    server {{
        listen 127.0.0.1:{port};
        location = /json/v1/chat/completions {{
            default_type application/json;
            return 200 {nginx_string(chat_completion())};
        }}
        location = /sse/v1/chat/completions {{
            default_type text/event-stream;
            return 200 {nginx_string(sse_stream())};
        }}
    }}""")


def start_nginx_proxy(procs, tmp, upstream_port, name="nginx proxy"):
    """An nginx that only proxies to `upstream_port`: the reference for what a hop costs."""
    return run_nginx(procs, tmp, name, len(os.sched_getaffinity(0)), lambda prefix, port: f"""    proxy_temp_path {prefix}/proxy_temp;
    upstream floor {{
        server 127.0.0.1:{upstream_port};
        keepalive 64;
        keepalive_requests 1000000;
    }}
    server {{
        listen 127.0.0.1:{port};
        location / {{
            proxy_pass http://floor;
            proxy_http_version 1.1;
            proxy_set_header Connection "";
            proxy_buffering off;
        }}
    }}""")


def start_mock_upstream(procs, tmp):
    port = free_port()
    log = os.path.join(tmp, "mock-upstream.log")
    proc = procs.start("mock-upstream", [MOCK_UPSTREAM, "--port", str(port), "--chunk-delay-ms", "1", "--workers", "1"],
                       log)
    wait_for_port(port, proc, "mock-upstream", log)
    return port


def start_clickhouse(procs, tmp):
    """A throwaway ClickHouse (scripts/clickhouse.sh installs it if missing); returns its URL."""
    directory = os.path.join(tmp, "clickhouse")
    procs.clickhouse_dir = directory
    done = subprocess.run([os.path.join(ROOT, "scripts", "clickhouse.sh"), "start", directory],
                          stdout=subprocess.PIPE, text=True)
    if done.returncode != 0 or not done.stdout.strip():
        raise BenchError("ClickHouse did not start (scripts/clickhouse.sh start)")
    return done.stdout.strip().splitlines()[-1]


def stop_clickhouse(directory):
    subprocess.run([os.path.join(ROOT, "scripts", "clickhouse.sh"), "stop", directory], check=False)


def start_tollgate(procs, tmp, nginx_port, mock_port, clickhouse_url):
    port = free_port()
    data_dir = os.path.join(tmp, "tollgate-data")
    os.makedirs(data_dir)
    # A clean environment: no .env, no settings inherited from the shell.
    env = {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "HOME": os.environ.get("HOME", tmp),
        "LISTEN_ADDR": f"127.0.0.1:{port}",
        "DATA_DIR": data_dir,
        "RUST_LOG": "warn",
        "FRONTEND_DIR": "",
        "OPENAI_BASE_URL": f"http://127.0.0.1:{nginx_port}/json/v1",
        "OPENAI_API_KEY": "sk-bench",
        "GROQ_BASE_URL": f"http://127.0.0.1:{nginx_port}/sse/v1",
        "GROQ_API_KEY": "gsk-bench",
        "MISTRAL_BASE_URL": f"http://127.0.0.1:{mock_port}/v1",
        "MISTRAL_API_KEY": "x",
    }
    if clickhouse_url:
        env["CLICKHOUSE_URL"] = clickhouse_url
    log = os.path.join(tmp, "tollgate.log")
    proc = procs.start("tollgate", [TOLLGATE], log, env=env, cwd=data_dir)
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    while True:
        if proc.poll() is not None:
            raise BenchError(f"tollgate exited with status {proc.returncode} at start-up:\n{tail(log)}")
        try:
            api(base, "GET", "/healthz")
            return proc, port
        except (OSError, BenchError):
            if time.monotonic() > deadline:
                raise BenchError(f"tollgate did not answer /healthz within 60 s:\n{tail(log)}")
            time.sleep(0.1)


# --- Tollgate's API and /metrics -------------------------------------------------------

OPENER = urllib.request.build_opener(urllib.request.ProxyHandler({}))


def api(base, method, path, body=None, token=None):
    data = None if body is None else json.dumps(body).encode()
    req = urllib.request.Request(base + path, data=data, method=method)
    if data is not None:
        req.add_header("content-type", "application/json")
    if token:
        req.add_header("authorization", "Bearer " + token)
    try:
        with OPENER.open(req, timeout=60) as resp:
            text = resp.read().decode()
    except urllib.error.HTTPError as e:
        raise BenchError(f"{method} {path}: {e.code} {e.read()[:500]!r}") from None
    return json.loads(text) if text.startswith(("{", "[")) else text


class Gateway:
    """A gateway of its own for each measured part, so each part's events are counted apart."""

    def __init__(self, base, token, name):
        created = api(base, "POST", "/gateways", {"name": name}, token)
        self.name, self.id, self.secret = name, created["id"], created["secret"]
        self.sent = 0
        self.stored = None
        self.errors = None  # stored events that are errors: calls cut when wrk stops (499)


class Store:
    """Counts a gateway's stored events in the store itself. (The analytics API computes
    percentiles as well, which over a soak's millions of SQLite rows takes minutes.)"""

    QUERY = "SELECT count(*), sum(CASE WHEN ok THEN 0 ELSE 1 END) FROM request_events WHERE gateway_id = "

    def __init__(self, data_dir, clickhouse_url):
        self.sqlite_path = os.path.join(data_dir, "tollgate.db")
        self.clickhouse_url = clickhouse_url

    def events(self, gateway):
        """(events stored for the gateway, how many of them are errors)."""
        if self.clickhouse_url:
            query = urllib.parse.urlencode({
                "database": "tollgate",
                "query": f"{self.QUERY}'{gateway.id}' FORMAT TabSeparated",
            })
            with OPENER.open(f"{self.clickhouse_url}/?{query}", timeout=120) as resp:
                total, errors = resp.read().decode().split()
            return int(total), int(errors)
        with sqlite3.connect(f"file:{self.sqlite_path}?mode=ro", uri=True, timeout=60) as db:
            total, errors = db.execute(self.QUERY + "?", (gateway.id,)).fetchone()
        return total, errors or 0


def metrics(base):
    """/metrics as {name: value}, values of one name summed over labels, plus chat responses."""
    values = {}
    chat_responses = 0
    for line in api(base, "GET", "/metrics").splitlines():
        match = re.match(r"^(\w+)(\{[^}]*\})?\s+(\S+)$", line)
        if not match:
            continue
        name, labels, value = match.group(1), match.group(2) or "", float(match.group(3))
        values[name] = values.get(name, 0) + value
        if name == "tollgate_http_requests_total" and f'route="{CHAT_ROUTE}"' in labels:
            chat_responses += value
    values["chat_responses"] = chat_responses
    return values


def wait_for_writer(base):
    """Waits until the event queue is empty and nothing has been inserted for 2.5 s
    (the writer flushes every second), so every event is in the store."""
    deadline = time.monotonic() + WRITER_TIMEOUT_SECONDS
    last_inserted, quiet_since = None, time.monotonic()
    while time.monotonic() < deadline:
        m = metrics(base)
        inserted = m.get("tollgate_events_inserted_total", 0)
        if m.get("tollgate_event_queue_depth", 0) != 0 or inserted != last_inserted:
            last_inserted, quiet_since = inserted, time.monotonic()
        elif time.monotonic() - quiet_since >= 2.5:
            return m
        time.sleep(0.25)
    raise BenchError(f"the event writer did not settle within {WRITER_TIMEOUT_SECONDS} s")


def status_kib(pid, field):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith(field + ":"):
                return int(line.split()[1])
    raise BenchError(f"no {field} in /proc/{pid}/status")


def reset_peak_rss(pid):
    with open(f"/proc/{pid}/clear_refs", "w") as f:
        f.write("5")


# --- wrk ----------------------------------------------------------------------------------

LUA_TEMPLATE = """-- Generated by scripts/bench.py.
wrk.method = "POST"
wrk.body = [==[BODY]==]
wrk.headers["content-type"] = "application/json"
wrk.headers["authorization"] = "Bearer SECRET"

local threads = {}
local req = nil

function setup(thread)
   thread:set("first_thread", #threads == 0)
   table.insert(threads, thread)
end

-- Requests written by this thread: wrk calls request() right before writing each one.
-- Before the run, wrk also calls it once in its first thread only to check the
-- request (script_verify_request): that call writes nothing and is not counted.
sent = 0
local verified = false

function init(args)
   req = wrk.format()
   verified = not first_thread
end

function request()
   if verified then
      sent = sent + 1
   else
      verified = true
   end
   return req
end

function done(summary, latency, requests)
   local total = 0
   for _, thread in ipairs(threads) do
      total = total + thread:get("sent")
   end
   local e = summary.errors
   io.write(string.format(
      'BENCH_RESULT {"requests":%d,"duration_us":%d,"sent":%d,"connect":%d,"read":%d,' ..
      '"write":%d,"status":%d,"timeout":%d,"p50_us":%d,"p99_us":%d}\\n',
      summary.requests, summary.duration, total, e.connect, e.read, e.write, e.status, e.timeout,
      math.floor(latency:percentile(50)), math.floor(latency:percentile(99))))
end
"""

WRK_ERRORS = ("connect", "read", "write", "status", "timeout")


def write_lua(tmp, name, body, secret):
    path = os.path.join(tmp, f"{name}.lua")
    with open(path, "w") as f:
        f.write(LUA_TEMPLATE.replace("BODY", body).replace("SECRET", secret))
    return path


def wrk_command(url, connections, seconds, lua):
    return [tool("wrk"), "-t1", f"-c{connections}", f"-d{seconds}s", "--latency", "-s", lua, url]


def wrk_result(stdout, stderr, what):
    for line in stdout.splitlines():
        if line.startswith("BENCH_RESULT "):
            return json.loads(line[len("BENCH_RESULT "):])
    raise BenchError(f"wrk printed no result for {what}:\n{stdout}\n{stderr}")


def run_wrk(url, connections, seconds, lua, what):
    done = subprocess.run(wrk_command(url, connections, seconds, lua), capture_output=True, text=True,
                          timeout=seconds + 120)
    return wrk_result(done.stdout, done.stderr, what)


def wrk_problems(result, what):
    errors = {k: result[k] for k in WRK_ERRORS if result[k]}
    return [f"{what}: wrk saw errors {errors}"] if errors else []


# --- the rows -----------------------------------------------------------------------------


class Row:
    def __init__(self, target, connections, mode):
        self.target, self.connections, self.mode = target, connections, mode
        self.url = self.lua = None  # what wrk calls, with which script
        self.rounds = []  # wrk's result for each measured round
        self.warmup = None
        self.peak_kib = None
        self.gateway = None
        self.spooled = 0  # Tollgate's events_spooled gauge right after the row

    @property
    def through(self):
        return self.target == "Tollgate"

    @property
    def floor(self):
        return self.target == "nginx direct"

    def label(self):
        return f"{self.target}, {self.connections} conn, {self.mode}"

    def median(self, field):
        """The median over the rounds of one of wrk's figures, or of req/s ("rate")."""
        return statistics.median(rate(r) if field == "rate" else r[field] for r in self.rounds)

    def against(self, floor, field):
        """The median over the rounds of this row's figure minus the floor's in the same round
        ("rate": the ratio of this row's req/s to the floor's)."""
        if field == "rate":
            return statistics.median(rate(r) / rate(f) for r, f in zip(self.rounds, floor.rounds))
        return statistics.median(r[field] - f[field] for r, f in zip(self.rounds, floor.rounds))


def rate(result):
    return result["requests"] / (result["duration_us"] / 1e6)


def measure_rows_of(rows, tollgate_pid):
    """The rows of one mode and connection count: each warmed up (not in the figures), then
    ROUNDS rounds in turn, so a burst of the machine's other work falls on the floor and on
    Tollgate alike; peak RSS over Tollgate's rounds."""
    for row in rows:
        row.warmup = run_wrk(row.url, row.connections, WARMUP_SECONDS, row.lua, row.label() + " (warm-up)")
        if row.through:
            row.gateway.sent += row.warmup["sent"]
            reset_peak_rss(tollgate_pid)
    for n in range(ROUNDS):
        for row in rows:
            result = run_wrk(row.url, row.connections, ROUND_SECONDS, row.lua, f"{row.label()} (round {n + 1})")
            row.rounds.append(result)
            if row.through:
                row.gateway.sent += result["sent"]
    for row in rows:
        if row.through:
            row.peak_kib = status_kib(tollgate_pid, "VmHWM")


def measure_rows(tmp, nginx_port, proxy_port, base, token, tollgate_pid):
    rows = []
    for mode in MODES:
        stream = mode == "streamed"
        path = f"/{'sse' if stream else 'json'}/v1/chat/completions"
        direct_url, proxy_url = f"http://127.0.0.1:{nginx_port}{path}", f"http://127.0.0.1:{proxy_port}{path}"
        body = request_body(SSE_MODEL if stream else JSON_MODEL, stream)
        for connections in CONNECTIONS:
            group = []
            for target in ("nginx direct", "nginx proxy", "Tollgate"):
                row = Row(target, connections, mode)
                name = f"{target.replace(' ', '-').lower()}-{connections}-{'sse' if stream else 'json'}"
                if row.through:
                    row.gateway = Gateway(base, token, f"bench {name}")
                    row.url, secret = base + CHAT_ROUTE, row.gateway.secret
                else:
                    row.url, secret = (direct_url if row.floor else proxy_url), "none"
                row.lua = write_lua(tmp, name, body, secret)
                group.append(row)
            print(f"measuring {connections} conn, {mode} ...", file=sys.stderr, flush=True)
            measure_rows_of(group, tollgate_pid)
            for row in group:
                if row.through:
                    row.spooled = metrics(base).get("tollgate_events_spooled", 0)
            rows.extend(group)
    return rows


# --- streams' added time --------------------------------------------------------------------


class HttpConnection:
    """One keep-alive HTTP/1.1 connection that times a response's first body byte and its end."""

    def __init__(self, port):
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=30)
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.buf = bytearray()
        self.pos = 0
        self.at = 0  # time (perf_counter_ns) of the last receive

    def close(self):
        self.sock.close()

    def receive(self):
        data = self.sock.recv(65536)
        if not data:
            raise BenchError("the connection closed in the middle of a response")
        self.buf += data
        self.at = time.perf_counter_ns()

    def line(self):
        """The next CRLF-terminated line, without its CRLF."""
        while (end := self.buf.find(b"\r\n", self.pos)) < 0:
            self.receive()
        line, self.pos = bytes(self.buf[self.pos:end]), end + 2
        return line

    def take(self, n):
        while len(self.buf) < self.pos + n:
            self.receive()
        data, self.pos = bytes(self.buf[self.pos:self.pos + n]), self.pos + n
        return data

    def call(self, request):
        """Sends `request`; returns (status, body, ns to the first body byte, ns to the end)."""
        self.buf, self.pos = bytearray(), 0
        start = time.perf_counter_ns()
        self.sock.sendall(request)
        status = int(self.line().split()[1])
        headers = {}
        while line := self.line():
            name, _, value = line.decode("latin-1").partition(":")
            headers[name.strip().lower()] = value.strip().lower()
        while len(self.buf) <= self.pos:  # the first body byte
            self.receive()
        first_byte = self.at - start
        if headers.get("transfer-encoding") == "chunked":
            body = bytearray()
            while size := int(self.line().split(b";")[0], 16):
                body += self.take(size)
                if self.take(2) != b"\r\n":
                    raise BenchError("a chunk does not end with CRLF")
            while self.line():  # trailers, up to the empty line that ends the response
                pass
        elif "content-length" in headers:
            body = self.take(int(headers["content-length"]))
        else:
            raise BenchError(f"a response without length on a keep-alive connection: {headers}")
        if self.pos != len(self.buf):
            raise BenchError("bytes after the end of a response")
        return status, bytes(body), first_byte, self.at - start


def stream_request(port, model, secret):
    body = request_body(model, True).encode()
    head = (f"POST {CHAT_ROUTE} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\ncontent-type: application/json\r\n"
            f"authorization: Bearer {secret}\r\ncontent-length: {len(body)}\r\n\r\n")
    return head.encode() + body


def time_streams(port, model, secret, what):
    """Times STREAM_CALLS streamed calls (after STREAM_WARMUP_CALLS untimed ones) on one connection."""
    request = stream_request(port, model, secret)
    conn = HttpConnection(port)
    first_bytes, ends = [], []
    try:
        for i in range(STREAM_WARMUP_CALLS + STREAM_CALLS):
            status, body, first_byte, end = conn.call(request)
            if status != 200 or b"data: [DONE]" not in body:
                raise BenchError(f"{what}: a streamed call answered {status}: {body[:300]!r}")
            if i >= STREAM_WARMUP_CALLS:
                first_bytes.append(first_byte / 1000)
                ends.append(end / 1000)
    finally:
        conn.close()
    return {"ttfb": first_bytes, "last": ends}


def percentile(values, q):
    ordered = sorted(values)
    return ordered[max(0, math.ceil(q / 100 * len(ordered)) - 1)]


# --- the report ---------------------------------------------------------------------------


def fmt_us(us, sign=False):
    prefix = "+" if sign and us >= 0 else ""
    if abs(us) < 1000:
        return f"{prefix}{us:.0f} µs"
    return f"{prefix}{us / 1000:.2f} ms"


def fmt_mib(kib):
    return f"{kib / 1024:.1f} MiB"


def floor_of(rows, row):
    return next(r for r in rows if r.floor and r.connections == row.connections and r.mode == row.mode)


def print_rows(rows):
    print("| row | p50 | p99 | req/s | ratio to the floor | added p50 / p99 | peak RSS | events stored / sent |")
    print("|---|---|---|---|---|---|---|---|")
    for row in rows:
        cells = [row.label(), fmt_us(row.median("p50_us")), fmt_us(row.median("p99_us")), f"{row.median('rate'):,.0f}"]
        if not row.floor:
            floor = floor_of(rows, row)
            cells += [f"{row.against(floor, 'rate'):.1%}",
                      f"{fmt_us(row.against(floor, 'p50_us'), True)} / "
                      f"{fmt_us(row.against(floor, 'p99_us'), True)}"]
        cells += [fmt_mib(row.peak_kib), f"{row.gateway.stored:,} / {row.gateway.sent:,}"] if row.through else []
        cells += [""] * (8 - len(cells))
        print("| " + " | ".join(cells) + " |")


def stream_summary(direct, through):
    return {
        "ttfb": percentile(through["ttfb"], 50) - percentile(direct["ttfb"], 50),
        "last": percentile(through["last"], 50) - percentile(direct["last"], 50),
    }


def print_streams(direct, proxied, through):
    print(f"| stream timing ({STREAM_CALLS} calls, 1 keep-alive connection) | first byte p50 | first byte p99 "
          "| last byte p50 | last byte p99 |")
    print("|---|---|---|---|---|")
    for name, t in (("mock-upstream direct", direct), ("through the nginx proxy", proxied),
                    ("through Tollgate", through)):
        print(f"| {name} | {fmt_us(percentile(t['ttfb'], 50))} | {fmt_us(percentile(t['ttfb'], 99))} "
              f"| {fmt_us(percentile(t['last'], 50))} | {fmt_us(percentile(t['last'], 99))} |")
    for name, t in (("the nginx proxy", proxied), ("Tollgate", through)):
        added = stream_summary(direct, t)
        print(f"| added by {name} (p50, through − direct) | {fmt_us(added['ttfb'], True)} | "
              f"| {fmt_us(added['last'], True)} | |")


def goals(rows, direct, proxied, through):
    """(goal, measured, met) for each goal of issue 8 that the rows and stream timing measure.
    The measured cell also gives the nginx proxy's figure, for reference."""
    found = []

    def row(target, connections, mode):
        return next(r for r in rows if r.target == target and r.connections == connections and r.mode == mode)

    def added(r, field):
        return r.against(floor_of(rows, r), field)

    for mode in MODES:
        one, proxy = row("Tollgate", 1, mode), row("nginx proxy", 1, mode)
        for field, goal in (("p50_us", GOAL_ADDED_P50_US), ("p99_us", GOAL_ADDED_P99_US)):
            found.append((f"added {field[:3]} at 1 connection ≤ {fmt_us(goal)}, {mode}",
                          f"{fmt_us(added(one, field), True)} (nginx proxy {fmt_us(added(proxy, field), True)})",
                          added(one, field) <= goal))
    for mode in MODES:
        many, proxy = row("Tollgate", 32, mode), row("nginx proxy", 32, mode)
        share = added(many, "rate")
        found.append((f"at 32 connections ≥ {GOAL_FLOOR_SHARE:.0%} of the floor's req/s, {mode}",
                      f"{share:.1%} (nginx proxy {added(proxy, 'rate'):.1%})",
                      share >= GOAL_FLOOR_SHARE))
    added, reference = stream_summary(direct, through), stream_summary(direct, proxied)
    found.append((f"stream: added time to first byte ≤ {GOAL_STREAM_TTFB_US / 1000} ms (p50)",
                  f"{fmt_us(added['ttfb'], True)} (nginx proxy {fmt_us(reference['ttfb'], True)})",
                  added["ttfb"] <= GOAL_STREAM_TTFB_US))
    found.append((f"stream: added time to the last byte ≤ {GOAL_STREAM_LAST_US / 1000} ms (p50)",
                  f"{fmt_us(added['last'], True)} (nginx proxy {fmt_us(reference['last'], True)})",
                  added["last"] <= GOAL_STREAM_LAST_US))
    peak = max(r.peak_kib for r in rows if r.through and r.connections == 32)
    found.append((f"peak RSS at 32 connections ≤ {GOAL_PEAK_MIB} MiB", fmt_mib(peak),
                      peak <= GOAL_PEAK_MIB * 1024))
    return found


def print_goals(found):
    print("| goal (issue 8) | measured | |")
    print("|---|---|---|")
    for text, measured, ok in found:
        print(f"| {text} | {measured} | {'met' if ok else '**not met**'} |")


def machine():
    cpu = "unknown CPU"
    with open("/proc/cpuinfo") as f:
        for line in f:
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    commit = subprocess.run(["git", "-C", ROOT, "describe", "--always", "--dirty"], capture_output=True, text=True)
    return (f"{len(os.sched_getaffinity(0))} CPUs ({cpu}), Linux {os.uname().release}, "
            f"{datetime.now(timezone.utc):%Y-%m-%d %H:%M} UTC, commit {commit.stdout.strip() or 'unknown'}")


# --- the soak -----------------------------------------------------------------------------


def soak(tmp, base, token, tollgate_pid):
    """wrk at SOAK_CONNECTIONS for SOAK seconds; prints Tollgate's RSS every SOAK_INTERVAL s."""
    gateway = Gateway(base, token, "bench soak")
    lua = write_lua(tmp, "soak", request_body(JSON_MODEL, False), gateway.secret)
    responses_before = metrics(base)["chat_responses"]
    print(f"\n### Soak: {SOAK_CONNECTIONS} connections, non-streamed, {SOAK} s\n")
    print("| time | RSS | responses so far |")
    print("|---|---|---|", flush=True)
    wrk = subprocess.Popen(wrk_command(base + CHAT_ROUTE, SOAK_CONNECTIONS, SOAK, lua),
                           stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    samples = []  # (seconds, RSS KiB)
    spooled = 0  # the most events seen in the disk spool
    started = time.monotonic()
    try:
        next_at = SOAK_INTERVAL
        while True:
            try:
                wrk.wait(timeout=max(0.0, started + next_at - time.monotonic()))
                break
            except subprocess.TimeoutExpired:
                pass
            rss = status_kib(tollgate_pid, "VmRSS")
            samples.append((next_at, rss))
            m = metrics(base)
            responses = m["chat_responses"] - responses_before
            spooled = max(spooled, m.get("tollgate_events_spooled", 0))
            print(f"| {next_at} s | {fmt_mib(rss)} | {responses:,.0f} |", flush=True)
            next_at += SOAK_INTERVAL
        stdout, stderr = wrk.communicate()
    finally:
        if wrk.poll() is None:
            stop(wrk, "wrk", grace=5)
    end_rss = status_kib(tollgate_pid, "VmRSS")
    print(f"| end ({time.monotonic() - started:.0f} s) | {fmt_mib(end_rss)} | "
          f"{metrics(base)['chat_responses'] - responses_before:,.0f} |")
    result = wrk_result(stdout, stderr, "the soak")
    gateway.sent = result["sent"]
    after_minute = [rss for at, rss in samples if at >= 60]
    growth = None
    if after_minute:
        growth = (end_rss - after_minute[0]) / after_minute[0] * 100
    return gateway, result, growth, end_rss, spooled


# --- main ---------------------------------------------------------------------------------


def check_store(base, store, gateways, problems):
    """Waits for the writer, then compares each gateway's stored events with what it was sent."""
    m = wait_for_writer(base)
    for gateway in gateways:
        gateway.stored, gateway.errors = store.events(gateway)
        if gateway.stored != gateway.sent:
            problems.append(f"gateway '{gateway.name}': {gateway.stored:,} events stored, "
                            f"{gateway.sent:,} requests sent")
    for name in ("tollgate_events_dropped_total", "tollgate_events_spooled"):
        if m.get(name, 0) != 0:
            problems.append(f"/metrics: {name} = {m[name]:.0f}")
    return m


def run(procs, tmp, problems):
    for binary in (TOLLGATE, MOCK_UPSTREAM):
        if not os.access(binary, os.X_OK):
            raise BenchError(f"{binary} is missing: run `cargo build --release --bins` (or set BENCH_BIN_DIR)")
    install_tools()
    nginx_port = start_nginx(procs, tmp)
    proxy_port = start_nginx_proxy(procs, tmp, nginx_port)
    mock_port = start_mock_upstream(procs, tmp)
    stream_proxy_port = start_nginx_proxy(procs, tmp, mock_port, "nginx stream proxy")
    clickhouse_url = None
    if USE_CLICKHOUSE:
        clickhouse_url = start_clickhouse(procs, tmp)
    tollgate, port = start_tollgate(procs, tmp, nginx_port, mock_port, clickhouse_url)
    store = Store(os.path.join(tmp, "tollgate-data"), clickhouse_url)
    base = f"http://127.0.0.1:{port}"
    token = api(base, "POST", "/auth/join")["token"]

    rows = measure_rows(tmp, nginx_port, proxy_port, base, token, tollgate.pid)
    # The stream timing measures the relay of a stream, not the rows' aftermath: it
    # starts once the writer has stored what they sent (its own events are written
    # while it runs).
    wait_for_writer(base)
    print("measuring stream timing ...", file=sys.stderr, flush=True)
    direct = time_streams(mock_port, "mock-upstream", "x", "mock-upstream direct")
    proxied = time_streams(stream_proxy_port, "mock-upstream", "x", "through the nginx proxy")
    stream_gateway = Gateway(base, token, "bench stream timing")
    through = time_streams(port, STREAM_MODEL, stream_gateway.secret, "through Tollgate")
    stream_gateway.sent = STREAM_WARMUP_CALLS + STREAM_CALLS

    for row in rows:
        problems += wrk_problems(row.warmup, row.label() + " (warm-up)")
        for n, result in enumerate(row.rounds):
            problems += wrk_problems(result, f"{row.label()} (round {n + 1})")
        if row.spooled:
            problems.append(f"{row.label()}: {row.spooled:.0f} events were in the disk spool after the row")
    gateways = [row.gateway for row in rows if row.through] + [stream_gateway]
    check_store(base, store, gateways, problems)
    rss_after = status_kib(tollgate.pid, "VmRSS")

    store_name = "ClickHouse" if USE_CLICKHOUSE else "SQLite"
    print(f"\n### Tollgate against the floor (events stored in {store_name}; wrk -t1, {ROUNDS * ROUND_SECONDS} s per row "
          f"after a {WARMUP_SECONDS} s warm-up, in {ROUNDS} rounds taking turns with the other rows of its "
          f"mode and connection count; medians over the rounds)\n")
    print_rows(rows)
    print()
    print_streams(direct, proxied, through)
    print()
    print_goals(goals(rows, direct, proxied, through))
    stored = sum(g.stored for g in gateways)
    sent = sum(g.sent for g in gateways)
    errors = sum(g.errors for g in gateways)
    print(f"\nEvents stored / requests sent to Tollgate (warm-ups included): {stored:,} / {sent:,}"
          f" ({'equal' if stored == sent else 'NOT EQUAL'}); {errors:,} of the stored events are errors"
          f" (calls cut when wrk stops are recorded as 499). RSS after all load: {fmt_mib(rss_after)}.")
    print(f"Machine: {machine()}.", flush=True)

    if SOAK > 0:
        gateway, result, growth, end_rss, spooled = soak(tmp, base, token, tollgate.pid)
        problems += wrk_problems(result, "the soak")
        if spooled:
            problems.append(f"the soak: up to {spooled:.0f} events were in the disk spool")
        check_store(base, store, [gateway], problems)
        print(f"\nSoak: {gateway.stored:,} events stored / {gateway.sent:,} requests sent "
              f"({'equal' if gateway.stored == gateway.sent else 'NOT EQUAL'}); RSS at the end {fmt_mib(end_rss)}.")
        if growth is None:
            print("RSS growth after the first minute: n/a (the soak ended before a sample past 60 s).")
        else:
            ok = growth <= GOAL_SOAK_GROWTH_PCT
            print(f"RSS growth after the first minute: {growth:+.1f}% (goal ≤ {GOAL_SOAK_GROWTH_PCT}%: "
                  f"{'met' if ok else 'not met'}).")


def main():
    # Ctrl-C raises KeyboardInterrupt (even when started with SIGINT ignored), SIGTERM exits:
    # either way the `finally` below stops every process the bench started.
    signal.signal(signal.SIGINT, signal.default_int_handler)
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    procs = Processes()
    tmp = tempfile.mkdtemp(prefix="tollgate-bench-")
    problems = []
    try:
        run(procs, tmp, problems)
    except BenchError as e:
        print(f"\nmake bench could not run: {e}", file=sys.stderr)
        log = os.path.join(tmp, "tollgate.log")
        if os.path.exists(log):
            print(f"\nTollgate's log ends with:\n{tail(log)}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("\ninterrupted", file=sys.stderr)
        return 130
    finally:
        signal.signal(signal.SIGINT, signal.SIG_IGN)  # a second Ctrl-C must not cut the clean-up short
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
        procs.stop_all()
        shutil.rmtree(tmp, ignore_errors=True)
    if problems:
        print("\nBENCH FAILED, the sanity checks did not hold:", file=sys.stderr)
        for problem in problems:
            print(f"  - {problem}", file=sys.stderr)
        return 1
    print("\nSanity checks passed: no wrk error or non-2xx, events stored = requests sent, none dropped or spooled.")
    return 0


if __name__ == "__main__":
    sys.exit(main())
