#!/usr/bin/env python3
"""HTTP benchmark: reactor-httpd against nginx, lighttpd and h2o.

Every server serves the same directory on 127.0.0.1 with sendfile and no
access log. At 1 thread (--threads 1,2 runs both) each server has one worker
and is pinned to one CPU (taskset); the load generator (wrk -t1, or curl for
the large download) is pinned to another CPU. At N > 1 threads
reactor-httpd runs --threads N, nginx worker_processes N, h2o num-threads N
(lighttpd has no threads and is left out), with wrk -tN, and nothing is
pinned: the load generator shares the CPUs with the server. Runs of the
servers alternate so slow drifts of the machine hit them all alike.

Measured per server:
  - requests/s and p99 latency, 1 KiB and 64 KiB files, keep-alive;
  - the server's CPU time per 10,000 requests (utime+stime from
    /proc/PID/stat over the run, summed over every process of the server's
    session, each of which counts all its threads: nginx's master and
    workers, h2o's threads; at 1 KiB one wrk thread is itself near
    saturation, so CPU per request is the fairer figure);
  - at 1 thread only: requests/s with a new connection per request
    (Connection: close) and MiB/s of a 1 GiB file fetched with curl;
and reactor-httpd once more with --access-log FILE, to show what logging
costs (1 thread). The precompressed case: a 100 KiB app.js with app.js.br
and app.js.gz beside it, keep-alive, reactor-httpd --precompressed against
nginx gzip_static with "Accept-Encoding: gzip" (both send the .gz bytes),
and reactor-httpd alone with "Accept-Encoding: br, gzip" (the .br bytes;
nginx 1.22 has no brotli_static without an extra module); lighttpd and h2o
are left out of it. Ratios are reactor-httpd / best peer (req/s, MiB/s vs
nginx) and reactor-httpd / lowest peer (CPU per request), per thread count,
and each server's scaling from 1 to N threads.
"""

import argparse
import json
import os
import random
import re
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

CLOCK_TICKS = os.sysconf("SC_CLK_TCK")
# wrk's "N MB read" counts in powers of 1024.
BINARY_UNITS = {"B": 1, "KB": 1 << 10, "MB": 1 << 20, "GB": 1 << 30, "TB": 1 << 40}


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_for_port(port, proc, timeout=10.0):
    deadline = time.time() + timeout
    while time.time() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"server exited early with {proc.returncode}")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.2):
                return
        except OSError:
            time.sleep(0.05)
    raise RuntimeError(f"nothing listening on {port}")


def cpu_seconds(pids):
    total = 0
    for pid in pids:
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        total += int(fields[11]) + int(fields[12])  # utime, stime (fields 14, 15)
    return total / CLOCK_TICKS


def session_processes(session_id):
    """Every live process of a session: the server was started as its leader
    (start_new_session), so this is the server and everything it forked
    (nginx's master and workers, h2o's helpers), grandchildren included."""
    pids = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue  # exited meanwhile
        # Fields 3 and 6: state (a zombie has no CPU left to count) and session.
        if fields[0] != "Z" and int(fields[3]) == session_id:
            pids.append(int(entry.name))
    return pids


def wait_until_gone(session_id, timeout):
    """The processes of the session still alive after `timeout` seconds."""
    deadline = time.time() + timeout
    while (left := session_processes(session_id)) and time.time() < deadline:
        time.sleep(0.05)
    return left


