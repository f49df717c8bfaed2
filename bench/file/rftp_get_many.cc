// rftp-get-many: downloads many files over one RFTP connection with every
// GET pipelined (no waiting for one DATA before asking for the next) --
// the download side of the 1,000 small files benchmark. reactor-fileclient
// `get` fetches one file per run; this is the same FileClient driven in a
// loop.
//
//   rftp-get-many HOST:PORT OUT_DIR REMOTE...
//
// Exit status 0 when every file arrived, 1 otherwise.
#include <fcntl.h>
#include <unistd.h>

#include <cstdio>
#include <string>
#include <vector>

#include "protocols/file/file_client.h"
#include "reactor/event_loop.h"
#include "reactor/socket_address.h"
#include "reactor/unique_fd.h"

int main(int argc, char** argv) {
  if (argc < 4) {
    std::fprintf(stderr, "usage: rftp-get-many HOST:PORT OUT_DIR REMOTE...\n");
    return 2;
  }
  auto server = reactor::SocketAddress::parse_endpoint(argv[1]);
  if (!server) {
    std::fprintf(stderr, "rftp-get-many: bad HOST:PORT '%s'\n", argv[1]);
    return 2;
  }
  std::string out_dir = argv[2];
  std::vector<std::string> remotes(argv + 3, argv + argc);

  reactor::EventLoop loop;
  reactor::file::FileClient client(&loop, *server);
  size_t done = 0;
  bool failed = false;
  auto finish_one = [&] {
    if (++done == remotes.size()) loop.stop();
  };
  client.set_failure_callback([&](const reactor::file::FileClient::Failure& failure) {
    std::fprintf(stderr, "rftp-get-many: %s\n", failure.message.c_str());
    failed = true;
    loop.stop();
  });
  client.set_ready_callback([&](const reactor::file::HelloOk&) {
    for (const std::string& remote : remotes) {
      std::string name = remote.substr(remote.rfind('/') + 1);
      auto file = std::make_shared<reactor::UniqueFd>(
          ::open((out_dir + "/" + name).c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644));
      if (!*file) {
        std::perror(name.c_str());
        failed = true;
        loop.stop();
        return;
      }
      reactor::file::FileClient::DownloadSink sink;
      sink.file = file->get();
      sink.on_write_error = [&](int) { failed = true; };
      sink.on_complete = [&, file] { finish_one(); };
      sink.on_error = [&, remote](const reactor::file::ErrorReply& error) {
        std::fprintf(stderr, "rftp-get-many: %s: %s\n", remote.c_str(), error.message.c_str());
        failed = true;
        finish_one();
      };
      client.get(remote, 0, std::move(sink));
    }
  });
  client.connect();
  loop.run();
  return failed || done != remotes.size() ? 1 : 0;
}
