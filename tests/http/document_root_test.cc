// Unit tests of DocumentRoot: hostile paths and symlinks never open
// anything outside the root, with both confinement strategies.
#include <doctest/doctest.h>

#include <unistd.h>

#include <cerrno>
#include <filesystem>
#include <string>

#include "protocols/http/document_root.h"
#include "protocols/http/url_path.h"
#include "temp_tree.h"

using http_test::TempTree;
using reactor::http::decode_request_path;
using reactor::http::DecodedPath;
using reactor::http::DocumentRoot;

namespace {

// A root "site/" next to a "secret" file, with every kind of link.
struct Fixture {
  Fixture() {
    tree.write_file("secret.txt", "TOP SECRET");
    tree.write_file("site/index.html", "<h1>hi</h1>");
    tree.write_file("site/dir/inner.txt", "inner");
    tree.write_file("site/a b/c\xc3\xa9.txt", "unicode");
    tree.make_symlink("site/link-inside", "dir/inner.txt");
    tree.make_symlink("site/dir/link-up-inside", "../index.html");
    tree.make_symlink("site/link-relative-out", "../secret.txt");
    tree.make_symlink("site/link-absolute-out", tree / "secret.txt");
    tree.make_symlink("site/link-dir-out", tree.path());
    tree.make_symlink("site/link-root", "/");
    tree.make_symlink("site/loop", "loop");
  }
  std::string site() const { return tree / "site"; }
  TempTree tree;
};

// Decodes a URL path like the server does, then opens it.
DocumentRoot::OpenResult open_url(const DocumentRoot& root, const std::string& url) {
  DecodedPath path;
  if (!decode_request_path(url, path)) {
    DocumentRoot::OpenResult refused;
    refused.error = EINVAL;
    return refused;
  }
  return root.open(path.relative);
}

std::string content_of(const DocumentRoot::OpenResult& opened) {
  std::string content(static_cast<size_t>(opened.info.st_size), '\0');
  REQUIRE(::pread(opened.fd.get(), content.data(), content.size(), 0) ==
          static_cast<ssize_t>(content.size()));
  return content;
}

void check_confinement(DocumentRoot::Strategy strategy) {
  Fixture fixture;
  const DocumentRoot root(fixture.site(), strategy);
  REQUIRE(root.strategy() == strategy);

  SUBCASE("ordinary files, directories and inside links open") {
    CHECK(content_of(open_url(root, "/index.html")) == "<h1>hi</h1>");
    CHECK(content_of(open_url(root, "/dir/inner.txt")) == "inner");
    CHECK(content_of(open_url(root, "/a%20b/c%C3%A9.txt")) == "unicode");
    CHECK(content_of(open_url(root, "/link-inside")) == "inner");
    CHECK(content_of(open_url(root, "/dir/link-up-inside")) == "<h1>hi</h1>");
    const auto top = open_url(root, "/");
    REQUIRE(top.fd);
    CHECK(S_ISDIR(top.info.st_mode));
  }

  SUBCASE("hostile paths never reach the secret") {
    const char* hostile[] = {
        "/../secret.txt",
        "/../../secret.txt",
        "/%2e%2e/secret.txt",
        "/%2E%2E%2Fsecret.txt",
        "/dir/../../secret.txt",
        "/dir/%2e%2e/%2e%2e/secret.txt",
        "/..%2f..%2fsecret.txt",
        "/..\\secret.txt",
        "/..%5Csecret.txt",
        "//secret.txt",
        "/link-relative-out",
        "/link-absolute-out",
        "/link-dir-out/secret.txt",
        "/link-dir-out",
        "/link-root/etc/passwd",
        "/link-root",
        "/loop",
    };
    for (const char* url : hostile) {
      CAPTURE(url);
      const DocumentRoot::OpenResult opened = open_url(root, url);
      // Each of these names nothing inside the root (the dot segments are
      // clamped at the root, where there is no secret.txt).
      CHECK_FALSE(opened.fd.valid());
      CHECK(opened.error != 0);
      if (opened.fd && S_ISREG(opened.info.st_mode)) CHECK(content_of(opened) != "TOP SECRET");
    }
  }

  SUBCASE("escaping links report EXDEV, missing files ENOENT") {
    CHECK(open_url(root, "/link-relative-out").error == EXDEV);
    CHECK(open_url(root, "/link-absolute-out").error == EXDEV);
    CHECK(open_url(root, "/nope.txt").error == ENOENT);
  }
}

}  // namespace

TEST_CASE("document root: openat2 RESOLVE_BENEATH confinement") {
  // The machine may forbid openat2 (old kernel, seccomp); the fallback is
  // tested below either way.
  Fixture probe;
  const DocumentRoot automatic(probe.site());
  if (automatic.strategy() != DocumentRoot::Strategy::kOpenat2) {
    MESSAGE("openat2 unavailable here; only the /proc check strategy is tested");
    return;
  }
  check_confinement(DocumentRoot::Strategy::kOpenat2);
}

TEST_CASE("document root: /proc/self/fd check confinement") {
  check_confinement(DocumentRoot::Strategy::kProcCheck);
}

TEST_CASE("document root: a missing or non-directory root throws") {
  TempTree tree;
  tree.write_file("file", "x");
  CHECK_THROWS(DocumentRoot(tree / "missing"));
  CHECK_THROWS(DocumentRoot(tree / "file"));
  CHECK(DocumentRoot(tree.path()).real_path() == std::filesystem::canonical(tree.path()).string());
}