class Server:
    def __init__(self, name, work, root, cpu, threads=1, tag=None):
        """At 1 thread the server is pinned to `cpu`; at more, to nothing.
        `name` is what results are reported under; `tag` (default: name)
        names the server's files in the work directory, so that a second
        instance of a server under the same name can run beside the first."""
        self.name, self.work, self.root, self.cpu = name, work, root, cpu
        self.tag = tag or name
        self.threads = threads
        self.port = free_port()
        self.proc = None

    def command(self):
        raise NotImplementedError

    def start(self):
        log = open(self.work / f"{self.tag}.stderr", "ab")
        pin = ["taskset", "-c", str(self.cpu)] if self.threads == 1 else []
        self.proc = subprocess.Popen(pin + self.command(), stdout=log, stderr=log,
                                     start_new_session=True)
        wait_for_port(self.port, self.proc)
        time.sleep(0.2)

    def stop(self):
        """SIGTERM to the leader (nginx's master passes it on to its workers),
        then SIGKILL to whatever of the session is left: no worker may outlive
        the run."""
        if not self.proc:
            return
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                print(f"  {self.name}: ignored SIGTERM for 10 s; killed", file=sys.stderr)
                self.proc.kill()
                self.proc.wait()
        # Workers end after their master; give them a moment, then kill
        # whatever is left so that nothing outlives the run.
        left = wait_until_gone(self.proc.pid, 5)
        if left:
            for pid in left:
                try:
                    os.kill(pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
            print(f"  {self.name}: killed {len(left)} leftover process(es)", file=sys.stderr)
            if wait_until_gone(self.proc.pid, 5):
                print(f"  {self.name}: processes left after SIGKILL", file=sys.stderr)

    def pids(self):
        return session_processes(self.proc.pid)

    def url(self, path):
        return f"http://127.0.0.1:{self.port}/{path}"


class ReactorHttpd(Server):
    def __init__(self, name, work, root, cpu, threads, binary, extra=(), tag=None):
        super().__init__(name, work, root, cpu, threads, tag)
        self.binary, self.extra = binary, list(extra)

    def command(self):
        # --threads even at 1: the default is one loop per CPU. A build from
        # before --threads (a --baseline) has one loop and no such option.
        threads = ["--threads", str(self.threads)] if self.knows_threads() else []
        return [self.binary, str(self.port), str(self.root), "--bind", "127.0.0.1",
                "--log-level", "warn"] + threads + self.extra

    def knows_threads(self):
        if not hasattr(self, "_knows_threads"):
            help_text = subprocess.run([self.binary, "--help"], capture_output=True, text=True)
            self._knows_threads = "--threads" in help_text.stdout + help_text.stderr
            if not self._knows_threads and self.threads > 1:
                sys.exit(f"{self.binary} has no --threads: run it with --threads 1")
        return self._knows_threads


class Nginx(Server):
    def __init__(self, name, work, root, cpu, threads=1, tag=None, gzip_static=False):
        super().__init__(name, work, root, cpu, threads, tag)
        self.gzip_static = gzip_static

    def command(self):
        conf = self.work / f"{self.tag}-{self.threads}.conf"
        # Without a master nginx runs one worker only, so N > 1 needs
        # master_process on (the master idles; its CPU time is counted all
        # the same). reuseport gives each worker its own listening socket,
        # the way reactor-httpd --threads N balances its loops.
        master = "off" if self.threads == 1 else "on"
        reuseport = " reuseport" if self.threads > 1 else ""
        # The type reactor-httpd gives .js, so both send the same head.
        precompressed = ("\n    gzip_static on;\n    types { text/javascript js; }"
                         if self.gzip_static else "")
        conf.write_text(f"""
worker_processes {self.threads};
master_process {master};
daemon off;
pid {self.work}/{self.tag}.pid;
error_log {self.work}/{self.tag}.error.log error;
events {{ worker_connections 4096; }}
http {{
  access_log off;
  sendfile on;
  keepalive_requests 100000000;
  keepalive_timeout 75s;
  default_type application/octet-stream;
  client_body_temp_path {self.work}/{self.tag}-body;
  proxy_temp_path {self.work}/{self.tag}-proxy;
  fastcgi_temp_path {self.work}/{self.tag}-fastcgi;
  uwsgi_temp_path {self.work}/{self.tag}-uwsgi;
  scgi_temp_path {self.work}/{self.tag}-scgi;
  server {{
    listen 127.0.0.1:{self.port} backlog=4096{reuseport};
    root {self.root};{precompressed}
  }}
}}
""")
        return ["nginx", "-c", str(conf), "-e", f"{self.work}/{self.tag}.error.log"]


class Lighttpd(Server):
    def command(self):
        conf = self.work / f"{self.name}.conf"
        conf.write_text(f"""
server.document-root = "{self.root}"
server.bind = "127.0.0.1"
server.port = {self.port}
server.max-worker = 0
server.max-keep-alive-requests = 100000000
server.max-keep-alive-idle = 75
server.max-fds = 8192
server.errorlog = "{self.work}/{self.name}.error.log"
server.network-backend = "sendfile"
server.modules = ()
mimetype.assign = ( "" => "application/octet-stream" )
""")
        return ["lighttpd", "-D", "-f", str(conf)]


class H2o(Server):
    def command(self):
        conf = self.work / f"{self.name}-{self.threads}.conf"
        # h2o 2.2's threads all accept on one shared listening socket.
        conf.write_text(f"""
listen:
  host: 127.0.0.1
  port: {self.port}
num-threads: {self.threads}
error-log: {self.work}/{self.name}.error.log
hosts:
  default:
    paths:
      /:
        file.dir: {self.root}
""")
        return ["h2o", "-c", str(conf)]


def run_wrk(server, path, seconds, connections, close, wrk_cpu, headers=()):
    # One wrk thread per server thread; pinned beside a pinned server only.
    pin = ["taskset", "-c", str(wrk_cpu)] if server.threads == 1 else []
    cmd = pin + ["wrk", f"-t{server.threads}", f"-c{connections}", f"-d{seconds}s",
                 "--latency", "--timeout", "10s"]
    if close:
        cmd += ["-H", "Connection: close"]
    for header in headers:
        cmd += ["-H", header]
    cmd.append(server.url(path))
    pids = server.pids()
    before = cpu_seconds(pids)
    out = subprocess.run(cmd, capture_output=True, text=True, timeout=seconds + 60).stdout
    after = cpu_seconds(pids)
    requests = int(re.search(r"(\d+) requests in", out).group(1))
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))
    p99 = parse_latency(re.search(r"99%\s+([\d.]+\w+)", out).group(1))
    errors = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    socket_errors = re.search(r"Socket errors: (.*)", out)
    read = re.search(r"requests in [\d.]+\w+, ([\d.]+)(\w+) read", out)
    bytes_read = float(read.group(1)) * BINARY_UNITS[read.group(2)]
    cpu_per_10k = (after - before) / max(requests, 1) * 10000
    return {"rps": rps, "p99_ms": p99, "cpu_ms_per_10k": cpu_per_10k * 1000,
            "requests": requests, "bad_status": int(errors.group(1)) if errors else 0,
            "bytes_per_request": bytes_read / max(requests, 1),
            "socket_errors": socket_errors.group(1) if socket_errors else ""}


