// archive_mbox.hpp - `listctl import-mbox` / `export-mbox`: move a list archive in and out as
// mboxrd (the format of Mailman 2's pipermail .mbox and Mailman 3's export).
//
// Import splits on "From " lines, undoes mboxrd quoting (">From " -> "From "), writes each
// message into the list's Maildir and indexes it (archive row, IMAP facts, FTS) exactly as a
// post would be. It is idempotent: a message's archive id is a hash of its text, so importing
// the same file twice adds nothing. Files are written in batches and made durable with one
// syncfs(2) per batch before the batch's transaction commits (fast, and still nothing is
// indexed that is not on disk). Export writes every post in UID order.
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
