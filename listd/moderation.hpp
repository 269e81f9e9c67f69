// moderation.hpp - decisions on held posts (table held_messages, files data_dir/held/):
// approve, reject with a reason, discard, ban the sender. One code path for the web admin,
// the REST API and (later) email moderation.
//
// approve re-spools the held message (via "approved", recipient the list address), so it
// goes through the normal pipeline (listd/pipeline.cpp) with only the hold lifted: the
// decorated delivery and the archive copy are exactly those of an accepted post. The spool
// entry is committed before the held row and file are removed (a crash in between can leave
// the row behind, never lose the post). reject sends the sender a notice
// (mail/post-rejected.txt). Errors: ModResult.ok = false with a message for unknown ids;
// SQLite/IO trouble throws.
#pragma once

#include <SQLiteCpp/Database.h>

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "listd/config.hpp"
#include "listd/store.hpp"
#include "listd/templates.hpp"

namespace listd {

struct HeldRow {
  std::int64_t id = 0;
  std::string sender, subject, message_id, reason, path, spool_id;
  std::int64_t size = 0, received = 0;
};

struct ModResult {
  bool ok = false;
  std::string detail;
};

class Moderation {
 public:
  Moderation(const Config& cfg, SQLite::Database& db, const Templates& templates)
      : cfg_(cfg), db_(db), templates_(templates) {}

  std::vector<HeldRow> held(const ListRow& list);
  std::size_t count_held(const ListRow& list);
  std::optional<HeldRow> get(const ListRow& list, std::int64_t id);
  // message - the held message bytes (LF); throws std::system_error if the file is gone.
  std::string message(const HeldRow& row);

  ModResult approve(const ListRow& list, std::int64_t id);
  ModResult reject(const ListRow& list, std::int64_t id, const std::string& reason);
  ModResult discard(const ListRow& list, std::int64_t id);
  // ban - add the sender to the list's bans, then discard the post.
  ModResult ban(const ListRow& list, std::int64_t id);

 private:
  void remove(const HeldRow& row);
  const Config& cfg_;
  SQLite::Database& db_;
  const Templates& templates_;
};

}  // namespace listd
