#!/usr/bin/env bash
# Mutation check of the test suite (not part of scripts/test.sh: it is slow).
#
#   scripts/mutants.sh [--list] [--no-baseline] [BUILD_DIR] [MUTANT...]
#
# Plants known bugs in the reactor core and the protocol parsers, one at a
# time: rebuilds BUILD_DIR (default: build, the plain build) incrementally,
# runs the test programs that should notice, one after another until one
# fails, and puts the source file back. The table at the end says, for each
# planted bug, whether a test caught it and which. Every planted bug must
# be caught; one that is not points at a missing or weak test.
#
# A mutant is an exact piece of source text and its replacement; if the
# text is no longer there (the code changed), the mutant is reported as
# STALE instead of silently testing nothing. Sources are restored whatever
# happens (Ctrl-C included): from the copies kept in a backup directory.
set -uo pipefail
cd "$(dirname "$0")/.."

backup_dir=$(mktemp -d /tmp/reactor-mutants.XXXXXX)
restore_all() {
  local saved
  for saved in "$backup_dir"/*; do
    [[ -e $saved ]] || continue
    # The backup's name is the source path with '/' spelled '%'. A fresh
    # mtime (no cp -p), so that ninja rebuilds what the mutant compiled into.
    local original=${saved##*/}
    cp "$saved" "${original//%//}" && rm -f "$saved"
  done
  rmdir "$backup_dir" 2>/dev/null
}
trap restore_all EXIT
trap 'echo "interrupted: restoring sources" >&2; exit 130' INT TERM

MUTANTS_BACKUP_DIR=$backup_dir python3 - "$@" <<'PYTHON'
import os
import pathlib
import signal
import subprocess
import sys
import time

# SIGTERM unwinds like Ctrl-C, through the `finally` that restores the source.
signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))

# name, edits (file, exact text, replacement), test programs (meson test names)
# to run. A bug may need several edits: a check that is repeated elsewhere
# (defence in depth) is only gone when every copy is.
MUTANTS = [
    ('limit-not-counted',
     [('reactor/connection_limit.cc',
       '    if (open >= max_) return false;',
       '    if (open > max_) return false;')],
     ['core_loop_group', 'http_threads']),
    ('limit-no-wakeup',
     [('reactor/connection_limit.cc',
       '  for (auto& [id, waiter] : waiters_) waiter();',
       '  (void)waiters_;')],
     ['core_loop_group']),
    ('hand-off-to-loop-0-only',
     [('reactor/tcp_server_group.cc',
       '  next_loop_ = (next_loop_ + 1) % servers_.size();',
       '  next_loop_ = 0;')],
     ['core_loop_group']),
    ('read-no-drain',
     [('reactor/connection.cc',
       'if (static_cast<size_t>(n) < room && !(channel_.ready_events() & EPOLLRDHUP)) return;',
       'if (!(channel_.ready_events() & EPOLLRDHUP)) return;')],
     ['core_connection', 'core_echod']),
    ('no-epollout-rearm',
     [('reactor/connection.cc',
       '    if (!channel_.writing()) channel_.enable_writing();\n    if (old_queued < high_water_mark_',
       '    if (old_queued < high_water_mark_')],
     ['core_connection', 'core_echod']),
    ('no-high-water-callback',
     [('reactor/connection.cc',
       'if (old_queued < high_water_mark_ && queued_bytes_ >= high_water_mark_) {',
       'if (false && old_queued < high_water_mark_ && queued_bytes_ >= high_water_mark_) {')],
     ['core_connection', 'http_lifecycle', 'core_echod']),
    ('no-idle-timeout',
     [('reactor/connection.cc',
       'if (state_ == State::kClosed || idle_timeout_.count() == 0) return;',
       'if (state_ == State::kClosed || idle_timeout_.count() != 0) return;')],
     ['core_connection', 'http_lifecycle']),
    ('range-end-off-by-one',
     [('protocols/http/byte_range.cc',
       'range.last = last >= file_size ? file_size - 1 : last;',
       'range.last = last >= file_size ? file_size : last;')],
     ['http_unit', 'http_curl']),
    ('http-path-keeps-dotdot',
     [('protocols/http/url_path.cc',
       '} else if (segment == "..") {',
       '} else if (segment == "...") {')],
     ['http_unit', 'http_raw']),
    ('no-header-size-limit',
     [('protocols/http/request_parser.cc',
       '  if (i >= limit) {\n    return fail(',
       '  if (false && i >= limit) {\n    return fail(')],
     ['http_unit', 'http_raw']),
    ('if-modified-since-equal-not-304',
     [('protocols/http/preconditions.cc',
       'if (since && validators.last_modified <= *since) return Precondition::kNotModified;',
       'if (since && validators.last_modified < *since) return Precondition::kNotModified;')],
     ['http_unit', 'http_curl']),
    ('head-sends-body',
     [('protocols/http/static_file_handler.cc',
       '  if (context.head_only) return ResponseSummary{Status::kOk, 0};\n  append_body(file, 0, size, out);',
       '  append_body(file, 0, size, out);')],
     ['http_raw', 'http_curl']),
    ('rftp-path-keeps-dotdot',
     [('protocols/file/request_path.cc',
       'if (component == "..") {',
       'if (component == "...") {')],
     ['file_unit', 'file_server_protocol']),
    ('rftp-no-frame-limit',
     [('protocols/file/frame_codec.cc',
       'if (length > max_frame_length_) {',
       'if (false && length > max_frame_length_) {')],
     ['file_unit', 'file_server_protocol']),
    ('rftp-data-length-unchecked',
     [('protocols/file/frame_codec.cc',
       'const bool beyond = data.offset > data.size || data.length > data.size - data.offset;',
       'const bool beyond = data.offset > data.size;')],
     ['file_unit', 'file_client_cli']),
    ('rftp-read-only-ignored',
     [('protocols/file/server_session.cc',
       '  if (context_->read_only) {\n    return emit_error(connection, {ErrorCode::kForbidden, "the server is read-only"});\n  }\n  auto parsed = parse_request_path(request.path);',
       '  auto parsed = parse_request_path(request.path);'),
      ('protocols/file/upload_store.h',
       'bool writable() const { return directory_.valid() && !read_only_; }',
       'bool writable() const { return directory_.valid(); }')],
     ['file_server_protocol', 'file_client_cli']),
]

