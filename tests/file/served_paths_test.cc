// Unit tests of the server's file-system side on a real temporary tree:
// the served tree seen through RFTP (error codes for symlinks in and out,
// the hidden upload area, FIFOs), LIST, and the UploadStore's
// begin/resume/commit cycle. The tree's own policy is tested, with both
// strategies, in tests/common/served_tree_test.cc.
#include <doctest/doctest.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include "protocols/common/served_tree.h"
#include "protocols/file/served_paths.h"
#include "protocols/file/upload_registry.h"
#include "protocols/file/upload_store.h"
#include "tests/file/rftp_test_support.h"

using namespace rftp_test;
namespace rf = reactor::file;

namespace {

rf::RequestPath path_of(std::string_view text) {
  return rf::parse_request_path(text).value();
}

using reactor::protocols::ServedTree;

uint16_t open_error(const ServedTree& root, std::string_view path) {
  auto opened = rf::open_regular_file(root, path_of(path));
  return opened ? 0 : static_cast<uint16_t>(opened.error().code);
}

struct Tree {
  TempDir outside;
  TempDir root;
  Tree() {
    write_file(root / "file.txt", "content");
    make_directories(root / "dir/sub");
    write_file(outside / "secret", "secret");
    ::symlink((outside.path() + "/secret").c_str(), (root / "abs-out").c_str());
    ::symlink("../../outside-nothing", (root / "dir/rel-out").c_str());
    ::symlink("../file.txt", (root / "dir/rel-in").c_str());
    ::symlink((root.path() + "/file.txt").c_str(), (root / "abs-in").c_str());
    ::symlink("loop-b", (root / "loop-a").c_str());
    ::symlink("loop-a", (root / "loop-b").c_str());
    ::symlink(outside.path().c_str(), (root / "dir-out").c_str());
  }
};

}  // namespace

TEST_CASE("the served tree opens what is inside and refuses what leads out") {
  Tree tree;
  ::mkfifo((tree.root / "fifo").c_str(), 0644);
  ::symlink("../..", (tree.root / "dir/up").c_str());
  const std::string root_name = tree.root.path().substr(tree.root.path().rfind('/') + 1);
  for (auto strategy : {ServedTree::Strategy::kOpenat2, ServedTree::Strategy::kWalk}) {
    CAPTURE(static_cast<int>(strategy));
    ServedTree root(tree.root.path(), ".rftp-uploads", strategy);
    CHECK(open_error(root, "file.txt") == 0);
    CHECK(open_error(root, "dir/rel-in") == 0);
    CHECK(open_error(root, "abs-in") == 0);  // absolute, but inside
    CHECK(open_error(root, "abs-out") == 3);
    CHECK(open_error(root, "dir/rel-out") == 3);  // dangling, and outside
    CHECK(open_error(root, "dir-out/secret") == 3);
    CHECK(open_error(root, "loop-a") == 3);
    CHECK(open_error(root, "missing") == 2);
    CHECK(open_error(root, "file.txt/x") == 2);
    CHECK(open_error(root, ".rftp-uploads") == 3);
    CHECK(open_error(root, ".rftp-uploads/anything") == 3);
    CHECK(open_error(root, "dir/up/" + root_name + "/file.txt") == 3);  // out and back in
    CHECK(open_error(root, "fifo") == 8);  // refused, never opened: no wait for a writer
    CHECK(open_error(root, "dir") == 8);
    CHECK(root.real_path().front() == '/');
  }
}

TEST_CASE("a symlink into the hidden upload area is refused too") {
  Tree tree;
  make_directories(tree.root / ".rftp-uploads");
  write_file(tree.root / ".rftp-uploads/x.part", "partial");
  ::symlink(".rftp-uploads", (tree.root / "sneaky").c_str());
  ServedTree root(tree.root.path(), ".rftp-uploads");
  CHECK(open_error(root, "sneaky/x.part") == 3);
  auto listing = rf::list_directory(root, path_of(""));
  REQUIRE(listing.ok());
  for (const auto& entry : listing->entries) {
    CHECK(entry.name != ".rftp-uploads");
    CHECK(entry.name != "sneaky");
  }
}

