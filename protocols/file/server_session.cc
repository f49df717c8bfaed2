#include "protocols/file/server_session.h"

#include "reactor/session.h"

#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>

#include <spdlog/spdlog.h>

#include "protocols/file/auth.h"
#include "protocols/file/escaped_text.h"
#include "protocols/file/overloaded.h"
#include "protocols/file/served_paths.h"
#include "protocols/file/sha256.h"

namespace reactor::file {
namespace {

// Queued output above which no new request is decoded: one DATA in flight
// is enough to keep the socket busy, and it keeps GETs from piling up
// open files.
constexpr size_t kOutputHighWater = 1024 * 1024;
// Unread input above which reading stops while requests are stalled.
constexpr size_t kInputHighWater = 1024 * 1024;
// Answers waiting behind pool work; past this, decoding pauses.
constexpr size_t kMaxPendingReplies = 1024;
// Pool jobs (commits) one connection may have queued at once.
constexpr size_t kMaxJobsPerConnection = 64;

// A pool job's answer, back on the loop thread: for the session of the
// connection it came from, if that is still there.
void finish_job_of(const std::weak_ptr<Connection>& weak, uint64_t sequence, std::string reply,
                   const std::string& committed_key) {
  const ConnectionPtr connection = weak.lock();
  if (!connection) return;
  if (ServerSession* session = session_of<ServerSession>(connection)) {
    session->finish_job(*connection, sequence, std::move(reply), committed_key);
  }
}

}  // namespace

ServerSession::ServerSession(ServerContext* context, const ConnectionPtr& connection)
    : context_(context),
      connection_id_(connection->id()),
      peer_(connection->peer_address().to_string()) {}

ServerSession::~ServerSession() = default;

// ---- input -----------------------------------------------------------------

void ServerSession::handle_input(Connection& connection) {
  process_input(connection);
}

bool ServerSession::can_run_now(Connection& connection, const Request& request) const {
  if (connection.queued_output_bytes() > kOutputHighWater) return false;
  if (replies_.size() >= kMaxPendingReplies) return false;
  if (jobs_in_flight_ == 0) return true;
  if (std::holds_alternative<Ping>(request)) return true;
  const std::string* put_path = nullptr;
  if (const auto* put = std::get_if<PutRequest>(&request)) put_path = &put->path;
  if (const auto* put = std::get_if<Put2Request>(&request)) put_path = &put->path;
  if (put_path != nullptr) {
    if (jobs_in_flight_ >= kMaxJobsPerConnection) return false;
    // A PUT of a path still being committed here must wait for the commit;
    // one that will be refused anyway (bad path) need not.
    auto parsed = parse_request_path(*put_path);
    return !parsed || committing_keys_.count(UploadStore::key_of(parsed.value())) == 0;
  }
  return false;  // reads the tree: wait until acknowledged uploads are in place
}

void ServerSession::process_input(Connection& connection) {
  if (closed_) return;
  Buffer& input = connection.input();
  while (!fatal_ && !closed_) {
    if (stalled_request_) {
      if (!can_run_now(connection, *stalled_request_)) break;
      Request request = std::move(*stalled_request_);
      stalled_request_.reset();
      dispatch(connection, std::move(request));
      continue;
    }
    if (draining_ && decoder_.at_frame_boundary()) break;  // no new requests
    DecodeStep<Request> step = decoder_.next(input.view());
    if (step.status == DecodeStatus::kNeedMore) break;
    if (step.status == DecodeStatus::kError) {
      emit_fatal(connection, step.error, step.detail);
      break;
    }
    if (step.status == DecodeStatus::kRawBytes) {
      write_upload_bytes(connection, step.raw);
      input.retrieve(step.consumed);
      if (decoder_.at_frame_boundary() && upload_) commit_upload(connection);
      continue;
    }
    input.retrieve(step.consumed);
    if (!can_run_now(connection, step.message)) {
      stalled_request_ = std::move(step.message);
      continue;  // the top of the loop breaks out
    }
    dispatch(connection, std::move(step.message));
  }
  if (fatal_ || closed_) return;
  if (stalled_request_ && input.readable_bytes() > kInputHighWater) {
    pause_input(connection);
  } else if (!stalled_request_) {
    resume_input(connection);
  }
  close_if_done(connection);
}

void ServerSession::pause_input(Connection& connection) {
  if (reading_paused_) return;
  {
    reading_paused_ = true;
    connection.stop_reading();
  }
}

void ServerSession::resume_input(Connection& connection) {
  if (!reading_paused_) return;
  {
    reading_paused_ = false;
    connection.start_reading();
  }
}

void ServerSession::dispatch(Connection& connection, Request request) {
  if (!greeted_ && !std::holds_alternative<Hello>(request)) {
    emit_fatal(connection, ErrorCode::kMalformed, "the first frame must be HELLO");
    return;
  }
  const MessageType type = type_of(request);
  if (awaiting_auth_ && type != MessageType::kAuth && type != MessageType::kHello) {
    // Refused before it is even looked at: whoever holds no token learns
    // nothing about the tree, not even whether a path exists.
    emit_fatal(connection, ErrorCode::kUnauthorized,
               "authentication required: this server needs a token; answer CHALLENGE with AUTH "
               "before " +
                   message_type_name(static_cast<uint8_t>(type)));
    return;
  }
  const bool version2_only = type == MessageType::kAuth || type == MessageType::kPut2 ||
                             type == MessageType::kResume || type == MessageType::kMkdir;
  if (version2_only && version_ < kProtocolVersion2) {
    emit_fatal(connection, ErrorCode::kMalformed,
               message_type_name(static_cast<uint8_t>(type)) + " is not part of protocol version " +
                   std::to_string(version_));
    return;
  }
  std::visit(Overloaded{
                 [&](const Hello& hello) { handle_hello(connection, hello); },
                 [&](const AuthRequest& auth) { handle_auth(connection, auth); },
                 [&](const ListRequest& list) { handle_list(connection, list); },
                 [&](const StatRequest& stat) { handle_stat(connection, stat); },
                 [&](const GetRequest& get) { handle_get(connection, get); },
                 [&](const PutRequest& put) {
                   handle_put(connection, put.path, put.size, put.offset, std::nullopt);
                 },
                 [&](const Put2Request& put) {
                   handle_put(connection, put.path, put.size, put.offset, put.mtime);
                 },
                 [&](const ResumeRequest& resume) { handle_resume(connection, resume); },
                 [&](const MkdirRequest& mkdir) { handle_mkdir(connection, mkdir); },
                 [&](const Ping& ping) { emit(connection, Pong{ping.token}); },
                 [&](const HashRequest& hash) { handle_hash(connection, hash); },
             },
             request);
}

// ---- requests --------------------------------------------------------------

void ServerSession::handle_hello(Connection& connection, const Hello& hello) {
  if (greeted_) {
    emit_fatal(connection, ErrorCode::kMalformed, "a second HELLO");
    return;
  }
  const bool needs_token = !context_->token.empty();
  if (hello.version == kProtocolVersion1 && needs_token) {
    emit_fatal(connection, ErrorCode::kUnsupportedVersion,
               "this server requires a token: protocol version 2 with authentication "
               "(reactor-fileclient --token-file FILE or RFTP_TOKEN); version 1 has none");
    return;
  }
  if (hello.version != kProtocolVersion1 && hello.version != kProtocolVersion2) {
    emit_fatal(
        connection, ErrorCode::kUnsupportedVersion,
        "protocol version " + std::to_string(hello.version) + " is not supported (only 1 and 2)");
    return;
  }
  greeted_ = true;
  version_ = hello.version;
  if (needs_token) {
    nonce_ = make_nonce();
    awaiting_auth_ = true;
    emit(connection, Challenge{nonce_});
    return;
  }
  emit(connection, HelloOk{version_, context_->server_name});
}

void ServerSession::handle_auth(Connection& connection, const AuthRequest& auth) {
  if (!awaiting_auth_) {
    emit_fatal(connection, ErrorCode::kMalformed, "AUTH without a CHALLENGE");
    return;
  }
  if (!proof_matches(context_->token, nonce_, auth.proof)) {
    spdlog::warn("connection {}: authentication failed (wrong token)", connection_id_);
    emit_fatal(connection, ErrorCode::kUnauthorized, "authentication failed: wrong token");
    return;
  }
  awaiting_auth_ = false;
  emit(connection, HelloOk{version_, context_->server_name});
}

void ServerSession::handle_list(Connection& connection, const ListRequest& request) {
  auto parsed = parse_request_path(request.path);
  if (!parsed) return refuse_path(connection, request.path, parsed.error());
  // Reading (and stat-ing) up to kMaxListEntries entries and encoding them
  // takes milliseconds: a worker does it, so other clients are not kept
  // waiting, and the answer keeps its place in the reply order.
  uint64_t sequence = reserve_reply();
  ++jobs_in_flight_;
  std::weak_ptr<Connection> weak = connection.shared_from_this();
  EventLoop* loop = context_->loop;
  const protocols::ServedTree* tree = &context_->root;
  context_->workers->submit([=, path = std::move(parsed.value())]() {
    Outcome<ListOk> listing = list_directory(*tree, path);
    std::string reply;
    if (listing) {
      reply = encode_frame(Reply{std::move(listing.value())});
    } else {
      const RequestError& error = listing.error();
      reply = encode_frame(Reply{
          ErrorReply{static_cast<uint16_t>(error.code), displayable_utf8(error.message, 1024)}});
    }
    loop->post([weak, sequence, reply = std::move(reply)]() mutable {
      finish_job_of(weak, sequence, std::move(reply), "");
    });
  });
}

void ServerSession::handle_stat(Connection& connection, const StatRequest& request) {
  auto parsed = parse_request_path(request.path);
  if (!parsed) return refuse_path(connection, request.path, parsed.error());
  const RequestPath& path = parsed.value();
  std::optional<UnfinishedUpload> unfinished;
  if (!path.is_root() && !context_->root.is_reserved(path.joined())) {
    unfinished = context_->uploads.find(path);
  }

  auto found = look_up(context_->root, path);
  if (!found) {
    if (found.error().code == ErrorCode::kNotFound && unfinished) {
      emit(connection, StatOk{EntryKind::kUnfinishedUpload, unfinished->declared_size,
                              unfinished->mtime, unfinished->held_bytes});
      return;
    }
    return emit_error(connection, found.error());
  }
  const struct stat& status = found->info;
  StatOk reply;
  reply.kind = entry_kind_of(status);
  reply.size = reply.kind == EntryKind::kDirectory ? 0 : static_cast<uint64_t>(status.st_size);
  reply.mtime = static_cast<int64_t>(status.st_mtim.tv_sec);
  reply.upload_offset = unfinished ? unfinished->held_bytes : 0;
  emit(connection, reply);
}

void ServerSession::handle_get(Connection& connection, const GetRequest& request) {
  auto parsed = parse_request_path(request.path);
  if (!parsed) return refuse_path(connection, request.path, parsed.error());
  const RequestPath& path = parsed.value();
  const Clock::time_point started = context_->loop->now();
  auto refuse = [&](const RequestError& error) {
    log_transfer("GET", path.joined(), 0, started, "error " + std::to_string(int(error.code)));
    emit_error(connection, error);
  };
  auto opened = open_regular_file(context_->root, path);
  if (!opened) return refuse(opened.error());
  auto file = std::make_shared<const UniqueFd>(std::move(opened->fd));
  auto size = static_cast<uint64_t>(opened->info.st_size);
  if (request.offset > size) {
    return refuse({ErrorCode::kConflict, path.joined() + ": offset " +
                                             std::to_string(request.offset) +
                                             " is beyond the size " + std::to_string(size)});
  }
  // GET runs only with no pool work pending, so nothing waits in replies_
  // and the header may go straight out, followed by the zero-copy body --
  // in the same TCP segment (MSG_MORE), as HTTP sends its heads.
  const uint64_t length = size - request.offset;
  const std::string header = encode_frame(DataHeader{size, request.offset, length});
  queued_total_ += header.size() + length;
  downloads_.push_back({path.joined(), request.offset, length, queued_total_, started});
  if (length > 0) {
    connection.send_more(header);
    connection.send_file(std::move(file), static_cast<off_t>(request.offset),
                         static_cast<size_t>(length));
  } else {
    connection.send(header);
  }
  spdlog::debug("connection {}: GET {} from {} ({} bytes)", connection_id_, path.joined(),
                request.offset, size - request.offset);
  log_finished_downloads(connection);  // all sent at once, or when the output drains
}

Outcome<void> ServerSession::check_upload_target(const RequestPath& path) const {
  if (path.is_root()) return RequestError{ErrorCode::kNotRegularFile, "/: is a directory"};
  // Every existing ancestor must be a directory (missing ones get created)
  // and an existing target a regular file.
  RequestPath prefix;
  for (const std::string& component : path.components) {
    prefix.components.push_back(component);
    auto found = look_up(context_->root, prefix);
    if (!found) {
      if (found.error().code == ErrorCode::kNotFound) return {};
      return found.error();
    }
    const bool target = prefix.components.size() == path.components.size();
    if (!target && !S_ISDIR(found->info.st_mode)) {
      return RequestError{ErrorCode::kNotDirectory, prefix.joined() + ": not a directory"};
    }
    if (target && !S_ISREG(found->info.st_mode)) {
      return RequestError{ErrorCode::kNotRegularFile, path.joined() + ": not a regular file"};
    }
  }
  return {};
}

void ServerSession::handle_put(Connection& connection, const std::string& requested_path,
                               uint64_t size, uint64_t offset,
                               std::optional<int64_t> source_mtime) {
  // On any refusal the decoder still owes size - offset raw bytes; with no
  // upload_ set they are read and dropped, never taken for frames.
  if (context_->read_only) {
    return emit_error(connection, {ErrorCode::kForbidden, "the server is read-only"});
  }
  auto parsed = parse_request_path(requested_path);
  if (!parsed) return refuse_path(connection, requested_path, parsed.error());
  RequestPath& path = parsed.value();
  if (context_->root.is_reserved(path.joined())) {
    return emit_error(connection,
                      {ErrorCode::kForbidden, path.joined() + ": reserved for the server"});
  }
  if (context_->max_file_size > 0 && size > context_->max_file_size) {
    return emit_error(connection,
                      {ErrorCode::kTooLarge, path.joined() + ": " + std::to_string(size) +
                                                 " bytes exceeds the server's limit of " +
                                                 std::to_string(context_->max_file_size)});
  }
  if (auto target = check_upload_target(path); !target)
    return emit_error(connection, target.error());
  // Before a byte is written: a full disk fails every later upload too.
  if (auto space =
          context_->uploads.check_free_space(path, size - offset, context_->min_free_space);
      !space) {
    return emit_error(connection, space.error());
  }

  std::string key = UploadStore::key_of(path);
  auto claim = context_->registry->claim(key, connection_id_);
  if (!claim) {
    return emit_error(connection, {ErrorCode::kConflict,
                                   path.joined() + ": being uploaded on another connection"});
  }
  const int64_t mtime = source_mtime.value_or(kNoMtime);
  Outcome<UniqueFd> part = offset == 0 ? context_->uploads.begin(path, size, mtime)
                                       : context_->uploads.resume(path, size, offset, source_mtime);
  if (!part) return emit_error(connection, part.error());

  IncomingUpload upload;
  upload.path = std::move(path);
  upload.requested_path = requested_path;
  upload.key = std::move(key);
  upload.size = size;
  upload.next_offset = offset;
  upload.source_mtime = mtime;
  upload.part = std::make_shared<const UniqueFd>(std::move(part.value()));
  upload.claim = std::move(claim);
  upload.first_offset = offset;
  upload.started = context_->loop->now();
  spdlog::debug("connection {}: PUT {} size {} from {}", connection_id_, upload.path.joined(), size,
                offset);
  upload_ = std::move(upload);
  if (size == offset) commit_upload(connection);
}

void ServerSession::write_upload_bytes(Connection& connection, std::string_view bytes) {
  if (!upload_) return;  // a refused PUT: discard
  while (!bytes.empty()) {
    ssize_t n = ::pwrite(upload_->part->get(), bytes.data(), bytes.size(),
                         static_cast<off_t>(upload_->next_offset));
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) {
      RequestError error = error_from_errno(n < 0 ? errno : EIO, upload_->path);
      spdlog::warn("connection {}: writing upload {}: {}", connection_id_, upload_->path.joined(),
                   error.message);
      log_transfer("PUT", upload_->path.joined(), upload_->next_offset - upload_->first_offset,
                   upload_->started, "error " + std::to_string(int(error.code)));
      // The bytes held so far stay resumable; the rest of this PUT's body
      // is drained and dropped by the decoder.
      upload_.reset();
      emit_error(connection, error);
      return;
    }
    upload_->next_offset += static_cast<uint64_t>(n);
    bytes.remove_prefix(static_cast<size_t>(n));
  }
}