backup_dir = pathlib.Path(os.environ["MUTANTS_BACKUP_DIR"])
arguments = sys.argv[1:]
listing = "--list" in arguments
baseline = "--no-baseline" not in arguments
arguments = [a for a in arguments if a not in ("--list", "--no-baseline")]
build_dir = "build"
if arguments and pathlib.Path(arguments[0], "build.ninja").exists():
    build_dir = arguments.pop(0)
chosen = [m for m in MUTANTS if not arguments or m[0] in arguments]
if listing:
    for name, edits, _ in MUTANTS:
        print(f"{name:34} {', '.join(path for path, *_ in edits)}")
    sys.exit(0)
TEST_TIMEOUT = 900  # seconds per test program, on top of meson's own limit


def log(text):
    print(text, file=sys.stderr, flush=True)


def build():
    done = subprocess.run(["ninja", "-C", build_dir, "-j2"], capture_output=True, text=True)
    if done.returncode != 0:
        log(done.stdout[-3000:])
    return done.returncode == 0


def run_test(name):
    """True if the test program passed."""
    try:
        done = subprocess.run(
            ["meson", "test", "-C", build_dir, "--no-rebuild", "--num-processes", "1", name],
            capture_output=True, text=True, timeout=TEST_TIMEOUT)
    except subprocess.TimeoutExpired:
        return False
    return done.returncode == 0


def backup_path(path):
    return backup_dir / path.replace("/", "%")


def apply(path, old, new):
    text = pathlib.Path(path).read_text()
    if text.count(old) != 1:
        return f"anchor found {text.count(old)} times"
    backup = backup_path(path)
    if not backup.exists():  # a second edit of the same file keeps the original
        subprocess.run(["cp", "-p", path, str(backup)], check=True)
    pathlib.Path(path).write_text(text.replace(old, new))
    return None


def restore(path):
    backup = backup_path(path)
    subprocess.run(["cp", "-p", str(backup), path], check=True)
    backup.unlink()
    # cp -p keeps the old mtime, which ninja would take for "unchanged".
    os.utime(path)


if not build():
    log("the unmutated build fails; nothing to measure")
    sys.exit(1)
if baseline:
    needed = sorted({test for _, _, tests in chosen for test in tests})
    log(f"baseline: {' '.join(needed)}")
    failing = [test for test in needed if not run_test(test)]
    if failing:
        log(f"these fail without any mutant, so they prove nothing: {' '.join(failing)}")
        sys.exit(1)

rows = []
for name, edits, tests in chosen:
    started = time.monotonic()
    files = ", ".join(path for path, *_ in edits)
    applied = []
    try:
        problem = None
        for path, old, new in edits:
            problem = apply(path, old, new)
            if problem:
                problem = f"{path}: {problem}"
                break
            if path not in applied:
                applied.append(path)
        if problem:
            rows.append((name, files, "STALE", problem, 0))
            continue
        if not build():
            rows.append((name, files, "NO BUILD", "the mutant does not compile", 0))
            continue
        caught_by = None
        for test in tests:
            log(f"{name}: running {test}")
            if not run_test(test):
                caught_by = test
                break
        rows.append((name, files, "yes" if caught_by else "NO",
                     caught_by or "none of " + ", ".join(tests), time.monotonic() - started))
    finally:
        for path in applied:
            restore(path)
    log(f"{name}: {rows[-1][2]} ({rows[-1][3]})")

build()  # leave the build matching the sources
width = max([len(r[0]) for r in rows] + [6])
file_width = max([len(r[1]) for r in rows] + [4])
print(f"{'mutant':{width}}  {'file':{file_width}}  {'caught':8}  by (seconds)")
for name, files, caught, by, seconds in rows:
    print(f"{name:{width}}  {files:{file_width}}  {caught:8}  {by} ({seconds:.0f})")
missed = [r for r in rows if r[2] != "yes"]
print(f"{len(rows) - len(missed)} of {len(rows)} planted bugs caught")
sys.exit(1 if missed else 0)
PYTHON
