// Unit tests of DocumentRoot: hostile paths and symlinks never open
// anything outside the root, with both confinement strategies.
#include <doctest/doctest.h>

#include <fcntl.h>
#include <linux/filter.h>
#include <linux/openat2.h>
#include <linux/seccomp.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstddef>
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

// Asks the kernel directly whether openat2(RESOLVE_BENEATH) works here.
bool kernel_has_openat2(const std::string& directory) {
  const int root_fd = ::open(directory.c_str(), O_PATH | O_DIRECTORY | O_CLOEXEC);
  REQUIRE(root_fd >= 0);
  open_how how{};
  how.flags = O_RDONLY | O_CLOEXEC;
  how.resolve = RESOLVE_BENEATH | RESOLVE_NO_MAGICLINKS;
  const long fd = ::syscall(SYS_openat2, root_fd, ".", &how, sizeof how);
  const int error = errno;
  ::close(root_fd);
  if (fd >= 0) {
    ::close(static_cast<int>(fd));
    return true;
  }
  // Anything but "not here" (an old kernel, a seccomp filter) is a fault.
  CHECK((error == ENOSYS || error == EPERM));
  return false;
}

}  // namespace

TEST_CASE("document root: the automatic strategy is openat2 exactly when the kernel has it") {
  // Both strategies are tested below whatever this machine offers; here the
  // choice between them: falling back while openat2 works would silently
  // lose the kernel's guarantee.
  Fixture probe;
  const DocumentRoot automatic(probe.site());
  const bool available = kernel_has_openat2(probe.site());
  CHECK((automatic.strategy() == DocumentRoot::Strategy::kOpenat2) == available);
}

TEST_CASE("document root: without openat2 the automatic choice falls back and still confines") {
  // A child process loses openat2 to a seccomp filter (ENOSYS, as on a
  // kernel before 5.6) and reports through its exit status what the
  // automatic DocumentRoot did: 0 only if it chose the /proc check and
  // that confined a relative and an absolute escaping link.
  Fixture fixture;
  const pid_t child = ::fork();
  REQUIRE(child >= 0);
  if (child == 0) {
    sock_filter filter[] = {
        BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(seccomp_data, nr)),
        BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, SYS_openat2, 0, 1),
        BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ERRNO | (ENOSYS & SECCOMP_RET_DATA)),
        BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
    };
    sock_fprog program{static_cast<unsigned short>(sizeof filter / sizeof filter[0]), filter};
    if (::prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0 ||
        ::prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, &program) != 0) {
      ::_exit(20);
    }
    const DocumentRoot root(fixture.site());
    if (root.strategy() != DocumentRoot::Strategy::kProcCheck) ::_exit(21);
    const auto inside = open_url(root, "/link-inside");
    if (!inside.fd) ::_exit(22);
    if (open_url(root, "/link-relative-out").error != EXDEV) ::_exit(23);
    if (open_url(root, "/link-absolute-out").error != EXDEV) ::_exit(24);
    ::_exit(0);
  }
  int status = 0;
  REQUIRE(::waitpid(child, &status, 0) == child);
  REQUIRE(WIFEXITED(status));
  CHECK(WEXITSTATUS(status) == 0);  // 20: no seccomp; 21: no fallback; 22-24: confinement
}

TEST_CASE("document root: openat2 RESOLVE_BENEATH confinement") {
  Fixture probe;
  if (!kernel_has_openat2(probe.site())) {
    // Documented, not silent: the choice is checked above and the /proc
    // strategy below; this machine cannot run the openat2 one.
    MESSAGE("openat2 unavailable on this kernel; its confinement cannot run here");
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