void ServerSession::commit_upload(Connection& connection) {
  IncomingUpload upload = std::move(*upload_);
  upload_.reset();
  uint64_t sequence = reserve_reply();
  ++jobs_in_flight_;
  committing_keys_.insert(upload.key);
  IncomingUpload& logged = committing_uploads_[sequence];
  logged.path = upload.path;
  logged.size = upload.size;
  logged.first_offset = upload.first_offset;
  logged.started = upload.started;
  std::weak_ptr<Connection> weak = connection.shared_from_this();
  EventLoop* loop = context_->loop;
  const UploadStore* store = &context_->uploads;
  context_->workers->submit([=]() mutable {
    Outcome<void> committed = store->commit(upload.path, upload.part->get(), upload.source_mtime);
    std::string reply =
        committed ? encode_frame(Reply{PutOk{upload.requested_path, upload.size}})
                  : encode_frame(Reply{ErrorReply{static_cast<uint16_t>(committed.error().code),
                                                  committed.error().message}});
    if (!committed) {
      const bool denied = committed.error().code == ErrorCode::kForbidden;
      spdlog::warn("committing upload {}: {}{}", upload.path.joined(), committed.error().message,
                   denied ? " (if the tree is not meant to be written, run with --read-only)" : "");
    }
    loop->post([weak, sequence, reply = std::move(reply), key = upload.key,
                claim = std::move(upload.claim)]() mutable {
      claim.reset();  // the path is free before anything waiting on it runs
      finish_job_of(weak, sequence, std::move(reply), key);
    });
  });
}

