#include "protocols/http/static_file_handler.h"

#include <cstdio>
#include <random>

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

void append_validators(std::string& out, const CachedFile& file) {
  out += "Last-Modified: ";
  out += file.last_modified;
  out += "\r\nETag: ";
  out += file.entity_tag;
  out += "\r\n";
}

}  // namespace

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

ResponseSummary StaticFileHandler::respond(const Request& request, const ResponseContext& context,
                                           Clock::time_point now, ResponseOutput& out) {
  if (auto decoded = decode_request_path(request.path, path_); !decoded) {
    return respond_error(decoded.error(), context, out);
  }
  const FileCache::Lookup found = cache_.lookup(path_.relative, now);
  if (!found) return respond_open_error(found.error(), context, out);
  if (found.value()->directory) return serve_directory(request, context, now, out);
  // "/file.txt/" names a directory that does not exist.
  if (path_.trailing_slash) return respond_error(Status::kNotFound, context, out);
  return serve_file(request, context, *found.value(), out);
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
  const FileCache::Lookup index = cache_.lookup(scratch_, now);
  if (index && !index.value()->directory) return serve_file(request, context, *index.value(), out);
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
  if (!render_directory_listing(root_, path_.relative, listing_query, scratch_).ok()) {
    return respond_error(Status::kForbidden, context, out);
  }
  std::string& bytes = out.bytes();
  append_response_start(bytes, Status::kOk, context);
  bytes += listing_query.json ? "Content-Type: application/json\r\n"
                              : "Content-Type: text/html; charset=utf-8\r\n";
  // The same URL answers HTML or JSON depending on Accept.
  bytes += "Cache-Control: no-cache\r\nVary: Accept\r\n";
  append_content_length(bytes, scratch_.size());
  bytes += "\r\n";
  if (context.head_only) return ResponseSummary{Status::kOk, 0};
  bytes += scratch_;
  return ResponseSummary{Status::kOk, scratch_.size()};
}

ResponseSummary StaticFileHandler::serve_file(const Request& request,
                                              const ResponseContext& context,
                                              const CachedFile& file, ResponseOutput& out) {
  const Validators validators{file.entity_tag, file.info.st_mtim.tv_sec};
  std::string& bytes = out.bytes();
  switch (evaluate_preconditions(request, validators)) {
    case Precondition::kNotModified:
      append_response_start(bytes, Status::kNotModified, context);
      append_validators(bytes, file);
      bytes += "\r\n";
      return ResponseSummary{Status::kNotModified, 0};
    case Precondition::kFailed:
      return respond_error(Status::kPreconditionFailed, context, out);
    case Precondition::kProceed:
      break;
  }

  const auto size = static_cast<uint64_t>(file.info.st_size);
  if (!request.range.empty() && if_range_permits(request.if_range, validators)) {
    const RangeSet ranges = parse_range(request.range, size);
    if (ranges.outcome == RangeSet::Outcome::kUnsatisfiable) {
      scratch_ = "Content-Range: bytes */";
      append_decimal(scratch_, size);
      scratch_ += "\r\n";
      const uint64_t body =
          append_error_response(bytes, Status::kRangeNotSatisfiable, context, scratch_);
      return ResponseSummary{Status::kRangeNotSatisfiable, body};
    }
    if (ranges.outcome == RangeSet::Outcome::kSatisfiable) {
      if (ranges.count > 1) return serve_multipart(context, file, ranges, out);
      const ByteRange& range = ranges.ranges[0];
      append_response_start(bytes, Status::kPartialContent, context);
      bytes += "Content-Type: ";
      bytes += file.content_type;
      bytes += "\r\n";
      append_content_length(bytes, range.length());
      append_content_range(bytes, range, size);
      append_validators(bytes, file);
      bytes += "Accept-Ranges: bytes\r\n\r\n";
      if (context.head_only) return ResponseSummary{Status::kPartialContent, 0};
      append_body(file, range.first, range.length(), out);
      return ResponseSummary{Status::kPartialContent, range.length()};
    }
  }

  append_response_start(bytes, Status::kOk, context);
  bytes += "Content-Type: ";
  bytes += file.content_type;
  bytes += "\r\n";
  append_content_length(bytes, size);
  append_validators(bytes, file);
  bytes += "Accept-Ranges: bytes\r\n\r\n";
  if (context.head_only) return ResponseSummary{Status::kOk, 0};
  append_body(file, 0, size, out);
  return ResponseSummary{Status::kOk, size};
}

ResponseSummary StaticFileHandler::serve_multipart(const ResponseContext& context,
                                                   const CachedFile& file, const RangeSet& ranges,
                                                   ResponseOutput& out) {
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
    heads += file.content_type;
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
  append_validators(bytes, file);
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
