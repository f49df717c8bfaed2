// Unit tests of the server's file-system side on a real temporary tree:
// ServedRoot's resolution (symlinks in and out, the hidden upload area),
// LIST, and the UploadStore's begin/resume/commit cycle.
#include <doctest/doctest.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include "protocols/file/directory_listing.h"
#include "protocols/file/served_root.h"
#include "protocols/file/upload_registry.h"
#include "protocols/file/upload_store.h"
#include "tests/file/rftp_test_support.h"

using namespace rftp_test;
namespace rf = reactor::file;

namespace {

rf::RequestPath path_of(std::string_view text) {
  return std::get<rf::RequestPath>(rf::parse_request_path(text));
}

uint16_t open_error(const rf::ServedRoot& root, std::string_view path) {
  auto opened = root.open(path_of(path), O_RDONLY);
  if (auto* error = std::get_if<rf::RequestError>(&opened))
    return static_cast<uint16_t>(error->code);
  return 0;
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

TEST_CASE("ServedRoot opens what is inside and refuses what leads out") {
  Tree tree;
  rf::ServedRoot root(tree.root.path(), ".rftp-uploads");
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
  CHECK(root.real_path().front() == '/');
}

TEST_CASE("a symlink into the hidden upload area is refused too") {
  Tree tree;
  make_directories(tree.root / ".rftp-uploads");
  write_file(tree.root / ".rftp-uploads/x.part", "partial");
  ::symlink(".rftp-uploads", (tree.root / "sneaky").c_str());
  rf::ServedRoot root(tree.root.path(), ".rftp-uploads");
  CHECK(open_error(root, "sneaky/x.part") == 3);
  auto listing = rf::list_directory(root, path_of(""));
  REQUIRE(std::holds_alternative<rf::ListOk>(listing));
  for (const auto& entry : std::get<rf::ListOk>(listing).entries) {
    CHECK(entry.name != ".rftp-uploads");
    CHECK(entry.name != "sneaky");
  }
}

TEST_CASE("open_or_create_directory makes parents and refuses files in the way") {
  Tree tree;
  rf::ServedRoot root(tree.root.path());
  auto made = root.open_or_create_directory(path_of("new/a/b"));
  CHECK(std::holds_alternative<reactor::UniqueFd>(made));
  struct stat info {};
  CHECK(::stat((tree.root / "new/a/b").c_str(), &info) == 0);
  CHECK(S_ISDIR(info.st_mode));
  auto blocked = root.open_or_create_directory(path_of("file.txt/sub"));
  REQUIRE(std::holds_alternative<rf::RequestError>(blocked));
  CHECK(std::get<rf::RequestError>(blocked).code == rf::ErrorCode::kNotDirectory);
  auto escaping = root.open_or_create_directory(path_of("dir-out/new"));
  REQUIRE(std::holds_alternative<rf::RequestError>(escaping));
  CHECK(std::get<rf::RequestError>(escaping).code == rf::ErrorCode::kForbidden);
  CHECK_FALSE(exists(tree.outside / "new"));
}

TEST_CASE("LIST leaves out links that lead out and sorts bytewise") {
  Tree tree;
  write_file(tree.root / "B", "");
  write_file(tree.root / "a", "");
  write_file(tree.root / "\xC3\xA9", "");
  rf::ServedRoot root(tree.root.path(), ".rftp-uploads");
  auto listing = rf::list_directory(root, path_of(""));
  REQUIRE(std::holds_alternative<rf::ListOk>(listing));
  std::vector<std::string> names;
  for (const auto& entry : std::get<rf::ListOk>(listing).entries) names.push_back(entry.name);
  CHECK(names == std::vector<std::string>{"B", "a", "abs-in", "dir", "file.txt", "\xC3\xA9"});
}

TEST_CASE("UploadStore: begin, resume, commit") {
  Tree tree;
  rf::ServedRoot root(tree.root.path(), std::string(rf::UploadStore::kDirectoryName));
  rf::UploadStore store(root, false);
  auto path = path_of("up/loaded.bin");
  CHECK_FALSE(store.find(path));

  auto part = store.begin(path, 10);
  REQUIRE(std::holds_alternative<reactor::UniqueFd>(part));
  REQUIRE(::pwrite(std::get<reactor::UniqueFd>(part).get(), "0123", 4, 0) == 4);
  auto held = store.find(path);
  REQUIRE(held);
  CHECK(held->declared_size == 10);
  CHECK(held->held_bytes == 4);

  auto wrong_offset = store.resume(path, 10, 3);
  REQUIRE(std::holds_alternative<rf::RequestError>(wrong_offset));
  CHECK(std::get<rf::RequestError>(wrong_offset).code == rf::ErrorCode::kConflict);
  auto wrong_size = store.resume(path, 9, 4);
  REQUIRE(std::holds_alternative<rf::RequestError>(wrong_size));

  auto resumed = store.resume(path, 10, 4);
  REQUIRE(std::holds_alternative<reactor::UniqueFd>(resumed));
  int fd = std::get<reactor::UniqueFd>(resumed).get();
  REQUIRE(::pwrite(fd, "456789", 6, 4) == 6);
  CHECK_FALSE(store.commit(path, fd).has_value());
  CHECK(read_file(tree.root / "up/loaded.bin") == "0123456789");
  CHECK_FALSE(store.find(path));
  CHECK(files_with_suffix(tree.root / ".rftp-uploads", ".meta").empty());
  CHECK(files_with_suffix(tree.root / ".rftp-uploads", ".part").empty());

  SUBCASE("starting over discards what was held") {
    auto first = store.begin(path, 5);
    REQUIRE(::pwrite(std::get<reactor::UniqueFd>(first).get(), "abc", 3, 0) == 3);
    auto again = store.begin(path, 7);
    REQUIRE(std::holds_alternative<reactor::UniqueFd>(again));
    CHECK(store.find(path)->held_bytes == 0);
    CHECK(store.find(path)->declared_size == 7);
  }
  SUBCASE("commit onto a directory is refused") {
    auto onto_dir = path_of("dir");
    auto dir_part = store.begin(onto_dir, 0);
    REQUIRE(std::holds_alternative<reactor::UniqueFd>(dir_part));
    auto error = store.commit(onto_dir, std::get<reactor::UniqueFd>(dir_part).get());
    REQUIRE(error);
    CHECK(error->code == rf::ErrorCode::kNotRegularFile);
  }
}

TEST_CASE("a read-only store without its directory holds nothing and refuses uploads") {
  Tree tree;
  rf::ServedRoot root(tree.root.path(), std::string(rf::UploadStore::kDirectoryName));
  rf::UploadStore store(root, true);
  CHECK_FALSE(exists(tree.root / ".rftp-uploads"));
  CHECK_FALSE(store.find(path_of("x")));
  auto refused = store.begin(path_of("x"), 1);
  REQUIRE(std::holds_alternative<rf::RequestError>(refused));
  CHECK(std::get<rf::RequestError>(refused).code == rf::ErrorCode::kForbidden);
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
