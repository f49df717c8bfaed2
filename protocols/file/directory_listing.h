// LIST: the entries of one directory beneath a ServedRoot.
#pragma once

#include "protocols/file/messages.h"
#include "protocols/file/request_path.h"
#include "protocols/file/served_root.h"

namespace reactor::file {

// Entries sorted bytewise by name, without "." and "..", with dot files.
// A symlink is listed with its target's kind and size when the target is
// inside the root, and left out otherwise; a directory's size is 0.
// The root's reserved entry is left out. LIST of something that is not a directory:
// kNotDirectory.
Outcome<ListOk> list_directory(const ServedRoot& root, const RequestPath& path);

}  // namespace reactor::file
