// text.hpp - small ASCII text helpers shared by the engine's parsers of mail text (commands,
// bounces, rules, moderation replies, DMARC records). Byte-oriented: non-ASCII bytes pass
// through unchanged, so UTF-8 is never split.
#pragma once

#include <algorithm>
#include <string>
#include <string_view>

namespace listd {

// lower - ASCII lower case.
inline std::string lower(std::string_view s) {
  std::string out(s);
  std::transform(out.begin(), out.end(), out.begin(),
                 [](unsigned char c) { return static_cast<char>(c >= 'A' && c <= 'Z' ? c + 32 : c); });
  return out;
}

// trim - without leading and trailing spaces, tabs, CR and LF.
inline std::string trim(std::string_view s) {
  auto b = s.find_first_not_of(" \t\r\n");
  if (b == std::string_view::npos) return {};
  auto e = s.find_last_not_of(" \t\r\n");
  return std::string(s.substr(b, e - b + 1));
}

}  // namespace listd
