// auth.hpp - who is asking: web sessions, REST API bearer tokens, password logins with
// throttling, and the role a person holds on a list.
//
// Session ids and API tokens are 256 bits from getrandom, hex; only their SHA-256 is stored
// (tables web_sessions, api_tokens: migration 3 in listd/db.cpp), so a database leak
// reveals no live credential. Each session carries its own CSRF token (also 256 bits),
// compared in constant time. Logins are throttled per account (kMaxFailuresPerAccount) and
// per client IP (kMaxFailuresPerIp) within kThrottleWindow seconds; a throttled attempt is
// refused before the password is even checked. Callers: web-admin/app.cpp, listctl
// (`token create`). Errors: SQLite::Exception for database trouble; nothing else throws.
#pragma once

#include <SQLiteCpp/Database.h>

#include <cstdint>
#include <optional>
#include <string>

#include "web-admin/stmt_cache.hpp"

namespace listd::web {

constexpr std::int64_t kSessionTtl = std::int64_t{7} * 86400;  // seconds a session lives
constexpr int kMaxFailuresPerAccount = 5;
constexpr int kMaxFailuresPerIp = 20;
constexpr std::int64_t kThrottleWindow = std::int64_t{15} * 60;

struct Principal {
  std::int64_t person_id = 0;
  std::string email;
  bool is_admin = false;
  std::string csrf;  // session CSRF token; empty for token/basic auth
  std::string via;   // session | token | basic
};

enum class LoginResult { ok, bad_credentials, throttled };

class Auth {
 public:
  // cache: optional prepared statements of DB's thread, for the per-request lookups.
  explicit Auth(SQLite::Database& db, StmtCache* cache = nullptr) : db_(db), cache_(cache) {}

  // create_session - returns the raw session id (the cookie value).
  std::string create_session(std::int64_t person_id);
  std::optional<Principal> session(const std::string& raw_id);
  void end_session(const std::string& raw_id);

  // create_api_token - returns the raw bearer token (shown once).
  std::string create_api_token(std::int64_t person_id);
  std::optional<Principal> api_token(const std::string& raw);

  // login - throttled password check; on ok fills `out`.
  LoginResult login(const std::string& email, const std::string& password, const std::string& ip, Principal* out);

  // list_role - "owner", "moderator" or "" for PERSON on LIST (owner wins over moderator).
  std::string list_role(std::int64_t person_id, std::int64_t list_id);

 private:
  std::optional<Principal> person(std::int64_t id);
  int failures(const std::string& key, std::int64_t now);
  void record_failure(const std::string& key, std::int64_t now);
  SQLite::Database& db_;
  StmtCache* cache_;
};

// constant_time_equal - for CSRF tokens.
bool constant_time_equal(const std::string& a, const std::string& b);

}  // namespace listd::web
