// reactor-fileclient: the command-line client of RFTP (docs/PROTOCOL.md).
//
//   reactor-fileclient HOST:PORT ls [PATH] [--json]
//   reactor-fileclient HOST:PORT stat PATH | hash PATH [--json] | ping
//   reactor-fileclient HOST:PORT get REMOTE [LOCAL] [--verify]
//   reactor-fileclient HOST:PORT put LOCAL... [--to REMOTE_DIR]
//   reactor-fileclient HOST:PORT put --watch DIR [--to REMOTE_DIR]
//
// Exit codes: 0 ok; 1 the server answered with an error or --verify found
// a mismatch; 2 usage; 3 connection or protocol failure; 4 local I/O error.
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <exception>
#include <memory>
#include <string>
#include <vector>

#include <CLI/CLI.hpp>

#include "apps/fileclient/command.h"
#include "apps/fileclient/download_command.h"
#include "apps/fileclient/endpoint.h"
#include "apps/fileclient/exit_codes.h"
#include "apps/fileclient/output_format.h"
#include "apps/fileclient/query_commands.h"
#include "apps/fileclient/tree_download_command.h"
#include "apps/fileclient/upload_command.h"
#include "apps/fileclient/watch_command.h"
#include "protocols/file/auth.h"
#include "reactor/log.h"

namespace rfc = reactor::file::client;

