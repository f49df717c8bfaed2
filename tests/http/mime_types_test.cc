// Unit tests of MimeTypes.
#include <doctest/doctest.h>

#include <string>

#include "protocols/http/mime_types.h"
#include "temp_tree.h"

using reactor::http::MimeTypes;

TEST_CASE("mime: built-in table covers the web's common types") {
  const MimeTypes types;
  CHECK(types.content_type_for("index.html") == "text/html; charset=utf-8");
  CHECK(types.content_type_for("style.css") == "text/css; charset=utf-8");
  CHECK(types.content_type_for("app.js") == "text/javascript; charset=utf-8");
  CHECK(types.content_type_for("data.json") == "application/json; charset=utf-8");
  CHECK(types.content_type_for("logo.svg") == "image/svg+xml; charset=utf-8");
  CHECK(types.content_type_for("photo.png") == "image/png");
  CHECK(types.content_type_for("photo.jpeg") == "image/jpeg");
  CHECK(types.content_type_for("font.woff2") == "font/woff2");
  CHECK(types.content_type_for("module.wasm") == "application/wasm");
}

TEST_CASE("mime: lookup uses the last extension, case-blind") {
  const MimeTypes types;
  CHECK(types.content_type_for("INDEX.HTML") == "text/html; charset=utf-8");
  CHECK(types.content_type_for("dir.d/archive.tar.gz") == "application/gzip");
  CHECK(types.content_type_for("a.b/noext") == MimeTypes::kDefaultType);
  CHECK(types.content_type_for("README") == MimeTypes::kDefaultType);
  CHECK(types.content_type_for(".bashrc") == MimeTypes::kDefaultType);
  CHECK(types.content_type_for("trailing.") == MimeTypes::kDefaultType);
  CHECK(types.content_type_for("x.unknownext") == MimeTypes::kDefaultType);
  CHECK(types.content_type_for("x." + std::string(100, 'a')) == MimeTypes::kDefaultType);
}

TEST_CASE("mime: a mime.types file adds and overrides, text types get a charset") {
  http_test::TempTree tree;
  tree.write_file("mime.types",
                  "# comment line\n"
                  "application/x-demo\tdemo dmo   # trailing comment\n"
                  "text/x-special special\n"
                  "image/png png PNG2\n"
                  "notatype ignored\n"
                  "\n");
  MimeTypes types;
  CHECK(types.load_file(tree / "mime.types"));
  CHECK(types.content_type_for("a.demo") == "application/x-demo");
  CHECK(types.content_type_for("a.DMO") == "application/x-demo");
  CHECK(types.content_type_for("a.special") == "text/x-special; charset=utf-8");
  CHECK(types.content_type_for("a.png2") == "image/png");
  CHECK(types.content_type_for("a.ignored") == MimeTypes::kDefaultType);
  CHECK(types.content_type_for("a.html") == "text/html; charset=utf-8");  // built-in kept
  CHECK_FALSE(types.load_file(tree / "missing.types"));
}

TEST_CASE("mime: the system table is read") {
  // scripts/install-deps.sh installs it (Debian package media-types); a
  // missing table is a broken test machine, not a pass.
  REQUIRE_MESSAGE(MimeTypes().load_file(std::string(MimeTypes::kSystemFile)),
                  "/etc/mime.types is missing: install the media-types package");
  const MimeTypes types = MimeTypes::with_system_types();
  CHECK(types.content_type_for("index.html").starts_with("text/html"));
  CHECK(types.size() > MimeTypes().size());
  // A type only the system table knows.
  CHECK(MimeTypes().content_type_for("a.odt") == MimeTypes::kDefaultType);
  CHECK(types.content_type_for("a.odt") == "application/vnd.oasis.opendocument.text");
}
