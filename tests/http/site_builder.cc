#include "site_builder.h"

namespace http_test {

TestSite::TestSite() {
  small = "Hello, small world!\n";
  large.resize(3 * 1024 * 1024);
  uint32_t state = 12345;
  for (char& c : large) {
    state = state * 1103515245u + 12345u;
    c = static_cast<char>(state >> 16);
  }
  tree.write_file("secret.txt", kSecret);
  tree.write_file("site/index.html", "<!DOCTYPE html><title>home</title><h1>home</h1>\n");
  tree.write_file("site/small.txt", small);
  tree.write_file("site/large.bin", large);
  tree.write_file("site/style.css", "body { color: black; }\n");
  tree.write_file("site/with space.txt", "spaces\n");
  tree.write_file("site/caf\xc3\xa9.txt", "utf-8 name\n");
  tree.write_file("site/empty.txt", "");
  tree.write_file("site/dir/nested.txt", "nested\n");
  tree.write_file("site/dir/deeper/x.txt", "x\n");
  tree.write_file("site/withindex/index.html", "<h1>sub index</h1>\n");
  tree.make_symlink("site/link-inside.txt", "small.txt");
  tree.make_symlink("site/link-outside.txt", "../secret.txt");
  tree.make_symlink("site/link-absolute.txt", tree / "secret.txt");
  tree.make_symlink("site/link-up-dir", "..");
}

}  // namespace http_test
