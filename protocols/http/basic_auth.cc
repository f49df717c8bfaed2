#include "protocols/http/basic_auth.h"

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/rand.h>
#include <openssl/sha.h>

#include <algorithm>
#include <charconv>
#include <fstream>

#include "protocols/http/header_text.h"

namespace reactor::http {

namespace {

constexpr std::string_view kScheme = "$pbkdf2-sha256$";
constexpr size_t kKeyBytes = 32;
constexpr size_t kSaltBytes = 16;
// Bounds what one line of the file can make each request cost.
constexpr uint32_t kMaxIterations = 10'000'000;
// Remembered credentials; past this many, the memory starts over.
constexpr size_t kMaxRemembered = 1024;

std::string base64_encode(std::string_view bytes) {
  std::string out(4 * ((bytes.size() + 2) / 3) + 1, '\0');
  const int length = EVP_EncodeBlock(reinterpret_cast<unsigned char*>(out.data()),
                                     reinterpret_cast<const unsigned char*>(bytes.data()),
                                     static_cast<int>(bytes.size()));
  out.resize(static_cast<size_t>(length));
  return out;
}

// Strict: only whole groups of four, '=' only as padding.
bool base64_decode(std::string_view text, std::string& out) {
  if (text.empty() || text.size() % 4 != 0 || text.size() > 4096) return false;
  out.assign(3 * text.size() / 4, '\0');
  const int length = EVP_DecodeBlock(reinterpret_cast<unsigned char*>(out.data()),
                                     reinterpret_cast<const unsigned char*>(text.data()),
                                     static_cast<int>(text.size()));
  if (length < 0) return false;
  size_t padding = 0;
  while (padding < 2 && text[text.size() - 1 - padding] == '=') ++padding;
  out.resize(static_cast<size_t>(length) - padding);
  return true;
}

std::string sha256(std::string_view text) {
  unsigned char digest[SHA256_DIGEST_LENGTH];
  SHA256(reinterpret_cast<const unsigned char*>(text.data()), text.size(), digest);
  return std::string(reinterpret_cast<const char*>(digest), sizeof digest);
}

bool valid_user_name(std::string_view user) {
  return !user.empty() && std::none_of(user.begin(), user.end(), [](char c) {
    return c == ':' || static_cast<unsigned char>(c) < 0x20 || c == 0x7f;
  });
}

std::string random_bytes(size_t count) {
  std::string bytes(count, '\0');
  if (RAND_bytes(reinterpret_cast<unsigned char*>(bytes.data()), static_cast<int>(count)) != 1) {
    return {};
  }
  return bytes;
}

std::string derive(std::string_view password, std::string_view salt, uint32_t iterations) {
  std::string key(kKeyBytes, '\0');
  const int ok =
      PKCS5_PBKDF2_HMAC(password.data(), static_cast<int>(password.size()),
                        reinterpret_cast<const unsigned char*>(salt.data()),
                        static_cast<int>(salt.size()), static_cast<int>(iterations), EVP_sha256(),
                        static_cast<int>(key.size()), reinterpret_cast<unsigned char*>(key.data()));
  if (ok != 1) return {};
  return key;
}

}  // namespace

bool BasicAuth::parse_hash(std::string_view text, Entry& entry) {
  if (!text.starts_with(kScheme)) return false;
  text.remove_prefix(kScheme.size());
  const size_t first = text.find('$');
  const size_t second = text.find('$', first == std::string_view::npos ? first : first + 1);
  if (first == std::string_view::npos || second == std::string_view::npos) return false;
  const std::string_view iterations = text.substr(0, first);
  const auto [end, error] =
      std::from_chars(iterations.data(), iterations.data() + iterations.size(), entry.iterations);
  if (error != std::errc() || end != iterations.data() + iterations.size()) return false;
  if (entry.iterations == 0 || entry.iterations > kMaxIterations) return false;
  return base64_decode(text.substr(first + 1, second - first - 1), entry.salt) &&
         base64_decode(text.substr(second + 1), entry.key) && entry.key.size() == kKeyBytes;
}

protocols::Result<BasicAuth, std::string> BasicAuth::load(const std::string& path) {
  std::ifstream file(path);
  if (!file) return "cannot read '" + path + "'";
  BasicAuth auth;
  std::string line;
  uint32_t most_iterations = kDefaultIterations;
  for (int number = 1; std::getline(file, line); ++number) {
    if (!line.empty() && line.back() == '\r') line.pop_back();
    const std::string_view text = trim_ows(line);
    if (text.empty() || text.front() == '#') continue;
    const size_t colon = text.find(':');
    Entry entry;
    if (colon == std::string_view::npos || !valid_user_name(text.substr(0, colon)) ||
        !parse_hash(text.substr(colon + 1), entry)) {
      return path + ":" + std::to_string(number) +
             ": expected 'user:$pbkdf2-sha256$ITERATIONS$SALT$KEY' (see --hash-password)";
    }
    most_iterations = std::max(most_iterations, entry.iterations);
    auth.users_[std::string(text.substr(0, colon))] = std::move(entry);
  }
  if (auth.users_.empty()) return "'" + path + "' names no user";
  // As costly as the costliest real entry: an unknown user must not
  // answer faster than a known one.
  auth.dummy_.iterations = most_iterations;
  auth.dummy_.salt = random_bytes(kSaltBytes);
  auth.dummy_.key = random_bytes(kKeyBytes);
  return auth;
}

std::string BasicAuth::make_line(std::string_view user, std::string_view password,
                                 uint32_t iterations) {
  if (!valid_user_name(user) || iterations == 0 || iterations > kMaxIterations) return {};
  const std::string salt = random_bytes(kSaltBytes);
  const std::string key = derive(password, salt, iterations);
  if (salt.empty() || key.empty()) return {};
  return std::string(user) + ":" + std::string(kScheme) + std::to_string(iterations) + "$" +
         base64_encode(salt) + "$" + base64_encode(key);
}

bool BasicAuth::verify(const Entry& entry, std::string_view password) {
  const std::string key = derive(password, entry.salt, entry.iterations);
  return key.size() == entry.key.size() &&
         CRYPTO_memcmp(key.data(), entry.key.data(), key.size()) == 0;
}

bool BasicAuth::check(std::string_view authorization) {
  const size_t space = authorization.find(' ');
  if (space == std::string_view::npos || !equals_lower(authorization.substr(0, space), "basic")) {
    return false;
  }
  const std::string_view encoded = trim_ows(authorization.substr(space + 1));
  const std::string remembered = sha256(encoded);
  if (passed_.count(remembered) != 0) return true;

  std::string credentials;
  if (!base64_decode(encoded, credentials)) return false;
  const size_t colon = credentials.find(':');
  if (colon == std::string::npos) return false;
  const std::string_view user = std::string_view(credentials).substr(0, colon);
  const std::string_view password = std::string_view(credentials).substr(colon + 1);
  const auto found = users_.find(std::string(user));
  const bool known = found != users_.end();
  // Both branches do the same work: a stretched key and a constant-time
  // comparison.
  const bool matches = verify(known ? found->second : dummy_, password);
  if (!known || !matches) return false;
  if (passed_.size() >= kMaxRemembered) passed_.clear();
  passed_.insert(remembered);
  return true;
}

}  // namespace reactor::http
