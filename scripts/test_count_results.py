#!/usr/bin/env python3
"""Tests of count_results.py on small hand-made build directories.

Each case writes a meson-logs/testlog.json (and, where it matters, a
meson-info/intro-tests.json, build.ninja and a test program) into a
temporary directory, runs count_results.py on it as test.sh does, and
checks the closing line and the exit status. Run as the meson test
'count_results' (suite 'harness'), so it is part of the test command.
"""
import json
import os
import pathlib
import subprocess
import sys
import tempfile
import time
import unittest

COUNTER = pathlib.Path(__file__).resolve().parent / "count_results.py"


def doctest_summary(cases, passed, failed, skipped=0):
    return (
        "===============================================================================\n"
        f"[doctest] test cases: {cases} | {passed} passed | {failed} failed | {skipped} skipped\n"
        f"[doctest] assertions: {cases * 3} | {passed * 3} passed | {failed * 3} failed |\n"
        f"[doctest] Status: {'FAILURE!' if failed else 'SUCCESS!'}\n"
    )


class BuildDir:
    """A fake build directory: the test programs, build.ninja, the test
    definitions meson would write, and a testlog.json."""

    def __init__(self, root, name="build"):
        self.path = pathlib.Path(root) / name
        (self.path / "meson-logs").mkdir(parents=True)
        (self.path / "meson-info").mkdir()
        (self.path / "build.ninja").write_text("# fake\n")
        self.defined = []
        self.results = []

    def program(self, name):
        program = self.path / "tests" / name
        program.parent.mkdir(exist_ok=True)
        program.write_text("#!/bin/sh\n")
        return str(program)

    def result(self, name, result, returncode, stdout="", suite="core"):
        self.defined.append({"name": name, "suite": [f"reactor:{suite}"]})
        self.results.append(
            {
                # As meson 1.0 writes it; intro-tests.json has the bare name.
                "name": f"reactor:{suite} / {name}",
                "stdout": stdout,
                "result": result,
                "starttime": 0,
                "duration": 0.1,
                "returncode": returncode,
                "env": {},
                "command": [self.program(name)],
            }
        )

    def write(self, log=True):
        (self.path / "meson-info" / "intro-tests.json").write_text(json.dumps(self.defined))
        if log:
            # Later than everything built, as after a real run.
            time.sleep(0.01)
            log_path = self.path / "meson-logs" / "testlog.json"
            log_path.write_text("".join(json.dumps(result) + "\n" for result in self.results))
        return str(self.path)


def run_counter(*arguments):
    finished = subprocess.run(
        [sys.executable, str(COUNTER), *arguments], capture_output=True, text=True, timeout=60
    )
    lines = finished.stdout.splitlines()
    return finished.returncode, (lines[-1] if lines else ""), finished.stderr


