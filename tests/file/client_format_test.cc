// Unit tests of reactor-fileclient's pure parts: the progress line, the
// output formats, HOST:PORT parsing, the .part record and --watch names.
#include <doctest/doctest.h>

#include <nlohmann/json.hpp>

#include "apps/fileclient/download_command.h"
#include "apps/fileclient/endpoint.h"
#include "apps/fileclient/output_format.h"
#include "apps/fileclient/progress_bar.h"
#include "apps/fileclient/tree_download_command.h"
#include "apps/fileclient/upload_command.h"
#include "apps/fileclient/watch_command.h"

namespace rfc = reactor::file::client;
namespace rf = reactor::file;

TEST_CASE("byte counts and durations read naturally") {
  CHECK(rfc::format_bytes(0) == "0 B");
  CHECK(rfc::format_bytes(1023) == "1023 B");
  CHECK(rfc::format_bytes(1024) == "1.00 KiB");
  CHECK(rfc::format_bytes(1536) == "1.50 KiB");
  CHECK(rfc::format_bytes(12 * 1024 * 1024 + 300 * 1024) == "12.3 MiB");
  CHECK(rfc::format_bytes(512ULL << 20) == "512 MiB");
  CHECK(rfc::format_bytes(1ULL << 30) == "1.00 GiB");
  CHECK(rfc::format_duration(0) == "0:00");
  CHECK(rfc::format_duration(7.4) == "0:07");
  CHECK(rfc::format_duration(754) == "12:34");
  CHECK(rfc::format_duration(3723) == "1:02:03");
  CHECK(rfc::format_duration(-1) == "--:--");
  CHECK(rfc::format_duration(1e12) == "--:--");
}

TEST_CASE("the progress line shows percent, bytes, rate and ETA within its width") {
  rfc::ProgressSnapshot snapshot{"movie.bin", 256ULL << 20, 1ULL << 30, 128.0 * (1 << 20)};
  std::string line = rfc::format_progress_line(snapshot, 100);
  CHECK(line.size() <= 100);
  CHECK(line.find("movie.bin") == 0);
  CHECK(line.find(" 25%") != std::string::npos);
  CHECK(line.find("256 MiB / 1.00 GiB") != std::string::npos);
  CHECK(line.find("128 MiB/s") != std::string::npos);
  CHECK(line.find("ETA 0:06") != std::string::npos);
  CHECK(line.find('[') != std::string::npos);
  CHECK(line.find('\r') == std::string::npos);

  SUBCASE("narrow terminals drop the bar, then the label, never overflow") {
    for (size_t width = 10; width <= 100; ++width) {
      CAPTURE(width);
      CHECK(rfc::format_progress_line(snapshot, width).size() <= width);
    }
    CHECK(rfc::format_progress_line(snapshot, 40).find('[') == std::string::npos);
  }
  SUBCASE("a long label is shortened in the middle") {
    snapshot.label = std::string(50, 'a') + std::string(50, 'z');
    std::string shortened = rfc::format_progress_line(snapshot, 120);
    CHECK(shortened.find("...") != std::string::npos);
    CHECK(shortened.size() <= 120);
  }
  SUBCASE("finished and unknown totals") {
    snapshot.done = snapshot.total;
    CHECK(rfc::format_progress_line(snapshot, 100).find("100%") != std::string::npos);
    CHECK(rfc::format_progress_line(snapshot, 100).find("done") != std::string::npos);
    snapshot.total = 0;
    std::string unknown = rfc::format_progress_line(snapshot, 100);
    CHECK(unknown.find('%') == std::string::npos);
    CHECK(unknown.find("ETA") == std::string::npos);
  }
  SUBCASE("no rate yet: the ETA is unknown") {
    snapshot.bytes_per_second = 0;
    CHECK(rfc::format_progress_line(snapshot, 100).find("ETA --:--") != std::string::npos);
  }
}

TEST_CASE("a disabled progress bar prints nothing") {
  char* text = nullptr;
  size_t size = 0;
  FILE* out = open_memstream(&text, &size);
  {
    rfc::ProgressBar bar(out, false);
    bar.start("x", 100);
    bar.update(50);
    bar.finish();
  }
  std::fclose(out);
  CHECK(size == 0);
  std::free(text);
}