def parse_latency(text):
    value, unit = re.match(r"([\d.]+)(\w+)", text).groups()
    return float(value) * {"us": 0.001, "ms": 1.0, "s": 1000.0}[unit]


def run_download(server, path, wrk_cpu):
    cmd = ["taskset", "-c", str(wrk_cpu), "curl", "-s", "-o", "/dev/null", "-w",
           "%{speed_download} %{size_download}", server.url(path)]
    speed, size = subprocess.run(cmd, capture_output=True, text=True, timeout=300).stdout.split()
    return {"mib_s": float(speed) / (1 << 20), "bytes": int(float(size))}


def make_site(root, large_mib):
    root.mkdir(parents=True, exist_ok=True)
    (root / "1k.bin").write_bytes(os.urandom(1024))
    (root / "64k.bin").write_bytes(os.urandom(64 * 1024))
    with open(root / "1g.bin", "wb") as f:
        block = os.urandom(1 << 20)
        for _ in range(large_mib):
            f.write(block)


APP_JS_BYTES = 100 * 1024
JS_WORDS = ("user", "cart", "item", "order", "price", "total", "session", "token", "view",
            "modal", "button", "list", "row", "filter", "query", "page", "cache", "route",
            "state", "event", "form", "field", "error", "result", "config", "theme")
