// Escaping of text placed into generated HTML (listings, error pages).
//
// Threading: pure function; any thread.
#pragma once

#include <string>
#include <string_view>

namespace reactor::http {

// Appends `text` with & < > " ' replaced by character references, so a
// file name can never open a tag or leave an attribute. Other bytes pass
// through unchanged (file names are shown as the UTF-8 they usually are).
void append_html_escaped(std::string& out, std::string_view text);

}  // namespace reactor::http
