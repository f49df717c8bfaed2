#include "protocols/http/static_file_handler.h"

#include <algorithm>
#include <cstdio>
#include <random>

#include "protocols/http/char_class.h"
#include "protocols/http/directory_listing.h"
#include "protocols/http/error_page.h"
#include "protocols/http/header_text.h"
#include "protocols/http/preconditions.h"

namespace reactor::http {

namespace {

std::string make_boundary() {
  std::random_device random;
  char text[40];
  std::snprintf(text, sizeof text, "reactor-%08x%08x", random(), random());
  return text;
}

void append_content_range(std::string& out, const ByteRange& range, uint64_t size) {
  out += "Content-Range: bytes ";
  append_decimal(out, range.first);
  out += '-';
  append_decimal(out, range.last);
  out += '/';
  append_decimal(out, size);
  out += "\r\n";
}

std::string_view authorization_of(const Request& request) {
  for (const HeaderField& field : request.fields) {
    if (equals_lower(field.name, "authorization")) return field.value;
  }
  return {};
}

// Not older than: a sibling left from a previous build would otherwise
// serve outdated content to every client that takes it. In whole seconds:
// the brotli tool copies its input's time truncated to seconds, so a
// finer comparison would refuse every .br it makes.
bool not_older(const struct stat& sibling, const struct stat& original) {
  return sibling.st_mtim.tv_sec >= original.st_mtim.tv_sec;
}

}  // namespace

bool names_dotfile(std::string_view relative) {
  if (relative.starts_with(".well-known")) {
    relative.remove_prefix(std::string_view(".well-known").size());
    if (relative.empty()) return false;
    if (relative.front() != '/') return true;  // ".well-knownX"
  } else if (relative.starts_with('.')) {
    return true;
  }
  return relative.find("/.") != std::string_view::npos;
}

StaticFileHandler::StaticFileHandler(const protocols::ServedTree& root, FileCache& cache,
                                     Options options)
    : root_(root), cache_(cache), options_(options), boundary_(make_boundary()) {}

ResponseSummary StaticFileHandler::respond_error(Status status, const ResponseContext& context,
                                                 ResponseOutput& out) {
  const std::string_view extra =
      status == Status::kMethodNotAllowed ? "Allow: GET, HEAD\r\n" : std::string_view();
  const uint64_t body = append_error_response(out.bytes(), status, context, extra);
  return ResponseSummary{status, body};
}

ResponseSummary StaticFileHandler::respond_refused(Status status, const Request& request,
                                                   const ResponseContext& context,
                                                   ResponseOutput& out) {
  if (status != Status::kMethodNotAllowed || !options_.cors) {
    return respond_error(status, context, out);
  }
  if (request.method_name == "OPTIONS") return respond_options(request, context, out);
  const uint64_t body =
      append_error_response(out.bytes(), status, context, "Allow: GET, HEAD, OPTIONS\r\n");
  return ResponseSummary{status, body};
}

ResponseSummary StaticFileHandler::respond_options(const Request& request,
                                                   const ResponseContext& context,
                                                   ResponseOutput& out) {
  std::string_view origin, requested_method, requested_headers;
  for (const HeaderField& field : request.fields) {
    if (equals_lower(field.name, "origin")) {
      origin = field.value;
    } else if (equals_lower(field.name, "access-control-request-method")) {
      requested_method = field.value;
    } else if (equals_lower(field.name, "access-control-request-headers")) {
      requested_headers = field.value;
    }
  }
  std::string& bytes = out.bytes();
  // Access-Control-Allow-Origin comes with the context's added fields.
  append_response_start(bytes, Status::kNoContent, context);
  bytes += "Allow: GET, HEAD, OPTIONS\r\n";
  if (!origin.empty() && !requested_method.empty()) {
    bytes += "Access-Control-Allow-Methods: GET, HEAD, OPTIONS\r\n";
    // Whatever headers the page means to send may come: the files do not
    // depend on them. Echoed only when it is a plain list of names.
    const bool names_only =
        std::all_of(requested_headers.begin(), requested_headers.end(), [](char c) {
          return is_token_char(static_cast<unsigned char>(c)) || c == ',' || c == ' ' || c == '\t';
        });
    if (!requested_headers.empty() && names_only) {
      bytes += "Access-Control-Allow-Headers: ";
      bytes += requested_headers;
      bytes += "\r\nVary: Access-Control-Request-Headers\r\n";
    }
    // Chromium caps the preflight cache at two hours; Firefox at one day.
    bytes += "Access-Control-Max-Age: 7200\r\n";
  }
  bytes += "\r\n";
  return ResponseSummary{Status::kNoContent, 0};
}

std::string_view StaticFileHandler::cache_control_for(std::string_view content_type) const {
  if (options_.cache_control) return *options_.cache_control;
  if (content_type.starts_with("text/html")) return "no-cache";
  return kDefaultCacheControl;
}

ResponseSummary StaticFileHandler::respond(const Request& request, const ResponseContext& context,
                                           Clock::time_point now, ResponseOutput& out) {
  if (options_.auth != nullptr && !options_.auth->check(authorization_of(request))) {
    const uint64_t body = append_error_response(
        out.bytes(), Status::kUnauthorized, context,
        "WWW-Authenticate: Basic realm=\"reactor-httpd\", charset=\"UTF-8\"\r\n");
    return ResponseSummary{Status::kUnauthorized, body};
  }
  if (auto decoded = decode_request_path(request.path, path_); !decoded) {
    return respond_error(decoded.error(), context, out);
  }
  if (options_.hide_dotfiles && names_dotfile(path_.relative)) {
    return respond_error(Status::kNotFound, context, out);
  }
  const FileCache::Lookup found = cache_.lookup(path_.relative, now);
  if (!found) {
    if (wants_fallback(found.error())) {
      const FileCache::Lookup fallback = cache_.lookup(options_.fallback, now);
      if (fallback && !fallback.value()->directory) {
        return serve_file(request, context, options_.fallback, *fallback.value(), now, out);
      }
    }
    return respond_open_error(found.error(), context, out);
  }
  if (found.value()->directory) return serve_directory(request, context, now, out);
  // "/file.txt/" names a directory that does not exist.
  if (path_.trailing_slash) return respond_error(Status::kNotFound, context, out);
  return serve_file(request, context, path_.relative, *found.value(), now, out);
}

bool StaticFileHandler::wants_fallback(std::error_code error) const {
  if (options_.fallback.empty() || path_.climbed) return false;
  if (error != std::errc::no_such_file_or_directory) return false;
  const size_t slash = path_.relative.rfind('/');
  const std::string_view last = slash == std::string::npos
                                    ? std::string_view(path_.relative)
                                    : std::string_view(path_.relative).substr(slash + 1);
  return last.find('.') == std::string_view::npos;
}

ResponseSummary StaticFileHandler::respond_open_error(std::error_code error,
                                                      const ResponseContext& context,
                                                      ResponseOutput& out) {
  using protocols::TreeErrc;
  if (error == TreeErrc::kNotServable || error == std::errc::permission_denied ||
      error == std::errc::operation_not_permitted) {
    return respond_error(Status::kForbidden, context, out);
  }
  if (error == std::errc::too_many_files_open ||
      error == std::errc::too_many_files_open_in_system || error == std::errc::not_enough_memory) {
    return respond_error(Status::kServiceUnavailable, context, out);
  }
  // ENOENT, ENOTDIR, ENAMETOOLONG, ELOOP, and a path that would leave the
  // root: all look the same from outside.
  return respond_error(Status::kNotFound, context, out);
}

ResponseSummary StaticFileHandler::serve_directory(const Request& request,
                                                   const ResponseContext& context,
                                                   Clock::time_point now, ResponseOutput& out) {
  if (!path_.trailing_slash) return redirect_to_directory(request, context, out);

  scratch_ = path_.relative;
  if (!scratch_.empty()) scratch_ += '/';
  scratch_ += "index.html";
  FileCache::Lookup index = cache_.lookup(scratch_, now);
  if (!index && index.error() == std::errc::no_such_file_or_directory) {
    scratch_.pop_back();  // index.htm, the name older tools write
    index = cache_.lookup(scratch_, now);
  }
  if (index && !index.value()->directory) {
    return serve_file(request, context, scratch_, *index.value(), now, out);
  }
  if (index || index.error() == std::errc::no_such_file_or_directory) {
    if (!options_.directory_listing) return respond_error(Status::kForbidden, context, out);
    return serve_listing(request, context, out);
  }
  return respond_open_error(index.error(), context, out);
}

ResponseSummary StaticFileHandler::redirect_to_directory(const Request& request,
                                                         const ResponseContext& context,
                                                         ResponseOutput& out) {
  scratch_.clear();
  scratch_ += "Location: ";
  append_encoded_path(scratch_, path_.relative, true);
  const size_t query = request.target.find('?');
  if (query != std::string_view::npos) scratch_ += request.target.substr(query);
  scratch_ += "\r\n";
  const uint64_t body =
      append_error_response(out.bytes(), Status::kMovedPermanently, context, scratch_);
  return ResponseSummary{Status::kMovedPermanently, body};
}

ResponseSummary StaticFileHandler::serve_listing(const Request& request,
                                                 const ResponseContext& context,
                                                 ResponseOutput& out) {
  const size_t question = request.target.find('?');
  const std::string_view query =
      question == std::string_view::npos ? std::string_view() : request.target.substr(question + 1);
  std::string_view accept;
  for (const HeaderField& field : request.fields) {
    if (equals_lower(field.name, "accept")) accept = field.value;
  }
  const ListingQuery listing_query = ListingQuery::parse(query, accept);
  scratch_.clear();
  if (!render_directory_listing(root_, path_.relative, listing_query, scratch_,
                                options_.hide_dotfiles)
           .ok()) {
    return respond_error(Status::kForbidden, context, out);
  }
  std::string& bytes = out.bytes();
  append_response_start(bytes, Status::kOk, context);
  bytes += listing_query.json ? "Content-Type: application/json\r\n"
                              : "Content-Type: text/html; charset=utf-8\r\n";
  if (const std::string_view policy = cache_control_for("text/html"); !policy.empty()) {
    append_field(bytes, "Cache-Control", policy);
  }
  // The same URL answers HTML or JSON depending on Accept.
  bytes += "Vary: Accept\r\n";
  append_content_length(bytes, scratch_.size());
  bytes += "\r\n";
  if (context.head_only) return ResponseSummary{Status::kOk, 0};
  bytes += scratch_;
  return ResponseSummary{Status::kOk, scratch_.size()};
}

std::shared_ptr<const CachedFile> StaticFileHandler::find_sibling(const std::string& relative,
                                                                  std::string_view suffix,
                                                                  const CachedFile& original,
                                                                  Clock::time_point now) {
  sibling_path_ = relative;
  sibling_path_ += suffix;
  // Through the cache, so through the served tree: a sibling that is a
  // link out of the root, a directory or a FIFO is no sibling.
  FileCache::Lookup found = cache_.lookup(sibling_path_, now);
  if (!found || found.value()->directory || !not_older(found.value()->info, original.info)) {
    return nullptr;
  }
  return std::move(found.value());
}

bool StaticFileHandler::choose_representation(const Request& request, const std::string& relative,
                                              const CachedFile& file, Clock::time_point now,
                                              Representation& chosen) {
  chosen.body = &file;
  chosen.content_type = file.content_type;
  chosen.entity_tag = file.entity_tag;
  if (!options_.precompressed) return true;

  std::shared_ptr<const CachedFile> brotli = find_sibling(relative, ".br", file, now);
  std::shared_ptr<const CachedFile> gzip = find_sibling(relative, ".gz", file, now);
  chosen.vary = brotli || gzip;
  const CodingChoice choice =
      choose_coding(parse_accept_encoding(request.fields), brotli != nullptr, gzip != nullptr);
  if (choice.refused) return false;
  if (choice.coding == Coding::kIdentity) return true;

  chosen.coding = choice.coding;
  chosen.sibling = choice.coding == Coding::kBrotli ? std::move(brotli) : std::move(gzip);
  chosen.body = chosen.sibling.get();
  // The sibling's own tag (its inode, size and time), marked with the
  // coding so that it can never equal the original's, even for a hard link.
  const std::string_view tag = chosen.sibling->entity_tag;
  sibling_tag_.assign(tag.substr(0, tag.size() - 1));
  sibling_tag_ += '-';
  sibling_tag_ += coding_name(choice.coding);
  sibling_tag_ += '"';
  chosen.entity_tag = sibling_tag_;
  return true;
}

void StaticFileHandler::append_representation_fields(std::string& out,
                                                     const Representation& chosen) const {
  out += "Last-Modified: ";
  out += chosen.body->last_modified;
  out += "\r\nETag: ";
  out += chosen.entity_tag;
  out += "\r\n";
  if (chosen.coding != Coding::kIdentity) {
    out += "Content-Encoding: ";
    out += coding_name(chosen.coding);
    out += "\r\n";
  }
  if (chosen.vary) out += "Vary: Accept-Encoding\r\n";
  if (const std::string_view policy = cache_control_for(chosen.content_type); !policy.empty()) {
    append_field(out, "Cache-Control", policy);
  }
}

ResponseSummary StaticFileHandler::serve_file(const Request& request,
                                              const ResponseContext& context,
                                              const std::string& relative, const CachedFile& file,
                                              Clock::time_point now, ResponseOutput& out) {
  Representation chosen;
  if (!choose_representation(request, relative, file, now, chosen)) {
    return respond_error(Status::kNotAcceptable, context, out);
  }
  const CachedFile& body = *chosen.body;
  const Validators validators{chosen.entity_tag, body.info.st_mtim.tv_sec};
  std::string& bytes = out.bytes();
  switch (evaluate_preconditions(request, validators)) {
    case Precondition::kNotModified:
      append_response_start(bytes, Status::kNotModified, context);
      append_representation_fields(bytes, chosen);
      bytes += "\r\n";
      return ResponseSummary{Status::kNotModified, 0};
    case Precondition::kFailed:
      return respond_error(Status::kPreconditionFailed, context, out);
    case Precondition::kProceed:
      break;
  }

  const auto size = static_cast<uint64_t>(body.info.st_size);
  if (!request.range.empty() && if_range_permits(request.if_range, validators)) {
    const RangeSet ranges = parse_range(request.range, size);
    if (ranges.outcome == RangeSet::Outcome::kUnsatisfiable) {
      scratch_ = "Content-Range: bytes */";
      append_decimal(scratch_, size);
      scratch_ += "\r\n";
      if (chosen.vary) scratch_ += "Vary: Accept-Encoding\r\n";
      const uint64_t sent =
          append_error_response(bytes, Status::kRangeNotSatisfiable, context, scratch_);
      return ResponseSummary{Status::kRangeNotSatisfiable, sent};
    }
    if (ranges.outcome == RangeSet::Outcome::kSatisfiable) {
      if (ranges.count > 1) return serve_multipart(context, chosen, ranges, out);
      const ByteRange& range = ranges.ranges[0];
      append_response_start(bytes, Status::kPartialContent, context);
      bytes += "Content-Type: ";
      bytes += chosen.content_type;
      bytes += "\r\n";
      append_content_length(bytes, range.length());
      append_content_range(bytes, range, size);
      append_representation_fields(bytes, chosen);
      bytes += "Accept-Ranges: bytes\r\n\r\n";
      if (context.head_only) return ResponseSummary{Status::kPartialContent, 0};
      append_body(body, range.first, range.length(), out);
      return ResponseSummary{Status::kPartialContent, range.length()};
    }
  }

  append_response_start(bytes, Status::kOk, context);
  bytes += "Content-Type: ";
  bytes += chosen.content_type;
  bytes += "\r\n";
  append_content_length(bytes, size);
  append_representation_fields(bytes, chosen);
  bytes += "Accept-Ranges: bytes\r\n\r\n";
  if (context.head_only) return ResponseSummary{Status::kOk, 0};
  append_body(body, 0, size, out);
  return ResponseSummary{Status::kOk, size};
}

ResponseSummary StaticFileHandler::serve_multipart(const ResponseContext& context,
                                                   const Representation& chosen,
                                                   const RangeSet& ranges, ResponseOutput& out) {
  const CachedFile& file = *chosen.body;
  const auto size = static_cast<uint64_t>(file.info.st_size);
  // Each part: CRLF "--" boundary CRLF, its fields, CRLF, then the bytes.
  // The part heads are built first so Content-Length is exact.
  std::string& heads = scratch_;
  heads.clear();
  size_t part_head_end[RangeSet::kMaxRanges];
  uint64_t body_length = 0;
  for (size_t i = 0; i < ranges.count; ++i) {
    heads += "\r\n--";
    heads += boundary_;
    heads += "\r\nContent-Type: ";
    heads += chosen.content_type;
    heads += "\r\n";
    append_content_range(heads, ranges.ranges[i], size);
    heads += "\r\n";
    part_head_end[i] = heads.size();
    body_length += ranges.ranges[i].length();
  }
  const size_t closing_begin = heads.size();
  heads += "\r\n--";
  heads += boundary_;
  heads += "--\r\n";
  body_length += heads.size();

  std::string& bytes = out.bytes();
  append_response_start(bytes, Status::kPartialContent, context);
  bytes += "Content-Type: multipart/byteranges; boundary=";
  bytes += boundary_;
  bytes += "\r\n";
  append_content_length(bytes, body_length);
  append_representation_fields(bytes, chosen);
  bytes += "Accept-Ranges: bytes\r\n\r\n";
  if (context.head_only) return ResponseSummary{Status::kPartialContent, 0};
  size_t head_begin = 0;
  for (size_t i = 0; i < ranges.count; ++i) {
    bytes.append(heads, head_begin, part_head_end[i] - head_begin);
    head_begin = part_head_end[i];
    append_body(file, ranges.ranges[i].first, ranges.ranges[i].length(), out);
  }
  bytes.append(heads, closing_begin, std::string::npos);
  return ResponseSummary{Status::kPartialContent, body_length};
}

void StaticFileHandler::append_body(const CachedFile& file, uint64_t offset, uint64_t length,
                                    ResponseOutput& out) {
  if (file.inline_content) {
    out.bytes().append(file.content, static_cast<size_t>(offset), static_cast<size_t>(length));
  } else {
    out.append_file(file.file, static_cast<off_t>(offset), static_cast<size_t>(length));
  }
}

}  // namespace reactor::http
