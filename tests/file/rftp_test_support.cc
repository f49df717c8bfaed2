#include "tests/file/rftp_test_support.h"

#include <dirent.h>
#include <fcntl.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <csignal>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <stdexcept>
#include <thread>

#include <doctest/doctest.h>

namespace rftp_test {

using Clock = std::chrono::steady_clock;

TempDir::TempDir(const std::string& parent) {
  std::string pattern = parent + "/rftp-test-XXXXXX";
  if (::mkdtemp(pattern.data()) == nullptr) throw std::runtime_error("mkdtemp failed");
  path_ = pattern;
}

TempDir::~TempDir() {
  std::error_code ignored;
  std::filesystem::remove_all(path_, ignored);
}

namespace {

uint64_t next_random(uint64_t& state) {
  state ^= state << 13;
  state ^= state >> 7;
  state ^= state << 17;
  return state;
}

void fill_random(char* out, size_t size, uint64_t& state) {
  size_t i = 0;
  for (; i + 8 <= size; i += 8) {
    uint64_t value = next_random(state);
    std::memcpy(out + i, &value, 8);
  }
  if (i < size) {
    uint64_t value = next_random(state);
    std::memcpy(out + i, &value, size - i);
  }
}

}  // namespace

std::string random_bytes(size_t size, uint64_t seed) {
  std::string bytes(size, '\0');
  uint64_t state = seed * 0x9E3779B97F4A7C15ULL + 1;
  fill_random(bytes.data(), size, state);
  return bytes;
}

void write_random_file(const std::string& path, uint64_t size, uint64_t seed) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  if (!out) throw std::runtime_error("cannot create " + path);
  uint64_t state = seed * 0x9E3779B97F4A7C15ULL + 1;
  std::string chunk(1 << 20, '\0');
  while (size > 0) {
    size_t now = size < chunk.size() ? static_cast<size_t>(size) : chunk.size();
    fill_random(chunk.data(), now, state);
    out.write(chunk.data(), static_cast<std::streamsize>(now));
    size -= now;
  }
  if (!out) throw std::runtime_error("cannot write " + path);
}

void write_file(const std::string& path, const std::string& content) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out << content;
  if (!out) throw std::runtime_error("cannot write " + path);
}

std::string read_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return {};
  return std::string(std::istreambuf_iterator<char>(in), {});
}

bool files_equal(const std::string& a, const std::string& b) {
  std::ifstream first(a, std::ios::binary);
  std::ifstream second(b, std::ios::binary);
  if (!first || !second) return false;
  std::string chunk_a(1 << 20, '\0');
  std::string chunk_b(1 << 20, '\0');
  for (;;) {
    first.read(chunk_a.data(), static_cast<std::streamsize>(chunk_a.size()));
    second.read(chunk_b.data(), static_cast<std::streamsize>(chunk_b.size()));
    if (first.gcount() != second.gcount()) return false;
    if (std::memcmp(chunk_a.data(), chunk_b.data(), static_cast<size_t>(first.gcount())) != 0) {
      return false;
    }
    if (first.gcount() == 0 || !first) return !second || second.gcount() == first.gcount();
  }
}

bool exists(const std::string& path) {
  return ::access(path.c_str(), F_OK) == 0;
}

long long file_size(const std::string& path) {
  struct stat info {};
  if (::stat(path.c_str(), &info) < 0) return -1;
  return static_cast<long long>(info.st_size);
}

void make_directories(const std::string& path) {
  std::filesystem::create_directories(path);
}

std::vector<std::string> files_with_suffix(const std::string& directory,
                                           const std::string& suffix) {
  std::vector<std::string> found;
  std::error_code error;
  for (const auto& entry : std::filesystem::directory_iterator(directory, error)) {
    std::string name = entry.path().filename().string();
    if (entry.is_regular_file() && name.ends_with(suffix)) found.push_back(entry.path().string());
  }
  return found;
}

Tmpfs::Tmpfs(const std::string& where, size_t bytes) : where_(where) {
  make_directories(where);
  const std::string options = "size=" + std::to_string(bytes) + ",mode=0755";
  mounted_ = ::mount("tmpfs", where.c_str(), "tmpfs", 0, options.c_str()) == 0;
  REQUIRE_MESSAGE(mounted_, "cannot mount a tmpfs at " << where << ": " << std::strerror(errno)
                                                       << " (the test needs root, as in CI)");
}

Tmpfs::~Tmpfs() {
  if (mounted_) ::umount2(where_.c_str(), MNT_DETACH);
}

