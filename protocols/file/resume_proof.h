// The client's half of a version-2 resume (docs/PROTOCOL.md, section 6.1):
// is the local file the one whose first bytes the server holds?
//
// Size and mtime catch most replacements; the SHA-256 of the held prefix
// catches the rest (same size, same second). Only when all three match is
// splicing the rest of the local file onto the server's prefix safe.
//
// Threading: plain function; blocking (it reads `held` bytes of the file).
#pragma once

#include <cstdint>
#include <string>

#include "protocols/file/messages.h"

namespace reactor::file {

// Empty if a resume from `held.held` is safe; otherwise why not, for the
// user ("the held bytes differ from the local file's first 1048576").
std::string resume_mismatch(const ResumeOk& held, int local_fd, uint64_t local_size,
                            int64_t local_mtime);

}  // namespace reactor::file
