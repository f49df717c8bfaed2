// Token authentication of RFTP version 2 (docs/PROTOCOL.md, section 3).
//
// The server sends a fresh random nonce (CHALLENGE); the client answers
// with HMAC-SHA256 keyed by the shared token over a fixed label and the
// nonce (AUTH). The token never crosses the wire, and a proof recorded on
// one connection is worthless on the next, whose nonce differs.
//
// Threading: plain functions, safe anywhere.
#pragma once

#include <string>
#include <string_view>

#include "protocols/common/result.h"
#include "protocols/file/messages.h"

namespace reactor::file {

// Why a token file could not be used.
struct TokenError {
  std::string message;
};

// Shortest token accepted: a guessable secret makes the HMAC pointless.
inline constexpr size_t kMinTokenBytes = 16;

// Reads a token file: its content without trailing newlines and spaces
// (echo >file adds one). Fails if it cannot be read, is empty or shorter
// than kMinTokenBytes.
protocols::Result<std::string, TokenError> read_token_file(const std::string& path);
// The same checks for a token given another way (RFTP_TOKEN).
protocols::Result<std::string, TokenError> check_token(std::string token, std::string_view origin);

// A nonce from the system's CSPRNG (OpenSSL RAND_bytes). Throws
// std::runtime_error if none can be had.
Digest make_nonce();
// HMAC-SHA256(token, "RFTP-AUTH-2" || nonce).
Digest auth_proof(std::string_view token, const Digest& nonce);
// Constant-time comparison of `proof` with the expected one.
bool proof_matches(std::string_view token, const Digest& nonce, const Digest& proof);

}  // namespace reactor::file
