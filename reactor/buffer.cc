#include "reactor/buffer.h"

#include <endian.h>
#include <sys/uio.h>
#include <unistd.h>

#include <cassert>
#include <cstdlib>
#include <cstring>
#include <new>
#include <utility>

namespace reactor {

Buffer::~Buffer() {
  std::free(data_);
}

Buffer::Buffer(Buffer&& other) noexcept
    : data_(std::exchange(other.data_, nullptr)),
      capacity_(std::exchange(other.capacity_, 0)),
      read_index_(std::exchange(other.read_index_, 0)),
      write_index_(std::exchange(other.write_index_, 0)) {}

Buffer& Buffer::operator=(Buffer&& other) noexcept {
  if (this != &other) {
    std::free(data_);
    data_ = std::exchange(other.data_, nullptr);
    capacity_ = std::exchange(other.capacity_, 0);
    read_index_ = std::exchange(other.read_index_, 0);
    write_index_ = std::exchange(other.write_index_, 0);
  }
  return *this;
}

void Buffer::retrieve(size_t length) {
  assert(length <= readable_bytes());
  if (length < readable_bytes()) {
    read_index_ += length;
  } else {
    retrieve_all();
  }
}

std::string Buffer::retrieve_as_string(size_t length) {
  std::string result(peek(), length);
  retrieve(length);
  return result;
}

void Buffer::append(const void* data, size_t length) {
  if (length == 0) return;
  ensure_writable(length);
  std::memcpy(begin_write(), data, length);
  has_written(length);
}

void Buffer::append_u16(uint16_t value) {
  value = htobe16(value);
  append(&value, sizeof value);
}

void Buffer::append_u32(uint32_t value) {
  value = htobe32(value);
  append(&value, sizeof value);
}

void Buffer::append_u64(uint64_t value) {
  value = htobe64(value);
  append(&value, sizeof value);
}

void Buffer::prepend(const void* data, size_t length) {
  assert(length <= prependable_bytes());
  read_index_ -= length;
  std::memcpy(data_ + read_index_, data, length);
}

void Buffer::ensure_writable(size_t length) {
  if (writable_bytes() < length) make_space(length);
}

void Buffer::make_space(size_t length) {
  size_t readable = readable_bytes();
  // Sliding the readable bytes to the front is cheaper than growing when
  // most of the buffer is already-consumed space.
  if (data_ != nullptr && read_index_ - kCheapPrepend + writable_bytes() >= length &&
      read_index_ >= kCheapPrepend) {
    std::memmove(data_ + kCheapPrepend, data_ + read_index_, readable);
    read_index_ = kCheapPrepend;
    write_index_ = read_index_ + readable;
    return;
  }
  size_t needed = kCheapPrepend + readable + length;
  size_t new_capacity = capacity_ == 0 ? 2048 : capacity_;
  while (new_capacity < needed) new_capacity *= 2;
  char* new_data = static_cast<char*>(std::malloc(new_capacity));
  if (new_data == nullptr) throw std::bad_alloc();
  if (readable > 0) std::memcpy(new_data + kCheapPrepend, peek(), readable);
  std::free(data_);
  data_ = new_data;
  capacity_ = new_capacity;
  read_index_ = kCheapPrepend;
  write_index_ = kCheapPrepend + readable;
}

ssize_t Buffer::read_from_fd(int fd, int* saved_errno, size_t* offered) {
  size_t writable = writable_bytes();
  if (writable >= kDirectReadMin) {
    // read() rather than a one-element readv(): the kernel then copies into
    // a single user buffer (ITER_UBUF) instead of walking an iovec array,
    // measurably cheaper on the hottest syscall of the loop. A burst larger
    // than the free space costs one more read, which grows the buffer.
    if (offered != nullptr) *offered = writable;
    ssize_t n = ::read(fd, begin_write(), writable);
    if (n < 0) {
      *saved_errno = errno;
    } else {
      write_index_ += static_cast<size_t>(n);
    }
    return n;
  }
  char spill[kSpillSize];
  iovec vectors[2];
  int count = 0;
  if (writable > 0) vectors[count++] = {begin_write(), writable};
  vectors[count++] = {spill, sizeof spill};
  if (offered != nullptr) *offered = writable + sizeof spill;
  ssize_t n = ::readv(fd, vectors, count);
  if (n < 0) {
    *saved_errno = errno;
  } else if (static_cast<size_t>(n) <= writable) {
    write_index_ += static_cast<size_t>(n);
  } else {
    write_index_ = capacity_;
    append(spill, static_cast<size_t>(n) - writable);
  }
  return n;
}

void Buffer::release_if_empty() {
  if (readable_bytes() == 0 && data_ != nullptr) {
    std::free(data_);
    data_ = nullptr;
    capacity_ = read_index_ = write_index_ = 0;
  }
}

}  // namespace reactor