JS_SNIPPETS = (
    "function {f}({a}, {b}) {{\n  if (!{a}) {{ return null; }}\n"
    "  const {c} = {a}.{p} || [];\n  return {c}.filter((x) => x.{q} > {n}).map((x) => "
    "({{ ...x, {p}: {b}(x) }}));\n}}\n",
    "export class {F} extends Component {{\n  constructor(props) {{\n    super(props);\n"
    "    this.state = {{ {p}: [], {q}: false, count: {n} }};\n  }}\n  render() {{\n"
    "    return h('div', {{ className: '{p}-{q}' }}, this.state.{p}.length);\n  }}\n}}\n",
    "document.querySelector('#{p}-{n}').addEventListener('click', async (event) => {{\n"
    "  event.preventDefault();\n  const response = await fetch(`/api/{p}/${{{a}.id}}?{q}={n}`);\n"
    "  if (!response.ok) throw new Error('{f} failed: ' + response.status);\n"
    "  {c} = await response.json();\n}});\n",
    "const {c} = {{ {p}: '{q}', timeout: {n}, retries: 3, onError: (e) => console.error"
    "('[{f}]', e) }};\n",
    "for (let i = 0; i < {a}.length; i += 1) {{\n  if ({a}[i].{p} === {b}.{q}) {{\n"
    "    {c}.push({a}[i]);\n  }}\n}}\n",
    "// {F}: keeps the {p} list in step with the {q} store ({n} entries at most)\n",
    "export const {f} = ({a} = {{}}) => Object.keys({a}).reduce((acc, key) => "
    "{{ acc[key] = String({a}[key]).trim(); return acc; }}, {{}});\n",
)


def app_js():
    """About 100 KiB of JavaScript-like text, the same bytes on every run:
    realistic snippets with varying names and numbers, so that it compresses
    about as well as an unminified bundle."""
    rng = random.Random(12)

    def name():
        return rng.choice(JS_WORDS) + rng.choice(JS_WORDS).capitalize() + str(rng.randrange(100))

    parts, size = [], 0
    while True:
        f, a, b, c = name(), name(), name(), name()
        text = rng.choice(JS_SNIPPETS).format(
            f=f, F=f[0].upper() + f[1:], a=a, b=b, c=c, p=rng.choice(JS_WORDS),
            q=rng.choice(JS_WORDS), n=rng.randrange(10000))
        if size + len(text) > APP_JS_BYTES - 8:
            break
        parts.append(text)
        size += len(text)
    # A comment line fills the rest (at least 8 bytes) to the exact size.
    parts.append("\n//" + "-" * (APP_JS_BYTES - size - 4) + "\n")
    data = "".join(parts).encode()
    assert len(data) == APP_JS_BYTES, len(data)
    return data


def make_precompressed(root):
    """app.js with app.js.br and app.js.gz beside it, as a build step makes
    them; the siblings are written after app.js, so they are not older."""
    (root / "app.js").write_bytes(app_js())
    for tool in (["brotli", "-k", "-f", "-q", "11"], ["gzip", "-k", "-f", "-9"]):
        if not shutil.which(tool[0]):
            raise RuntimeError(f"{tool[0]} not found (scripts/install-deps.sh --bench installs it)")
        subprocess.run(tool + [str(root / "app.js")], check=True)
    return {suffix: (root / f"app.js{suffix}").stat().st_size for suffix in ("", ".br", ".gz")}


def check_compressed(server, root, accept, encoding):
    """Before measuring: the server must answer app.js with the sibling's own
    bytes, or the figures would be about something else. HEAD for the head,
    GET for the body."""
    sibling = (root / f"app.js.{'br' if encoding == 'br' else 'gz'}").read_bytes()
    url = server.url("app.js")
    head = subprocess.run(["curl", "-sSI", "-H", f"Accept-Encoding: {accept}", url],
                          capture_output=True, text=True, timeout=10).stdout
    fields = {}
    for line in head.splitlines()[1:]:
        key, sep, value = line.partition(":")
        if sep:
            fields[key.strip().lower()] = value.strip()
    body = subprocess.run(["curl", "-sS", "-H", f"Accept-Encoding: {accept}", url],
                          capture_output=True, timeout=10).stdout
    problems = []
    if not head.startswith("HTTP/1.1 200"):
        problems.append(f"status line {head.splitlines()[:1]}")
    if fields.get("content-encoding") != encoding:
        problems.append(f"Content-Encoding {fields.get('content-encoding')!r}, not {encoding!r}")
    if fields.get("content-length") != str(len(sibling)):
        problems.append(f"Content-Length {fields.get('content-length')!r}, not {len(sibling)}")
    if body != sibling:
        problems.append(f"GET body of {len(body)} bytes is not app.js.{encoding[:2]}"
                        f" ({len(sibling)} bytes)")
    if problems:
        raise RuntimeError(f"{server.name} with 'Accept-Encoding: {accept}' does not send the "
                           f"precompressed bytes: " + "; ".join(problems))


