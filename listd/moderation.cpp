// moderation.cpp - see moderation.hpp.
#include "listd/moderation.hpp"

#include <SQLiteCpp/Statement.h>

#include "listd/db.hpp"
#include "listd/fsutil.hpp"
#include "listd/log.hpp"
#include "listd/spool.hpp"
#include "listd/subscription.hpp"

namespace listd {

namespace {
HeldRow row_from(SQLite::Statement& q) {
  HeldRow r;
  r.id = q.getColumn(0).getInt64();
  r.sender = q.getColumn(1).getString();
  r.subject = q.getColumn(2).getString();
  r.message_id = q.getColumn(3).getString();
  r.reason = q.getColumn(4).getString();
  r.path = q.getColumn(5).getString();
  r.size = q.getColumn(6).getInt64();
  r.received = q.getColumn(7).getInt64();
  r.spool_id = q.getColumn(8).getString();
  return r;
}
constexpr const char* kCols = "id, sender, subject, message_id, reason, path, size, received, spool_id";
}  // namespace

std::vector<HeldRow> Moderation::held(const ListRow& list) {
  SQLite::Statement q(db_, std::string("SELECT ") + kCols + " FROM held_messages WHERE list_id = ? ORDER BY id");
  q.bind(1, list.id);
  std::vector<HeldRow> out;
  while (q.executeStep()) out.push_back(row_from(q));
  return out;
}

std::size_t Moderation::count_held(const ListRow& list) {
  SQLite::Statement q(db_, "SELECT count(*) FROM held_messages WHERE list_id = ?");
  q.bind(1, list.id);
  q.executeStep();
  return static_cast<std::size_t>(q.getColumn(0).getInt64());
}

std::optional<HeldRow> Moderation::get(const ListRow& list, std::int64_t id) {
  SQLite::Statement q(db_, std::string("SELECT ") + kCols + " FROM held_messages WHERE list_id = ? AND id = ?");
  q.bind(1, list.id);
  q.bind(2, id);
  if (!q.executeStep()) return std::nullopt;
  return row_from(q);
}

std::string Moderation::message(const HeldRow& row) {
  // row.path is "held/<spool id>.eml", written by the pipeline; only its file name is used.
  return read_file(cfg_.held_dir() / std::filesystem::path(row.path).filename());
}

void Moderation::remove(const HeldRow& row) {
  {
    WriteTx tx(db_);
    SQLite::Statement q(db_, "DELETE FROM held_messages WHERE id = ?");
    q.bind(1, row.id);
    q.exec();
    tx.commit();
  }
  unlink_durable(cfg_.held_dir() / std::filesystem::path(row.path).filename());
}

ModResult Moderation::approve(const ListRow& list, std::int64_t id) {
  auto row = get(list, id);
  if (!row) return {false, "no held message " + std::to_string(id) + " on " + list.address()};
  std::string msg = message(*row);
  Spool spool(cfg_.spool_dir());
  SpoolEnvelope env;
  env.received = now_unix();
  env.via = "approved";
  env.sender = row->sender;
  env.recipient = list.address();
  std::string spool_id = spool.commit(env, msg);
  remove(*row);
  log_event(LogLevel::info, "held-approved", {{"list", list.address()}, {"held", row->spool_id}, {"spool", spool_id}});
  return {true, "approved; queued as " + spool_id};
}

ModResult Moderation::reject(const ListRow& list, std::int64_t id, const std::string& reason) {
  auto row = get(list, id);
  if (!row) return {false, "no held message " + std::to_string(id) + " on " + list.address()};
  if (!row->sender.empty()) {
    TemplateVars vars{{"list_address", list.address()}, {"subject", row->subject}, {"reason", reason}};
    std::string body = templates_.render("mail/post-rejected.txt", vars);
    queue_notice(
        cfg_, db_, list, row->sender,
        compose_notice(list, "owner", row->sender, "Your message to " + list.address() + " was rejected", body));
  }
  remove(*row);
  log_event(LogLevel::info, "held-rejected", {{"list", list.address()}, {"held", row->spool_id}, {"reason", reason}});
  return {true, "rejected"};
}

ModResult Moderation::discard(const ListRow& list, std::int64_t id) {
  auto row = get(list, id);
  if (!row) return {false, "no held message " + std::to_string(id) + " on " + list.address()};
  remove(*row);
  log_event(LogLevel::info, "held-discarded", {{"list", list.address()}, {"held", row->spool_id}});
  return {true, "discarded"};
}

ModResult Moderation::ban(const ListRow& list, std::int64_t id) {
  auto row = get(list, id);
  if (!row) return {false, "no held message " + std::to_string(id) + " on " + list.address()};
  if (!row->sender.empty()) {
    Store store(db_);
    store.add_ban(&list, row->sender);
  }
  remove(*row);
  log_event(LogLevel::info, "held-banned",
            {{"list", list.address()}, {"held", row->spool_id}, {"sender", row->sender}});
  return {true, "sender " + row->sender + " banned; post discarded"};
}

}  // namespace listd
