#include "protocols/file/file_client.h"

#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstring>

#include <spdlog/spdlog.h>

#include "protocols/file/auth.h"

namespace reactor::file {

FileClient::FileClient(EventLoop* loop, const SocketAddress& server)
    : loop_(loop), tcp_(loop, server), last_reply_time_(loop->now()) {
  tcp_.set_connection_callback(
      [this](const ConnectionPtr& connection) { handle_connection(connection); });
  tcp_.set_message_callback([this](const ConnectionPtr&, Buffer& input) { handle_input(input); });
  tcp_.set_write_complete_callback([this](const ConnectionPtr&) {
    if (write_complete_callback_) write_complete_callback_();
  });
  tcp_.set_error_callback([this](int error) {
    fail(Failure::Kind::kConnect,
         "cannot connect to " + tcp_.server_address().to_string() + ": " + std::strerror(error));
  });
}

FileClient::~FileClient() {
  *alive_ = false;
  closed_ = true;
}

void FileClient::connect(std::chrono::milliseconds timeout) {
  closed_ = false;
  ready_ = false;
  challenged_ = false;
  authenticated_ = false;
  protocol_version_ = 0;
  decoder_ = ReplyDecoder();  // a reconnect must not inherit half a frame
  tcp_.set_connect_timeout(timeout);
  tcp_.connect();
}

void FileClient::close() {
  if (closed_) return;
  closed_ = true;
  ready_ = false;
  pending_.clear();
  active_download_.reset();
  tcp_.disconnect();
}

size_t FileClient::queued_output_bytes() const {
  const ConnectionPtr& connection = tcp_.connection();
  return connection ? connection->queued_output_bytes() : 0;
}

void FileClient::fail(Failure::Kind kind, std::string message) {
  if (closed_) return;
  spdlog::debug("rftp client: {}", message);
  close();
  if (failure_callback_) failure_callback_(Failure{kind, std::move(message)});
}

void FileClient::handle_connection(const ConnectionPtr& connection) {
  if (connection->connected()) {
    if (closed_) {
      connection->close();
      return;
    }
    if (stall_timeout_.count() > 0) {
      std::weak_ptr<bool> alive = alive_;
      connection->set_idle_callback([this, alive](const ConnectionPtr& idle) {
        if (!alive.expired()) handle_idle(idle);
      });
      connection->set_idle_timeout(stall_timeout_);
    }
    send_request(Hello{kProtocolVersion}, Pending{MessageType::kHelloOk, nullptr, {}, 0});
    return;
  }
  // Closed. Expected only after our own close().
  if (closed_) return;
  const std::string& reason = connection->close_reason();
  if (active_download_) {
    // The GET is no longer pending (its DATA header arrived): the body is
    // what was cut off.
    fail(Failure::Kind::kLost, "connection to " + tcp_.server_address().to_string() +
                                   " lost in the middle of a download, " +
                                   std::to_string(decoder_.raw_remaining()) + " byte(s) short" +
                                   (reason.empty() ? "" : " (" + reason + ")"));
  } else if (!pending_.empty()) {
    fail(Failure::Kind::kLost, "connection to " + tcp_.server_address().to_string() +
                                   " lost with " + std::to_string(pending_.size()) +
                                   " request(s) unanswered");
  } else {
    fail(Failure::Kind::kLost,
         "connection to " + tcp_.server_address().to_string() + " closed by the server");
  }
}

namespace {

// The request a pending answer belongs to.
std::string_view request_name(MessageType expected) {
  switch (expected) {
    case MessageType::kHelloOk:
      return "HELLO";
    case MessageType::kListOk:
      return "LIST";
    case MessageType::kStatOk:
      return "STAT";
    case MessageType::kData:
      return "GET";
    case MessageType::kPutOk:
      return "PUT";
    case MessageType::kPong:
      return "PING";
    case MessageType::kHashOk:
      return "HASH";
    case MessageType::kMkdirOk:
      return "MKDIR";
    default:
      return "a request";
  }
}

}  // namespace

std::string FileClient::describe_wait() const {
  const std::string server = tcp_.server_address().to_string();
  if (active_download_) {
    return "the rest of a download from " + server + " (" +
           std::to_string(decoder_.raw_remaining()) + " byte(s) still to come)";
  }
  if (pending_.empty()) {
    if (queued_output_bytes() > 0) return server + " to take the data we are sending";
    return "";
  }
  const MessageType expected = pending_.front().expected;
  if (expected == MessageType::kHelloOk) return server + " to greet us (HELLO_OK)";
  if (expected == MessageType::kPutOk && queued_output_bytes() > 0) {
    return server + " to take the upload (" + std::to_string(queued_output_bytes()) +
           " byte(s) not sent yet)";
  }
  return "an answer from " + server + " to " + std::string(request_name(expected));
}

void FileClient::handle_idle(const ConnectionPtr& connection) {
  std::string waited_for = describe_wait();
  if (waited_for.empty()) {
    connection->set_idle_timeout(stall_timeout_);  // idle, but owed nothing: not a stall
    return;
  }
  char seconds[32];
  std::snprintf(seconds, sizeof seconds, "%g", static_cast<double>(stall_timeout_.count()) / 1000);
  fail(Failure::Kind::kTimeout,
       "timed out: no progress for " + std::string(seconds) + " s waiting for " + waited_for);
}

void FileClient::send_request(const Request& request, Pending pending) {
  const ConnectionPtr& connection = tcp_.connection();
  if (closed_ || !connection) return;
  pending_.push_back(std::move(pending));
  connection->send(encode_frame(request));
}

void FileClient::list(const std::string& path, ReplyHandler handler) {
  send_request(ListRequest{path}, Pending{MessageType::kListOk, std::move(handler), {}, 0});
}

void FileClient::stat(const std::string& path, ReplyHandler handler) {
  send_request(StatRequest{path}, Pending{MessageType::kStatOk, std::move(handler), {}, 0});
}

void FileClient::hash(const std::string& path, ReplyHandler handler) {
  send_request(HashRequest{path}, Pending{MessageType::kHashOk, std::move(handler), {}, 0});
}

void FileClient::ping(uint64_t token, ReplyHandler handler) {
  send_request(Ping{token}, Pending{MessageType::kPong, std::move(handler), {}, 0});
}

void FileClient::get(const std::string& path, uint64_t offset, DownloadSink sink) {
  send_request(GetRequest{path, offset},
               Pending{MessageType::kData, nullptr, std::move(sink), offset});
}

void FileClient::put(const std::string& path, SharedFile file, uint64_t size, uint64_t offset,
                     ReplyHandler handler, int64_t mtime) {
  const ConnectionPtr& connection = tcp_.connection();
  if (closed_ || !connection) return;
  Request request = protocol_version_ >= kProtocolVersion2
                        ? Request{Put2Request{path, size, offset, mtime}}
                        : Request{PutRequest{path, size, offset}};
  send_request(request, Pending{MessageType::kPutOk, std::move(handler), {}, 0});
  if (size > offset) {
    connection->send_file(std::move(file), static_cast<off_t>(offset),
                          static_cast<size_t>(size - offset));
  }
}

void FileClient::resume(const std::string& path, ReplyHandler handler) {
  if (protocol_version_ < kProtocolVersion2) {
    // A version-1 server cannot prove anything: answer as "nothing held".
    if (handler)
      handler(ErrorReply{static_cast<uint16_t>(ErrorCode::kNotFound),
                         path + ": the server speaks protocol version 1"});
    return;
  }
  send_request(ResumeRequest{path}, Pending{MessageType::kResumeOk, std::move(handler), {}, 0});
}

void FileClient::mkdir(const std::string& path, ReplyHandler handler) {
  if (protocol_version_ < kProtocolVersion2) {
    loop_->post([handler = std::move(handler), path, alive = std::weak_ptr<bool>(alive_)] {
      if (!alive.expired() && handler) {
        handler(ErrorReply{static_cast<uint16_t>(ErrorCode::kUnsupportedVersion),
                           path + ": the server speaks protocol version 1, which has no MKDIR"});
      }
    });
    return;
  }
  send_request(MkdirRequest{path}, Pending{MessageType::kMkdirOk, std::move(handler), {}, 0});
}

void FileClient::handle_input(Buffer& input) {
  std::weak_ptr<bool> alive = alive_;
  while (!closed_) {
    DecodeStep<Reply> step = decoder_.next(input.view());
    if (step.status == DecodeStatus::kNeedMore) return;
    if (step.status == DecodeStatus::kError) {
      if (!ready_ && input.view().starts_with("HTTP/")) {
        fail(Failure::Kind::kProtocol,
             tcp_.server_address().to_string() + " is not an RFTP server (it answered with HTTP)");
        return;
      }
      fail(Failure::Kind::kProtocol, "malformed answer from the server: " + step.detail);
      return;
    }
    last_reply_time_ = loop_->now();
    if (step.status == DecodeStatus::kRawBytes) {
      std::shared_ptr<DownloadSink> sink = active_download_;
      // Handed over before retrieve(): the view points into `input`.
      if (sink && sink->file >= 0) {
        if (!write_body(*sink, step.raw)) return;
      } else if (sink && sink->on_bytes) {
        sink->on_bytes(step.raw);
      }
      if (alive.expired() || closed_) return;
      input.retrieve(step.consumed);
      if (decoder_.at_frame_boundary() && active_download_) {
        complete_download();
        if (alive.expired()) return;
      } else if (sink && sink->file >= 0 && input.empty()) {
        splice_body(sink);
        if (alive.expired() || closed_) return;
      }
      continue;
    }
    input.retrieve(step.consumed);
    handle_reply(std::move(step.message));
    if (alive.expired()) return;
  }
}

void FileClient::complete_download() {
  std::shared_ptr<DownloadSink> sink = std::move(active_download_);
  active_download_.reset();
  if (sink && sink->on_complete) sink->on_complete();
}

bool FileClient::write_body(DownloadSink& sink, std::string_view bytes) {
  while (!bytes.empty()) {
    ssize_t n =
        ::pwrite(sink.file, bytes.data(), bytes.size(), static_cast<off_t>(sink.file_offset));
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) {
      int error = n < 0 ? errno : EIO;
      if (sink.on_write_error) sink.on_write_error(error);
      return false;
    }
    sink.file_offset += static_cast<uint64_t>(n);
    bytes.remove_prefix(static_cast<size_t>(n));
  }
  if (sink.on_progress) sink.on_progress(sink.file_offset);
  return true;
}

