#!/usr/bin/env python3
"""Prints the ninja targets a run of `meson test --suite SUITE...` needs.

    suite_targets.py BUILD_DIR SUITE...

The test programs of those suites and what their tests depend on (the apps
they start), as paths relative to BUILD_DIR, one per line. scripts/test.sh
builds only these for the ThreadSanitizer pass instead of the whole tree.
"""
import json
import pathlib
import sys


def main(build_dir, suites):
    build_dir = pathlib.Path(build_dir).resolve()
    info = build_dir / "meson-info"
    tests = json.loads((info / "intro-tests.json").read_text())
    targets = {target["id"]: target["filename"] for target in json.loads((info / "intro-targets.json").read_text())}
    wanted = set()
    selected = [test for test in tests
                if any(suite.split(":")[-1] in suites for suite in test.get("suite") or [])]
    if not selected:
        print(f"suite_targets.py: no test in suites {sorted(suites)}", file=sys.stderr)
        return 1
    for test in selected:
        wanted.add(test["cmd"][0])
        for target_id in test.get("depends") or []:
            wanted.update(targets.get(target_id, []))
    for path in sorted(wanted):
        path = pathlib.Path(path).resolve()
        if build_dir in path.parents:  # not an interpreter or a source-tree script
            print(path.relative_to(build_dir))
    return 0


if __name__ == "__main__":
    if len(sys.argv) < 3:
        print(__doc__, file=sys.stderr)
        sys.exit(2)
    sys.exit(main(sys.argv[1], set(sys.argv[2:])))
