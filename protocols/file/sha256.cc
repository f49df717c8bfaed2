#include "protocols/file/sha256.h"

#include <openssl/evp.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdint>
#include <memory>
#include <stdexcept>
#include <vector>

namespace reactor::file {

void Sha256::ContextDeleter::operator()(evp_md_ctx_st* context) const {
  EVP_MD_CTX_free(context);
}

Sha256::Sha256() : context_(EVP_MD_CTX_new()) {
  if (!context_ || EVP_DigestInit_ex(context_.get(), EVP_sha256(), nullptr) != 1) {
    throw std::runtime_error("libcrypto cannot set up SHA-256");
  }
}

Sha256::~Sha256() = default;
Sha256::Sha256(Sha256&&) noexcept = default;
Sha256& Sha256::operator=(Sha256&&) noexcept = default;

void Sha256::update(const void* data, size_t length) {
  EVP_DigestUpdate(context_.get(), data, length);
}

Digest Sha256::finish() {
  Digest digest{};
  unsigned int length = 0;
  EVP_DigestFinal_ex(context_.get(), digest.data(), &length);
  EVP_DigestInit_ex(context_.get(), EVP_sha256(), nullptr);
  return digest;
}

protocols::Result<Digest> sha256_of_file(int fd) {
  return sha256_of_prefix(fd, UINT64_MAX);
}

protocols::Result<Digest> sha256_of_prefix(int fd, uint64_t length) {
  // Large reads: the hash runs at several hundred MB/s, so the syscall
  // count, not the copy, is what a small buffer would cost.
  constexpr size_t kChunk = 1024 * 1024;
  std::vector<char> buffer(kChunk);
  Sha256 hash;
  uint64_t offset = 0;
  while (offset < length) {
    const size_t want = static_cast<size_t>(std::min<uint64_t>(buffer.size(), length - offset));
    ssize_t n = ::pread(fd, buffer.data(), want, static_cast<off_t>(offset));
    if (n < 0) {
      if (errno == EINTR) continue;
      return std::error_code(errno, std::generic_category());
    }
    if (n == 0) break;
    hash.update(buffer.data(), static_cast<size_t>(n));
    offset += static_cast<uint64_t>(n);
  }
  if (length != UINT64_MAX && offset < length) {
    return std::make_error_code(std::errc::io_error);  // shorter than promised
  }
  return hash.finish();
}

Digest sha256_of(std::string_view data) {
  Sha256 hash;
  hash.update(data);
  return hash.finish();
}

std::string to_hex(const Digest& digest) {
  static constexpr char kDigits[] = "0123456789abcdef";
  std::string text;
  text.reserve(digest.size() * 2);
  for (uint8_t byte : digest) {
    text.push_back(kDigits[byte >> 4]);
    text.push_back(kDigits[byte & 0x0F]);
  }
  return text;
}

}  // namespace reactor::file
