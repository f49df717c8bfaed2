#include "protocols/file/auth.h"

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/rand.h>

#include <cerrno>
#include <cstring>
#include <fstream>
#include <iterator>
#include <stdexcept>

namespace reactor::file {
namespace {

// Binds a proof to this use: an HMAC of the nonce computed for anything
// else with the same key is not an AUTH proof.
constexpr std::string_view kAuthLabel = "RFTP-AUTH-2";

}  // namespace

protocols::Result<std::string, TokenError> check_token(std::string token, std::string_view origin) {
  while (!token.empty() && (token.back() == '\n' || token.back() == '\r' || token.back() == ' ' ||
                            token.back() == '\t')) {
    token.pop_back();
  }
  if (token.empty()) return TokenError{std::string(origin) + " holds no token"};
  if (token.size() < kMinTokenBytes) {
    return TokenError{std::string(origin) + ": the token is " + std::to_string(token.size()) +
                      " bytes; at least " + std::to_string(kMinTokenBytes) +
                      " are required (for example: openssl rand -hex 32)"};
  }
  return token;
}

protocols::Result<std::string, TokenError> read_token_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return TokenError{"cannot read the token file " + path + ": " + std::strerror(errno)};
  std::string content((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  if (in.bad()) return TokenError{"cannot read the token file " + path};
  return check_token(std::move(content), "the token file " + path);
}

Digest make_nonce() {
  Digest nonce{};
  if (RAND_bytes(nonce.data(), static_cast<int>(nonce.size())) != 1) {
    throw std::runtime_error("libcrypto has no random bytes for a nonce");
  }
  return nonce;
}

Digest auth_proof(std::string_view token, const Digest& nonce) {
  std::string message(kAuthLabel);
  message.append(reinterpret_cast<const char*>(nonce.data()), nonce.size());
  Digest proof{};
  unsigned int length = 0;
  if (HMAC(EVP_sha256(), token.data(), static_cast<int>(token.size()),
           reinterpret_cast<const unsigned char*>(message.data()), message.size(), proof.data(),
           &length) == nullptr ||
      length != proof.size()) {
    throw std::runtime_error("libcrypto cannot compute HMAC-SHA256");
  }
  return proof;
}

bool proof_matches(std::string_view token, const Digest& nonce, const Digest& proof) {
  const Digest expected = auth_proof(token, nonce);
  return CRYPTO_memcmp(expected.data(), proof.data(), expected.size()) == 0;
}

}  // namespace reactor::file
