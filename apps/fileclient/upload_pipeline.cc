#include "apps/fileclient/upload_pipeline.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include <spdlog/spdlog.h>

#include "apps/fileclient/command.h"
#include "protocols/file/resume_proof.h"
#include "protocols/file/sha256.h"

namespace reactor::file::client {

std::string describe_refusal(const std::string& remote_path, const ErrorReply& error) {
  std::string text = describe_server_error(error);
  // The server's messages usually name the path already.
  if (error.message.starts_with(remote_path)) return text;
  return remote_path + ": " + text;
}

struct UploadPipeline::Transfer {
  UploadItem item;
  SharedFile file;
  uint64_t size = 0;
  int64_t mtime = kNoMtime;  // sent with PUT2; the server gives it the file
  uint64_t offset = 0;
  bool retried_from_zero = false;
};

UploadPipeline::UploadPipeline(FileClient* client, Callbacks callbacks, size_t window,
                               size_t max_queued_bytes)
    : client_(client),
      callbacks_(std::move(callbacks)),
      window_(window),
      max_queued_bytes_(max_queued_bytes) {}

bool UploadPipeline::enqueue(UploadItem item) {
  if (!waiting_.insert(item.local_path).second) return false;
  queue_.push_back(std::move(item));
  return true;
}

uint64_t UploadPipeline::bytes_sent() const {
  uint64_t queued = client_->queued_output_bytes();
  return bytes_submitted_ > queued ? bytes_submitted_ - queued : 0;
}

void UploadPipeline::requeue_in_flight() {
  for (const std::shared_ptr<Transfer>& transfer : in_flight_transfers_) {
    UploadItem item = transfer->item;
    if (waiting_.insert(item.local_path).second) queue_.push_front(std::move(item));
  }
  in_flight_transfers_.clear();
  in_flight_ = 0;
  bytes_submitted_ = 0;
}

void UploadPipeline::pump() {
  if (pumping_ || !client_->ready()) return;  // re-entered from a callback
  pumping_ = true;
  while (!queue_.empty() && in_flight_ < window_ &&
         client_->queued_output_bytes() <= max_queued_bytes_ && client_->ready()) {
    UploadItem item = std::move(queue_.front());
    queue_.pop_front();
    waiting_.erase(item.local_path);
    begin(std::move(item));
  }
  pumping_ = false;
  if (idle() && callbacks_.on_idle) callbacks_.on_idle();
}

void UploadPipeline::begin(UploadItem item) {
  auto transfer = std::make_shared<Transfer>();
  transfer->item = std::move(item);
  UniqueFd fd(::open(transfer->item.local_path.c_str(), O_RDONLY | O_CLOEXEC));
  struct stat info {};
  if (!fd || ::fstat(fd.get(), &info) < 0) {
    callbacks_.on_failed(transfer->item, ExitCode::kLocalIo,
                         "cannot read " + transfer->item.local_path + ": " + std::strerror(errno));
    return;
  }
  if (!S_ISREG(info.st_mode)) {
    callbacks_.on_failed(transfer->item, ExitCode::kLocalIo,
                         transfer->item.local_path + ": not a regular file");
    return;
  }
  transfer->size = static_cast<uint64_t>(info.st_size);
  transfer->mtime = static_cast<int64_t>(info.st_mtim.tv_sec);
  transfer->item.mtime_ns =
      static_cast<int64_t>(info.st_mtim.tv_sec) * 1000000000 + info.st_mtim.tv_nsec;
  transfer->file = std::make_shared<const UniqueFd>(std::move(fd));
  ++in_flight_;
  in_flight_transfers_.insert(transfer);
  client_->stat(transfer->item.remote_path,
                [this, transfer](const Reply& reply) { handle_stat(transfer, reply); });
}

void UploadPipeline::handle_stat(const std::shared_ptr<Transfer>& transfer, const Reply& reply) {
  uint64_t offset = 0;
  if (const auto* error = std::get_if<ErrorReply>(&reply)) {
    if (error->code != static_cast<uint16_t>(ErrorCode::kNotFound)) {
      // The path itself is refused (forbidden, too long...): a PUT would be too.
      callbacks_.on_failed(transfer->item, ExitCode::kServerError,
                           describe_refusal(transfer->item.remote_path, *error));
      finish_transfer(transfer);
      return;
    }
  } else {
    const auto& stat = std::get<StatOk>(reply);
    // Unchanged: the same size and, where PUT2 preserved it (version 2),
    // the same mtime -- rsync's quick check.
    const bool same_mtime = client_->protocol_version() < kProtocolVersion2 ||
                            static_cast<int64_t>(stat.mtime) == transfer->mtime;
    if (transfer->item.skip_if_present && stat.kind == EntryKind::kFile &&
        stat.size == transfer->size && same_mtime && stat.upload_offset == 0) {
      if (transfer->item.compare_checksum) {
        client_->hash(transfer->item.remote_path,
                      [this, transfer](const Reply& reply) { check_digest(transfer, reply); });
        return;
      }
      callbacks_.on_uploaded(transfer->item, transfer->size, true);
      finish_transfer(transfer);
      return;
    }
    // Resume what the server holds. With only an unfinished upload we know
    // its declared size and can tell a mismatch at once; next to a final
    // file we cannot, and the server's ERROR 4 sends us back to 0.
    bool declared_size_fits =
        stat.kind != EntryKind::kUnfinishedUpload || stat.size == transfer->size;
    if (stat.upload_offset > 0 && client_->protocol_version() >= kProtocolVersion2) {
      // Version 2: resume only once the held bytes are proven to be ours;
      // RESUME_OK also says why not, when they are not.
      client_->resume(transfer->item.remote_path,
                      [this, transfer](const Reply& reply) { handle_resume(transfer, reply); });
      return;
    }
    if (stat.upload_offset > 0 && stat.upload_offset <= transfer->size && declared_size_fits) {
      offset = stat.upload_offset;
    }
  }
  send_put(transfer, offset);
}

void UploadPipeline::handle_resume(const std::shared_ptr<Transfer>& transfer, const Reply& reply) {
  const auto* held = std::get_if<ResumeOk>(&reply);
  if (held == nullptr) {
    send_put(transfer, 0);  // nothing held any more (or unreadable): start over
    return;
  }
  std::string mismatch =
      resume_mismatch(*held, transfer->file->get(), transfer->size, transfer->mtime);
  if (!mismatch.empty()) {
    print_error(transfer->item.local_path + ": not resuming (" + mismatch +
                "); uploading it again from the start");
    send_put(transfer, 0);
    return;
  }
  spdlog::info("{}: resuming at byte {} of {} (the server's bytes match)",
               transfer->item.local_path, held->held, transfer->size);
  send_put(transfer, held->held);
}

void UploadPipeline::check_digest(const std::shared_ptr<Transfer>& transfer, const Reply& reply) {
  // Hashed on the loop thread, from the descriptor the PUT would send from.
  const auto* hash = std::get_if<HashOk>(&reply);
  if (hash != nullptr) {
    protocols::Result<Digest> local = sha256_of_file(transfer->file->get());
    if (local && local.value() == hash->digest) {
      callbacks_.on_uploaded(transfer->item, transfer->size, true);
      transfer->file.reset();
      finish_transfer(transfer);
      return;
    }
  }
  send_put(transfer, 0);
}

void UploadPipeline::send_put(const std::shared_ptr<Transfer>& transfer, uint64_t offset) {
  transfer->offset = offset;
  if (offset > 0 && callbacks_.on_resume)
    callbacks_.on_resume(transfer->item, offset, transfer->size);
  bytes_submitted_ += transfer->size - offset;
  client_->put(
      transfer->item.remote_path, transfer->file, transfer->size, offset,
      [this, transfer](const Reply& reply) { handle_put(transfer, reply); }, transfer->mtime);
}

void UploadPipeline::handle_put(const std::shared_ptr<Transfer>& transfer, const Reply& reply) {
  if (const auto* error = std::get_if<ErrorReply>(&reply)) {
    if (error->code == static_cast<uint16_t>(ErrorCode::kConflict) && transfer->offset > 0 &&
        !transfer->retried_from_zero) {
      transfer->retried_from_zero = true;
      send_put(transfer, 0);
      return;
    }
    callbacks_.on_failed(transfer->item, ExitCode::kServerError,
                         describe_refusal(transfer->item.remote_path, *error));
    finish_transfer(transfer);
    return;
  }
  callbacks_.on_uploaded(transfer->item, transfer->size, false);
  transfer->file.reset();
  finish_transfer(transfer);
}

void UploadPipeline::finish_transfer(const std::shared_ptr<Transfer>& transfer) {
  in_flight_transfers_.erase(transfer);
  --in_flight_;
  pump();
}

}  // namespace reactor::file::client
