#include "tests/support/process.h"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <regex>
#include <sstream>
#include <stdexcept>
#include <string_view>
#include <thread>

#include <doctest/doctest.h>

extern char** environ;

namespace test_support {
namespace {

using Clock = std::chrono::steady_clock;

// The end of a long output: enough for a failure message.
std::string tail(const std::string& text, size_t length = 4000) {
  return text.size() <= length ? text : "..." + text.substr(text.size() - length);
}

int decode_status(int status) {
  if (WIFEXITED(status)) return WEXITSTATUS(status);
  if (WIFSIGNALED(status)) return 128 + WTERMSIG(status);
  return -1;
}

pid_t spawn(const std::vector<std::string>& argv, int stdout_fd, int stderr_fd) {
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_adddup2(&actions, stdout_fd, STDOUT_FILENO);
  posix_spawn_file_actions_adddup2(&actions, stderr_fd, STDERR_FILENO);
  posix_spawn_file_actions_addopen(&actions, STDIN_FILENO, "/dev/null", O_RDONLY, 0);
  // The child must start with default signal handling and an empty mask
  // whatever the test process did (a blocked SIGTERM would be inherited).
  posix_spawnattr_t attributes;
  posix_spawnattr_init(&attributes);
  sigset_t empty;
  sigemptyset(&empty);
  sigset_t defaults;
  sigemptyset(&defaults);
  sigaddset(&defaults, SIGPIPE);
  sigaddset(&defaults, SIGINT);
  sigaddset(&defaults, SIGTERM);
  posix_spawnattr_setsigmask(&attributes, &empty);
  posix_spawnattr_setsigdefault(&attributes, &defaults);
  posix_spawnattr_setflags(&attributes, POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF);
  std::vector<char*> args;
  for (const auto& arg : argv) args.push_back(const_cast<char*>(arg.c_str()));
  args.push_back(nullptr);
  pid_t pid = -1;
  int error = posix_spawnp(&pid, args[0], &actions, &attributes, args.data(), environ);
  posix_spawn_file_actions_destroy(&actions);
  posix_spawnattr_destroy(&attributes);
  if (error != 0) throw std::runtime_error("cannot start " + argv[0] + ": " + std::strerror(error));
  return pid;
}

// Formats `value` into `out` (at least 21 bytes) with nothing but what is
// safe between fork() and exec().
void format_decimal(long value, char* out) {
  char digits[21];
  int count = 0;
  do {
    digits[count++] = static_cast<char>('0' + value % 10);
    value /= 10;
  } while (value > 0);
  while (count > 0) *out++ = digits[--count];
  *out = '\0';
}

pid_t spawn_activated(const std::vector<std::string>& argv, int output_fd,
                      const std::vector<int>& sockets, bool for_another_pid) {
  const pid_t parent = ::getpid();
  // Everything the child needs is built before the fork: after it, only
  // async-signal-safe calls.
  std::vector<std::string> environment;
  for (char** entry = environ; *entry != nullptr; ++entry) {
    const std::string_view text(*entry);
    if (text.starts_with("LISTEN_")) continue;
    environment.emplace_back(text);
  }
  environment.push_back("LISTEN_FDS=" + std::to_string(sockets.size()));
  environment.push_back("LISTEN_PID=" + std::string(24, '\0'));
  std::vector<char*> envp;
  for (auto& entry : environment) envp.push_back(entry.data());
  envp.push_back(nullptr);
  char* pid_value = envp[environment.size() - 1] + std::strlen("LISTEN_PID=");
  std::vector<char*> args;
  for (const auto& arg : argv) args.push_back(const_cast<char*>(arg.c_str()));
  args.push_back(nullptr);

  const pid_t pid = ::fork();
  if (pid < 0) throw std::runtime_error(std::string("fork: ") + std::strerror(errno));
  if (pid > 0) return pid;
  // Child. Move the sockets out of the way first: one may already sit on a
  // descriptor that another must be moved onto.
  std::vector<int> moved(sockets.size());
  for (size_t i = 0; i < sockets.size(); ++i) moved[i] = ::fcntl(sockets[i], F_DUPFD_CLOEXEC, 64);
  ::dup2(output_fd, STDOUT_FILENO);
  ::dup2(output_fd, STDERR_FILENO);
  const int null_fd = ::open("/dev/null", O_RDONLY | O_CLOEXEC);
  ::dup2(null_fd, STDIN_FILENO);
  for (size_t i = 0; i < moved.size(); ++i) {
    ::dup2(moved[i], static_cast<int>(3 + i));  // dup2 clears close-on-exec
  }
  sigset_t empty;
  sigemptyset(&empty);
  ::sigprocmask(SIG_SETMASK, &empty, nullptr);
  for (int signo : {SIGPIPE, SIGINT, SIGTERM}) ::signal(signo, SIG_DFL);
  format_decimal(static_cast<long>(for_another_pid ? parent : ::getpid()), pid_value);
  ::execve(args[0], args.data(), envp.data());
  ::_exit(127);
}

}  // namespace

std::string program_from_env(const char* variable) {
  const char* value = std::getenv(variable);
  if (value == nullptr || *value == '\0') {
    throw std::runtime_error(std::string("environment variable ") + variable +
                             " is not set (run the tests through meson test)");
  }
  return value;
}

ChildProcess::ChildProcess(std::vector<std::string> argv) {
  name_ = argv.empty() ? std::string() : argv[0].substr(argv[0].rfind('/') + 1);
  int fds[2];
  if (pipe2(fds, O_CLOEXEC) < 0) throw std::runtime_error("pipe2 failed");
  pid_ = spawn(argv, fds[1], fds[1]);
  ::close(fds[1]);
  output_fd_ = fds[0];
  fcntl(output_fd_, F_SETFL, O_NONBLOCK);
}

ChildProcess::ChildProcess(std::vector<std::string> argv, const std::vector<int>& listening_sockets,
                           bool for_another_pid) {
  name_ = argv.empty() ? std::string() : argv[0].substr(argv[0].rfind('/') + 1);
  int fds[2];
  if (pipe2(fds, O_CLOEXEC) < 0) throw std::runtime_error("pipe2 failed");
  pid_ = spawn_activated(argv, fds[1], listening_sockets, for_another_pid);
  ::close(fds[1]);
  output_fd_ = fds[0];
  fcntl(output_fd_, F_SETFL, O_NONBLOCK);
}

ChildProcess::~ChildProcess() {
  finish();
  if (pid_ > 0 && !exited_) {  // finish() gave up on it
    ::kill(pid_, SIGKILL);
    int status;
    while (::waitpid(pid_, &status, 0) < 0 && errno == EINTR) {
    }
  }
  if (output_fd_ >= 0) ::close(output_fd_);
}

void ChildProcess::expect_exit_status(int status) {
  expected_exit_status_ = status;
  check_exit_status_ = true;
}

void ChildProcess::skip_exit_status_check(std::string reason) {
  check_exit_status_ = false;
  no_status_check_reason_ = std::move(reason);
}

int ChildProcess::finish(std::chrono::milliseconds timeout) {
  if (finished_ || pid_ <= 0) return exit_status_;
  finished_ = true;
  if (running()) {
    ::kill(pid_, SIGTERM);
    ::kill(pid_, SIGCONT);  // a child the test left stopped must see the SIGTERM
    if (await_exit(timeout) < 0) {
      std::ostringstream message;
      message << name_ << " (pid " << pid_ << ") did not exit within " << timeout.count()
              << " ms of SIGTERM; output:\n"
              << tail(output_);
      FAIL_CHECK(message.str());
      ::kill(pid_, SIGKILL);
      int status;
      while (::waitpid(pid_, &status, 0) < 0 && errno == EINTR) {
      }
      exited_ = true;
      exit_status_ = -1;
    } else if (check_exit_status_) {
      CHECK_MESSAGE(exit_status_ == expected_exit_status_,
                    name_ << " exited with status " << exit_status_ << " after SIGTERM, expected "
                          << expected_exit_status_ << "; output:\n"
                          << tail(output_));
    }
  } else if (check_exit_status_ && !status_seen_by_test_) {
    read_available(std::chrono::milliseconds(0));
    CHECK_MESSAGE(exit_status_ == expected_exit_status_,
                  name_ << " exited with status " << exit_status_ << ", expected "
                        << expected_exit_status_ << "; output:\n"
                        << tail(output_));
  }
  read_available(std::chrono::milliseconds(0));
  const std::string report = sanitizer_report(output_);
  if (!report.empty()) {
    std::ostringstream message;
    message << name_ << " printed a sanitizer report";
    if (!check_exit_status_)
      message << " (exit status not checked: " << no_status_check_reason_ << ")";
    message << ":\n" << report;
    FAIL_CHECK(message.str());
  }
  return exit_status_;
}

std::string sanitizer_report(const std::string& output) {
  // What ASan, LSan, UBSan and TSan print when they find something; the
  // SUMMARY line closes every report (UBSan's too, with print_summary).
  static const std::regex kReport(
      R"((ERROR|WARNING): (Address|Leak|Thread|Memory)Sanitizer|Sanitizer:DEADLYSIGNAL|)"
      R"(: runtime error: |SUMMARY: \w*Sanitizer)");
  std::smatch match;
  if (!std::regex_search(output, match, kReport)) return {};
  const size_t start = static_cast<size_t>(match.position(0));
  const size_t line_start = output.rfind('\n', start);
  return output.substr(line_start == std::string::npos ? 0 : line_start + 1, 6000);
}

void ChildProcess::read_available(std::chrono::milliseconds wait) {
  if (output_fd_ < 0) return;
  pollfd entry{output_fd_, POLLIN, 0};
  if (::poll(&entry, 1, static_cast<int>(wait.count())) <= 0) return;
  char chunk[8192];
  for (;;) {
    ssize_t n = ::read(output_fd_, chunk, sizeof chunk);
    if (n > 0) {
      output_.append(chunk, static_cast<size_t>(n));
      continue;
    }
    if (n == 0) {  // every writer (the child and its children) is gone
      ::close(output_fd_);
      output_fd_ = -1;
    }
    return;
  }
}

const std::string& ChildProcess::output() {
  read_available(std::chrono::milliseconds(0));
  return output_;
}

int ChildProcess::wait_for_port(std::chrono::milliseconds timeout) {
  static const std::regex kListening(R"(listening on \[?[0-9a-fA-F.:]*\]?:(\d+))");
  auto deadline = Clock::now() + timeout;
  for (;;) {
    std::smatch match;
    if (std::regex_search(output_, match, kListening)) return std::stoi(match[1]);
    if (Clock::now() >= deadline) {
      throw std::runtime_error("no 'listening on' line; output so far:\n" + output_);
    }
    if (!running() && output_fd_ < 0) {
      throw std::runtime_error("child exited before listening; output:\n" + output_);
    }
    read_available(std::chrono::milliseconds(50));
  }
}

bool ChildProcess::wait_for_output(const std::string& text, std::chrono::milliseconds timeout) {
  auto deadline = Clock::now() + timeout;
  for (;;) {
    if (output_.find(text) != std::string::npos) return true;
    if (Clock::now() >= deadline) return false;
    if (output_fd_ < 0 && !running()) return false;
    read_available(std::chrono::milliseconds(50));
  }
}

void ChildProcess::send_signal(int signo) {
  if (pid_ > 0 && !exited_) ::kill(pid_, signo);
}

bool ChildProcess::running() {
  if (exited_) return false;
  int status;
  pid_t result = ::waitpid(pid_, &status, WNOHANG);
  if (result == pid_) {
    exited_ = true;
    exit_status_ = decode_status(status);
    return false;
  }
  return true;
}

int ChildProcess::wait_exit(std::chrono::milliseconds timeout) {
  const int status = await_exit(timeout);
  // The test has the status in hand and checks it itself (a bad command
  // line's 2, a client's 3); finish() then only scans the output.
  if (status >= 0) status_seen_by_test_ = true;
  return status;
}

int ChildProcess::await_exit(std::chrono::milliseconds timeout) {
  auto deadline = Clock::now() + timeout;
  while (running()) {
    if (Clock::now() >= deadline) return -1;
    read_available(std::chrono::milliseconds(20));
  }
  // The child is gone, so what it wrote is all in the pipe (unless a
  // grandchild holds it open: then only what is there now).
  read_available(std::chrono::milliseconds(0));
  return exit_status_;
}

long ChildProcess::memory_kib(bool current) {
  std::ifstream status("/proc/" + std::to_string(pid_) + "/status");
  std::string line;
  const std::string key = current ? "VmRSS:" : "VmHWM:";
  while (std::getline(status, line)) {
    if (line.rfind(key, 0) == 0) return std::stol(line.substr(key.size()));
  }
  return -1;
}

CommandResult run_command(const std::vector<std::string>& argv, std::chrono::milliseconds timeout) {
  int fds[2];
  if (pipe2(fds, O_CLOEXEC) < 0) throw std::runtime_error("pipe2 failed");
  pid_t pid = spawn(argv, fds[1], STDERR_FILENO);
  ::close(fds[1]);
  CommandResult result;
  auto deadline = Clock::now() + timeout;
  char chunk[65536];
  for (;;) {
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now());
    if (left.count() <= 0) {
      ::kill(pid, SIGKILL);
      break;
    }
    pollfd entry{fds[0], POLLIN, 0};
    int ready = ::poll(&entry, 1, static_cast<int>(left.count()));
    if (ready < 0 && errno == EINTR) continue;
    if (ready <= 0) continue;
    ssize_t n = ::read(fds[0], chunk, sizeof chunk);
    if (n <= 0) break;
    result.out.append(chunk, static_cast<size_t>(n));
  }
  ::close(fds[0]);
  int status = 0;
  while (::waitpid(pid, &status, 0) < 0 && errno == EINTR) {
  }
  result.status = decode_status(status);
  return result;
}

}  // namespace test_support
