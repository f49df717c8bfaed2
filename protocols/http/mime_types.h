// MimeTypes: file extension -> Content-Type.
//
// A built-in table covers the web's common types; a mime.types file (the
// system's /etc/mime.types when present) is read on top of it, so the
// system's choices win and the built-in table only fills its gaps. Text
// types get "; charset=utf-8" so browsers do not guess the encoding.
//
// Threading: build once, then read-only; lookups from any thread.
#pragma once

#include <functional>
#include <string>
#include <string_view>
#include <unordered_map>

namespace reactor::http {

class MimeTypes {
 public:
  static constexpr std::string_view kSystemFile = "/etc/mime.types";
  static constexpr std::string_view kDefaultType = "application/octet-stream";

  // The built-in table only.
  MimeTypes();

  // The built-in table plus /etc/mime.types if it can be read.
  static MimeTypes with_system_types();

  // Adds the mappings of a mime.types file ("type ext ext..." lines, '#'
  // comments). Returns false, changing nothing, if it cannot be read.
  bool load_file(const std::string& path);
  // Adds or replaces one mapping; `extension` without the dot.
  void add(std::string_view extension, std::string_view media_type);
  // The type of names with no known extension (kDefaultType unless set).
  void set_default_type(std::string_view media_type) { default_type_ = media_type; }

  // The Content-Type for a file name, by its last extension, case-blind:
  // "text/html; charset=utf-8" for "INDEX.HTML", kDefaultType when unknown.
  std::string_view content_type_for(std::string_view file_name) const;

  size_t size() const { return by_extension_.size(); }

 private:
  struct Hash {
    using is_transparent = void;
    size_t operator()(std::string_view text) const { return std::hash<std::string_view>{}(text); }
  };
  std::unordered_map<std::string, std::string, Hash, std::equal_to<>> by_extension_;
  std::string default_type_{kDefaultType};
};

}  // namespace reactor::http
