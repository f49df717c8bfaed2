// SHA-256 through OpenSSL's libcrypto (EVP), for HASH and --verify.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

#include "protocols/common/result.h"
#include "protocols/file/messages.h"

struct evp_md_ctx_st;

namespace reactor::file {

// Incremental hashing. Throws std::runtime_error if libcrypto fails to
// set up the digest (out of memory, a FIPS provider without SHA-256).
class Sha256 {
 public:
  Sha256();
  ~Sha256();
  Sha256(Sha256&&) noexcept;
  Sha256& operator=(Sha256&&) noexcept;

  void update(const void* data, size_t length);
  void update(std::string_view data) { update(data.data(), data.size()); }
  // The digest of everything fed so far; the object is then reset.
  Digest finish();

 private:
  struct ContextDeleter {
    void operator()(evp_md_ctx_st* context) const;
  };
  std::unique_ptr<evp_md_ctx_st, ContextDeleter> context_;
};

// Hashes a whole file by reading it from offset 0 to its end. Blocking:
// run it on a worker thread. Fails with the errno of a failed read.
protocols::Result<Digest> sha256_of_file(int fd);
// The first `length` bytes of a file (a resume's held prefix, or the
// client's copy of it). Fails with EIO if the file is shorter.
protocols::Result<Digest> sha256_of_prefix(int fd, uint64_t length);

Digest sha256_of(std::string_view data);

// Lowercase hexadecimal, 64 characters.
std::string to_hex(const Digest& digest);

}  // namespace reactor::file
