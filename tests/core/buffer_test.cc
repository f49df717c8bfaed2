// Unit tests of reactor::Buffer.
#include <doctest/doctest.h>
#include <fcntl.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <string>
#include <utility>

#include "reactor/buffer.h"
#include "tests/core/core_test_support.h"

using reactor::Buffer;
using reactor::UniqueFd;

namespace {

struct SocketPair {
  UniqueFd reader;
  UniqueFd writer;
};

SocketPair make_socket_pair() {
  int fds[2];
  REQUIRE(::socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0, fds) == 0);
  // Big enough that the writer can queue a few hundred KiB at once.
  int size = 1024 * 1024;
  ::setsockopt(fds[1], SOL_SOCKET, SO_SNDBUF, &size, sizeof size);
  ::setsockopt(fds[0], SOL_SOCKET, SO_RCVBUF, &size, sizeof size);
  return {UniqueFd(fds[0]), UniqueFd(fds[1])};
}

// Writes all of `data` into a non-blocking socket (it must fit).
void write_fully(int fd, const std::string& data) {
  size_t written = 0;
  while (written < data.size()) {
    ssize_t n = ::write(fd, data.data() + written, data.size() - written);
    REQUIRE(n > 0);
    written += static_cast<size_t>(n);
  }
}

}  // namespace

TEST_CASE("a new buffer owns no storage until the first append") {
  Buffer buffer;
  CHECK(buffer.capacity() == 0);
  CHECK(buffer.empty());
  CHECK(buffer.readable_bytes() == 0);
  buffer.append("x");
  CHECK(buffer.capacity() > 0);
  CHECK(buffer.view() == "x");
}

TEST_CASE("append, retrieve and retrieve_as_string consume from the front") {
  Buffer buffer;
  buffer.append("hello ");
  buffer.append(std::string_view("world"));
  CHECK(buffer.readable_bytes() == 11);
  CHECK(buffer.view() == "hello world");
  buffer.retrieve(6);
  CHECK(buffer.view() == "world");
  CHECK(buffer.prependable_bytes() == Buffer::kCheapPrepend + 6);
  CHECK(buffer.retrieve_as_string(3) == "wor");
  CHECK(buffer.view() == "ld");
  buffer.retrieve(2);
  CHECK(buffer.empty());
  // Consuming everything rewinds the indices, so no space is wasted.
  CHECK(buffer.prependable_bytes() == Buffer::kCheapPrepend);
  buffer.append("again");
  CHECK(buffer.view() == "again");
  buffer.retrieve_all();
  CHECK(buffer.empty());
}

TEST_CASE("prepend writes a header in front of bytes already appended") {
  Buffer buffer;
  buffer.append("body");
  REQUIRE(buffer.prependable_bytes() == Buffer::kCheapPrepend);
  uint32_t length = htonl(4);
  buffer.prepend(&length, sizeof length);
  CHECK(buffer.prependable_bytes() == Buffer::kCheapPrepend - 4);
  CHECK(buffer.view() == std::string("\0\0\0\4body", 8));
  // The whole cheap-prepend area is usable.
  buffer.prepend("abcd", 4);
  CHECK(buffer.prependable_bytes() == 0);
  CHECK(buffer.view() == std::string("abcd\0\0\0\4body", 12));
}

TEST_CASE("the buffer grows and keeps its contents") {
  Buffer buffer;
  std::string expected;
  for (int round = 0; round < 12; ++round) {
    std::string chunk = core_test::pattern(1000u << (round % 8), expected.size());
    size_t capacity_before = buffer.capacity();
    buffer.append(chunk);
    expected += chunk;
    CHECK(buffer.capacity() >= capacity_before);
    CHECK(buffer.writable_bytes() + buffer.readable_bytes() + buffer.prependable_bytes() ==
          buffer.capacity());
  }
  CHECK(buffer.readable_bytes() == expected.size());
  CHECK(core_test::difference(buffer.view(), expected) == "");
  CHECK(buffer.capacity() >= expected.size() + Buffer::kCheapPrepend);
}

