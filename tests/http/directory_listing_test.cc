// Unit tests of the HTML directory listing.
#include <doctest/doctest.h>

#include <sys/stat.h>

#include <string>

#include "protocols/common/served_tree.h"
#include "protocols/http/directory_listing.h"
#include "temp_tree.h"

using http_test::TempTree;
using reactor::http::render_directory_listing;
using reactor::protocols::ServedTree;

namespace {

std::string listing(const ServedTree& root, const std::string& relative) {
  std::string html;
  REQUIRE(render_directory_listing(root, relative, html).ok());
  return html;
}

}  // namespace

TEST_CASE("listing: names escaped, links encoded, sizes and times shown, sorted") {
  TempTree tree;
  tree.write_file("site/b.txt", "12345");
  tree.write_file("site/a <b>&\"c'.txt", "x");
  tree.write_file("site/caf\xc3\xa9 2.txt", "");
  tree.write_file("site/zdir/inner.txt", "i");
  tree.make_directory("site/adir");
  tree.set_mtime("site/b.txt", 784111777);
  const ServedTree root(tree / "site");
  const std::string html = listing(root, "");

  CHECK(html.find("<title>Index of /</title>") != std::string::npos);
  // Escaped text and encoded links: the name cannot break out of either.
  CHECK(html.find("<a href=\"a%20%3Cb%3E%26%22c%27.txt\">a &lt;b&gt;&amp;&quot;c&#39;.txt</a>") !=
        std::string::npos);
  CHECK(html.find("<a href=\"caf%C3%A9%202.txt\">caf\xc3\xa9 2.txt</a>") != std::string::npos);
  CHECK(html.find("<b>") == std::string::npos);
  // Size and modification time (UTC).
  CHECK(html.find(
            "<a href=\"b.txt\">b.txt</a></td><td class=\"size\">5</td><td>1994-11-06 08:49</td>") !=
        std::string::npos);
  // Directories first with a trailing slash, then files, each sorted.
  const size_t adir = html.find("href=\"adir/\"");
  const size_t zdir = html.find("href=\"zdir/\"");
  const size_t a_file = html.find("href=\"a%20");
  const size_t b_file = html.find("href=\"b.txt\"");
  REQUIRE(adir != std::string::npos);
  REQUIRE(zdir != std::string::npos);
  CHECK(adir < zdir);
  CHECK(zdir < a_file);
  CHECK(a_file < b_file);
  // No parent link at the root.
  CHECK(html.find("href=\"../\"") == std::string::npos);
}

TEST_CASE("listing: subdirectory has a parent link and its own title") {
  TempTree tree;
  tree.write_file("site/sub dir/x.txt", "x");
  const ServedTree root(tree / "site");
  const std::string html = listing(root, "sub dir");
  CHECK(html.find("<title>Index of /sub dir/</title>") != std::string::npos);
  CHECK(html.find("<a href=\"../\">../</a>") != std::string::npos);
  CHECK(html.find("href=\"x.txt\"") != std::string::npos);
}

TEST_CASE("listing: links leading outside the root and special files are not shown") {
  TempTree tree;
  tree.write_file("secret-outside.txt", "s");
  tree.write_file("site/visible.txt", "v");
  tree.make_symlink("site/inside-link", "visible.txt");
  tree.make_symlink("site/outside-link", "../secret-outside.txt");
  tree.make_symlink("site/absolute-link", tree / "secret-outside.txt");
  tree.make_symlink("site/dangling-link", "nowhere");
  REQUIRE(::mkfifo((tree / "site/a-fifo").c_str(), 0644) == 0);
  const ServedTree root(tree / "site");
  const std::string html = listing(root, "");
  CHECK(html.find("visible.txt") != std::string::npos);
  CHECK(html.find("inside-link") != std::string::npos);
  CHECK(html.find("outside-link") == std::string::npos);
  CHECK(html.find("absolute-link") == std::string::npos);
  CHECK(html.find("secret") == std::string::npos);
  CHECK(html.find("dangling-link") == std::string::npos);
  CHECK(html.find("a-fifo") == std::string::npos);
}

TEST_CASE("listing: a missing directory or a file is not listed") {
  TempTree tree;
  tree.write_file("site/file.txt", "f");
  const ServedTree root(tree / "site");
  std::string html;
  CHECK_FALSE(render_directory_listing(root, "missing", html).ok());
  CHECK_FALSE(render_directory_listing(root, "file.txt", html).ok());
}
