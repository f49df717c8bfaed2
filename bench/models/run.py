#!/usr/bin/env python3
"""The road to the reactor, measured: every server model of examples/models/
under the same three workloads, side by side.

Run through bench/models/run.sh, which builds the release binaries and
raises the descriptor limit first. For every model and every C:

  throughput  bench/echo/pingpong: C connections, each with one S-byte block
              in flight, echoed back and forth; MiB/s after a warm-up.
  latency     bench/models/latency: C connections, a fixed total request
              rate (open loop); p50/p99 round trip in microseconds.
  memory      C idle connections (each has echoed 64 bytes once), then the
              proportional set size (PSS) of the server and all its
              processes: RSS with shared pages split among their sharers,
              so a forked child counts only what it does not share.

Within a round the models take turns at each C, and each round starts one
model further along, so drift of a shared machine hits every model alike.
The median over rounds is reported, with the ratio to the reactor model.
A model that cannot reach a C is shown stopping there, with the reason.
"""

import argparse
import datetime
import os
import platform
import re
import resource
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import time

LISTENING = re.compile(r"listening on \S*:(\d+)")

# name, extra arguments, largest C it can serve (None: no fixed limit), why.
MODELS = [
    ("iterative", [], 1, "serves one client at a time; the others wait in the backlog"),
    ("fork_per_client", [], None, None),
    ("thread_per_client", [], None, None),
    ("process_pool", None, None, None),  # filled in from --pool-workers
    ("select", [], 1000, "FD_SETSIZE: no descriptor >= 1024 can be watched"),
    ("poll", [], None, None),
    ("epoll_lt", [], None, None),
    ("epoll_et", [], None, None),
    ("reactor", [], None, None),
]

MODEL_NAMES = [m[0] for m in MODELS]
# One color per model, told apart in print and by most color-blind readers;
# the reactor is black and drawn thicker.
COLORS = ["#999999", "#e69f00", "#56b4e9", "#009e73", "#cc79a7", "#0072b2", "#d55e00",
          "#6a3d9a", "#000000"]

SHORT_REASONS = {"iterative": "one client at a time", "select": "FD_SETSIZE",
                 "process_pool": "one client per worker"}
# Limited by choice (time), not by the model: the table says "not run".
NOT_RUN_BEYOND = ("fork_per_client", "thread_per_client")


def stop_word(model):
    return "not run" if model[0] in NOT_RUN_BEYOND else "stops"


def parse_arguments():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--build-dir", required=True)
    parser.add_argument("--out-dir", required=True)
    parser.add_argument("--models", default=",".join(m[0] for m in MODELS))
    parser.add_argument("--connections", default="1,10,100,1000,10000",
                        help="the values of C for throughput and memory")
    parser.add_argument("--size", type=int, default=4096, help="pingpong block size S in bytes")
    parser.add_argument("--seconds", type=float, default=2.0, help="measured seconds per run")
    parser.add_argument("--warmup", type=float, default=0.5)
    parser.add_argument("--rounds", type=int, default=1)
    parser.add_argument("--latency", default="1:1000,100:10000",
                        help="CONNECTIONS:RATE pairs for the latency test ('' skips it)")
    parser.add_argument("--no-memory", action="store_true")
    parser.add_argument("--pool-workers", type=int, default=128)
    parser.add_argument("--max-c-tasks", type=int, default=1000,
                        help="largest C for fork_per_client and thread_per_client (0: no limit)")
    parser.add_argument("--server-cpu", default="0")
    parser.add_argument("--client-cpu", default="1")
    parser.add_argument("--publish", help="also copy the chart to this path prefix (.png/.svg)")
    parser.add_argument("--from-runs", help="measure nothing: redo table and chart from a "
                        "runs.csv written earlier (with the same --connections and --latency)")
    return parser.parse_args()


def read_proc_stat(pid):
    try:
        with open(f"/proc/{pid}/stat") as stat:
            text = stat.read()
    except OSError:
        return None
    return text[text.rindex(")") + 2:].split()


def children_of(parent):
    children = []
    for name in os.listdir("/proc"):
        if name.isdigit():
            fields = read_proc_stat(int(name))
            if fields and int(fields[1]) == parent:
                children.append(int(name))
    return children


def pss_kib(pid):
    try:
        with open(f"/proc/{pid}/smaps_rollup") as rollup:
            for line in rollup:
                if line.startswith("Pss:"):
                    return int(line.split()[1])
    except OSError:
        pass
    return 0