TEST_CASE("consumed front space is reused by sliding instead of growing") {
  Buffer buffer;
  buffer.append(std::string(100, 'a'));
  const size_t capacity = buffer.capacity();
  REQUIRE(capacity > 200);
  // Fill the buffer exactly, then consume most of it.
  std::string fill = core_test::pattern(buffer.writable_bytes());
  buffer.append(fill);
  REQUIRE(buffer.writable_bytes() == 0);
  size_t consumed = capacity / 2 + 100;
  buffer.retrieve(consumed);
  std::string left = std::string(buffer.view());

  // Fits in the consumed space: must slide, not reallocate.
  std::string more = core_test::pattern(capacity / 4, 7);
  buffer.append(more);
  CHECK(buffer.capacity() == capacity);
  CHECK(buffer.prependable_bytes() == Buffer::kCheapPrepend);
  CHECK(core_test::difference(buffer.view(), left + more) == "");

  // Does not fit even after sliding: grows, contents intact.
  std::string too_much = core_test::pattern(capacity, 11);
  buffer.append(too_much);
  CHECK(buffer.capacity() > capacity);
  CHECK(core_test::difference(buffer.view(), left + more + too_much) == "");
}

TEST_CASE("direct writes through ensure_writable, begin_write and has_written") {
  Buffer buffer;
  buffer.append("ab");
  buffer.ensure_writable(5000);
  CHECK(buffer.writable_bytes() >= 5000);
  std::memcpy(buffer.begin_write(), "cdef", 4);
  buffer.has_written(4);
  CHECK(buffer.view() == "abcdef");
}

TEST_CASE("integers are appended big-endian") {
  Buffer buffer;
  buffer.append_u8(0x01);
  buffer.append_u16(0x0203);
  buffer.append_u32(0x04050607);
  buffer.append_u64(0x08090a0b0c0d0e0full);
  const std::string expected("\x01\x02\x03\x04\x05\x06\x07\x08\x09\x0a\x0b\x0c\x0d\x0e\x0f", 15);
  CHECK(buffer.view() == expected);
}

TEST_CASE("read_from_fd reads into an empty (unallocated) buffer") {
  SocketPair pair = make_socket_pair();
  Buffer buffer;
  REQUIRE(buffer.capacity() == 0);
  write_fully(pair.writer.get(), "ping");
  int error = 0;
  CHECK(buffer.read_from_fd(pair.reader.get(), &error) == 4);
  CHECK(buffer.view() == "ping");
}

TEST_CASE("read_from_fd uses the 64 KiB spill area for a read larger than the free space") {
  SocketPair pair = make_socket_pair();
  Buffer buffer;
  buffer.append("x");
  buffer.retrieve_all();
  const size_t free_space = buffer.writable_bytes();
  REQUIRE(free_space > 0);
  REQUIRE(free_space < 16 * 1024);

  // More than the free space, less than free space + spill: one readv.
  std::string burst = core_test::pattern(free_space + 40 * 1024);
  write_fully(pair.writer.get(), burst);
  int error = 0;
  ssize_t n = buffer.read_from_fd(pair.reader.get(), &error);
  CHECK(static_cast<size_t>(n) == burst.size());
  CHECK(core_test::difference(buffer.view(), burst) == "");
  CHECK(buffer.capacity() >= burst.size());
}

TEST_CASE("read_from_fd drained until EAGAIN returns every byte in order") {
  SocketPair pair = make_socket_pair();
  Buffer buffer;
  buffer.append("prefix:");
  // Far more than one readv can take (free space + 64 KiB).
  std::string burst = core_test::pattern(300 * 1024, 3);
  write_fully(pair.writer.get(), burst);
  int error = 0;
  int reads = 0;
  ssize_t n;
  while ((n = buffer.read_from_fd(pair.reader.get(), &error)) > 0) {
    ++reads;
    REQUIRE(reads < 100);
  }
  CHECK(n == -1);
  CHECK(error == EAGAIN);
  CHECK(reads >= 2);
  CHECK(core_test::difference(buffer.view(), "prefix:" + burst) == "");

  pair.writer.reset();
  CHECK(buffer.read_from_fd(pair.reader.get(), &error) == 0);  // EOF
}