void ServerSession::handle_resume(Connection& connection, const ResumeRequest& request) {
  auto parsed = parse_request_path(request.path);
  if (!parsed) return refuse_path(connection, request.path, parsed.error());
  const RequestPath& path = parsed.value();
  const std::string shown = path.joined();
  if (path.is_root() || context_->root.is_reserved(shown)) {
    return emit_error(connection, {ErrorCode::kNotFound,
                                   (path.is_root() ? "/" : shown) + ": no unfinished upload"});
  }
  std::optional<UnfinishedUpload> unfinished = context_->uploads.find(path);
  if (!unfinished) {
    return emit_error(connection, {ErrorCode::kNotFound, shown + ": no unfinished upload"});
  }
  if (context_->registry->owner_of(UploadStore::key_of(path))) {
    return emit_error(connection,
                      {ErrorCode::kConflict, shown + ": being uploaded on another connection"});
  }
  auto opened = context_->uploads.open_part(path);
  if (!opened) return emit_error(connection, opened.error());
  auto part = std::make_shared<const UniqueFd>(std::move(opened.value()));
  // Hashing a large prefix takes a while: on a worker, like HASH.
  uint64_t sequence = reserve_reply();
  ++jobs_in_flight_;
  std::weak_ptr<Connection> weak = connection.shared_from_this();
  EventLoop* loop = context_->loop;
  context_->workers->submit([=, requested = request.path, held = *unfinished]() {
    protocols::Result<Digest> digest = sha256_of_prefix(part->get(), held.held_bytes);
    std::string reply =
        digest ? encode_frame(Reply{ResumeOk{requested, held.declared_size, held.source_mtime,
                                             held.held_bytes, digest.value()}})
               : encode_frame(Reply{ErrorReply{
                     static_cast<uint16_t>(ErrorCode::kIoError),
                     requested + ": reading the unfinished upload: " + digest.error().message()}});
    loop->post([weak, sequence, reply = std::move(reply)]() mutable {
      finish_job_of(weak, sequence, std::move(reply), "");
    });
  });
}