def main():
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--httpd", required=True, help="path to reactor-httpd")
    parser.add_argument("--seconds", type=int, default=10, help="duration of each wrk run")
    parser.add_argument("--rounds", type=int, default=3, help="alternating rounds per scenario")
    parser.add_argument("--connections", type=int, default=50)
    parser.add_argument("--large-mib", type=int, default=1024, help="size of the large file")
    parser.add_argument("--server-cpu", type=int, default=0)
    parser.add_argument("--client-cpu", type=int, default=1)
    parser.add_argument("--threads", default="1,2",
                        help="comma list of server thread counts (1 pins server and wrk; more "
                             "pins nothing and runs wrk -tN; close, large and log run at 1 only)")
    parser.add_argument("--only", default="", help="comma list of servers to run")
    parser.add_argument("--scenarios", default="1k,64k,close,large,log,precompressed",
                        help="comma list of: 1k,64k,close,large,log,precompressed")
    parser.add_argument("--baseline", action="append", default=[],
                        help="another reactor-httpd build run beside this one as NAME=PATH, "
                             "e.g. 'before=/tmp/old/build-bench/apps/httpd/reactor-httpd': "
                             "a regression check, alternating like the peers (repeatable)")
    parser.add_argument("--json", help="also write the results here")
    parser.add_argument("--variant", action="append", default=[],
                        help="extra reactor-httpd run as NAME=ARGS, e.g. "
                             "'sendfile-only=--inline-max 0' (repeatable)")
    args = parser.parse_args()

    thread_counts = [int(n) for n in args.threads.split(",")]
    if not thread_counts or min(thread_counts) < 1:
        parser.error("--threads takes positive integers")
    scenarios = args.scenarios.split(",")

    work = Path(tempfile.mkdtemp(prefix="reactor-bench-http-"))
    work.chmod(0o755)  # h2o started as root serves as "nobody"
    root = work / "site"
    make_site(root, args.large_mib if "large" in scenarios and 1 in thread_counts else 0)
    sizes = make_precompressed(root) if "precompressed" in scenarios else None
    cpu = args.server_cpu
    httpd = os.path.abspath(args.httpd)

    def make_servers(threads):
        servers = [
            ReactorHttpd("reactor-httpd", work, root, cpu, threads, httpd),
            Nginx("nginx", work, root, cpu, threads),
            H2o("h2o", work, root, cpu, threads),
        ]
        if threads == 1:
            # lighttpd has no threads (server.max-worker forks processes and
            # is unsupported), so it only runs in the 1-thread comparison.
            servers.insert(2, Lighttpd("lighttpd", work, root, cpu))
        for variant in args.variant:
            name, _, extra = variant.partition("=")
            servers.append(ReactorHttpd(f"reactor-httpd:{name}", work, root, cpu, threads,
                                        httpd, extra.split()))
        for baseline in args.baseline:
            name, _, path = baseline.partition("=")
            servers.append(ReactorHttpd(f"reactor-httpd:{name}", work, root, cpu, threads,
                                        os.path.abspath(path)))
        return only_wanted(servers)

    def only_wanted(servers):
        if args.only:
            wanted = set(args.only.split(","))
            servers = [s for s in servers if s.name in wanted]
        return servers

    def make_precompressed_servers(threads):
        """Instances of their own, so that the 1k/64k runs measure both
        servers with the feature off, as they are by default."""
        return only_wanted([
            ReactorHttpd("reactor-httpd", work, root, cpu, threads, httpd, ["--precompressed"],
                         tag="reactor-httpd-precompressed"),
            Nginx("nginx", work, root, cpu, threads, tag="nginx-gzip_static", gzip_static=True),
        ])

    results = {}  # scenario -> server -> list of runs
    running = []
    try:
        for threads in thread_counts:
            if threads > 1 and not {"1k", "64k", "precompressed"} & set(scenarios):
                continue  # nothing else runs above 1 thread
            servers = make_servers(threads)
            with_log = None
            if threads == 1 and "log" in scenarios:
                with_log = ReactorHttpd("reactor-httpd+log", work, root, cpu, 1, httpd,
                                        ["--access-log", str(work / "access.log")])
            precompressed = (make_precompressed_servers(threads)
                             if "precompressed" in scenarios else [])
            for server in servers + ([with_log] if with_log else []) + precompressed:
                running.append(server)
                server.start()
            label = thread_label(threads)
            print(f"{label}: " + ("servers on CPU %d, wrk -t1 on CPU %d" % (cpu, args.client_cpu)
                                  if threads == 1 else
                                  f"nothing pinned, wrk -t{threads} shares the CPUs with the "
                                  "server"), flush=True)
            plan = []
            if "1k" in scenarios:
                plan.append((f"1 KiB keep-alive, {label}", "1k.bin", False, servers, ()))
            if "64k" in scenarios:
                plan.append((f"64 KiB keep-alive, {label}", "64k.bin", False, servers, ()))
            if threads == 1 and "close" in scenarios:
                plan.append(("1 KiB conn/request", "1k.bin", True, servers, ()))
            if with_log:
                plan.append(("1 KiB keep-alive, access log on", "1k.bin", False,
                             [s for s in servers if s.name == "reactor-httpd"] + [with_log], ()))
            if precompressed:
                print(f"  app.js {sizes['']} bytes, app.js.gz {sizes['.gz']}, app.js.br "
                      f"{sizes['.br']}; reactor-httpd --precompressed, nginx gzip_static on",
                      flush=True)
                for server in precompressed:
                    check_compressed(server, root, "gzip", "gzip")
                reactor = [s for s in precompressed if s.name == "reactor-httpd"]
                for server in reactor:
                    check_compressed(server, root, "br, gzip", "br")
                plan.append((f"100 KiB .js as .gz, {label}", "app.js", False, precompressed,
                             ("Accept-Encoding: gzip",)))
                if reactor:
                    plan.append((f"100 KiB .js as .br, {label}", "app.js", False, reactor,
                                 ("Accept-Encoding: br, gzip",)))
            for title, path, close, group, headers in plan:
                for round_index in range(args.rounds):
                    order = group[round_index % len(group):] + group[:round_index % len(group)]
                    for server in order:
                        run = run_wrk(server, path, args.seconds, args.connections, close,
                                      args.client_cpu, headers)
                        if headers:
                            check_bytes_per_request(server, title, run, sizes)
                        results.setdefault(title, {}).setdefault(server.name, []).append(run)
                        print(f"  {title:34} {server.name:18} {run['rps']:>10.0f} req/s "
                              f"p99 {run['p99_ms']:7.2f} ms  cpu {run['cpu_ms_per_10k']:6.1f} "
                              "ms/10k"
                              + (f"  non-2xx {run['bad_status']}" if run["bad_status"] else "")
                              + (f"  socket errors: {run['socket_errors']}"
                                 if run["socket_errors"] else ""), flush=True)
            if threads == 1 and "large" in scenarios:
                title = f"{args.large_mib} MiB download (curl)"
                for round_index in range(args.rounds):
                    for server in servers:
                        run = run_download(server, "1g.bin", args.client_cpu)
                        results.setdefault(title, {}).setdefault(server.name, []).append(run)
                        print(f"  {title:34} {server.name:18} {run['mib_s']:>10.0f} MiB/s",
                              flush=True)
            for server in running:
                server.stop()
            running = []
    finally:
        for server in running:
            server.stop()

    print_summary(results, thread_counts)
    if args.json:
        Path(args.json).write_text(json.dumps(results, indent=2))
    shutil.rmtree(work, ignore_errors=True)