class Server:
    def __init__(self, binary, arguments, log_path, cpu):
        self.log_path = log_path
        with open(log_path, "w") as log:
            self.process = subprocess.Popen(["taskset", "-c", cpu, binary, "0"] + arguments,
                                            stdout=log, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + 20
        self.port = None
        while time.monotonic() < deadline and self.process.poll() is None:
            with open(log_path) as log:
                match = LISTENING.search(log.read())
            if match:
                self.port = int(match.group(1))
                return
            time.sleep(0.02)
        self.stop()
        raise RuntimeError("did not start: " + open(log_path).read()[-300:])

    def memory_kib(self):
        pid = self.process.pid
        return pss_kib(pid) + sum(pss_kib(child) for child in children_of(pid))

    def stop(self):
        """SIGTERM; an error string unless it exits 0 leaving no process behind."""
        children = children_of(self.process.pid)
        if self.process.poll() is not None:
            return f"had exited by itself (status {self.process.returncode})"
        self.process.send_signal(signal.SIGTERM)
        try:
            status = self.process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
            return "ignored SIGTERM for 30 s"
        deadline = time.monotonic() + 5
        left = [c for c in children if os.path.exists(f"/proc/{c}")]
        while left and time.monotonic() < deadline:
            time.sleep(0.05)
            left = [c for c in left if os.path.exists(f"/proc/{c}")]
        if status != 0:
            return f"exited with status {status}"
        if left:
            return f"{len(left)} child processes outlived it"
        return None


def run_client(command, cpu, timeout):
    result = subprocess.run(["taskset", "-c", cpu] + command, capture_output=True, text=True,
                            timeout=timeout)
    if result.returncode != 0:
        lines = (result.stderr or result.stdout).strip().splitlines()
        raise RuntimeError(lines[-1] if lines else f"client exit status {result.returncode}")
    return result.stdout


def warmup_for(args, connections):
    """The warm-up also covers the server accepting C clients (forking C
    processes, starting C threads) after pingpong's connects have completed
    in the backlog: 1 ms per connection on top of --warmup."""
    return args.warmup + connections / 1000


def measure_throughput(args, server, connections):
    warmup = warmup_for(args, connections)
    output = run_client([f"{args.build_dir}/bench/echo/pingpong", "--port", str(server.port),
                         "--connections", str(connections), "--size", str(args.size),
                         "--seconds", str(args.seconds), "--warmup", str(warmup),
                         "--connect-timeout", "60"],
                        args.client_cpu, timeout=120 + args.seconds + warmup)
    return float(re.search(r"throughput: ([\d.]+) MiB/s", output).group(1))


def measure_latency(args, server, connections, rate):
    output = run_client([f"{args.build_dir}/bench/models/latency", "--port", str(server.port),
                         "--connections", str(connections), "--rate", str(rate),
                         "--seconds", str(args.seconds), "--warmup", str(args.warmup)],
                        args.client_cpu, timeout=120 + args.seconds)
    match = re.search(r"p50 (\S+) us, p99 (\S+) us", output)
    return float(match.group(2)), float(match.group(1))


def measure_memory(server, connections):
    """PSS of the server's processes with `connections` idle clients, in KiB."""
    sockets = []
    try:
        for _ in range(connections):
            client = socket.create_connection(("127.0.0.1", server.port), timeout=30)
            sockets.append(client)
        for client in sockets:
            client.sendall(b"m" * 64)
        for client in sockets:
            received = b""
            while len(received) < 64:
                chunk = client.recv(64 - len(received))
                if not chunk:
                    raise RuntimeError("closed by the server")
                received += chunk
        time.sleep(0.2)  # let forked children finish touching their pages
        return server.memory_kib()
    finally:
        for client in sockets:
            client.close()


def limit_of(model, connections):
    name, _, limit, reason = model
    if limit is not None and connections > limit:
        return f"stops at {limit:,}: {reason}"
    return None


def median(values):
    return statistics.median(values) if values else None


def format_number(value, digits=0):
    return "—" if value is None else f"{value:,.{digits}f}"


def main():
    args = parse_arguments()
    # SIGTERM unwinds like Ctrl-C, so the server of the current run is stopped.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    os.makedirs(args.out_dir, exist_ok=True)
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    models = []
    for model in MODELS:
        if model[0] == "process_pool":
            model = ("process_pool", [str(args.pool_workers)], args.pool_workers,
                     f"{args.pool_workers} workers, one client each")
        if model[0] in ("fork_per_client", "thread_per_client") and args.max_c_tasks:
            model = (model[0], [], args.max_c_tasks,
                     f"a {'process' if model[0].startswith('fork') else 'thread'} per client; "
                     "higher C not run by default: at C=10,000 one run took minutes on the "
                     "2-vCPU machine (--max-c-tasks 0 runs it)")
        if model[0] in args.models.split(","):
            models.append(model)
    counts = [int(c) for c in args.connections.split(",") if c]
    latency_cases = [tuple(int(x) for x in case.split(":")) for case in args.latency.split(",")
                     if case]

    load = open("/proc/loadavg").read().split()[:3]
    cpu_model = next((line.split(":", 1)[1].strip() for line in open("/proc/cpuinfo")
                      if line.startswith("model name")), platform.processor())
    machine = (f"{cpu_model}, {os.cpu_count()} CPUs, Linux {platform.release()}, "
               f"load average {' '.join(load)} at the start")
    started = datetime.datetime.now()
    print(f"road to the reactor: {len(models)} models, C = {counts}, S = {args.size} B, "
          f"{args.rounds} round(s) of {args.seconds} s after {args.warmup} s warm-up")
    print(f"machine: {machine}; servers on CPU {args.server_cpu}, clients on CPU {args.client_cpu}")
    if float(load[0]) > os.cpu_count() / 2:
        print(f"warning: the machine is busy (load average {load[0]}); compare ratios, "
              "and measure again on a quiet machine")

    throughput = {}  # (model, C) -> [MiB/s]
    latency = {}     # (model, C, rate) -> [(p99, p50)]
    memory = {}      # (model, C) -> [KiB]
    failures = {}    # (kind, model, C) -> reason
    log = open(os.path.join(args.out_dir, "runs.csv" if not args.from_runs else "replayed.csv"), "w")
    log.write("round,kind,model,connections,rate,value,unit,error\n")

    def record(kind, model, connections, rate, value, unit, error=""):
        log.write(f"{round_number},{kind},{model},{connections},{rate},{value},{unit},"
                  f"\"{error}\"\n")
        log.flush()

    def one_run(kind, model, connections, rate=""):
        name, extra = model[0], model[1]
        try:
            server = Server(f"{args.build_dir}/examples/models/{name}", extra,
                            os.path.join(args.out_dir, f"{name}.log"), args.server_cpu)
        except RuntimeError as error:
            failures[(kind, name, connections)] = str(error)
            record(kind, name, connections, rate, "", "", str(error))
            return
        error = None
        try:
            if kind == "throughput":
                value = measure_throughput(args, server, connections)
                throughput.setdefault((name, connections), []).append(value)
                record(kind, name, connections, rate, value, "MiB/s")
            elif kind == "latency":
                p99, p50 = measure_latency(args, server, connections, rate)
                latency.setdefault((name, connections, rate), []).append((p99, p50))
                record(kind, name, connections, rate, p99, f"us p99; p50 {p50}")
            else:
                value = measure_memory(server, connections)
                memory.setdefault((name, connections), []).append(value)
                record(kind, name, connections, rate, value, "KiB PSS")
        except (RuntimeError, OSError, subprocess.TimeoutExpired, AttributeError) as failure:
            error = f"failed: {failure}"
        finally:  # also when interrupted: no server is left behind
            stop_error = server.stop()
        if stop_error and not error:
            error = f"server {stop_error}"
        if error:
            failures[(kind, name, connections)] = error
            record(kind, name, connections, rate, "", "", error)
            print(f"  {kind} {name} C={connections}: {error}", file=sys.stderr)

    replayed_rounds = 0
    if args.from_runs:
        import csv
        with open(args.from_runs) as runs:
            for row in csv.DictReader(runs):
                key = (row["model"], int(row["connections"]))
                if row["error"]:
                    failures[(row["kind"],) + key] = row["error"]
                elif row["kind"] == "throughput":
                    throughput.setdefault(key, []).append(float(row["value"]))
                elif row["kind"] == "memory":
                    memory.setdefault(key, []).append(float(row["value"]))
                elif row["kind"] == "latency":
                    p50 = re.search(r"p50 (\S+)", row["unit"])
                    latency.setdefault(key + (int(row["rate"]),), []).append(
                        (float(row["value"]), float(p50.group(1)) if p50 else float("nan")))
        with open(args.from_runs) as runs:
            rounds_seen = {row["round"] for row in csv.DictReader(runs)}
        replayed_rounds = len(rounds_seen)
        args.rounds = 0
        # The date and load of the measurement, not of this replay.
        table_path = os.path.join(os.path.dirname(args.from_runs), "table.md")
        if os.path.exists(table_path):
            match = re.search(r"Measured (\S+ \S+) on (.*), load average (\S+) (\S+) (\S+) at",
                              open(table_path).read())
            if match:
                started = datetime.datetime.strptime(match.group(1), "%Y-%m-%d %H:%M")
                load = [match.group(3), match.group(4), match.group(5)]
                machine = f"{match.group(2)}, load average {' '.join(load)} at the start"
    for round_number in range(args.rounds):
        for index, connections in enumerate(counts):
            shift = (round_number + index) % len(models)
            for model in models[shift:] + models[:shift]:
                if limit_of(model, connections) is None:
                    one_run("throughput", model, connections)
                    if not args.no_memory:
                        one_run("memory", model, connections)
            print(f"  round {round_number + 1}, C={connections}: done", flush=True)
        for index, (connections, rate) in enumerate(latency_cases):
            shift = (round_number + index) % len(models)
            for model in models[shift:] + models[:shift]:
                if limit_of(model, connections) is None:
                    one_run("latency", model, connections, rate)
        print(f"  round {round_number + 1}: latency done", flush=True)
    log.close()

    # --- the table ---------------------------------------------------------------
    def throughput_cell(model, connections):
        if limit_of(model, connections):
            return stop_word(model)
        value = median(throughput.get((model[0], connections), []))
        if value is None:
            return "failed"
        text = format_number(value)
        if ("throughput", model[0], connections) in failures:
            text += "*"
        base = median(throughput.get(("reactor", connections), []))
        if base:
            text += f" ({value / base:.2f})"
        return text

    lines = [f"Measured {started:%Y-%m-%d %H:%M} on {machine}.",
             f"Servers pinned to CPU {args.server_cpu}, clients to CPU {args.client_cpu}; "
             f"{args.rounds or replayed_rounds} round(s), {args.seconds} s per run after a warm-up of {args.warmup} s "
             "+ 1 ms per connection, "
             "median of the rounds.", ""]
    header = "| model | " + " | ".join(f"C={c:,}" for c in counts) + " |"
    rule = "| --- |" + " ---: |" * len(counts)
    lines += [f"**Throughput**, MiB/s (pingpong, {args.size}-byte blocks; in brackets: "
              "ratio to `reactor`)", "", header, rule]
    for model in models:
        lines.append(f"| `{model[0]}` | " + " | ".join(
            throughput_cell(model, c) for c in counts) + " |")
    if not args.no_memory:
        lines += ["", "**Memory** with C idle connections, MiB (PSS of all the server's "
                  "processes)", "", header, rule]
        for model in models:
            lines.append(f"| `{model[0]}` | " + " | ".join(
                stop_word(model) if limit_of(model, c) else
                format_number(median(memory.get((model[0], c), [])) / 1024, 1)
                if memory.get((model[0], c)) else "failed" for c in counts) + " |")
    if latency_cases:
        lines += ["", "**Latency** at a fixed request rate, p99 (p50) in µs, 64-byte requests",
                  "", "| model | " + " | ".join(f"C={c:,}, {r:,}/s" for c, r in latency_cases)
                  + " |", "| --- |" + " ---: |" * len(latency_cases)]
        for model in models:
            cells = []
            for c, r in latency_cases:
                runs = latency.get((model[0], c, r), [])
                if limit_of(model, c):
                    cells.append(stop_word(model))
                elif not runs:
                    cells.append("failed")
                else:
                    cells.append(f"{median([p for p, _ in runs]):,.0f} "
                                 f"({median([q for _, q in runs]):,.0f})")
            lines.append(f"| `{model[0]}` | " + " | ".join(cells) + " |")
    if any(("throughput", m[0], c) in failures and throughput.get((m[0], c))
           for m in models for c in counts):
        lines += ["", "\\* a median of the runs that succeeded; the others failed (below)."]
    stops = [(m[0], m[2], m[3]) for m in models if m[2] is not None and m[2] < max(counts)]
    failed = sorted({(k[1], k[2], v) for k, v in failures.items()})
    if stops or failed:
        lines += ["", "Where a model stops:", ""]
        lines += [f"- `{name}`: {'not run' if name in NOT_RUN_BEYOND else 'stops'} beyond "
                  f"C={limit:,} ({reason})" for name, limit, reason in stops]
        lines += [f"- `{name}` at C={c:,}: {reason}" for name, c, reason in failed]
    lines += ["", f"Load average at the end: {' '.join(open('/proc/loadavg').read().split()[:3])}."]
    table = "\n".join(lines) + "\n"
    with open(os.path.join(args.out_dir, "table.md"), "w") as out:
        out.write(table)
    print()
    print(table)

    # --- the chart ---------------------------------------------------------------
    data_path = os.path.join(args.out_dir, "chart.dat")
    with open(data_path, "w") as data:
        for model in models:
            data.write(f"# {model[0]}\n")
            for c in counts:
                t = median(throughput.get((model[0], c), []))
                m = median(memory.get((model[0], c), []))
                if t is not None or m is not None:
                    data.write(f"{c} {t if t is not None else '?'} "
                               f"{m / 1024 if m is not None else '?'}\n")
            data.write("\n\n")

    def title(model):
        last = max((c for c in counts if (model[0], c) in throughput), default=None)
        if model[2] is not None and model[2] < max(counts):
            if model[0] in NOT_RUN_BEYOND:
                return f"{model[0]} (not run beyond {model[2]:,})"
            return f"{model[0]} (stops at {model[2]:,}: {SHORT_REASONS.get(model[0], '')})"
        failed_at = sorted(k[2] for k in failures if k[0] == "throughput" and k[1] == model[0])
        if failed_at:
            return f"{model[0]} (a pingpong run failed at C={failed_at[0]:,})"
        if last is not None and last < max(counts):
            return f"{model[0]} (no result beyond {last:,})"
        return model[0]

    busy_note = (" (a busy shared machine: compare shapes and ratios, not absolute values)"
                 if float(load[0]) > os.cpu_count() / 2 else "")
    if shutil.which("gnuplot") is None:
        print("gnuplot not found (Debian: gnuplot-nox); no chart", file=sys.stderr)
        return 1 if failures else 0
    for terminal, extension in (("pngcairo size 1400,760 font 'sans,11'", "png"),
                                ("svg size 1400,760 font 'sans,11' dynamic", "svg")):
        output = os.path.join(args.out_dir, f"chart.{extension}")
        plots = ", ".join(
            f"'{data_path}' index {i} using 1:COLUMN with linespoints "
            f"lw {3 if model[0] == 'reactor' else 2} lc rgb '{COLORS[MODEL_NAMES.index(model[0])]}' "
            f"dt {1 if MODEL_NAMES.index(model[0]) % 2 == 0 else 2} "
            f"pt {MODEL_NAMES.index(model[0]) + 1} ps 1.3 title \"{title(model)}\""
            for i, model in enumerate(models))
        memory_plot = "" if args.no_memory else f"""set ylabel 'memory (MiB, PSS of all server processes)'
unset key
set title 'Memory with C idle connections'
plot {plots.replace('COLUMN', '3')}
"""
        script = f"""
set terminal {terminal}
set output '{output}'
set termoption noenhanced
set datafile missing '?'
set multiplot layout 1,{1 if args.no_memory else 2} margins 0.07,0.98,0.24,0.90 spacing 0.09 title "Echo servers, one per model: {started:%Y-%m-%d}, {cpu_model}, {os.cpu_count()} vCPUs, load average {load[0]}{busy_note}"
set logscale x
set logscale y
set grid
set key at screen 0.5,0.01 center bottom vertical maxrows 5 Left reverse width 2 samplen 4 font ',11'
set xlabel 'concurrent connections C'
set xtics ('1' 1, '10' 10, '100' 100, '1,000' 1000, '10,000' 10000)
set ylabel 'throughput (MiB/s, {args.size}-byte pingpong)'
set title 'Throughput against C'
plot {plots.replace('COLUMN', '2')}
{memory_plot}unset multiplot
"""
        result = subprocess.run(["gnuplot"], input=script, text=True, capture_output=True)
        if result.returncode != 0:
            print(f"gnuplot failed: {result.stderr}", file=sys.stderr)
            return 1
        print(f"chart: {output}")
        if args.publish:
            os.makedirs(os.path.dirname(args.publish), exist_ok=True)
            shutil.copyfile(output, f"{args.publish}.{extension}")
            print(f"published: {args.publish}.{extension}")
    print(f"raw runs: {args.from_runs or os.path.join(args.out_dir, 'runs.csv')}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
