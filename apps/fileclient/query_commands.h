// The one-request commands: ls, stat, hash, ping. Each prints the answer
// on stdout and exits 0, or prints the server's ERROR and exits 1.
#pragma once

#include <string>

#include "apps/fileclient/command.h"

namespace reactor::file::client {

class ListCommand : public Command {
 public:
  explicit ListCommand(std::string path) : path_(std::move(path)) {}
  void start(CommandContext& context) override;

 private:
  std::string path_;
};

class StatCommand : public Command {
 public:
  explicit StatCommand(std::string path) : path_(std::move(path)) {}
  void start(CommandContext& context) override;

 private:
  std::string path_;
};

class HashCommand : public Command {
 public:
  explicit HashCommand(std::string path) : path_(std::move(path)) {}
  void start(CommandContext& context) override;

 private:
  std::string path_;
};

// Prints the server's name and the round-trip time of one PING.
class PingCommand : public Command {
 public:
  void start(CommandContext& context) override;
};

}  // namespace reactor::file::client