TEST_CASE("open_or_create_directory makes parents and refuses files in the way") {
  Tree tree;
  ServedTree root(tree.root.path());
  auto made = root.open_or_create_directory("new/a/b");
  CHECK(made.ok());
  struct stat info {};
  CHECK(::stat((tree.root / "new/a/b").c_str(), &info) == 0);
  CHECK(S_ISDIR(info.st_mode));
  auto blocked = root.open_or_create_directory("file.txt/sub");
  REQUIRE_FALSE(blocked.ok());
  CHECK(rf::error_from_tree(blocked.error(), path_of("file.txt")).code ==
        rf::ErrorCode::kNotDirectory);
  auto escaping = root.open_or_create_directory("dir-out/new");
  REQUIRE_FALSE(escaping.ok());
  CHECK(rf::error_from_tree(escaping.error(), path_of("dir-out")).code ==
        rf::ErrorCode::kForbidden);
  CHECK_FALSE(exists(tree.outside / "new"));
}

TEST_CASE("LIST leaves out links that lead out and sorts bytewise") {
  Tree tree;
  write_file(tree.root / "B", "");
  write_file(tree.root / "a", "");
  write_file(tree.root / "\xC3\xA9", "");
  ::mkfifo((tree.root / "fifo").c_str(), 0644);
  ServedTree root(tree.root.path(), ".rftp-uploads");
  auto listing = rf::list_directory(root, path_of(""));
  REQUIRE(listing.ok());
  std::vector<std::string> names;
  for (const auto& entry : listing->entries) names.push_back(entry.name);
  CHECK(names ==
        std::vector<std::string>{"B", "a", "abs-in", "dir", "fifo", "file.txt", "\xC3\xA9"});
  CHECK(listing->entries[4].kind == rf::EntryKind::kOther);  // listed, never opened
  CHECK(rf::list_directory(root, path_of("file.txt")).error().code == rf::ErrorCode::kNotDirectory);
  CHECK(rf::list_directory(root, path_of("file.txt/x")).error().code == rf::ErrorCode::kNotFound);
}

TEST_CASE("LIST of a directory above the entry cap is ERROR 6, not a silent cut") {
  TempDir root;
  make_directories(root / "big");
  for (size_t i = 0; i <= rf::kMaxListEntries; ++i) {
    write_file(root / ("big/f" + std::to_string(i)), "");
  }
  ServedTree tree(root.path());
  auto listing = rf::list_directory(tree, path_of("big"));
  REQUIRE_FALSE(listing.ok());
  CHECK(listing.error().code == rf::ErrorCode::kTooLarge);
  ::unlink((root / "big/f0").c_str());
  auto at_cap = rf::list_directory(tree, path_of("big"));
  REQUIRE(at_cap.ok());
  CHECK(at_cap->entries.size() == rf::kMaxListEntries);
}

TEST_CASE("displayable_utf8 keeps valid text, replaces bad bytes, never splits a character") {
  CHECK(rf::displayable_utf8("plain", 100) == "plain");
  CHECK(rf::displayable_utf8("caf\xC3\xA9", 100) == "caf\xC3\xA9");
  CHECK(rf::displayable_utf8("bad\xC3(x", 100) == "bad\xEF\xBF\xBD(x");
  CHECK(rf::displayable_utf8("\xFF\xFE", 100) == "\xEF\xBF\xBD\xEF\xBF\xBD");
  CHECK(rf::displayable_utf8("a\xC3\xA9\xC3\xA9", 4) == "a\xC3\xA9");  // not "a\xC3\xA9\xC3"
  CHECK(rf::is_valid_utf8(rf::displayable_utf8("\xE2\x82", 10)));
}

