// HTTP Basic authentication (RFC 7617) against a file of "user:HASH"
// lines, for reactor-httpd --auth-file.
//
// HASH is "$pbkdf2-sha256$ITERATIONS$SALT$KEY" (salt and 32-byte key in
// base64), PBKDF2-HMAC-SHA256 from libcrypto; make_line() writes one.
// Checking a password costs ITERATIONS rounds (kDefaultIterations: a few
// milliseconds) on the loop thread, so a credential that passed is
// remembered (by its SHA-256, not in clear) and later requests with it
// cost one hash. What fails is never remembered: each wrong guess costs
// the full stretch, which is the point of stretching.
//
// An unknown user is checked against a dummy entry as costly as the real
// ones, and keys are compared with CRYPTO_memcmp, so the time an answer
// takes says nothing about whether the user exists.
//
// Threading: loop thread only (the remembered credentials change).
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <unordered_map>
#include <unordered_set>

#include "protocols/common/result.h"

namespace reactor::http {

class BasicAuth {
 public:
  static constexpr uint32_t kDefaultIterations = 10'000;

  // Reads the file; blank lines and '#' comments are skipped. Fails with a
  // message naming the line that does not parse.
  static protocols::Result<BasicAuth, std::string> load(const std::string& path);

  // "user:$pbkdf2-sha256$..." for `password`, with a fresh random salt.
  // Empty if the user name holds ':' or a control character.
  static std::string make_line(std::string_view user, std::string_view password,
                               uint32_t iterations = kDefaultIterations);

  // True if `authorization` (an Authorization field value, possibly empty)
  // holds Basic credentials of a user in the file with the right password.
  bool check(std::string_view authorization);

  size_t users() const { return users_.size(); }

 private:
  struct Entry {
    uint32_t iterations = 0;
    std::string salt;
    std::string key;
  };

  static bool parse_hash(std::string_view text, Entry& entry);
  static bool verify(const Entry& entry, std::string_view password);

  std::unordered_map<std::string, Entry> users_;
  Entry dummy_;                             // for users not in the file
  std::unordered_set<std::string> passed_;  // SHA-256 of field values that passed
};

}  // namespace reactor::http
