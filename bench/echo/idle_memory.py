#!/usr/bin/env python3
"""Memory an echo server spends per idle connection.

For each server: start it on a free port, read its VmRSS, open N idle
connections, wait until it has accepted them all (its descriptor count in
/proc), read VmRSS again and report the growth divided by N. Then close the
connections and stop the server with SIGTERM. Run by idle_memory.sh, which
builds the servers and raises the descriptor limit first.
"""

import argparse
import os
import re
import resource
import signal
import socket
import subprocess
import sys
import tempfile
import time

LISTENING = re.compile(r"listening on \S*:(\d+)")


def vm_rss_kib(pid):
    with open(f"/proc/{pid}/status") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    raise RuntimeError(f"no VmRSS for pid {pid}")


def open_descriptors(pid):
    return len(os.listdir(f"/proc/{pid}/fd"))


def free_port():
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


class Server:
    def __init__(self, name, command, log_dir):
        self.name = name
        self.command = command
        self.log_path = os.path.join(log_dir, name + ".log")
        self.process = None
        self.port = None

    def start(self, port=0):
        # The log goes to a file, not a pipe: a pipe nobody drains could
        # block a server that logs.
        with open(self.log_path, "w") as log:
            argv = [self.command[0], str(port)] + self.command[1:]
            self.process = subprocess.Popen(argv, stdout=log, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            with open(self.log_path) as log:
                match = LISTENING.search(log.read())
            if match:
                self.port = int(match.group(1))
                break
            if self.process.poll() is not None:
                break
            time.sleep(0.05)
        if self.port is None:
            self.stop()
            with open(self.log_path) as log:
                raise RuntimeError(f"{self.name} did not start:\n{log.read()}")
        if self.port == 0:
            # It did not report the port it was given; choose one ourselves.
            self.stop()
            self.port = None
            self.start(free_port())

    def stop(self):
        if self.process is None or self.process.poll() is not None:
            return self.process.returncode if self.process else 0
        self.process.send_signal(signal.SIGTERM)
        try:
            return self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
            return "killed after ignoring SIGTERM for 10 s"


def wait_for(predicate, seconds):
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.05)
    return predicate()


def measure(server, connections, send_bytes, settle_seconds):
    pid = server.process.pid
    time.sleep(settle_seconds)
    rss_before = vm_rss_kib(pid)
    descriptors_before = open_descriptors(pid)

    clients = []
    try:
        for _ in range(connections):
            client = socket.create_connection(("127.0.0.1", server.port), timeout=10)
            clients.append(client)
        if send_bytes:
            # Let each connection do one small echo first, so buffers a server
            # allocates on first data are counted too.
            payload = b"x" * send_bytes
            for client in clients:
                client.sendall(payload)
            for client in clients:
                received = 0
                while received < send_bytes:
                    chunk = client.recv(send_bytes - received)
                    if not chunk:
                        raise RuntimeError("server closed a connection during the first echo")
                    received += len(chunk)
        accepted = wait_for(
            lambda: open_descriptors(pid) >= descriptors_before + connections, 30)
        if not accepted:
            raise RuntimeError(
                f"{server.name} holds only {open_descriptors(pid) - descriptors_before}"
                f" of {connections} connections after 30 s")
        time.sleep(settle_seconds)
        rss_after = vm_rss_kib(pid)
        if server.process.poll() is not None:
            raise RuntimeError(f"{server.name} died while holding the connections")
    finally:
        for client in clients:
            client.close()

    released = wait_for(lambda: open_descriptors(pid) <= descriptors_before, 10)
    rss_closed = vm_rss_kib(pid)
    return rss_before, rss_after, rss_closed, released


def raise_descriptor_limit(wanted):
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < wanted:
        new_soft = wanted if hard == resource.RLIM_INFINITY else min(wanted, hard)
        resource.setrlimit(resource.RLIMIT_NOFILE, (new_soft, hard))
    soft, _ = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < wanted:
        sys.exit(f"idle_memory: descriptor limit {soft} is below the {wanted} needed")


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--connections", type=int, default=10000)
    parser.add_argument("--send-bytes", type=int, default=0,
                        help="echo this many bytes on each connection before idling")
    parser.add_argument("--settle-seconds", type=float, default=0.5)
    parser.add_argument("server", nargs="+",
                        help="NAME=COMMAND (the command gets PORT inserted as its first argument)")
    args = parser.parse_args()

    raise_descriptor_limit(args.connections + 256)

    rows = []
    failed = False
    with tempfile.TemporaryDirectory() as log_dir:
        for spec in args.server:
            name, _, command = spec.partition("=")
            server = Server(name, command.split(), log_dir)
            try:
                server.start()
                before, after, closed, released = measure(
                    server, args.connections, args.send_bytes, args.settle_seconds)
                rows.append((name, before, after, closed, released))
            except (OSError, RuntimeError) as error:
                print(f"idle_memory: {name}: {error}", file=sys.stderr)
                failed = True
            finally:
                status = server.stop()
                if status not in (0, None):
                    print(f"idle_memory: {name} exited with {status}", file=sys.stderr)

    what = "idle connections" if not args.send_bytes else \
        f"idle connections after one {args.send_bytes}-byte echo each"
    print(f"{args.connections} {what}; VmRSS of the server process")
    print(f"  {'server':<26} {'before':>10} {'with conns':>11} {'after close':>12}"
          f" {'per connection':>15}")
    for name, before, after, closed, released in rows:
        per_connection = (after - before) * 1024 / args.connections
        note = "" if released else "  (not all connections released after close)"
        print(f"  {name:<26} {before:>7} KiB {after:>7} KiB {closed:>8} KiB"
              f" {per_connection:>9.0f} bytes{note}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
