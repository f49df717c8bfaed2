// Buffer: a growable byte buffer for socket I/O.
//
//   +-------------------+------------------+------------------+
//   | prependable bytes |  readable bytes  |  writable bytes  |
//   +-------------------+------------------+------------------+
//   0          read_index         write_index          capacity
//
// Storage is allocated on first use, so an idle connection's buffers cost
// nothing but the object itself. A few bytes of prepend space let a
// protocol put a length header in front of a body it has already written.
//
// Threading: none; a Buffer belongs to whoever holds it.
#pragma once

#include <sys/types.h>

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

namespace reactor {

class Buffer {
 public:
  static constexpr size_t kCheapPrepend = 8;
  // Size of the on-stack spill area read_from_fd() reads into when the
  // buffer's own free space is not enough.
  static constexpr size_t kSpillSize = 64 * 1024;
  // Free space from which read_from_fd() reads straight into the buffer.
  static constexpr size_t kDirectReadMin = 8 * 1024;

  Buffer() = default;
  ~Buffer();
  Buffer(Buffer&& other) noexcept;
  Buffer& operator=(Buffer&& other) noexcept;
  Buffer(const Buffer&) = delete;
  Buffer& operator=(const Buffer&) = delete;

  size_t readable_bytes() const { return write_index_ - read_index_; }
  size_t writable_bytes() const { return capacity_ - write_index_; }
  size_t prependable_bytes() const { return read_index_; }
  size_t capacity() const { return capacity_; }
  bool empty() const { return readable_bytes() == 0; }

  const char* peek() const { return data_ + read_index_; }
  std::string_view view() const { return {peek(), readable_bytes()}; }

  // Consumes bytes from the front.
  void retrieve(size_t length);
  void retrieve_all() {
    read_index_ = write_index_ = kCheapPrepend < capacity_ ? kCheapPrepend : 0;
  }
  std::string retrieve_as_string(size_t length);

  void append(const void* data, size_t length);
  void append(std::string_view text) { append(text.data(), text.size()); }
  // Big-endian integers, for binary protocols.
  void append_u8(uint8_t value) { append(&value, 1); }
  void append_u16(uint16_t value);
  void append_u32(uint32_t value);
  void append_u64(uint64_t value);
  // Writes in front of the readable bytes; needs prependable_bytes() >= length.
  void prepend(const void* data, size_t length);

  // Direct writes: ensure_writable(n), write at begin_write(), has_written(n).
  void ensure_writable(size_t length);
  char* begin_write() { return data_ + write_index_; }
  void has_written(size_t length) { write_index_ += length; }

  // Reads what the socket has, in one syscall, without a large buffer
  // sitting around for idle connections: when the free space is at least
  // kDirectReadMin it is read into directly with read(); otherwise readv()
  // fills the free space plus a 64 KiB stack spill area, whose overflow is
  // then appended. Returns what the syscall returned (-1: errno in
  // *saved_errno). *offered receives how many bytes the syscall could have
  // taken: a read shorter than that has drained the socket.
  ssize_t read_from_fd(int fd, int* saved_errno, size_t* offered = nullptr);

  // Gives the storage back if nothing is buffered. Keeps idle connections
  // small after a burst.
  void release_if_empty();

 private:
  void make_space(size_t length);

  char* data_ = nullptr;
  size_t capacity_ = 0;
  size_t read_index_ = 0;
  size_t write_index_ = 0;
};

}  // namespace reactor