class CountResultsTest(unittest.TestCase):
    def setUp(self):
        self.temporary = tempfile.TemporaryDirectory()
        self.root = self.temporary.name

    def tearDown(self):
        self.temporary.cleanup()

    def test_all_passed(self):
        build = BuildDir(self.root)
        build.result("core_buffer", "OK", 0, doctest_summary(12, 12, 0))
        build.result("http_raw", "OK", 0, doctest_summary(30, 30, 0), suite="http")
        build.result("fuzz_http_parser", "OK", 0, "Done 1000 runs", suite="fuzz")
        status, line, _ = run_counter(build.write())
        self.assertEqual(line, "43 passed, 0 failed")
        self.assertEqual(status, 0)

    def test_doctest_program_with_failed_cases(self):
        build = BuildDir(self.root)
        build.result("core_buffer", "FAIL", 1, doctest_summary(12, 10, 2))
        status, line, errors = run_counter(build.write())
        self.assertEqual(line, "10 passed, 2 failed")
        self.assertEqual(status, 1)
        self.assertIn("core_buffer (FAIL)", errors)

    def test_crash_after_the_summary_is_one_more_failure(self):
        # A sanitizer report at exit: every case passed, the exit status is not 0.
        build = BuildDir(self.root)
        build.result("http_raw", "FAIL", 23, doctest_summary(30, 30, 0) + "ERROR: LeakSanitizer")
        status, line, _ = run_counter(build.write())
        self.assertEqual(line, "30 passed, 1 failed")
        self.assertEqual(status, 1)

    def test_crash_before_the_summary(self):
        build = BuildDir(self.root)
        build.result("core_connection", "FAIL", -11, "[doctest] doctest version is ...\n")
        status, line, _ = run_counter(build.write())
        self.assertEqual(line, "0 passed, 1 failed")
        self.assertEqual(status, 1)

    def test_timeout_and_error_are_failures(self):
        build = BuildDir(self.root)
        build.result("file_transfer", "TIMEOUT", -15, "")
        build.result("file_unit", "ERROR", 99, "")
        status, line, _ = run_counter(build.write())
        self.assertEqual(line, "0 passed, 2 failed")
        self.assertEqual(status, 1)

    def test_fuzzer_that_exited_77_is_a_failure(self):
        # libFuzzer's default exit status for a crash (abort() in the
        # target's check) is 77, which meson reports as SKIP.
        build = BuildDir(self.root)
        build.result("core_buffer", "OK", 0, doctest_summary(12, 12, 0))
        build.result("fuzz_file_frames", "SKIP", 77, "==1== ERROR: libFuzzer: deadly signal",
                     suite="fuzz")
        status, line, errors = run_counter(build.write())
        self.assertEqual(line, "12 passed, 1 failed")
        self.assertEqual(status, 1)
        self.assertIn("fuzz_file_frames", errors)

    def test_fuzzer_known_by_its_program_name_without_test_definitions(self):
        build = BuildDir(self.root)
        build.result("fuzz_http_parser", "SKIP", 77, "", suite="other")
        path = build.write()
        (build.path / "meson-info" / "intro-tests.json").unlink()
        status, line, _ = run_counter(path)
        self.assertEqual(line, "0 passed, 1 failed")
        self.assertEqual(status, 1)

    def test_skip_is_counted_as_skipped_not_passed(self):
        build = BuildDir(self.root)
        build.result("core_buffer", "OK", 0, doctest_summary(12, 12, 0))
        build.result("install_consumer", "SKIP", 77, "", suite="install")
        status, line, errors = run_counter(build.write())
        self.assertEqual(line, "12 passed, 0 failed, 1 skipped")
        self.assertEqual(status, 0)
        self.assertIn("SKIPPED", errors)

    def test_doctest_skipped_cases_are_counted_as_skipped(self):
        build = BuildDir(self.root)
        build.result("core_buffer", "OK", 0, doctest_summary(12, 12, 0, skipped=2))
        status, line, _ = run_counter(build.write())
        self.assertEqual(line, "12 passed, 0 failed, 2 skipped")
        self.assertEqual(status, 0)

    def test_doctest_program_that_ran_no_case_is_a_failure(self):
        build = BuildDir(self.root)
        build.result("core_buffer", "OK", 0, doctest_summary(0, 0, 0))
        status, line, _ = run_counter(build.write())
        self.assertEqual(line, "0 passed, 1 failed")
        self.assertEqual(status, 1)

    def test_missing_log_is_a_failure(self):
        # test.sh deletes the log before building; a failed build leaves none.
        build = BuildDir(self.root)
        build.result("core_buffer", "OK", 0, doctest_summary(12, 12, 0))
        status, line, errors = run_counter(build.write(log=False))
        self.assertEqual(line, "0 passed, 1 failed")
        self.assertEqual(status, 1)
        self.assertIn("no test log", errors)

    def test_log_older_than_build_ninja_is_a_failure(self):
        build = BuildDir(self.root)
        build.result("core_buffer", "OK", 0, doctest_summary(12, 12, 0))
        path = build.write()
        later = time.time() + 5
        os.utime(build.path / "build.ninja", (later, later))
        status, line, errors = run_counter(path)
        self.assertEqual(line, "0 passed, 1 failed")
        self.assertEqual(status, 1)
        self.assertIn("older than the build", errors)

    def test_log_older_than_a_test_program_is_a_failure(self):
        build = BuildDir(self.root)
        build.result("core_buffer", "OK", 0, doctest_summary(12, 12, 0))
        path = build.write()
        later = time.time() + 5
        os.utime(build.results[0]["command"][0], (later, later))
        status, line, _ = run_counter(path)
        self.assertEqual(line, "0 passed, 1 failed")
        self.assertEqual(status, 1)

    def test_defined_test_without_a_result_is_a_failure_unless_partial(self):
        build = BuildDir(self.root)
        build.result("core_buffer", "OK", 0, doctest_summary(12, 12, 0))
        build.write()
        build.defined.append({"name": "core_echod", "suite": ["reactor:core"]})
        (build.path / "meson-info" / "intro-tests.json").write_text(json.dumps(build.defined))
        status, line, errors = run_counter(str(build.path))
        self.assertEqual(line, "12 passed, 1 failed")
        self.assertEqual(status, 1)
        self.assertIn("core_echod (no result", errors)
        status, line, _ = run_counter("--partial", str(build.path))
        self.assertEqual(line, "12 passed, 0 failed")
        self.assertEqual(status, 0)

    def test_a_suite_selection_expects_only_the_tests_of_those_suites(self):
        build = BuildDir(self.root)
        build.result("core_buffer", "OK", 0, doctest_summary(12, 12, 0))
        build.write()
        build.defined.append({"name": "models", "suite": ["reactor:examples"]})
        build.defined.append({"name": "core_echod", "suite": ["reactor:core"]})
        (build.path / "meson-info" / "intro-tests.json").write_text(json.dumps(build.defined))
        status, line, errors = run_counter(f"{build.path}=core")
        self.assertEqual(line, "12 passed, 1 failed")
        self.assertIn("core_echod (no result", errors)
        self.assertNotIn("models", errors)
        status, line, _ = run_counter(f"{build.path}=http")
        self.assertEqual(line, "12 passed, 0 failed")
        self.assertEqual(status, 0)

    def test_build_directories_are_summed_and_a_missing_one_counts(self):
        plain = BuildDir(self.root, "build")
        plain.result("core_buffer", "OK", 0, doctest_summary(12, 12, 0))
        asan = BuildDir(self.root, "build-asan")
        asan.result("core_buffer", "FAIL", 1, doctest_summary(12, 11, 1))
        missing = pathlib.Path(self.root) / "build-fuzz"
        status, line, _ = run_counter(plain.write(), asan.write(), str(missing))
        self.assertEqual(line, "23 passed, 2 failed")
        self.assertEqual(status, 1)

    def test_the_closing_line_is_the_last_line_of_stdout(self):
        build = BuildDir(self.root)
        build.result("core_buffer", "FAIL", 1, doctest_summary(12, 11, 1))
        path = build.write()
        finished = subprocess.run([sys.executable, str(COUNTER), path], capture_output=True,
                                  text=True, timeout=60)
        self.assertEqual(finished.stdout, "11 passed, 1 failed\n")


if __name__ == "__main__":
    unittest.main(verbosity=2)
