// archive.cpp - see archive.hpp.
#include "listd/archive.hpp"

#include <SQLiteCpp/Statement.h>

#include <algorithm>

#include "listd/archive_search.hpp"
#include "listd/fsutil.hpp"

namespace listd {

std::filesystem::path archive_maildir(const std::filesystem::path& archive_dir, const ListRow& list) {
  auto dir = archive_dir / list.address();
  make_private_dir(dir / "cur");
  make_private_dir(dir / "new");
  make_private_dir(dir / "tmp");
  return dir;
}

std::string archive_write(const std::filesystem::path& archive_dir, const ListRow& list, const std::string& spool_id,
                          std::int64_t received, const std::string& hostname, std::string_view message) {
  auto dir = archive_maildir(archive_dir, list);
  std::string unique = spool_id;
  std::replace(unique.begin(), unique.end(), '.', '_');
  std::string name =
      std::to_string(received) + ".M" + unique + "." + hostname + ",S=" + std::to_string(message.size()) + ":2,";
  write_durable(dir / "tmp", dir / "cur", name, {message});
  return list.address() + "/cur/" + name;
}

std::int64_t archive_index(SQLite::Database& db, const ListRow& list, const std::string& spool_id,
                           const std::string& rel_path, const MessageInfo& info, std::int64_t received,
                           std::string_view raw) {
  {
    SQLite::Statement q(db, "SELECT uid FROM archive WHERE list_id = ? AND spool_id = ?");
    q.bind(1, list.id);
    q.bind(2, spool_id);
    if (q.executeStep()) return q.getColumn(0).getInt64();
  }
  std::int64_t uid = 0;
  {
    SQLite::Statement q(db, "UPDATE lists SET next_uid = next_uid + 1 WHERE id = ? RETURNING next_uid - 1");
    q.bind(1, list.id);
    q.executeStep();
    uid = q.getColumn(0).getInt64();
  }
  std::string refs;
  for (auto& r : info.references) refs += (refs.empty() ? "" : " ") + r;
  SQLite::Statement q(db,
                      "INSERT INTO archive(list_id, uid, spool_id, message_id, date, received, from_addr, from_name, "
                      "subject, in_reply_to, refs, size, path) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?)");
  q.bind(1, list.id);
  q.bind(2, uid);
  q.bind(3, spool_id);
  q.bind(4, info.message_id);
  q.bind(5, static_cast<std::int64_t>(info.date != 0 ? info.date : received));
  q.bind(6, received);
  q.bind(7, info.from_address);
  q.bind(8, info.from_name);
  q.bind(9, info.subject);
  q.bind(10, info.in_reply_to);
  q.bind(11, refs);
  q.bind(12, static_cast<std::int64_t>(info.size));
  q.bind(13, rel_path);
  q.exec();
  if (!raw.empty()) archive_index_access(db, db.getLastInsertRowid(), raw, info);
  return uid;
}

}  // namespace listd
