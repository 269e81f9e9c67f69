// auth_cache.hpp - remembers recent successful password checks (as Dovecot's auth cache does)
// so IMAP/POP3 clients that log in again and again skip the argon2id verification.
//
// Called by ArchiveView::login (listd/archive_view.cpp), from the archive worker pool, so
// every method is thread-safe. An entry is (user -> HMAC-SHA256 under a random per-process key
// of user, stored hash and password, expiry): never the password itself, and a changed
// stored hash (new password) no longer matches. Only successes are stored; a failed login
// always pays the full verification. ttl 0 disables the cache. At most max_entries users are
// kept (expired ones are dropped first, then the oldest). Errors: getrandom failure throws.
#pragma once

#include <chrono>
#include <cstddef>
#include <functional>
#include <mutex>
#include <string>
#include <unordered_map>

namespace listd {

class AuthCache {
 public:
  using Clock = std::function<std::chrono::steady_clock::time_point()>;
  explicit AuthCache(unsigned ttl_seconds, std::size_t max_entries = 10000, Clock clock = nullptr);

  // check - true if `user` logged in with `password` against exactly `stored_hash` less than
  // ttl seconds ago.
  bool check(const std::string& user, const std::string& password, const std::string& stored_hash);
  // remember - record a verification that succeeded (call only after verify_password said yes).
  void remember(const std::string& user, const std::string& password, const std::string& stored_hash);
  std::size_t size() const;
  bool enabled() const { return ttl_.count() > 0; }

 private:
  struct Entry {
    std::string tag;
    std::chrono::steady_clock::time_point expires;
  };
  std::string tag(const std::string& user, const std::string& password, const std::string& stored_hash) const;
  std::chrono::steady_clock::time_point now() const;

  std::chrono::seconds ttl_;
  std::size_t max_entries_;
  Clock clock_;
  unsigned char key_[32];
  mutable std::mutex mu_;
  std::unordered_map<std::string, Entry> entries_;
};

}  // namespace listd
