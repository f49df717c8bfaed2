// reactor-fileclient's exit codes, as the RFTP issue fixes them.
#pragma once

namespace reactor::file::client {

enum class ExitCode : int {
  kOk = 0,
  // The server answered with an ERROR, or --verify found a mismatch.
  kServerError = 1,
  // Bad arguments or a bad HOST:PORT.
  kUsage = 2,
  // Nothing listening, connection lost, a malformed answer.
  kConnection = 3,
  // A local file could not be read or written.
  kLocalIo = 4,
};

}  // namespace reactor::file::client
