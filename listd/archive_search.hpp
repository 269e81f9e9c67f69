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

#include <cstdint>
#include <filesystem>
#include <string>
#include <string_view>

#include "listd/message.hpp"

namespace listd {

constexpr std::size_t kMaxIndexedText = 256 * 1024;  // decoded text per post kept for SEARCH

void archive_index_access(SQLite::Database& db, std::int64_t archive_id, std::string_view raw, const MessageInfo& info);

// archive_backfill - index posts that have an archive row but no archive_imap row (in
// archive.id order, so merged UIDs stay ascending). Returns how many were added.
std::size_t archive_backfill(SQLite::Database& db, const std::filesystem::path& archive_dir);

// search_text - the decoded text of every text/plain part (attachments excluded), at most
// kMaxIndexedText bytes; and the decoded To and Cc values.
struct SearchText {
  std::string body, recipients;
};
SearchText search_text(std::string_view raw);

}  // namespace listd
