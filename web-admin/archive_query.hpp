// archive_query.hpp - the web archive search box: what a person typed -> an FTS5 MATCH
// expression over archive_fts (the trigram index IMAP SEARCH uses, listd/archive_search.hpp).
//
// Pure. Every term becomes an FTS5 string literal ("..." with quotes doubled), so no input
// reaches FTS5 as syntax: NEAR(, *, ^, -, AND/OR/NOT, column filters ("subject:x") and
// unbalanced quotes are all searched for as text. Terms are separated by white space; a
// double-quoted run ("buenos días") is one term with its spaces. All terms must match
// (AND), each as a case-insensitive substring. The trigram index cannot answer terms under 3
// characters: they are returned apart, for the caller to check on the rows the index found
// (or on subjects and senders when no term is long enough). At most kMaxQueryTerms terms
// (the rest are dropped and `truncated` is set), each at most kMaxTermBytes.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>
#include <vector>

namespace listd::web {

constexpr std::size_t kMaxQueryTerms = 16;
constexpr std::size_t kMaxTermBytes = 200;

struct ArchiveQuery {
  std::string match;                     // "\"t1\" AND \"t2\""; empty = no term of 3+ characters
  std::vector<std::string> short_terms;  // terms of 1-2 characters, as typed
  bool truncated = false;                // terms beyond kMaxQueryTerms were dropped
  bool empty() const { return match.empty() && short_terms.empty(); }
};

ArchiveQuery archive_query(std::string_view text);

// fts_literal - an FTS5 string literal for TEXT: "..." with every '"' doubled.
std::string fts_literal(std::string_view text);

}  // namespace listd::web