def check_bytes_per_request(server, title, run, sizes):
    """Under load too: wrk's bytes read per response must be the sibling's
    size plus a head, not app.js in full (a server that fell back to the
    identity file would look 3-4 times slower for the wrong reason)."""
    expected = sizes[".br"] if title.startswith("100 KiB .js as .br") else sizes[".gz"]
    per_request = run["bytes_per_request"]
    # wrk prints "MB read" with two decimals: allow for that rounding and a head.
    if not (expected <= per_request * 1.01 and per_request <= expected * 1.01 + 600):
        raise RuntimeError(f"{server.name}, {title}: {per_request:.0f} bytes read per response, "
                           f"expected {expected} plus a head")


def thread_label(threads):
    return f"{threads} thread" + ("" if threads == 1 else "s")


def median(runs, key):
    return statistics.median(run[key] for run in runs)


def print_summary(results, thread_counts):
    print("\nmedians")
    for title, by_server in results.items():
        print(f"\n{title}")
        is_download = "download" in title
        for name, runs in by_server.items():
            if is_download:
                print(f"  {name:18} {median(runs, 'mib_s'):>10.0f} MiB/s")
            else:
                print(f"  {name:18} {median(runs, 'rps'):>10.0f} req/s   p99 "
                      f"{median(runs, 'p99_ms'):7.2f} ms   cpu "
                      f"{median(runs, 'cpu_ms_per_10k'):6.1f} ms/10k req")
        ours = by_server.get("reactor-httpd")
        peers = {n: r for n, r in by_server.items() if not n.startswith("reactor-httpd")}
        if not ours:
            continue
        if is_download and "nginx" in peers:
            ratio = median(ours, "mib_s") / median(peers["nginx"], "mib_s")
            print(f"  ratio reactor-httpd / nginx: {ratio:.2f}x MiB/s")
        elif peers and not is_download:
            best = max(peers, key=lambda n: median(peers[n], "rps"))
            leanest = min(peers, key=lambda n: median(peers[n], "cpu_ms_per_10k"))
            print(f"  ratio req/s vs best peer ({best}): "
                  f"{median(ours, 'rps') / median(peers[best], 'rps'):.2f}x")
            print(f"  ratio CPU/request vs leanest peer ({leanest}): "
                  f"{median(ours, 'cpu_ms_per_10k') / median(peers[leanest], 'cpu_ms_per_10k'):.2f}x"
                  " (lower is better)")
        if " .js as .br" in title:
            gz = results.get(title.replace(" as .br", " as .gz"), {}).get("reactor-httpd")
            print("  (reactor-httpd only: nginx 1.22's gzip_static serves .gz, and no .br "
                  "without an extra module)")
            if gz:
                print(f"  reactor-httpd .br / .gz: {median(ours, 'rps') / median(gz, 'rps'):.2f}x "
                      f"req/s, {median(ours, 'cpu_ms_per_10k') / median(gz, 'cpu_ms_per_10k'):.2f}x"
                      " CPU per request")
        if "reactor-httpd+log" in by_server:
            cost = median(by_server["reactor-httpd+log"], "cpu_ms_per_10k") / median(
                ours, "cpu_ms_per_10k")
            print(f"  access log on: {cost:.2f}x the CPU per request")
    print_scaling(results, thread_counts)


