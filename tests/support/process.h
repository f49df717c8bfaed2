// Test support: run one of the project's apps (or any program) as a real
// child process, learn the port it listens on, and always end it.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <string>
#include <vector>

namespace test_support {

// Path of a program given to the test through an environment variable set
// by meson (e.g. "REACTOR_HTTPD"). Fails the test (throws) when unset.
std::string program_from_env(const char* variable);

class ChildProcess {
 public:
  // Starts argv[0] with the given arguments; stdout and stderr are captured
  // into one pipe that this object reads (and keeps) as text.
  explicit ChildProcess(std::vector<std::string> argv);
  // Sends SIGKILL if still running and reaps the child.
  ~ChildProcess();
  ChildProcess(const ChildProcess&) = delete;
  ChildProcess& operator=(const ChildProcess&) = delete;

  pid_t pid() const { return pid_; }
  // Waits until the output contains a line "... listening on ADDR:PORT"
  // and returns PORT; throws after `timeout` or if the child exits first.
  int wait_for_port(std::chrono::milliseconds timeout = std::chrono::seconds(10));
  // Waits until the captured output contains `text`; false on timeout/exit.
  bool wait_for_output(const std::string& text,
                       std::chrono::milliseconds timeout = std::chrono::seconds(10));
  // Everything the child printed so far (reads what is pending first).
  const std::string& output();

  void send_signal(int signo);
  // Waits for exit; returns the exit status (128+signal if killed), or -1
  // on timeout (the child is then left running; the destructor kills it).
  int wait_exit(std::chrono::milliseconds timeout = std::chrono::seconds(10));
  bool running();
  // Peak resident set size so far, from /proc/PID/status (VmHWM), in KiB;
  // current RSS (VmRSS) with current = true.
  long memory_kib(bool current = true);

 private:
  void read_available(std::chrono::milliseconds wait);

  pid_t pid_ = -1;
  int output_fd_ = -1;
  int exit_status_ = -1;
  bool exited_ = false;
  std::string output_;
};

// Runs a command to completion (e.g. curl) and returns its exit status and
// stdout; stderr goes to the test's stderr. Kills it after `timeout`.
struct CommandResult {
  int status = -1;
  std::string out;
};
CommandResult run_command(const std::vector<std::string>& argv,
                          std::chrono::milliseconds timeout = std::chrono::seconds(30));

}  // namespace test_support
