// archive_query.cpp - see archive_query.hpp.
#include "web-admin/archive_query.hpp"

namespace listd::web {

namespace {

bool is_space(char c) {
  return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v';
}

std::size_t utf8_chars(std::string_view s) {
  std::size_t n = 0;
  for (char c : s) n += (static_cast<unsigned char>(c) & 0xc0) != 0x80;
  return n;
}

// Cuts at most kMaxTermBytes without splitting a UTF-8 sequence.
std::string clip(std::string_view s) {
  if (s.size() <= kMaxTermBytes) return std::string(s);
  std::size_t n = kMaxTermBytes;
  while (n > 0 && (static_cast<unsigned char>(s[n]) & 0xc0) == 0x80) --n;
  return std::string(s.substr(0, n));
}

}  // namespace

std::string fts_literal(std::string_view text) {
  std::string r = "\"";
  for (char c : text) {
    if (c == '"') r.push_back('"');
    r.push_back(c);
  }
  return r + "\"";
}

ArchiveQuery archive_query(std::string_view text) {
  std::vector<std::string> terms;
  std::size_t i = 0;
  while (i < text.size()) {
    while (i < text.size() && is_space(text[i])) ++i;
    if (i == text.size()) break;
    std::string term;
    if (text[i] == '"') {  // a quoted phrase, up to the next quote (or the end)
      auto end = text.find('"', i + 1);
      term = std::string(text.substr(i + 1, end == std::string_view::npos ? std::string_view::npos : end - i - 1));
      i = end == std::string_view::npos ? text.size() : end + 1;
      // Outer spaces of a phrase are kept: "  x" is a search for them too, as typed.
    } else {
      std::size_t start = i;
      while (i < text.size() && !is_space(text[i])) ++i;
      term = std::string(text.substr(start, i - start));
    }
    if (term.empty()) continue;
    terms.push_back(clip(term));
  }
  ArchiveQuery q;
  if (terms.size() > kMaxQueryTerms) {
    terms.resize(kMaxQueryTerms);
    q.truncated = true;
  }
  for (auto& t : terms) {
    if (utf8_chars(t) < 3) {
      q.short_terms.push_back(t);
      continue;
    }
    if (!q.match.empty()) q.match += " AND ";
    q.match += fts_literal(t);
  }
  return q;
}

}  // namespace listd::web