void ServerSession::handle_mkdir(Connection& connection, const MkdirRequest& request) {
  if (context_->read_only) {
    return emit_error(connection, {ErrorCode::kForbidden, "the server is read-only"});
  }
  auto parsed = parse_request_path(request.path);
  if (!parsed) return refuse_path(connection, request.path, parsed.error());
  const RequestPath& path = parsed.value();
  const std::string shown = path.joined();
  if (context_->root.is_reserved(shown)) {
    return emit_error(connection, {ErrorCode::kForbidden, shown + ": reserved for the server"});
  }
  // A few mkdirat() calls at most, like the parents a PUT creates: on the
  // loop, no worker needed.
  protocols::Result<UniqueFd> created = context_->root.open_or_create_directory(shown);
  if (!created) return emit_error(connection, error_from_tree(created.error(), path));
  emit(connection, MkdirOk{request.path});
}

void ServerSession::handle_hash(Connection& connection, const HashRequest& request) {
  auto parsed = parse_request_path(request.path);
  if (!parsed) return refuse_path(connection, request.path, parsed.error());
  auto opened = open_regular_file(context_->root, parsed.value());
  if (!opened) return emit_error(connection, opened.error());
  auto file = std::make_shared<const UniqueFd>(std::move(opened->fd));
  uint64_t sequence = reserve_reply();
  ++jobs_in_flight_;
  std::weak_ptr<Connection> weak = connection.shared_from_this();
  EventLoop* loop = context_->loop;
  context_->workers->submit([=, requested = request.path]() {
    protocols::Result<Digest> digest = sha256_of_file(file->get());
    std::string reply =
        digest ? encode_frame(Reply{HashOk{requested, digest.value()}})
               : encode_frame(Reply{ErrorReply{
                     static_cast<uint16_t>(ErrorCode::kIoError),
                     requested + ": reading for the hash: " + digest.error().message()}});
    loop->post([weak, sequence, reply = std::move(reply)]() mutable {
      finish_job_of(weak, sequence, std::move(reply), "");
    });
  });
}

