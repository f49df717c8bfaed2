#include "protocols/http/url_path.h"

#include "protocols/http/char_class.h"

namespace reactor::http {

protocols::Result<void, Status> decode_request_path(std::string_view encoded, DecodedPath& out) {
  std::string& path = out.relative;
  path.clear();
  path.reserve(encoded.size());
  // Pass 1: percent-decoding.
  for (size_t i = 0; i < encoded.size(); ++i) {
    char c = encoded[i];
    if (c == '%') {
      if (i + 2 >= encoded.size()) return Status::kBadRequest;
      const int high = hex_value(static_cast<unsigned char>(encoded[i + 1]));
      const int low = hex_value(static_cast<unsigned char>(encoded[i + 2]));
      if (high < 0 || low < 0) return Status::kBadRequest;
      c = static_cast<char>(high * 16 + low);
      i += 2;
    }
    if (c == '\0') return Status::kBadRequest;
    path.push_back(c);
  }

  // Pass 2: segment normalisation, in place (the write index never passes
  // the read index). `write` is the length of the normalised prefix, which
  // holds segments separated by '/', without leading or trailing '/'.
  size_t write = 0;
  size_t read = 0;
  bool directory_form = false;
  out.climbed = false;
  const size_t length = path.size();
  while (read <= length) {
    size_t segment_end = path.find('/', read);
    if (segment_end == std::string::npos) segment_end = length;
    const std::string_view segment(path.data() + read, segment_end - read);
    const bool last = segment_end == length;
    if (segment.empty() || segment == ".") {
      directory_form = last;
    } else if (segment == "..") {
      const size_t slash = write == 0 ? std::string::npos : path.rfind('/', write - 1);
      write = slash == std::string::npos ? 0 : slash;
      directory_form = last;
      out.climbed = true;
    } else {
      if (write > 0) path[write++] = '/';
      // memmove semantics: the source is at or after the destination.
      for (char ch : segment) path[write++] = ch;
      directory_form = false;
    }
    read = segment_end + 1;
  }
  path.resize(write);
  out.trailing_slash = directory_form;
  return {};
}

void append_encoded_segment(std::string& out, std::string_view segment) {
  static constexpr char kHex[] = "0123456789ABCDEF";
  for (unsigned char c : segment) {
    if (is_unreserved_char(c)) {
      out.push_back(static_cast<char>(c));
    } else {
      out.push_back('%');
      out.push_back(kHex[c >> 4]);
      out.push_back(kHex[c & 15]);
    }
  }
}

void append_encoded_path(std::string& out, std::string_view relative, bool trailing_slash) {
  out.push_back('/');
  while (!relative.empty()) {
    const size_t slash = relative.find('/');
    append_encoded_segment(out, relative.substr(0, slash));
    if (slash == std::string_view::npos) break;
    out.push_back('/');
    relative.remove_prefix(slash + 1);
  }
  if (trailing_slash && out.back() != '/') out.push_back('/');
}

}  // namespace reactor::http
