#!/usr/bin/env python3
"""Sums the results of `meson test` runs into one closing line.

    count_results.py [--partial] BUILD_DIR...

The last line printed is "N passed, N failed" (", N skipped" is appended
when something was skipped); the exit status is 1 if anything failed.

Each doctest program reports its own test cases ("[doctest] test cases: 12 |
11 passed | 1 failed | 0 skipped"); those counts are used. A program that
did not get as far as that summary (crashed, timed out, sanitizer abort)
and any non-doctest test (the fuzzers) counts as one test, passed or failed
by its result. A doctest program whose cases all passed but which ended
badly anyway (a sanitizer report at exit, a crash after the summary) adds
one failure, and so does one that ran no test case at all.

The counter must not report success for something that did not succeed:
  - SKIP (exit status 77) is counted as skipped, never as passed; a fuzzer
    that "skipped" found something (libFuzzer's default exit status for a
    crash is 77), so a SKIP in the fuzz suite is a failure;
  - a missing testlog.json (the build failed, the tests never ran) is a
    failure, and so is one older than the build it claims to describe (it
    was left over from an earlier run);
  - a test the build defines (meson-info/intro-tests.json) that has no
    result in the log did not run, which is a failure; --partial turns that
    check off for runs of selected tests (`meson test NAME`), and
    BUILD_DIR=SUITE,SUITE... limits it to the tests of those suites (a run
    of `meson test --suite SUITE ...`, as the ThreadSanitizer pass does).
"""
import json
import pathlib
import re
import sys

SUMMARY = re.compile(
    r"\[doctest\] test cases:\s*(\d+)\s*\|\s*(\d+) passed\s*\|\s*(\d+) failed(?:\s*\|\s*(\d+) skipped)?"
)
PASSED = ("OK", "EXPECTEDFAIL")
FUZZ_SUITE = re.compile(r"(^|:)fuzz$")  # meson names suites "project:suite"


class Tally:
    def __init__(self):
        self.passed = self.failed = self.skipped = 0

    def add(self, other):
        self.passed += other.passed
        self.failed += other.failed
        self.skipped += other.skipped

    def line(self):
        text = f"{self.passed} passed, {self.failed} failed"
        if self.skipped:
            text += f", {self.skipped} skipped"
        return text


def report(message):
    print(message, file=sys.stderr)


def newest_build_output(build_dir, results):
    """Modification time of the newest file the log's results depend on:
    build.ninja and every test program inside the build directory."""
    candidates = [build_dir / "build.ninja"]
    for result in results:
        command = result.get("command") or []
        if command:
            candidates.append(pathlib.Path(command[0]))
    root = build_dir.resolve()
    newest = 0.0
    for path in candidates:
        try:
            if root not in path.resolve().parents and path.resolve() != root / "build.ninja":
                continue  # an interpreter (python3, sh) or a source-tree script
            newest = max(newest, path.stat().st_mtime)
        except OSError:
            continue
    return newest


def defined_tests(build_dir):
    """{name: [suite, ...]} of the tests the build defines, or None if meson
    did not say (testlog.json does not record suites)."""
    info = build_dir / "meson-info" / "intro-tests.json"
    try:
        return {test["name"]: test.get("suite") or [] for test in json.loads(info.read_text())}
    except (OSError, ValueError, KeyError, TypeError):
        return None


def test_name(result):
    """The test's own name: meson writes "PROJECT:SUITE / NAME" into
    testlog.json (meson 1.0 does), intro-tests.json just "NAME"."""
    return (result.get("name") or "").rsplit(" / ", 1)[-1]


def count_one(build_dir, result, suites, tally):
    name = result.get("name")
    outcome = result.get("result")
    command = result.get("command") or [""]
    is_fuzzer = any(FUZZ_SUITE.search(suite) for suite in suites) or pathlib.Path(command[0]).name.startswith("fuzz_")
    match = None
    for match in SUMMARY.finditer(result.get("stdout", "") or ""):
        pass

    if outcome == "SKIP":
        if is_fuzzer:
            tally.failed += 1
            report(f"FAILED: {build_dir}: {name} (fuzzer exited 77: it found something)")
        else:
            tally.skipped += 1
            report(f"SKIPPED: {build_dir}: {name}")
        return

    ok = outcome in PASSED
    if match:
        cases, case_passed, case_failed = (int(match.group(i)) for i in (1, 2, 3))
        tally.passed += case_passed
        tally.failed += case_failed
        tally.skipped += int(match.group(4) or 0)
        if not ok and case_failed == 0:
            tally.failed += 1  # ended badly after its cases passed
        elif ok and cases == 0:
            tally.failed += 1
            report(f"FAILED: {build_dir}: {name} (ran no test case)")
    elif ok:
        tally.passed += 1
    else:
        tally.failed += 1
    if not ok:
        report(f"FAILED: {build_dir}: {name} ({outcome})")


def count(build_dir, partial=False, suites=None):
    build_dir = pathlib.Path(build_dir)
    tally = Tally()
    log = build_dir / "meson-logs" / "testlog.json"
    try:
        text = log.read_text(errors="replace")
        log_time = log.stat().st_mtime
    except OSError:
        report(f"FAILED: {build_dir}: no test log (the build failed or the tests did not run)")
        tally.failed += 1
        return tally

    results = []
    for number, line in enumerate(text.splitlines(), 1):
        if not line.strip():
            continue
        try:
            results.append(json.loads(line))
        except ValueError:
            report(f"FAILED: {build_dir}: testlog.json line {number} is not JSON")
            tally.failed += 1

    if newest_build_output(build_dir, results) > log_time:
        report(f"FAILED: {build_dir}: testlog.json is older than the build (left from an earlier run)")
        tally.failed += 1
        return tally

    defined = defined_tests(build_dir)
    for result in results:
        count_one(build_dir, result, (defined or {}).get(test_name(result), []), tally)

    if not partial and defined is not None:
        expected = {name for name, test_suites in defined.items()
                    if suites is None or any(suite.split(":")[-1] in suites for suite in test_suites)}
        for name in sorted(expected - {test_name(result) for result in results}):
            report(f"FAILED: {build_dir}: {name} (no result: it did not run)")
            tally.failed += 1
    return tally


def main(arguments):
    partial = "--partial" in arguments
    build_dirs = [argument for argument in arguments if argument != "--partial"]
    total = Tally()
    for argument in build_dirs:
        build_dir, _, suite_list = argument.partition("=")
        suites = set(suite_list.split(",")) if suite_list else None
        tally = count(build_dir, partial, suites)
        report(f"{build_dir}: {tally.line()}")
        total.add(tally)
    sys.stderr.flush()
    print(total.line(), flush=True)
    return 1 if total.failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