void ServerSession::finish_job(Connection& connection, uint64_t sequence, std::string reply,
                               const std::string& committed_key) {
  if (closed_) return;
  --jobs_in_flight_;
  if (!committed_key.empty()) {
    auto found = committing_keys_.find(committed_key);
    if (found != committing_keys_.end()) committing_keys_.erase(found);
  }
  if (auto put = committing_uploads_.find(sequence); put != committing_uploads_.end()) {
    const bool acknowledged =
        reply.size() > kLengthFieldBytes &&
        static_cast<uint8_t>(reply[kLengthFieldBytes]) == static_cast<uint8_t>(MessageType::kPutOk);
    std::string result = acknowledged ? "ok" : "error";
    if (acknowledged && put->second.first_offset > 0) {
      result += " (resumed at " + std::to_string(put->second.first_offset) + ")";
    }
    log_transfer("PUT", put->second.path.joined(), put->second.size - put->second.first_offset,
                 put->second.started, result);
    committing_uploads_.erase(put);
  }
  fill_reply(connection, sequence, std::move(reply));
  process_input(connection);  // a stalled request may run now
}

// ---- replies ---------------------------------------------------------------

void ServerSession::refuse_path(Connection& connection, const std::string& raw_path,
                                const RequestError& error) {
  // Lexical refusals do not name the path; the client wants to know which.
  // It may be anything but UTF-8, which every RFTP str must be.
  std::string shown = displayable_utf8(raw_path, 200);
  if (shown.size() < raw_path.size()) shown += "...";
  emit_error(connection,
             {error.code, (shown.empty() ? std::string("/") : shown) + ": " + error.message});
}