TEST_CASE("read_from_fd with a buffer whose free space exceeds the spill area") {
  SocketPair pair = make_socket_pair();
  Buffer buffer;
  buffer.ensure_writable(128 * 1024);
  REQUIRE(buffer.writable_bytes() >= 128 * 1024);
  std::string burst = core_test::pattern(100 * 1024, 5);
  write_fully(pair.writer.get(), burst);
  int error = 0;
  CHECK(buffer.read_from_fd(pair.reader.get(), &error) == static_cast<ssize_t>(burst.size()));
  CHECK(core_test::difference(buffer.view(), burst) == "");
}

TEST_CASE("read_from_fd reports the room it offered, so a short read means drained") {
  SocketPair pair = make_socket_pair();
  int error = 0;
  size_t offered = 0;

  SUBCASE("little free space: free space plus the spill area") {
    Buffer buffer;
    write_fully(pair.writer.get(), "abc");
    CHECK(buffer.read_from_fd(pair.reader.get(), &error, &offered) == 3);
    CHECK(offered == Buffer::kSpillSize);
    CHECK(buffer.view() == "abc");
  }
  SUBCASE("large free space: exactly the free space, and the rest on the next read") {
    Buffer buffer;
    buffer.ensure_writable(Buffer::kDirectReadMin * 2);
    const size_t free_space = buffer.writable_bytes();
    std::string burst = core_test::pattern(free_space + 1000, 7);
    write_fully(pair.writer.get(), burst);
    CHECK(buffer.read_from_fd(pair.reader.get(), &error, &offered) ==
          static_cast<ssize_t>(free_space));
    CHECK(offered == free_space);
    CHECK(buffer.read_from_fd(pair.reader.get(), &error, &offered) == 1000);
    CHECK(offered > 1000);
    CHECK(core_test::difference(buffer.view(), burst) == "");
  }
}

TEST_CASE("release_if_empty frees storage only when nothing is buffered") {
  Buffer buffer;
  buffer.append(core_test::pattern(100 * 1024));
  REQUIRE(buffer.capacity() > 0);
  buffer.release_if_empty();
  CHECK(buffer.capacity() > 0);  // still holds data
  CHECK(buffer.readable_bytes() == 100 * 1024);
  buffer.retrieve(buffer.readable_bytes());
  buffer.release_if_empty();
  CHECK(buffer.capacity() == 0);
  CHECK(buffer.empty());
  // Usable again afterwards.
  buffer.append("after");
  CHECK(buffer.view() == "after");
}

TEST_CASE("moving a buffer transfers its storage and leaves the source empty and usable") {
  Buffer source;
  std::string content = core_test::pattern(5000);
  source.append(content);
  source.retrieve(10);
  const char* storage = source.peek();

  Buffer moved(std::move(source));
  CHECK(core_test::difference(moved.view(), std::string_view(content).substr(10)) == "");
  CHECK(moved.peek() == storage);  // no copy
  CHECK(source.capacity() == 0);   // NOLINT(bugprone-use-after-move): defined state
  CHECK(source.empty());
  source.append("reused");
  CHECK(source.view() == "reused");

  Buffer assigned;
  assigned.append("old contents are freed");
  assigned = std::move(moved);
  CHECK(core_test::difference(assigned.view(), std::string_view(content).substr(10)) == "");
  CHECK(moved.capacity() == 0);  // NOLINT(bugprone-use-after-move)
  CHECK(moved.empty());

  // Self-move-assignment must leave the contents alone.
  Buffer& alias = assigned;
  assigned = std::move(alias);
  CHECK(core_test::difference(assigned.view(), std::string_view(content).substr(10)) == "");
}
