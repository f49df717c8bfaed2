#!/usr/bin/env python3
"""Sums the results of `meson test` runs into one closing line.

Each doctest program reports its own test cases ("[doctest] test cases: 12 |
11 passed | 1 failed"); those counts are used. A program that did not get
as far as that summary (crashed, timed out, sanitizer abort) and any
non-doctest test (the fuzzers) counts as one test, passed or failed by its
exit status. A doctest program whose cases all passed but which exited
non-zero (a sanitizer report at exit, say) adds one failure.
"""
import json
import pathlib
import re
import sys

SUMMARY = re.compile(r"\[doctest\] test cases:\s*(\d+)\s*\|\s*(\d+) passed\s*\|\s*(\d+) failed")


def count(build_dir):
    log = pathlib.Path(build_dir) / "meson-logs" / "testlog.json"
    if not log.exists():
        print(f"{build_dir}: no test log (build failed?)", file=sys.stderr)
        return 0, 1
    passed = failed = 0
    for line in log.read_text(errors="replace").splitlines():
        if not line.strip():
            continue
        result = json.loads(line)
        ok = result.get("result") in ("OK", "EXPECTEDFAIL", "SKIP")
        match = None
        for match in SUMMARY.finditer(result.get("stdout", "") or ""):
            pass
        if match:
            case_passed, case_failed = int(match.group(2)), int(match.group(3))
            passed += case_passed
            failed += case_failed
            if not ok and case_failed == 0:
                failed += 1
        elif ok:
            passed += 1
        else:
            failed += 1
        if not ok:
            print(f"FAILED: {build_dir}: {result.get('name')} ({result.get('result')})",
                  file=sys.stderr)
    return passed, failed


def main():
    total_passed = total_failed = 0
    for build_dir in sys.argv[1:]:
        passed, failed = count(build_dir)
        print(f"{build_dir}: {passed} passed, {failed} failed", file=sys.stderr)
        total_passed += passed
        total_failed += failed
    sys.stderr.flush()
    print(f"{total_passed} passed, {total_failed} failed", flush=True)
    return 1 if total_failed else 0


if __name__ == "__main__":
    sys.exit(main())
