// Test support: run one of the project's apps (or any program) as a real
// child process, learn the port it listens on, always end it, and check
// how it ended.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <string>
#include <vector>

#include "tests/support/time_scale.h"

namespace test_support {

// Path of a program given to the test through an environment variable set
// by meson (e.g. "REACTOR_HTTPD"). Fails the test (throws) when unset.
std::string program_from_env(const char* variable);

// A child the test started. How it ended is part of the test, checked by
// default so that a new test cannot forget it: when this object is
// destroyed, a child still running is sent SIGTERM and waited for, and the
// test fails (doctest CHECK) unless it exited with the expected status (0
// unless the test said otherwise) and printed no sanitizer report. A test
// that kills the child on purpose declares the status it expects, or opts
// out of the status check with its reason; the sanitizer scan always runs.
class ChildProcess {
 public:
  // Starts argv[0] with the given arguments; stdout and stderr are captured
  // into one pipe that this object reads (and keeps) as text.
  explicit ChildProcess(std::vector<std::string> argv);
  // Systemd socket activation: the child gets `listening_sockets` as
  // descriptors 3, 4... with LISTEN_FDS=<count> and LISTEN_PID=<its own
  // pid> in its environment (fork/exec, since the pid is known only after
  // the fork). The test keeps its copies and closes them itself. With
  // `for_another_pid` LISTEN_PID names the parent instead: variables the
  // child merely inherited, which it must ignore.
  ChildProcess(std::vector<std::string> argv, const std::vector<int>& listening_sockets,
               bool for_another_pid = false);
  // finish(), then SIGKILL if the child is somehow still there.
  ~ChildProcess();
  ChildProcess(const ChildProcess&) = delete;
  ChildProcess& operator=(const ChildProcess&) = delete;

  pid_t pid() const { return pid_; }
  // Waits until the output contains a line "... listening on ADDR:PORT"
  // and returns PORT; throws after `timeout` or if the child exits first.
  int wait_for_port(std::chrono::milliseconds timeout = scaled(std::chrono::seconds(10)));
  // Waits until the captured output contains `text`; false on timeout/exit.
  bool wait_for_output(const std::string& text,
                       std::chrono::milliseconds timeout = scaled(std::chrono::seconds(10)));
  // Everything the child printed so far (reads what is pending first).
  const std::string& output();

  void send_signal(int signo);
  // Waits for exit; returns the exit status (128+signal if killed), or -1
  // on timeout (the child is then left running; finish() ends it). A
  // status returned here is the test's to check: finish() does not check
  // it again (it still scans the output for sanitizer reports).
  int wait_exit(std::chrono::milliseconds timeout = scaled(std::chrono::seconds(10)));
  bool running();
  // Peak resident set size so far, from /proc/PID/status (VmHWM), in KiB;
  // current RSS (VmRSS) with current = true.
  long memory_kib(bool current = true);

  // The exit status the child must end with (default 0), e.g. 128 + SIGKILL
  // for a child the test kills, 2 for a bad command line.
  void expect_exit_status(int status);
  // No exit-status check, for the stated reason (kept for the failure
  // message of the sanitizer scan, which still runs).
  void skip_exit_status_check(std::string reason);
  // Ends the child now as the destructor would: SIGTERM if it is still
  // running, wait up to `timeout`, then CHECK the exit status and the output.
  // Returns the exit status (-1 if it had to be killed). Runs once.
  int finish(std::chrono::milliseconds timeout = scaled(std::chrono::seconds(10)));

 private:
  void read_available(std::chrono::milliseconds wait);
  int await_exit(std::chrono::milliseconds timeout);

  std::string name_;
  pid_t pid_ = -1;
  int output_fd_ = -1;
  int exit_status_ = -1;
  bool exited_ = false;
  bool finished_ = false;
  bool status_seen_by_test_ = false;
  int expected_exit_status_ = 0;
  bool check_exit_status_ = true;
  std::string no_status_check_reason_;
  std::string output_;
};

// The first sanitizer report (ASan, LSan, UBSan, TSan) in a program's
// output, with some context; empty if there is none.
std::string sanitizer_report(const std::string& output);

// Runs a command to completion (e.g. curl) and returns its exit status and
// stdout; stderr goes to the test's stderr. Kills it after `timeout`.
struct CommandResult {
  int status = -1;
  std::string out;
};
CommandResult run_command(const std::vector<std::string>& argv,
                          std::chrono::milliseconds timeout = scaled(std::chrono::seconds(30)));

}  // namespace test_support
