// auth.cpp - see auth.hpp.
#include "web-admin/auth.hpp"

#include <SQLiteCpp/Statement.h>

#include "listd/fsutil.hpp"
#include "listd/password.hpp"
#include "listd/store.hpp"
#include "listd/subscription.hpp"
#include "smtp/address.hpp"

namespace listd::web {

bool constant_time_equal(const std::string& a, const std::string& b) {
  if (a.size() != b.size() || a.empty()) return false;
  unsigned char diff = 0;
  for (std::size_t i = 0; i < a.size(); ++i) diff |= static_cast<unsigned char>(a[i] ^ b[i]);
  return diff == 0;
}

std::optional<Principal> Auth::person(std::int64_t id) {
  auto q = lease(cache_, db_, "SELECT email, is_admin FROM people WHERE id = ?");
  q->bind(1, id);
  if (!q->executeStep()) return std::nullopt;
  Principal p;
  p.person_id = id;
  p.email = q->getColumn(0).getString();
  p.is_admin = q->getColumn(1).getInt() != 0;
  return p;
}

std::string Auth::create_session(std::int64_t person_id) {
  std::string raw = random_hex(32);
  std::int64_t now = now_unix();
  db_.exec("DELETE FROM web_sessions WHERE expires < " + std::to_string(now));
  SQLite::Statement q(db_, "INSERT INTO web_sessions(id_hash, person_id, csrf, created, expires) VALUES (?,?,?,?,?)");
  q.bind(1, token_hash(raw));
  q.bind(2, person_id);
  q.bind(3, random_hex(32));
  q.bind(4, now);
  q.bind(5, now + kSessionTtl);
  q.exec();
  return raw;
}

std::optional<Principal> Auth::session(const std::string& raw_id) {
  if (raw_id.size() != 64) return std::nullopt;
  auto q = lease(cache_, db_, "SELECT person_id, csrf FROM web_sessions WHERE id_hash = ? AND expires > ?");
  q->bind(1, token_hash(raw_id));
  q->bind(2, now_unix());
  if (!q->executeStep()) return std::nullopt;
  auto p = person(q->getColumn(0).getInt64());
  if (!p) return std::nullopt;
  p->csrf = q->getColumn(1).getString();
  p->via = "session";
  return p;
}

void Auth::end_session(const std::string& raw_id) {
  SQLite::Statement q(db_, "DELETE FROM web_sessions WHERE id_hash = ?");
  q.bind(1, token_hash(raw_id));
  q.exec();
}

std::string Auth::create_api_token(std::int64_t person_id) {
  std::string raw = random_hex(32);
  SQLite::Statement q(db_, "INSERT INTO api_tokens(token_hash, person_id, created) VALUES (?,?,?)");
  q.bind(1, token_hash(raw));
  q.bind(2, person_id);
  q.bind(3, now_unix());
  q.exec();
  return raw;
}

std::optional<Principal> Auth::api_token(const std::string& raw) {
  if (raw.size() != 64) return std::nullopt;
  SQLite::Statement q(db_, "SELECT person_id FROM api_tokens WHERE token_hash = ?");
  q.bind(1, token_hash(raw));
  if (!q.executeStep()) return std::nullopt;
  auto p = person(q.getColumn(0).getInt64());
  if (p) p->via = "token";
  return p;
}

int Auth::failures(const std::string& key, std::int64_t now) {
  SQLite::Statement q(db_, "SELECT count(*) FROM login_failures WHERE key = ? AND at > ?");
  q.bind(1, key);
  q.bind(2, now - kThrottleWindow);
  q.executeStep();
  return q.getColumn(0).getInt();
}

void Auth::record_failure(const std::string& key, std::int64_t now) {
  SQLite::Statement q(db_, "INSERT INTO login_failures(key, at) VALUES (?,?)");
  q.bind(1, key);
  q.bind(2, now);
  q.exec();
}

LoginResult Auth::login(const std::string& email_in, const std::string& password, const std::string& ip,
                        Principal* out) {
  std::int64_t now = now_unix();
  std::string email = smtp::normalize_address(email_in).value_or(email_in);
  const std::string acct_key = "acct:" + email, ip_key = "ip:" + ip;
  if (failures(acct_key, now) >= kMaxFailuresPerAccount || failures(ip_key, now) >= kMaxFailuresPerIp)
    return LoginResult::throttled;
  db_.exec("DELETE FROM login_failures WHERE at < " + std::to_string(now - kThrottleWindow));
  Store store(db_);
  auto hash = store.password_hash(email);
  // Unknown accounts cost the same work as known ones (no account probing by timing).
  static const std::string dummy = hash_password("listd-dummy-password");
  bool ok = verify_password(password, hash && !hash->empty() ? *hash : dummy) && hash && !hash->empty();
  if (!ok) {
    record_failure(acct_key, now);
    record_failure(ip_key, now);
    return LoginResult::bad_credentials;
  }
  SQLite::Statement del(db_, "DELETE FROM login_failures WHERE key = ?");
  del.bind(1, acct_key);
  del.exec();
  auto id = store.find_person(email);
  auto p = id ? person(*id) : std::nullopt;
  if (!p) return LoginResult::bad_credentials;
  p->via = "password";
  *out = *p;
  return LoginResult::ok;
}

std::string Auth::list_role(std::int64_t person_id, std::int64_t list_id) {
  auto q = lease(cache_, db_,
                 "SELECT role FROM memberships WHERE person_id = ? AND list_id = ? AND role IN ('owner', "
                 "'moderator') ORDER BY role = 'owner' DESC LIMIT 1");
  q->bind(1, person_id);
  q->bind(2, list_id);
  return q->executeStep() ? q->getColumn(0).getString() : std::string();
}

}  // namespace listd::web