bool wait_until(const std::function<bool()>& condition, std::chrono::milliseconds timeout) {
  auto deadline = Clock::now() + timeout;
  for (;;) {
    if (condition()) return true;
    if (Clock::now() >= deadline) return false;
    std::this_thread::sleep_for(std::chrono::milliseconds(2));
  }
}

std::string server_program() {
  return test_support::program_from_env("REACTOR_FILESERVER");
}
std::string client_program() {
  return test_support::program_from_env("REACTOR_FILECLIENT");
}

Server::Server(const std::string& directory, std::vector<std::string> extra_arguments) {
  std::vector<std::string> argv = {server_program(), "0", directory};
  // Loopback unless the test chose its own address (Debian's CLI11 2.1
  // rejects a repeated --bind even with a take-last policy).
  if (std::find(extra_arguments.begin(), extra_arguments.end(), "--bind") ==
      extra_arguments.end()) {
    argv.insert(argv.end(), {"--bind", "127.0.0.1"});
  }
  argv.insert(argv.end(), extra_arguments.begin(), extra_arguments.end());
  process_ = std::make_unique<test_support::ChildProcess>(argv);
  port_ = process_->wait_for_port();
}

int Server::stop(std::chrono::milliseconds timeout) {
  process_->send_signal(SIGTERM);
  return process_->wait_exit(timeout);
}

std::vector<std::string> client_argv(const std::vector<std::string>& arguments) {
  std::vector<std::string> argv = {client_program()};
  argv.insert(argv.end(), arguments.begin(), arguments.end());
  return argv;
}

test_support::CommandResult run_client(const std::vector<std::string>& arguments,
                                       const std::string& working_directory,
                                       std::chrono::milliseconds timeout) {
  std::vector<std::string> argv = client_argv(arguments);
  if (!working_directory.empty()) {
    // run_command has no working-directory parameter; env(1) has none
    // either, so go through the shell with the arguments quoted.
    std::string script = "cd '" + working_directory + "' && exec";
    for (const std::string& argument : argv) {
      std::string quoted;
      for (char c : argument) {
        if (c == '\'') {
          quoted += "'\\''";
        } else {
          quoted += c;
        }
      }
      script += " '" + quoted + "'";
    }
    argv = {"/bin/sh", "-c", script};
  }
  return test_support::run_command(argv, timeout);
}

RawClient::RawClient(int port, bool ipv6) : socket_(port, ipv6) {}

void RawClient::greet() {
  REQUIRE(send(rf::Hello{rf::kProtocolVersion}));
  auto reply = receive();
  REQUIRE(reply.has_value());
  REQUIRE(std::holds_alternative<rf::HelloOk>(*reply));
}

std::optional<rf::Reply> RawClient::receive(std::chrono::milliseconds timeout) {
  auto deadline = Clock::now() + timeout;
  std::optional<rf::Reply> reply;
  for (;;) {
    auto step = decoder_.next(buffer_);
    if (step.status == rf::DecodeStatus::kError) {
      FAIL_CHECK("malformed reply from the server: " << step.detail);
      return std::nullopt;
    }
    if (step.status == rf::DecodeStatus::kMessage) {
      buffer_.erase(0, step.consumed);
      if (std::holds_alternative<rf::DataHeader>(step.message)) {
        data_body.clear();
        if (decoder_.at_frame_boundary()) return step.message;
        reply = std::move(step.message);
        continue;
      }
      return step.message;
    }
    if (step.status == rf::DecodeStatus::kRawBytes) {
      data_body.append(step.raw);
      buffer_.erase(0, step.consumed);
      if (decoder_.at_frame_boundary() && reply) return reply;
      continue;
    }
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now());
    if (left.count() <= 0) return std::nullopt;
    std::string more = socket_.receive_some(left);
    if (more.empty()) return std::nullopt;
    buffer_ += more;
  }
}

uint16_t RawClient::receive_error_code(std::chrono::milliseconds timeout) {
  return error_code_of(receive(timeout));
}

bool RawClient::closed_by_server(std::chrono::milliseconds timeout) {
  return socket_.closed_by_peer(timeout);
}

bool RawClient::ping(uint64_t token) {
  if (!send(rf::Ping{token})) return false;
  auto reply = receive();
  return reply && std::holds_alternative<rf::Pong>(*reply) &&
         std::get<rf::Pong>(*reply).token == token;
}

uint16_t error_code_of(const std::optional<rf::Reply>& reply) {
  if (!reply) return 0;
  if (const auto* error = std::get_if<rf::ErrorReply>(&*reply)) return error->code;
  return 0;
}

}  // namespace rftp_test