void ServerSession::emit(Connection& connection, const Reply& reply) {
  std::string bytes = encode_frame(reply);
  if (replies_.empty()) {
    queued_total_ += bytes.size();
    connection.send(bytes);
    return;
  }
  replies_.push_back({true, std::move(bytes)});
}

void ServerSession::emit_error(Connection& connection, const RequestError& error) {
  // A refusal is a normal answer (a client STATs before every PUT and
  // hears "not found"), not a server error.
  spdlog::debug("connection {}: answered {} ({}): {}", connection_id_,
                error_code_name(static_cast<uint16_t>(error.code)), static_cast<int>(error.code),
                error.message);
  // Fits a u16 string whatever a path made of it, and stays UTF-8 (a
  // path of the tree may not be).
  std::string message = displayable_utf8(error.message, 1024);
  emit(connection, ErrorReply{static_cast<uint16_t>(error.code), std::move(message)});
}

void ServerSession::emit_fatal(Connection& connection, ErrorCode code, const std::string& message) {
  spdlog::debug("connection {}: closing after answering {} ({}): {}", connection_id_,
                error_code_name(static_cast<uint16_t>(code)), static_cast<int>(code), message);
  emit_error(connection, {code, message});
  fatal_ = true;
  stalled_request_.reset();
  upload_.reset();
  pause_input(connection);
  // Closed once every answer owed before this one is out.
  if (replies_.empty()) {
    connection.close_after_flush();
  }
}

