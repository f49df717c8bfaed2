// Text from a peer made safe to print on a terminal or in a log line.
//
// A name or message from the other side may hold bytes that a terminal
// obeys (ESC sequences, BEL, a newline that splits one log line into two,
// a bidi override that makes "txt.exe" read "exe.txt"). The client prints
// everything the server sent through escape_text(), and the server writes
// every client-supplied path in its log through it, so neither can be
// made to show something that is not there.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>

namespace reactor::file {

// `text` made safe to print on one line: a backslash doubles, \n \r \t
// are written so, other control characters (C0, DEL, C1) and bytes that
// are not valid UTF-8 become \xNN, and the invisible Unicode characters
// that reorder or break lines (bidi overrides and isolates, U+2028/2029)
// become \u{NNNN}. Printable UTF-8 (accents, CJK, emoji) passes unchanged.
// The escaping is reversible, so distinct names stay distinct.
std::string escape_text(std::string_view text);

}  // namespace reactor::file
