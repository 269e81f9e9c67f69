// archive_search.hpp - the write side of archive access: for each archived post, what IMAP,
// POP3 and SEARCH need, stored at archive time so reads never parse messages in bulk.
//
// archive_index_access() adds the archive_imap row (merged-INBOX UID, CRLF size, ENVELOPE,
// BODY, BODYSTRUCTURE) and the archive_fts row (subject, sender, recipients and every decoded
// text/plain part, via GMime). Called by archive_index() inside its transaction, by
// `listctl import-mbox` and by archive_backfill() for posts archived before this existed.
// Errors: SQLite::Exception from the database; bad MIME never throws (best effort facts).
#pragma once

#include <SQLiteCpp/Database.h>
#include <SQLiteCpp/Statement.h>

#include <cstdint>
#include <filesystem>
#include <string>
#include <string_view>

#include "listd/message.hpp"

namespace listd {

constexpr std::size_t kMaxIndexedText = 256 * 1024;  // decoded text per post kept for SEARCH

void archive_index_access(SQLite::Database& db, std::int64_t archive_id, std::string_view raw, const MessageInfo& info);

// The same in two steps, for bulk loads (`listctl import-mbox`): access_facts() is the pure,
// thread-safe part (parsing; no database), the two inserts are the SQLite part. A bulk load
// should add every archive_fts row of a transaction after its other rows: an FTS5 table written
// earlier in a transaction flushes its pending terms at each later statement's savepoint.
struct AccessFacts {
  std::int64_t vsize = 0;
  std::string envelope, body, bodystructure;      // archive_imap
  std::string subject, sender, recipients, text;  // archive_fts
};
AccessFacts access_facts(std::string_view raw, const MessageInfo& info);
// insert_access_row - false if the post already had its archive_imap row.
bool insert_access_row(SQLite::Statement& imap_insert, std::int64_t archive_id, const AccessFacts& f);
void insert_fts_row(SQLite::Statement& fts_insert, std::int64_t archive_id, const AccessFacts& f);
extern const char* const kInsertAccessSql;  // the statements the two take, prepared once
extern const char* const kInsertFtsSql;

// archive_backfill - index posts that have an archive row but no archive_imap row (in
// archive.id order, so merged UIDs stay ascending). Returns how many were added.
std::size_t archive_backfill(SQLite::Database& db, const std::filesystem::path& archive_dir);

// search_text - the decoded text of every text/plain part (attachments excluded), at most
// kMaxIndexedText bytes; and the decoded To and Cc values.
struct SearchText {
  std::string body, recipients;
};
SearchText search_text(std::string_view raw);

// fold_case - Unicode case folding for SEARCH (RFC 3501 §6.4.4: case-insensitive substring
// match), via GLib's g_utf8_casefold: "ÑANDÚ" and "Ñandú" both give "ñandú". Diacritics are
// kept ("nandu" is not "ñandú"), as the trigram index keeps them. Bytes that are not UTF-8
// are folded as ASCII only.
std::string fold_case(std::string_view s);

// decode_header_text - an unstructured header value with RFC 2047 encoded-words decoded to UTF-8.
std::string decode_header_text(const std::string& raw);

}  // namespace listd