TEST_CASE("ls, stat and hash formats") {
  rf::ListEntry entry{rf::EntryKind::kDirectory, 0, 0, "my dir"};
  CHECK(rfc::format_list_line(entry) == "d            0  1970-01-01T00:00:00Z  my dir");
  entry = {rf::EntryKind::kFile, 1234567, 1700000000, "f.txt"};
  CHECK(rfc::format_list_line(entry) == "-      1234567  2023-11-14T22:13:20Z  f.txt");
  entry.kind = rf::EntryKind::kOther;
  CHECK(rfc::format_list_line(entry)[0] == '?');

  std::string stat = rfc::format_stat("x", {rf::EntryKind::kUnfinishedUpload, 10, 0, 4});
  CHECK(stat.find("kind: unfinished upload\n") != std::string::npos);
  CHECK(stat.find("upload held: 4\n") != std::string::npos);
  CHECK(rfc::format_stat("x", {rf::EntryKind::kFile, 10, 0, 0}).find("upload") ==
        std::string::npos);

  rf::HashOk hash{"p", {}};
  hash.digest[0] = 0xAB;
  CHECK(rfc::format_hash_line(hash) == "ab" + std::string(62, '0') + "  p");
}

TEST_CASE("names from the server are escaped: control characters, invalid UTF-8, reordering") {
  CHECK(rfc::escape_text("plain name.txt") == "plain name.txt");
  CHECK(rfc::escape_text("a\nb") == "a\\nb");
  CHECK(rfc::escape_text("\x1b]0;pwned\x07\x1b[2J") == "\\x1b]0;pwned\\x07\\x1b[2J");
  CHECK(rfc::escape_text("tab\there\r") == "tab\\there\\r");
  CHECK(rfc::escape_text(std::string("nul\0", 4)) == "nul\\x00");
  CHECK(rfc::escape_text("del\x7f") == "del\\x7f");
  // The escape character itself doubles, so "a\\nb" and "a<newline>b" differ.
  CHECK(rfc::escape_text("a\\nb") == "a\\\\nb");
  CHECK(rfc::escape_text("a\\nb") != rfc::escape_text("a\nb"));
  // Printable UTF-8 passes; C1 controls (U+009B is CSI) and bidi overrides do not.
  CHECK(rfc::escape_text("h\xc3\xa9llo \xe6\x97\xa5\xe6\x9c\xac \xf0\x9f\x98\x80") ==
        "h\xc3\xa9llo \xe6\x97\xa5\xe6\x9c\xac \xf0\x9f\x98\x80");
  CHECK(rfc::escape_text("\xc2\x9b"
                         "2J") ==
        "\\x9b"
        "2J");
  CHECK(rfc::escape_text("evil\xe2\x80\xaetxt.exe") == "evil\\u{202e}txt.exe");
  CHECK(rfc::escape_text("line\xe2\x80\xa8sep") == "line\\u{2028}sep");
  // Invalid UTF-8: stray continuation, truncated sequence, overlong '/',
  // a surrogate, beyond U+10FFFF -- every byte as \xNN.
  CHECK(rfc::escape_text("\x80") == "\\x80");
  CHECK(rfc::escape_text("ab\xe6\x97") == "ab\\xe6\\x97");
  CHECK(rfc::escape_text("\xc0\xaf") == "\\xc0\\xaf");
  CHECK(rfc::escape_text("\xed\xa0\x80") == "\\xed\\xa0\\x80");
  CHECK(rfc::escape_text("\xf4\x90\x80\x80") == "\\xf4\\x90\\x80\\x80");
  CHECK(rfc::escape_text("\xff\xfe") == "\\xff\\xfe");

  rf::ListEntry entry{rf::EntryKind::kFile, 1, 0, "a\nb\x1b[2J"};
  std::string line = rfc::format_list_line(entry);
  CHECK(line.find('\n') == std::string::npos);
  CHECK(line.find('\x1b') == std::string::npos);
  CHECK(line.ends_with("  a\\nb\\x1b[2J"));
  CHECK(rfc::format_stat("a\nb", {}).starts_with("path: a\\nb\n"));
  // sha256sum's convention: an escaped line starts with a backslash.
  rf::HashOk hash{"a\nb", {}};
  CHECK(rfc::format_hash_line(hash) == "\\" + std::string(64, '0') + "  a\\nb");
}

TEST_CASE("--json lines: one object, exact names, nothing a terminal would obey") {
  rf::ListEntry entry{rf::EntryKind::kFile, 42, 1700000000, "\x1b]0;pwned\x07\n\xc3\xa9"};
  std::string line = rfc::format_list_json(entry);
  for (char c : line) CHECK(static_cast<unsigned char>(c) >= 0x20);
  for (char c : line) CHECK(static_cast<unsigned char>(c) < 0x80);
  auto object = nlohmann::json::parse(line);
  CHECK(object["name"] == entry.name);
  CHECK(object["kind"] == "file");
  CHECK(object["size"] == 42);
  CHECK(object["mtime"] == 1700000000);
  CHECK(object["modified"] == "2023-11-14T22:13:20Z");
  CHECK_FALSE(object.contains("name_hex"));

  entry.name = "bad\xff";
  object = nlohmann::json::parse(rfc::format_list_json(entry));
  CHECK(object["name"] == "bad\xef\xbf\xbd");
  CHECK(object["name_hex"] == "626164ff");

  object = nlohmann::json::parse(
      rfc::format_stat_json("d/x", {rf::EntryKind::kUnfinishedUpload, 10, 5, 4}));
  CHECK(object["path"] == "d/x");
  CHECK(object["kind"] == "unfinished upload");
  CHECK(object["upload_held"] == 4);
  rf::HashOk hash{"a\nb", {}};
  hash.digest[0] = 0xAB;
  object = nlohmann::json::parse(rfc::format_hash_json(hash));
  CHECK(object["path"] == "a\nb");
  CHECK(object["sha256"] == "ab" + std::string(62, '0'));
}

