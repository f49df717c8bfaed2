// UploadPipeline: uploads a stream of local files over one FileClient
// without waiting for each acknowledgement before sending the next -- the
// notes' upload client, which counts the acks still owed.
//
// Per file: STAT (to learn whether the server holds an unfinished upload
// of it), then PUT from the held offset with the bytes sent by sendfile().
// Up to `window` files are in flight (STAT or PUT sent, not yet answered)
// and no new one starts while more than `max_queued_bytes` wait in the
// socket's output queue, so memory and open files stay bounded however
// many files are queued. On a version-2 server a resume is first proven
// (RESUME: size, mtime and the held prefix's SHA-256 must match the local
// file), else the file starts over from 0 with a message saying why. A
// resume the server refuses (ERROR 4: the held
// upload has another size, or moved on) is retried once from offset 0.
//
// Threading: loop thread only.
#pragma once

#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <string>
#include <unordered_set>

#include "apps/fileclient/exit_codes.h"
#include "protocols/file/file_client.h"

namespace reactor::file::client {

struct UploadItem {
  std::string local_path;
  std::string remote_path;
  // Skip the file if the server already has a complete file of the same
  // size (and, from a version-2 server, the same mtime) and no unfinished
  // upload of it (used when --watch starts up, and by put -r) -- unless:
  bool skip_if_present = false;
  // with skip_if_present, a file of the same size is skipped only if the
  // server's HASH equals the local file's SHA-256 (put --checksum).
  bool compare_checksum = false;
  // Filled in when the upload starts: the local file's mtime (ns) then.
  int64_t mtime_ns = 0;
};

// "PATH: the server's refusal", naming the path once.
std::string describe_refusal(const std::string& remote_path, const ErrorReply& error);

class UploadPipeline {
 public:
  struct Callbacks {
    // Acknowledged (PUT_OK) or skipped as already present.
    std::function<void(const UploadItem&, uint64_t size, bool skipped)> on_uploaded;
    // Refused by the server (kServerError) or unreadable (kLocalIo).
    std::function<void(const UploadItem&, ExitCode code, const std::string& message)> on_failed;
    // Nothing queued, nothing in flight.
    std::function<void()> on_idle;
    // The server holds `offset` bytes of an unfinished upload of the file:
    // only the rest is sent. Optional.
    std::function<void(const UploadItem&, uint64_t offset, uint64_t size)> on_resume;
  };

  UploadPipeline(FileClient* client, Callbacks callbacks, size_t window = 64,
                 size_t max_queued_bytes = 16 * 1024 * 1024);

  // Queues a file. False (and nothing queued) if the same local path is
  // already waiting to start.
  bool enqueue(UploadItem item);
  // The connection was lost: every file in flight goes back to the front
  // of the queue, to start over (STAT, then a resuming PUT) once pump()
  // runs on a new connection. Their handlers never run: the client dropped
  // them when it closed.
  void requeue_in_flight();
  // Starts whatever the window allows. Call when the client becomes ready
  // and when its output queue drains.
  void pump();

  bool idle() const { return queue_.empty() && in_flight_ == 0; }
  size_t in_flight() const { return in_flight_; }
  size_t queued() const { return queue_.size(); }
  // Body bytes handed to the socket so far (for progress).
  uint64_t bytes_sent() const;

 private:
  struct Transfer;
  void begin(UploadItem item);
  void handle_stat(const std::shared_ptr<Transfer>& transfer, const Reply& reply);
  // Version 2: RESUME_OK proves the held prefix is the local file's, or not.
  void handle_resume(const std::shared_ptr<Transfer>& transfer, const Reply& reply);
  void check_digest(const std::shared_ptr<Transfer>& transfer, const Reply& reply);
  void send_put(const std::shared_ptr<Transfer>& transfer, uint64_t offset);
  void handle_put(const std::shared_ptr<Transfer>& transfer, const Reply& reply);
  void finish_transfer(const std::shared_ptr<Transfer>& transfer);

  FileClient* client_;
  Callbacks callbacks_;
  size_t window_;
  size_t max_queued_bytes_;
  std::deque<UploadItem> queue_;
  std::unordered_set<std::string> waiting_;
  size_t in_flight_ = 0;
  std::unordered_set<std::shared_ptr<Transfer>> in_flight_transfers_;
  uint64_t bytes_submitted_ = 0;
  bool pumping_ = false;
};

}  // namespace reactor::file::client
