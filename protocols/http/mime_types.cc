#include "protocols/http/mime_types.h"

#include <fstream>
#include <sstream>

#include <spdlog/spdlog.h>

#include "protocols/http/char_class.h"
#include "protocols/http/header_text.h"

namespace reactor::http {

namespace {

// "type/subtype", both tokens: what may go into Content-Type as is.
bool is_media_type(std::string_view text) {
  const size_t slash = text.find('/');
  if (slash == std::string_view::npos || slash == 0 || slash + 1 == text.size()) return false;
  for (size_t i = 0; i < text.size(); ++i) {
    if (i != slash && !is_token_char(static_cast<unsigned char>(text[i]))) return false;
  }
  return true;
}

struct BuiltinType {
  std::string_view extension;
  std::string_view media_type;
};

constexpr BuiltinType kBuiltinTypes[] = {
    {"html", "text/html"},       {"htm", "text/html"},
    {"css", "text/css"},         {"js", "text/javascript"},
    {"mjs", "text/javascript"},  {"json", "application/json"},
    {"map", "application/json"}, {"webmanifest", "application/manifest+json"},
    {"xml", "application/xml"},  {"txt", "text/plain"},
    {"md", "text/markdown"},     {"csv", "text/csv"},
    {"svg", "image/svg+xml"},    {"png", "image/png"},
    {"jpg", "image/jpeg"},       {"jpeg", "image/jpeg"},
    {"gif", "image/gif"},        {"webp", "image/webp"},
    {"avif", "image/avif"},      {"ico", "image/vnd.microsoft.icon"},
    {"bmp", "image/bmp"},        {"woff", "font/woff"},
    {"woff2", "font/woff2"},     {"ttf", "font/ttf"},
    {"otf", "font/otf"},         {"wasm", "application/wasm"},
    {"pdf", "application/pdf"},  {"zip", "application/zip"},
    {"gz", "application/gzip"},  {"tar", "application/x-tar"},
    {"mp3", "audio/mpeg"},       {"ogg", "audio/ogg"},
    {"wav", "audio/wav"},        {"mp4", "video/mp4"},
    {"webm", "video/webm"},
};

// Types whose content is text in some charset, so browsers need to know it.
bool is_textual(std::string_view type) {
  if (type.starts_with("text/")) return true;
  if (type.ends_with("+json") || type.ends_with("+xml")) return true;
  return type == "application/json" || type == "application/javascript" ||
         type == "application/xml" || type == "application/ecmascript";
}

std::string to_lower(std::string_view text) {
  std::string lower(text);
  for (char& c : lower) c = to_lower_ascii(c);
  return lower;
}

}  // namespace

MimeTypes::MimeTypes() {
  for (const BuiltinType& entry : kBuiltinTypes) add(entry.extension, entry.media_type);
}

MimeTypes MimeTypes::with_system_types() {
  MimeTypes types;
  types.load_file(std::string(kSystemFile));
  return types;
}

bool MimeTypes::load_file(const std::string& path) {
  std::ifstream file(path);
  if (!file) return false;
  std::string line;
  for (int number = 1; std::getline(file, line); ++number) {
    const size_t hash = line.find('#');
    if (hash != std::string::npos) line.resize(hash);
    std::istringstream words(line);
    std::string type;
    if (!(words >> type)) continue;
    if (!is_media_type(type)) {
      // It would go into every matching response's Content-Type as is.
      spdlog::warn("{}:{}: '{}' is not a media type (type/subtype); line skipped", path, number,
                   type);
      continue;
    }
    std::string extension;
    while (words >> extension) add(extension, type);
  }
  return true;
}

void MimeTypes::add(std::string_view extension, std::string_view media_type) {
  std::string value(to_lower(media_type));
  if (is_textual(value)) value += "; charset=utf-8";
  by_extension_.insert_or_assign(to_lower(extension), std::move(value));
}

std::string_view MimeTypes::content_type_for(std::string_view file_name) const {
  const size_t slash = file_name.rfind('/');
  if (slash != std::string_view::npos) file_name.remove_prefix(slash + 1);
  const size_t dot = file_name.rfind('.');
  // No extension, or a dot file such as ".profile" (a name, not a type).
  if (dot == std::string_view::npos || dot == 0 || dot + 1 == file_name.size()) {
    return default_type_;
  }
  const std::string_view extension = file_name.substr(dot + 1);
  char lower[32];
  if (extension.size() > sizeof lower) return default_type_;
  for (size_t i = 0; i < extension.size(); ++i) lower[i] = to_lower_ascii(extension[i]);
  const auto found = by_extension_.find(std::string_view(lower, extension.size()));
  return found == by_extension_.end() ? default_type_ : std::string_view(found->second);
}

}  // namespace reactor::http