uint64_t ServerSession::reserve_reply() {
  replies_.push_back({false, {}});
  return first_reply_sequence_ + replies_.size() - 1;
}

void ServerSession::fill_reply(Connection& connection, uint64_t sequence, std::string bytes) {
  if (sequence < first_reply_sequence_) return;
  size_t index = static_cast<size_t>(sequence - first_reply_sequence_);
  if (index >= replies_.size()) return;
  replies_[index].ready = true;
  replies_[index].bytes = std::move(bytes);
  flush_ready_replies(connection);
}

void ServerSession::flush_ready_replies(Connection& connection) {
  while (!replies_.empty() && replies_.front().ready) {
    queued_total_ += replies_.front().bytes.size();
    connection.send(replies_.front().bytes);
    replies_.pop_front();
    ++first_reply_sequence_;
  }
  if (fatal_ && replies_.empty()) connection.close_after_flush();
}

// ---- connection events -----------------------------------------------------

void ServerSession::handle_write_complete(Connection& connection) {
  log_finished_downloads(connection);
  // Output fell below the high-water mark: a stalled request may run, and
  // a draining session may be done.
  process_input(connection);
}

void ServerSession::handle_peer_shutdown(Connection& connection) {
  peer_finished_ = true;
  process_input(connection);
}

void ServerSession::handle_idle(Connection& connection) {
  // Pool work (a long HASH, a slow fsync) moves no bytes but is not
  // idleness. (Bytes still leaving the kernel's queue the core already
  // counts as activity.)
  if (jobs_in_flight_ > 0) {
    connection.set_idle_timeout(context_->idle_timeout);
    return;
  }
  spdlog::debug("connection {}: idle, closing", connection_id_);
  connection.close();
}

