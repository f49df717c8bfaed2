// TempTree: a scratch directory for a test, filled with files, folders and
// symlinks, removed (recursively) when the object goes away.
#pragma once

#include <string>
#include <string_view>

namespace http_test {

class TempTree {
 public:
  TempTree();
  ~TempTree();
  TempTree(const TempTree&) = delete;
  TempTree& operator=(const TempTree&) = delete;

  const std::string& path() const { return path_; }
  std::string operator/(std::string_view relative) const {
    return path_ + "/" + std::string(relative);
  }

  // Creates parent directories as needed.
  void write_file(std::string_view relative, std::string_view content) const;
  void make_directory(std::string_view relative) const;
  void make_symlink(std::string_view relative, const std::string& target) const;
  // Sets the modification time (seconds since the epoch).
  void set_mtime(std::string_view relative, long seconds) const;

 private:
  std::string path_;
};

// Reads a whole file; throws if it cannot.
std::string read_file(const std::string& path);

}  // namespace http_test
