// The one-request commands: ls, stat, hash, ping. Each prints the answer
// on stdout (as text, or with --json as one JSON object per line) and
// exits 0, or prints the server's ERROR and exits 1.
#pragma once

#include <string>

#include "apps/fileclient/command.h"

namespace reactor::file::client {

class ListCommand : public Command {
 public:
  ListCommand(std::string path, bool json) : path_(std::move(path)), json_(json) {}
  void start(CommandContext& context) override;

 private:
  std::string path_;
  bool json_;
};

class StatCommand : public Command {
 public:
  StatCommand(std::string path, bool json) : path_(std::move(path)), json_(json) {}
  void start(CommandContext& context) override;

 private:
  std::string path_;
  bool json_;
};

class HashCommand : public Command {
 public:
  HashCommand(std::string path, bool json) : path_(std::move(path)), json_(json) {}
  void start(CommandContext& context) override;

 private:
  std::string path_;
  bool json_;
};

// Prints the server's name and the round-trip time of one PING.
class PingCommand : public Command {
 public:
  explicit PingCommand(bool quiet) : quiet_(quiet) {}
  void start(CommandContext& context) override;

 private:
  bool quiet_;  // exit code only
};

}  // namespace reactor::file::client