TEST_CASE("get -r uses a listed name as a local path component only if it is one") {
  CHECK(rfc::is_safe_entry_name("a.txt"));
  CHECK(rfc::is_safe_entry_name("..hidden"));
  CHECK(rfc::is_safe_entry_name("\xe6\x97\xa5 \n"));
  CHECK_FALSE(rfc::is_safe_entry_name(""));
  CHECK_FALSE(rfc::is_safe_entry_name("."));
  CHECK_FALSE(rfc::is_safe_entry_name(".."));
  CHECK_FALSE(rfc::is_safe_entry_name("../../etc/passwd"));
  CHECK_FALSE(rfc::is_safe_entry_name("/etc/passwd"));
  CHECK_FALSE(rfc::is_safe_entry_name(std::string("a\0b", 3)));
}

TEST_CASE("remote path helpers") {
  CHECK(rfc::last_component("a/b/c.txt") == "c.txt");
  CHECK(rfc::last_component("c.txt") == "c.txt");
  CHECK(rfc::last_component("dir/") == "dir");
  CHECK(rfc::last_component("") == "");
  CHECK(rfc::last_component("a/..") == "");
  CHECK(rfc::join_remote("", "f") == "f");
  CHECK(rfc::join_remote("up/", "f") == "up/f");
  CHECK(rfc::join_remote("up", "f") == "up/f");
  CHECK(rfc::remote_path_for("/tmp/x/file.bin", "in") == "in/file.bin");
}

TEST_CASE("HOST:PORT parsing") {
  auto v4 = rfc::split_endpoint("127.0.0.1:9000");
  REQUIRE(v4);
  CHECK(v4->first == "127.0.0.1");
  CHECK(v4->second == 9000);
  auto v6 = rfc::split_endpoint("[::1]:80");
  REQUIRE(v6);
  CHECK(v6->first == "::1");
  CHECK(rfc::split_endpoint("host:1")->first == "host");
  CHECK_FALSE(rfc::split_endpoint("host"));
  CHECK_FALSE(rfc::split_endpoint("host:"));
  CHECK_FALSE(rfc::split_endpoint(":80"));
  CHECK_FALSE(rfc::split_endpoint("host:0"));
  CHECK_FALSE(rfc::split_endpoint("host:65536"));
  CHECK_FALSE(rfc::split_endpoint("host:80x"));
  CHECK_FALSE(rfc::split_endpoint("::1:80"));
  CHECK_FALSE(rfc::split_endpoint("[::1]80"));
  auto resolved = rfc::resolve_endpoint("[::1]:7");
  REQUIRE(resolved.address);
  CHECK(resolved.address->to_string() == "[::1]:7");
  CHECK(rfc::resolve_endpoint("nonsense").error->usage);
}

TEST_CASE("the .part record round-trips and rejects damage") {
  rfc::PartialRecord record{"dir/with space/f.bin", 123456789, -5};
  std::string text = rfc::format_partial_record(record);
  auto parsed = rfc::parse_partial_record(text);
  REQUIRE(parsed);
  CHECK(parsed->remote == record.remote);
  CHECK(parsed->size == record.size);
  CHECK(parsed->mtime == record.mtime);
  CHECK_FALSE(rfc::parse_partial_record(text.substr(0, text.size() - 1)));
  CHECK_FALSE(rfc::parse_partial_record(""));
  CHECK_FALSE(rfc::parse_partial_record("rftp-partial 1\nsize x\nmtime 1\nremote a\n"));
}

TEST_CASE("--watch ignores hidden and partial files") {
  CHECK(rfc::is_watched_name("report.pdf"));
  CHECK_FALSE(rfc::is_watched_name(".report.pdf.swp"));
  CHECK_FALSE(rfc::is_watched_name("movie.bin.part"));
  CHECK_FALSE(rfc::is_watched_name("movie.bin.part.info"));
  CHECK_FALSE(rfc::is_watched_name(""));
}
