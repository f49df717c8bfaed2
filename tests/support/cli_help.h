// Test support: read back the option table of a CLI11 --help text, so a
// test can check that every option is listed and explained, and that the
// list holds nothing the test does not know about.
#pragma once

#include <algorithm>
#include <map>
#include <sstream>
#include <string>

namespace test_support {

// Option name -> its explanation, for every entry of the "Positionals:" and
// "Options:" tables. An entry starts on a line indented by exactly two
// spaces ("  --bind TEXT=0.0.0.0     Numeric address..."); the explanation
// follows its name and type after a run of at least two spaces, and goes
// on in deeper-indented lines. "-h,--help" is filed under "--help".
inline std::map<std::string, std::string> options_in_help(const std::string& help) {
  std::map<std::string, std::string> options;
  // The explanations' column: where continuation lines start. A name and
  // type that fill the column leave a single space before the explanation.
  size_t column = std::string::npos;
  {
    std::istringstream scan(help);
    std::string line;
    while (std::getline(scan, line)) {
      const size_t indent = line.find_first_not_of(' ');
      if (indent != std::string::npos && indent > 2) column = std::min(column, indent);
    }
  }
  std::istringstream lines(help);
  std::string line;
  std::string* current = nullptr;
  auto trimmed = [](const std::string& text) {
    const size_t first = text.find_first_not_of(' ');
    if (first == std::string::npos) return std::string();
    return text.substr(first, text.find_last_not_of(' ') - first + 1);
  };
  while (std::getline(lines, line)) {
    if (line.size() > 2 && line.starts_with("  ") && line[2] != ' ') {
      const size_t name_end = line.find(' ', 2);
      std::string name = line.substr(2, name_end == std::string::npos ? name_end : name_end - 2);
      if (const size_t comma = name.rfind(','); comma != std::string::npos) {
        name = name.substr(comma + 1);
      }
      current = &options[name];
      if (column != std::string::npos && line.size() > column && line[column - 1] == ' ') {
        *current = trimmed(line.substr(column));
      } else if (name_end != std::string::npos) {
        const size_t gap = line.find("  ", name_end);
        if (gap != std::string::npos) *current = trimmed(line.substr(gap));
      }
    } else if (current != nullptr && line.starts_with("   ")) {
      if (!current->empty()) *current += ' ';
      *current += trimmed(line);
    } else {
      current = nullptr;
    }
  }
  return options;
}

}  // namespace test_support
