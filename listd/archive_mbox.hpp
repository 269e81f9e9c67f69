// archive_mbox.hpp - `listctl import-mbox` / `export-mbox`: move a list archive in and out as
// mboxrd (the format of Mailman 2's pipermail .mbox and Mailman 3's export).
//
// Import splits on "From " lines, undoes mboxrd quoting (">From " -> "From "), writes each
// message into the list's Maildir and indexes it (archive row, IMAP facts, FTS) exactly as a
// post would be. It is idempotent: a message's archive id is a hash of its text, so importing
// the same file twice adds nothing. Three threads form a pipeline over batches of kImportBatch
// posts: parse (GMime, ENVELOPE/BODYSTRUCTURE, search text), write the files (tmp/ then cur/,
// no fsync each), index (one transaction per batch, statements prepared once, FTS5 rows last).
// Crash safety: a batch's files are made durable with one syncfs(2) before its transaction
// commits, so the index never names a file that is not on disk; a crash leaves at worst
// unindexed files in cur/, which a rerun rewrites under the same names. Export writes every
// post in UID order.
// Errors: std::runtime_error / std::system_error / SQLite::Exception, with the path in it.
#pragma once

#include <SQLiteCpp/Database.h>

#include <cstddef>
#include <filesystem>
#include <istream>
#include <ostream>
#include <string>

#include "listd/store.hpp"

namespace listd {

constexpr std::size_t kImportBatch = 2000;                   // messages per syncfs + transaction
constexpr std::size_t kMaxImportMessage = 64 * 1024 * 1024;  // a bigger message is skipped

struct ImportResult {
  std::size_t imported = 0, already = 0, too_big = 0;
};

ImportResult archive_import_mbox(SQLite::Database& db, const std::filesystem::path& archive_dir, const ListRow& list,
                                 const std::string& hostname, std::istream& in);

std::size_t archive_export_mbox(SQLite::Database& db, const std::filesystem::path& archive_dir, const ListRow& list,
                                std::ostream& out);

}  // namespace listd