void FileClient::splice_body(const std::shared_ptr<DownloadSink>& sink) {
  const ConnectionPtr& connection = tcp_.connection();
  if (!connection) return;
  // Straight from the socket into the file (the core splices through a
  // pipe); EOF and socket errors are left for the connection's next read.
  int file_error = 0;
  const size_t moved = connection->receive_into_file(sink->file, &sink->file_offset,
                                                     decoder_.raw_remaining(), &file_error);
  if (moved > 0) {
    decoder_.skip_raw_bytes(moved);
    last_reply_time_ = loop_->now();
    if (sink->on_progress) sink->on_progress(sink->file_offset);
    if (closed_) return;
  }
  if (file_error != 0) {
    if (sink->on_write_error) sink->on_write_error(file_error);
    return;
  }
  if (decoder_.raw_remaining() == 0 && active_download_ == sink) complete_download();
}

void FileClient::handle_greeting(Reply reply) {
  const MessageType type = type_of(reply);
  if (auto* error = std::get_if<ErrorReply>(&reply)) {
    if (error->code == static_cast<uint16_t>(ErrorCode::kUnauthorized)) {
      fail(Failure::Kind::kProtocol, "the server refused the token: " + error->message);
    } else {
      fail(Failure::Kind::kProtocol, "the server refused HELLO: " + error->message);
    }
    return;
  }
  if (const auto* challenge = std::get_if<Challenge>(&reply)) {
    if (challenged_) {
      fail(Failure::Kind::kProtocol, "a second CHALLENGE from the server");
      return;
    }
    if (token_.empty()) {
      fail(Failure::Kind::kProtocol,
           "the server requires a token: give it with --token-file FILE or RFTP_TOKEN");
      return;
    }
    challenged_ = true;
    // HELLO_OK follows a good proof; a bad one gets ERROR 10.
    send_request(AuthRequest{auth_proof(token_, challenge->nonce)},
                 Pending{MessageType::kHelloOk, nullptr, {}, 0});
    return;
  }
  if (type != MessageType::kHelloOk) {
    fail(Failure::Kind::kProtocol,
         "expected HELLO_OK, got " + message_type_name(static_cast<uint8_t>(type)));
    return;
  }
  const auto& hello = std::get<HelloOk>(reply);
  if (hello.version != kProtocolVersion1 && hello.version != kProtocolVersion2) {
    fail(Failure::Kind::kProtocol,
         "the server speaks protocol version " + std::to_string(hello.version));
    return;
  }
  protocol_version_ = hello.version;
  authenticated_ = challenged_;
  server_name_ = hello.server;
  ready_ = true;
  if (ready_callback_) ready_callback_(hello);
}

