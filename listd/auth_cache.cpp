// auth_cache.cpp - see auth_cache.hpp.
#include "listd/auth_cache.hpp"

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <sys/random.h>

#include <cerrno>
#include <system_error>

namespace listd {

AuthCache::AuthCache(unsigned ttl_seconds, std::size_t max_entries, Clock clock)
    : ttl_(ttl_seconds), max_entries_(max_entries == 0 ? 1 : max_entries), clock_(std::move(clock)) {
  std::size_t have = 0;
  while (have < sizeof key_) {
    ssize_t got = ::getrandom(key_ + have, sizeof key_ - have, 0);
    if (got < 0) {
      if (errno == EINTR) continue;
      throw std::system_error(errno, std::generic_category(), "getrandom");
    }
    have += static_cast<std::size_t>(got);
  }
}

std::chrono::steady_clock::time_point AuthCache::now() const {
  return clock_ ? clock_() : std::chrono::steady_clock::now();
}

std::string AuthCache::tag(const std::string& user, const std::string& password, const std::string& stored) const {
  // Lengths first, so ("ab","c") and ("a","bc") never give the same input.
  std::string msg = std::to_string(user.size()) + ":" + user + std::to_string(stored.size()) + ":" + stored + password;
  unsigned char out[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  HMAC(EVP_sha256(), key_, sizeof key_, reinterpret_cast<const unsigned char*>(msg.data()), msg.size(), out, &len);
  OPENSSL_cleanse(msg.data(), msg.size());
  return std::string(reinterpret_cast<const char*>(out), len);
}

bool AuthCache::check(const std::string& user, const std::string& password, const std::string& stored_hash) {
  if (!enabled()) return false;
  std::string t = tag(user, password, stored_hash);
  std::lock_guard lock(mu_);
  auto it = entries_.find(user);
  if (it == entries_.end()) return false;
  if (now() >= it->second.expires) {
    entries_.erase(it);
    return false;
  }
  return it->second.tag.size() == t.size() && CRYPTO_memcmp(it->second.tag.data(), t.data(), t.size()) == 0;
}

void AuthCache::remember(const std::string& user, const std::string& password, const std::string& stored_hash) {
  if (!enabled()) return;
  std::string t = tag(user, password, stored_hash);
  auto at = now();
  std::lock_guard lock(mu_);
  if (entries_.size() >= max_entries_ && !entries_.count(user)) {
    for (auto it = entries_.begin(); it != entries_.end();) it = at >= it->second.expires ? entries_.erase(it) : ++it;
    if (entries_.size() >= max_entries_) {
      auto oldest = entries_.begin();
      for (auto it = entries_.begin(); it != entries_.end(); ++it)
        if (it->second.expires < oldest->second.expires) oldest = it;
      entries_.erase(oldest);
    }
  }
  entries_[user] = Entry{std::move(t), at + ttl_};
}

std::size_t AuthCache::size() const {
  std::lock_guard lock(mu_);
  return entries_.size();
}

}  // namespace listd
