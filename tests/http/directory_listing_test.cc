// Unit tests of the HTML directory listing.
#include <doctest/doctest.h>

#include <sys/stat.h>

#include <string>

#include "protocols/common/served_tree.h"
#include "protocols/http/directory_listing.h"
#include "temp_tree.h"

using http_test::TempTree;
using reactor::http::append_human_size;
using reactor::http::ListingQuery;
using reactor::http::render_directory_listing;
using reactor::protocols::ServedTree;

namespace {

std::string listing(const ServedTree& root, const std::string& relative,
                    const ListingQuery& query = {}) {
  std::string html;
  REQUIRE(render_directory_listing(root, relative, query, html).ok());
  return html;
}

std::string human(uint64_t bytes) {
  std::string text;
  append_human_size(text, bytes);
  return text;
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
  CHECK(html.find("<a href=\"b.txt\">b.txt</a></td><td title=\"5 bytes\">5 B</td>"
                  "<td>1994-11-06 08:49</td>") != std::string::npos);
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
  CHECK_FALSE(render_directory_listing(root, "missing", {}, html).ok());
  CHECK_FALSE(render_directory_listing(root, "file.txt", {}, html).ok());
}

TEST_CASE("listing: human sizes") {
  CHECK(human(0) == "0 B");
  CHECK(human(1023) == "1023 B");
  CHECK(human(1024) == "1.0 KiB");
  CHECK(human(1535) == "1.5 KiB");
  CHECK(human(10 * 1024 - 1) == "10 KiB");  // 9.999 rounds up, shown without a decimal
  CHECK(human(123 * 1024 * 1024 + 5) == "123 MiB");
  CHECK(human(5ull << 40) == "5.0 TiB");
  CHECK(human(UINT64_MAX) == "16 EiB");
}

TEST_CASE("listing: ?sort= and &order= by name, size and date; directories stay first") {
  TempTree tree;
  tree.write_file("site/a-big.txt", std::string(3000, 'x'));
  tree.write_file("site/b-small.txt", "x");
  tree.write_file("site/c-mid.txt", std::string(200, 'x'));
  tree.make_directory("site/zdir");
  tree.set_mtime("site/a-big.txt", 1'000'000'000);
  tree.set_mtime("site/b-small.txt", 1'500'000'000);
  tree.set_mtime("site/c-mid.txt", 1'200'000'000);
  const ServedTree root(tree / "site");
  auto order_of = [&](const std::string& query) {
    const std::string html = listing(root, "", ListingQuery::parse(query, ""));
    // The rows' first letters, in the order they appear.
    std::string letters;
    for (size_t position = 0; position < html.size(); ++position) {
      if (html.compare(position, 11, "href=\"zdir/") == 0) letters += 'z';
      if (html.compare(position, 11, "href=\"a-big") == 0) letters += 'a';
      if (html.compare(position, 13, "href=\"b-small") == 0) letters += 'b';
      if (html.compare(position, 11, "href=\"c-mid") == 0) letters += 'c';
    }
    return letters;
  };
  CHECK(order_of("") == "zabc");
  CHECK(order_of("sort=name&order=desc") == "zcba");
  CHECK(order_of("sort=size") == "zbca");
  CHECK(order_of("sort=size&order=desc") == "zacb");
  CHECK(order_of("sort=date") == "zacb");
  CHECK(order_of("order=desc&sort=date") == "zbca");
  CHECK(order_of("sort=bogus&order=sideways") == "zabc");
  // The header of the current key links to the reverse order.
  const std::string html = listing(root, "", ListingQuery::parse("sort=size", ""));
  CHECK(html.find("<a href=\"?sort=size&amp;order=desc\">Size &#9650;</a>") != std::string::npos);
  CHECK(html.find("<a href=\"?sort=date\">Last modified (UTC)</a>") != std::string::npos);
}

TEST_CASE("listing: JSON by ?format=json or by Accept") {
  CHECK(ListingQuery::parse("format=json", "").json);
  CHECK(ListingQuery::parse("", "application/json").json);
  CHECK(ListingQuery::parse("", "application/json, text/html;q=0.5").json);
  CHECK_FALSE(ListingQuery::parse("", "text/html,application/xhtml+xml,*/*;q=0.8").json);
  CHECK_FALSE(ListingQuery::parse("format=html", "application/json").json);
  CHECK_FALSE(ListingQuery::parse("", "").json);

  TempTree tree;
  tree.write_file("site/q\"uote.txt", "12345");
  tree.write_file("site/bad-\xff-utf8", "");
  tree.make_directory("site/sub");
  tree.set_mtime("site/q\"uote.txt", 784111777);
  const ServedTree root(tree / "site");
  const std::string json = listing(root, "", ListingQuery::parse("format=json", ""));
  CHECK(json.starts_with("{"));
  CHECK(json.find("\"path\":\"/\"") != std::string::npos);
  CHECK(json.find("\"truncated\":false") != std::string::npos);
  CHECK(
      json.find("{\"mtime\":784111777,\"name\":\"q\\\"uote.txt\",\"size\":5,\"type\":\"file\"}") !=
      std::string::npos);
  CHECK(json.find("\"name\":\"sub\",\"size\":0,\"type\":\"directory\"") != std::string::npos);
  // A name that is not UTF-8 is carried with a replacement character.
  CHECK(json.find("bad-\xef\xbf\xbd-utf8") != std::string::npos);
}
