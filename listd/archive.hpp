// archive.hpp - the list archive: one Maildir per list under data_dir/archive/NAME@HOST/
// (cur/ new/ tmp/, readable by Dovecot or mutt) plus the SQLite index (table `archive`).
//
// archive_write() puts the message file in place durably and is idempotent: the file name is
// derived from the spool id, so a retry after a crash replaces the same file rather than
// adding a second. archive_index() assigns the next UID of the list (RFC 3501 §2.3.1.1,
// strictly ascending) and must run inside the caller's transaction, which also records that
// the spool entry was processed: either both happen or neither.
// File names follow Maildir++ / Dovecot: "<unix>.M<id>.<host>,S=<size>:2," in cur/.
#pragma once

#include <SQLiteCpp/Database.h>

#include <cstdint>
#include <filesystem>
#include <string>
#include <string_view>

#include "listd/message.hpp"
#include "listd/store.hpp"

namespace listd {

// archive_maildir - data_dir/archive/NAME@HOST, created (with cur/new/tmp, 0700) if missing.
std::filesystem::path archive_maildir(const std::filesystem::path& archive_dir, const ListRow& list);

// archive_write - returns the path relative to archive_dir ("NAME@HOST/cur/...").
std::string archive_write(const std::filesystem::path& archive_dir, const ListRow& list, const std::string& spool_id,
                          std::int64_t received, const std::string& hostname, std::string_view message);

// archive_index - insert the index row (or find the existing one for this spool id);
// returns the UID. With `raw` (the archived text) it also records what IMAP/POP3 and SEARCH
// need (archive_search.hpp), in the same transaction.
std::int64_t archive_index(SQLite::Database& db, const ListRow& list, const std::string& spool_id,
                           const std::string& rel_path, const MessageInfo& info, std::int64_t received,
                           std::string_view raw = {});

}  // namespace listd