void FileClient::handle_reply(Reply reply) {
  if (pending_.empty()) {
    fail(Failure::Kind::kProtocol, "unsolicited " +
                                       message_type_name(static_cast<uint8_t>(type_of(reply))) +
                                       " from the server");
    return;
  }
  Pending pending = std::move(pending_.front());
  pending_.pop_front();
  MessageType type = type_of(reply);

  if (pending.expected == MessageType::kHelloOk) {
    handle_greeting(std::move(reply));
    return;
  }

  if (type != pending.expected && type != MessageType::kError) {
    fail(Failure::Kind::kProtocol, "expected " +
                                       message_type_name(static_cast<uint8_t>(pending.expected)) +
                                       ", got " + message_type_name(static_cast<uint8_t>(type)));
    return;
  }
  if (pending.expected != MessageType::kData) {
    if (pending.handler) pending.handler(reply);
    return;
  }
  if (auto* error = std::get_if<ErrorReply>(&reply)) {
    if (pending.sink.on_error) pending.sink.on_error(*error);
    return;
  }
  const auto& data = std::get<DataHeader>(reply);
  if (data.offset != pending.offset || data.length != data.size - data.offset) {
    fail(Failure::Kind::kProtocol, "DATA does not match the GET it answers");
    return;
  }
  auto sink = std::make_shared<DownloadSink>(std::move(pending.sink));
  if (data.length > 0) active_download_ = sink;
  std::weak_ptr<bool> alive = alive_;
  if (sink->on_header) sink->on_header(data);
  if (alive.expired() || closed_) return;
  if (data.length == 0 && sink->on_complete) sink->on_complete();
}

}  // namespace reactor::file
