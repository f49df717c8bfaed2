// The site the integration tests serve: known files of every kind the
// server distinguishes (inline-small, sendfile-large, odd names, nested
// directories, an index, a listing, links in and out), next to a secret
// that must never be served.
#pragma once

#include <string>

#include "temp_tree.h"

namespace http_test {

struct TestSite {
  TestSite();
  std::string root() const { return tree / "site"; }

  TempTree tree;
  std::string small;  // site/small.txt, served inline
  std::string large;  // site/large.bin, 3 MiB, served with sendfile
};

inline constexpr const char* kSecret = "THE-SECRET-OUTSIDE-THE-ROOT";

}  // namespace http_test
