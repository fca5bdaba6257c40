#!/usr/bin/env python3
"""Instructions per call: `make bench-instructions` (issue 8's noise-free measure).

Timings on a shared machine swing by a fifth from round to round; instructions do not.
This runs Tollgate (the release binary, events stored in SQLite) under valgrind's
callgrind in front of `make bench`'s nginx floor, sends it non-streamed and streamed
calls with `wrk -t1 -c1` for DURATION seconds each (default 10, after an uncounted warm-up),
and prints, per call:

- the instructions of the whole process (user space only: the kernel's socket work and
  cache misses are not counted);
- those of the request handling on actix-web's workers (everything under a connection's
  task: parsing, authentication, routing, the provider call, the relay, metering);
- those of the SQLite writer, per event (each mode's events are all written while it is
  counted).

The request handling repeats within about 1 % from run to run: compare builds with it.
Valgrind counts each iteration of a `rep` string instruction (glibc's large memset and
memcpy) as one instruction, so memory clearing and copying weigh more than in time.

Settings: DURATION (seconds a mode, default 10), BENCH_BIN_DIR (default target/release).
"""

import os
import re
import shutil
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import bench  # noqa: E402  (make bench's processes, gateways and wrk scripts)

SECONDS = bench.env_int("DURATION", 10)
# Inclusive counts of these functions (callgrind_annotate names them by these substrings).
CONNECTIONS = "<actix_server::service::StreamService<S,I> as actix_service::Service"
WRITER = "tollgate::events::stores::sqlite_writer::insert"
# Longer than the writer's flush interval (1 s) plus a slow batch under valgrind.
FLUSHED = 3


def install_valgrind():
    if not shutil.which("valgrind"):
        subprocess.run([os.path.join(bench.ROOT, "scripts", "apt-install.sh"), "valgrind"], check=True)


class Callgrind(bench.Processes):
    """Starts Tollgate under callgrind, its instrumentation off until `counting`."""

    def __init__(self, out):
        super().__init__()
        self.out = out

    def start(self, name, args, log_path, **kwargs):
        if name == "tollgate":
            args = ["valgrind", "--tool=callgrind", "--instr-atstart=no", f"--callgrind-out-file={self.out}"] + args
        return super().start(name, args, log_path, **kwargs)


def control(pid, *args):
    done = subprocess.run(["callgrind_control", *args, str(pid)], capture_output=True, text=True)
    if done.returncode != 0:
        raise bench.BenchError(f"callgrind_control {' '.join(args)} failed: {done.stdout}{done.stderr}")


def inclusive(profile):
    """{function: inclusive instructions} from a callgrind profile, and the total."""
    done = subprocess.run(["callgrind_annotate", "--inclusive=yes", "--threshold=100", profile],
                          capture_output=True, text=True, check=True)
    total, functions = None, {}
    for line in done.stdout.splitlines():
        found = re.match(r"\s*([\d,]+) \([\s\d.]+%\)\s+(.*)$", line)
        if not found:
            continue
        count = int(found.group(1).replace(",", ""))
        if found.group(2).startswith("PROGRAM TOTALS"):
            total = count
        else:
            functions.setdefault(found.group(2), count)
    return total, functions


def of(functions, needle):
    return max((count for name, count in functions.items() if needle in name), default=0)


def run(tmp):
    for binary in (bench.TOLLGATE, bench.MOCK_UPSTREAM):
        if not os.access(binary, os.X_OK):
            raise bench.BenchError(f"{binary} is missing: run `cargo build --release --bins` (or set BENCH_BIN_DIR)")
    bench.install_tools()
    install_valgrind()
    out = os.path.join(tmp, "callgrind.out")
    procs = Callgrind(out)
    try:
        nginx_port = bench.start_nginx(procs, tmp)
        mock_port = bench.start_mock_upstream(procs, tmp)
        tollgate, port = bench.start_tollgate(procs, tmp, nginx_port, mock_port, None)
        base = f"http://127.0.0.1:{port}"
        token = bench.api(base, "POST", "/auth/join")["token"]
        results = []
        for mode, model, stream in (("non-streamed", bench.JSON_MODEL, False), ("streamed", bench.SSE_MODEL, True)):
            gateway = bench.Gateway(base, token, f"instructions {mode}")
            lua = bench.write_lua(tmp, mode, bench.request_body(model, stream), gateway.secret)
            url = base + bench.CHAT_ROUTE
            print(f"counting {mode} calls ...", file=sys.stderr, flush=True)
            warm = bench.run_wrk(url, 1, 2, lua, f"{mode} (warm-up)")
            # The writer flushes every second (EVENT_FLUSH_MS): the warm-up's events are
            # written before counting starts, and the counted ones before it stops.
            time.sleep(FLUSHED)
            control(tollgate.pid, "--instr=on")
            counted = bench.run_wrk(url, 1, SECONDS, lua, mode)
            time.sleep(FLUSHED)
            control(tollgate.pid, "--instr=off")
            control(tollgate.pid, "--dump")
            problems = bench.wrk_problems(warm, mode) + bench.wrk_problems(counted, mode)
            if problems:
                raise bench.BenchError("; ".join(problems))
            time.sleep(1)
            dumps = sorted((f for f in os.listdir(tmp) if f.startswith("callgrind.out.")),
                           key=lambda f: os.path.getmtime(os.path.join(tmp, f)))
            total, functions = inclusive(os.path.join(tmp, dumps[-1]))
            calls = counted["requests"]
            results.append((mode, calls, total / calls, of(functions, CONNECTIONS) / calls,
                            of(functions, WRITER) / calls))
    finally:
        procs.stop_all()
    print(f"\n### Instructions per call (callgrind, wrk -t1 -c1, {SECONDS} s a mode, events in SQLite)\n")
    print("| mode | calls counted | whole process | request handling (workers) | SQLite writer, per event |")
    print("|---|---|---|---|---|")
    for mode, calls, total, handling, writer in results:
        print(f"| {mode} | {calls:,} | {total:,.0f} | {handling:,.0f} | {writer:,.0f} |")
    print(f"\nMachine: {bench.machine()}")


def main():
    tmp = tempfile.mkdtemp(prefix="tollgate-instructions-")
    try:
        run(tmp)
    except bench.BenchError as e:
        print(f"\nmake bench-instructions could not run: {e}", file=sys.stderr)
        return 2
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