void ServerSession::handle_close() {
  closed_ = true;
  stalled_request_.reset();
  replies_.clear();
  // A closed connection has dropped its queue, so what it sent is known
  // only as of the last look: the bytes logged are a lower bound.
  const uint64_t sent = sent_seen_;
  for (const OutgoingDownload& download : downloads_) {
    const uint64_t body_start = download.end_mark - download.length;
    const uint64_t body_sent = sent > body_start ? std::min(sent - body_start, download.length) : 0;
    log_transfer("GET", download.path, body_sent, download.started, "interrupted");
  }
  downloads_.clear();
  for (const auto& [sequence, put] : committing_uploads_) {
    log_transfer("PUT", put.path.joined(), put.size - put.first_offset, put.started,
                 "closed before the acknowledgement");
  }
  committing_uploads_.clear();
  if (upload_) {
    spdlog::debug("connection {}: closed during upload of {} ({} of {} bytes held)", connection_id_,
                  upload_->path.joined(), upload_->next_offset, upload_->size);
    log_transfer("PUT", upload_->path.joined(), upload_->next_offset - upload_->first_offset,
                 upload_->started,
                 "interrupted (" + std::to_string(upload_->next_offset) + " of " +
                     std::to_string(upload_->size) + " bytes held)");
    upload_.reset();  // the .part stays for a resume; the claim is released
  }
}

void ServerSession::log_transfer(const char* operation, const std::string& path, uint64_t bytes,
                                 Clock::time_point started, const std::string& result) const {
  const auto elapsed =
      std::chrono::duration_cast<std::chrono::milliseconds>(context_->loop->now() - started);
  // The path (and a refusal naming it) is the client's: escaped, so a name
  // holding a newline or an ESC sequence cannot forge or split log lines.
  spdlog::info("{} {} {}: {} bytes in {} ms, {}", peer_, operation,
               escape_text(std::string_view(path).substr(0, 512)), bytes, elapsed.count(),
               escape_text(result));
}

void ServerSession::log_finished_downloads(Connection& connection) {
  const uint64_t sent = sent_total(connection);
  sent_seen_ = sent;
  while (!downloads_.empty() && downloads_.front().end_mark <= sent) {
    const OutgoingDownload& done = downloads_.front();
    log_transfer("GET", done.path, done.length, done.started,
                 done.offset > 0 ? "ok (resumed at " + std::to_string(done.offset) + ")" : "ok");
    downloads_.pop_front();
  }
}

void ServerSession::begin_draining(Connection& connection) {
  draining_ = true;
  close_if_done(connection);
}

bool ServerSession::transfer_in_flight(Connection& connection) const {
  bool sending = connection.queued_output_bytes() > 0;
  return sending || upload_ || !decoder_.at_frame_boundary() || jobs_in_flight_ > 0;
}

void ServerSession::close_if_done(Connection& connection) {
  if (closed_ || fatal_) return;
  bool answered_everything = !stalled_request_ && replies_.empty() && jobs_in_flight_ == 0;
  if (draining_ && !transfer_in_flight(connection) && answered_everything) {
    connection.close_after_flush();
    return;
  }
  // Half-close: everything that arrived before the client's FIN has been
  // decoded and answered. A partial frame or an upload body left over can
  // never complete; the .part keeps what arrived.
  if (peer_finished_ && answered_everything) {
    connection.close_after_flush();
  }
}

}  // namespace reactor::file