TEST_CASE("UploadStore: begin, resume, commit") {
  Tree tree;
  ServedTree root(tree.root.path(), std::string(rf::UploadStore::kDirectoryName));
  rf::UploadStore store(root, false);
  auto path = path_of("up/loaded.bin");
  CHECK_FALSE(store.find(path));

  auto part = store.begin(path, 10);
  REQUIRE(part.ok());
  REQUIRE(::pwrite(part.value().get(), "0123", 4, 0) == 4);
  auto held = store.find(path);
  REQUIRE(held);
  CHECK(held->declared_size == 10);
  CHECK(held->held_bytes == 4);

  auto wrong_offset = store.resume(path, 10, 3);
  REQUIRE_FALSE(wrong_offset.ok());
  CHECK(wrong_offset.error().code == rf::ErrorCode::kConflict);
  auto wrong_size = store.resume(path, 9, 4);
  REQUIRE_FALSE(wrong_size.ok());

  auto resumed = store.resume(path, 10, 4);
  REQUIRE(resumed.ok());
  int fd = resumed.value().get();
  REQUIRE(::pwrite(fd, "456789", 6, 4) == 6);
  CHECK(store.commit(path, fd).ok());
  CHECK(read_file(tree.root / "up/loaded.bin") == "0123456789");
  CHECK_FALSE(store.find(path));
  CHECK(files_with_suffix(tree.root / ".rftp-uploads", ".meta").empty());
  CHECK(files_with_suffix(tree.root / ".rftp-uploads", ".part").empty());

  SUBCASE("starting over discards what was held") {
    auto first = store.begin(path, 5);
    REQUIRE(::pwrite(first.value().get(), "abc", 3, 0) == 3);
    auto again = store.begin(path, 7);
    REQUIRE(again.ok());
    CHECK(store.find(path)->held_bytes == 0);
    CHECK(store.find(path)->declared_size == 7);
  }
  SUBCASE("commit onto a directory is refused") {
    auto onto_dir = path_of("dir");
    auto dir_part = store.begin(onto_dir, 0);
    REQUIRE(dir_part.ok());
    auto committed = store.commit(onto_dir, dir_part.value().get());
    REQUIRE_FALSE(committed.ok());
    CHECK(committed.error().code == rf::ErrorCode::kNotRegularFile);
  }
}

TEST_CASE("a read-only store without its directory holds nothing and refuses uploads") {
  Tree tree;
  ServedTree root(tree.root.path(), std::string(rf::UploadStore::kDirectoryName));
  rf::UploadStore store(root, true);
  CHECK_FALSE(exists(tree.root / ".rftp-uploads"));
  CHECK_FALSE(store.find(path_of("x")));
  auto refused = store.begin(path_of("x"), 1);
  REQUIRE_FALSE(refused.ok());
  CHECK(refused.error().code == rf::ErrorCode::kForbidden);
}

TEST_CASE("UploadRegistry: one owner per path until the claim is dropped") {
  rf::UploadRegistry registry;
  auto claim = registry.claim("k", 1);
  REQUIRE(claim);
  CHECK_FALSE(registry.claim("k", 2));
  CHECK_FALSE(registry.claim("k", 1));
  CHECK(registry.owner_of("k") == 1u);
  claim.reset();
  CHECK_FALSE(registry.owner_of("k"));
  CHECK(registry.claim("k", 2));
  auto outliving = std::make_unique<rf::UploadRegistry>();
  auto late = outliving->claim("x", 1);
  REQUIRE(late);
  outliving.reset();
  // A registry made now likely reuses the memory of the one that is gone;
  // a claim that still wrote to its old table would release this one's
  // "x". (Under ASan the write itself is reported.)
  rf::UploadRegistry fresh;
  auto fresh_claim = fresh.claim("x", 2);
  REQUIRE(fresh_claim);
  late.reset();  // must not touch the registry that is gone
  CHECK(fresh.owner_of("x") == 2u);
  CHECK(fresh.size() == 1);
}