namespace {

constexpr const char* kVersion = "reactor-fileclient " REACTOR_VERSION;
constexpr std::string_view kCommands[] = {"ls", "stat", "hash", "ping", "get", "put"};

int usage_error(const std::string& message) {
  std::fprintf(stderr, "reactor-fileclient: %s (see --help)\n", rfc::escape_text(message).c_str());
  return static_cast<int>(rfc::ExitCode::kUsage);
}

// A command's usage line names HOST:PORT, which comes before it:
// "reactor-fileclient HOST:PORT get [OPTIONS] REMOTE [LOCAL]".
class UsageFormatter : public CLI::Formatter {
 public:
  std::string make_usage(const CLI::App* app, std::string name) const override {
    if (app->get_parent() != nullptr) {
      size_t space = name.find(' ');
      if (space != std::string::npos) name.insert(space, " HOST:PORT");
    }
    return CLI::Formatter::make_usage(app, std::move(name));
  }
};

// The word where a command should be, when it is not one: the second
// argument that is neither an option nor an option's value.
std::string unknown_command_word(int argc, char** argv) {
  static constexpr std::string_view kTakesValue[] = {"--connect-timeout", "--timeout",
                                                     "--log-level"};
  int words = 0;
  for (int i = 1; i < argc; ++i) {
    std::string_view argument = argv[i];
    if (argument.starts_with("-")) {
      bool takes_value = std::find(std::begin(kTakesValue), std::end(kTakesValue), argument) !=
                         std::end(kTakesValue);
      if (takes_value) ++i;
      continue;
    }
    if (++words == 2) {
      bool known =
          std::find(std::begin(kCommands), std::end(kCommands), argument) != std::end(kCommands);
      return known ? "" : std::string(argument);
    }
  }
  return "";
}

// get's LOCAL: the remote name in the current directory, or inside LOCAL
// when that is an existing directory.
std::string download_target(const std::string& remote, const std::string& local) {
  std::string name = rfc::last_component(remote);
  if (local.empty()) return name;
  struct stat info {};
  if (::stat(local.c_str(), &info) == 0 && S_ISDIR(info.st_mode)) {
    if (name.empty()) return "";
    return local.back() == '/' ? local + name : local + "/" + name;
  }
  return local;
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{
      "reactor-fileclient: list, download and upload files on an RFTP server\n"
      "(reactor-fileserver). Downloads and uploads resume where they stopped.\n"
      "Exit codes: 0 ok, 1 server error or --verify mismatch, 2 usage,\n"
      "3 connection or protocol failure, 4 local I/O error."};
  app.require_subcommand(1);
  // The options below work before or after the command.
  app.fallthrough();
  app.formatter(std::make_shared<UsageFormatter>());
  app.set_version_flag("--version", kVersion);
  app.footer(
      "Commands:\n"
      "  reactor-fileclient HOST:PORT ls [PATH] [--json]\n"
      "  reactor-fileclient HOST:PORT stat PATH [--json]\n"
      "  reactor-fileclient HOST:PORT hash PATH [--json]\n"
      "  reactor-fileclient HOST:PORT ping\n"
      "  reactor-fileclient HOST:PORT get REMOTE [LOCAL] [--verify]\n"
      "  reactor-fileclient HOST:PORT get -r REMOTE_DIR [LOCAL_DIR] [--checksum]\n"
      "  reactor-fileclient HOST:PORT put LOCAL... [--to REMOTE_DIR]\n"
      "  reactor-fileclient HOST:PORT put -r LOCAL_DIR... [--to REMOTE_DIR] [--checksum]\n"
      "  reactor-fileclient HOST:PORT put --watch DIR [-r] [--to REMOTE_DIR] [--heartbeat S]\n"
      "The options above may also follow the command. Names the server sends are\n"
      "printed with control characters and invalid UTF-8 escaped (\\n, \\xNN), one\n"
      "entry per line.\n"
      "Run 'reactor-fileclient HOST:PORT COMMAND --help' for a command's options.");
  std::string endpoint_text;
  double connect_timeout = 10;
  double stall_timeout = 30;
  bool no_progress = false;
  bool quiet = false;
  bool verbose = false;
  bool json = false;
  std::string log_level = "warn";
  app.add_option("HOST:PORT", endpoint_text,
                 "Server address (127.0.0.1:9000, [::1]:9000, name:9000)")
      ->required();
  app.add_option("--connect-timeout", connect_timeout, "Seconds to wait for the connection")
      ->check(CLI::PositiveNumber)
      ->capture_default_str();
  app.add_option("--timeout", stall_timeout,
                 "Seconds without progress (no byte moving while an answer, data or an "
                 "acknowledgement is awaited) before giving up with exit code 3; 0 = never. "
                 "The server sends nothing while it hashes (--verify, --checksum): raise it "
                 "for very large files")
      ->check(CLI::NonNegativeNumber)
      ->capture_default_str();
  app.add_flag("--no-progress", no_progress, "No progress bar, even on a terminal");
  std::string token_file;
  app.add_option("--token-file", token_file,
                 "File holding the server's token (default: the RFTP_TOKEN environment variable)");
  auto* quiet_flag = app.add_flag("-q,--quiet", quiet,
                                  "Print only results and errors: no progress, no per-file lines");
  app.add_flag("-v,--verbose", verbose, "Also print a line per file transferred or skipped")
      ->excludes(quiet_flag);
  app.add_option("--log-level", log_level,
                 "Library log level: " + std::string(reactor::log_level_names()))
      ->capture_default_str();

  std::string list_path;
  auto* ls = app.add_subcommand("ls",
                                "List a remote directory (one entry per line: kind, size, "
                                "modification time (UTC), name)");
  ls->add_option("PATH", list_path, "Remote directory (default: the root)");
  ls->add_flag("--json", json,
               "One JSON object per entry and line: name, kind, size, mtime, modified");

  std::string stat_path;
  auto* stat = app.add_subcommand("stat",
                                  "Show a remote path's kind, size, modification time "
                                  "and any unfinished upload of it");
  stat->add_option("PATH", stat_path, "Remote path")->required();
  stat->add_flag("--json", json, "One JSON object: path, kind, size, mtime, modified, upload_held");

  std::string hash_path;
  auto* hash = app.add_subcommand("hash", "Print the SHA-256 of a remote file (sha256sum format)");
  hash->add_option("PATH", hash_path, "Remote file")->required();
  hash->add_flag("--json", json, "One JSON object: path, sha256");

  auto* ping = app.add_subcommand("ping", "Check that the server answers; print the round trip");

  std::string get_remote;
  std::string get_local;
  bool verify = false;
  auto* get = app.add_subcommand(
      "get",
      "Download REMOTE to LOCAL (default: its name, in the current directory). Data goes "
      "to LOCAL.part first and resumes from it; LOCAL appears only when complete");
  get->add_option("REMOTE", get_remote, "Remote file")->required();
  get->add_option("LOCAL", get_local, "Local file or existing directory");
  get->add_flag("--verify", verify, "Compare the SHA-256 with the server's before finishing");
  bool get_recursive = false;
  bool checksum = false;
  get->add_flag("-r,--recursive", get_recursive,
                "REMOTE is a directory: copy the tree to LOCAL/NAME (LOCAL defaults to the "
                "current directory; the root goes into LOCAL itself). Files whose size and "
                "mtime match are skipped");
  get->add_flag("--checksum", checksum,
                "-r: skip a file of the same size only if its SHA-256 matches the server's");

  std::vector<std::string> put_locals;
  std::string put_to;
  std::string watch_directory;
  double heartbeat = 15;
  auto* put = app.add_subcommand(
      "put",
      "Upload files (pipelined, resuming unfinished uploads), or with --watch keep "
      "uploading every file closed after writing in DIR");
  put->add_option("LOCAL", put_locals, "Local files");
  put->add_option("--to", put_to, "Remote directory to upload into (default: the root)");
  put->add_option("--watch", watch_directory, "Watch DIR and upload what appears in it")
      ->check(CLI::ExistingDirectory);
  bool put_recursive = false;
  put->add_flag(
      "-r,--recursive", put_recursive,
      "Copy LOCAL directories as trees (REMOTE_DIR/NAME/...). Files the server "
      "holds with the same size (and, from a version-2 server, the same mtime) are skipped");
  put->add_flag("--checksum", checksum,
                "-r: skip a file of the same size only if its SHA-256 matches the server's");
  std::string watch_state;
  put->add_option("--state", watch_state,
                  "--watch: where to record what was uploaded (default DIR/.rftp-watch-state)");
  put->add_option("--heartbeat", heartbeat, "--watch: seconds of quiet before a PING")
      ->check(CLI::PositiveNumber)
      ->capture_default_str();

  for (CLI::App* command : app.get_subcommands({})) {
    command->footer(
        "Also, before or after the command: --timeout S, --connect-timeout S, -q, -v,\n"
        "--no-progress, --log-level LEVEL (see reactor-fileclient --help).");
  }

  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& error) {
    if (error.get_exit_code() == 0) return app.exit(error);
    if (app.get_subcommands().empty()) {
      std::string word = unknown_command_word(argc, argv);
      if (!word.empty()) {
        return usage_error("unknown command '" + word +
                           "' (commands: ls, stat, hash, ping, get, put)");
      }
    }
    return usage_error(error.what());
  }
  if (!reactor::set_log_level(log_level))
    return usage_error("unknown log level '" + log_level + "'");