def print_scaling(results, thread_counts):
    """Each server's req/s and CPU per request at N threads over 1 thread."""
    if 1 not in thread_counts or len(thread_counts) < 2:
        return
    header = ("\nscaling from 1 thread (pinned, wrk on the other CPU) to N threads (unpinned, wrk "
              "on the same CPUs): req/s ratio, CPU/request ratio")
    for base in ("1 KiB keep-alive", "64 KiB keep-alive"):
        one = results.get(f"{base}, {thread_label(1)}", {})
        for threads in thread_counts:
            many = results.get(f"{base}, {thread_label(threads)}", {})
            if threads == 1 or not one or not many:
                continue
            if header:
                print(header)
                header = None
            print(f"\n{base}, 1 -> {threads} threads")
            scaling = {}
            for name in many:
                if name not in one:
                    continue
                scaling[name] = median(many[name], "rps") / median(one[name], "rps")
                cpu = median(many[name], "cpu_ms_per_10k") / median(one[name], "cpu_ms_per_10k")
                print(f"  {name:18} {scaling[name]:5.2f}x req/s   {cpu:5.2f}x CPU per request")
            if "reactor-httpd" in scaling and "nginx" in scaling:
                print(f"  reactor-httpd's scaling / nginx's: "
                      f"{scaling['reactor-httpd'] / scaling['nginx']:.2f}x")


if __name__ == "__main__":
    sys.exit(main())