  rfc::Endpoint endpoint = rfc::resolve_endpoint(endpoint_text);
  if (endpoint.error) {
    if (endpoint.error->usage) return usage_error(endpoint.error->message);
    rfc::print_error(endpoint.error->message);
    return static_cast<int>(rfc::ExitCode::kConnection);
  }
  rfc::ConnectOptions connect;
  connect.server = *endpoint.address;
  connect.timeout = std::chrono::milliseconds(static_cast<long long>(connect_timeout * 1000));
  // A token on the command line would show in ps; a file or the
  // environment does not.
  if (!token_file.empty()) {
    auto token = reactor::file::read_token_file(token_file);
    if (!token) return usage_error(token.error().message);
    connect.token = std::move(token.value());
  } else if (const char* from_environment = std::getenv("RFTP_TOKEN")) {
    auto token = reactor::file::check_token(from_environment, "RFTP_TOKEN");
    if (!token) return usage_error(token.error().message);
    connect.token = std::move(token.value());
  }
  connect.stall_timeout = std::chrono::milliseconds(static_cast<long long>(stall_timeout * 1000));
  bool progress = !no_progress && !quiet && ::isatty(STDERR_FILENO) == 1;

  std::unique_ptr<rfc::Command> command;
  if (*ls) {
    command = std::make_unique<rfc::ListCommand>(list_path, json);
  } else if (*stat) {
    command = std::make_unique<rfc::StatCommand>(stat_path, json);
  } else if (*hash) {
    command = std::make_unique<rfc::HashCommand>(hash_path, json);
  } else if (*ping) {
    command = std::make_unique<rfc::PingCommand>(quiet);
  } else if (*get && get_recursive) {
    if (verify) return usage_error("--verify is for single files; use --checksum with -r");
    rfc::TreeDownloadOptions options;
    options.remote = get_remote;
    // Like rsync (and put -r): always LOCAL/NAME, so that running the
    // same command again finds what the last run copied.
    const std::string name = rfc::last_component(get_remote);
    const std::string parent = get_local.empty() ? "." : get_local;
    options.local = name.empty() ? parent : parent + (parent.back() == '/' ? "" : "/") + name;
    options.checksum = checksum;
    options.show_progress = progress;
    options.quiet = quiet;
    options.verbose = verbose;
    command = std::make_unique<rfc::TreeDownloadCommand>(std::move(options));
  } else if (*get) {
    rfc::DownloadOptions options;
    options.remote = get_remote;
    options.local = download_target(get_remote, get_local);
    if (options.local.empty()) {
      return usage_error("'" + get_remote + "' has no file name; give LOCAL");
    }
    options.verify = verify;
    options.show_progress = progress;
    options.quiet = quiet;
    command = std::make_unique<rfc::DownloadCommand>(std::move(options));
  } else if (*put) {
    if (!watch_directory.empty()) {
      if (!put_locals.empty()) return usage_error("put takes either LOCAL files or --watch DIR");
      rfc::WatchOptions options;
      options.directory = watch_directory;
      options.remote_directory = put_to;
      options.heartbeat = std::chrono::milliseconds(static_cast<long long>(heartbeat * 1000));
      options.quiet = quiet;
      options.recursive = put_recursive;
      options.state_file = watch_state;
      options.server = endpoint_text;
      while (options.directory.size() > 1 && options.directory.back() == '/') {
        options.directory.pop_back();
      }
      command = std::make_unique<rfc::WatchCommand>(std::move(options));
    } else {
      if (put_locals.empty()) return usage_error("put needs LOCAL files or --watch DIR");
      rfc::UploadOptions options;
      options.local_paths = put_locals;
      options.remote_directory = put_to;
      options.show_progress = progress;
      options.recursive = put_recursive;
      options.checksum = checksum;
      options.quiet = quiet;
      options.verbose = verbose;
      auto upload = std::make_unique<rfc::UploadCommand>(std::move(options));
      std::string problem = upload->check_local_files();
      if (!problem.empty()) {
        rfc::print_error(problem);
        return static_cast<int>(rfc::ExitCode::kLocalIo);
      }
      command = std::move(upload);
    }
  }

  try {
    return rfc::run_command(connect, *command);
  } catch (const std::exception& error) {
    rfc::print_error(error.what());
    return static_cast<int>(rfc::ExitCode::kConnection);
  }
}
