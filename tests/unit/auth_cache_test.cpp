// auth_cache_test.cpp - listd::AuthCache: a remembered success is a hit for the same user,
// password and stored hash within the TTL; a wrong password, a changed stored hash (new
// password set), an expired entry, a disabled cache and an unknown user are misses; the
// size bound drops the oldest. The clock is injected, so no test sleeps.
#include "listd/auth_cache.hpp"

#include <gtest/gtest.h>

using listd::AuthCache;
using Clock = std::chrono::steady_clock;

namespace {

struct FakeClock {
  Clock::time_point t = Clock::time_point(std::chrono::hours(1000));
  AuthCache::Clock fn() {
    return [this] { return t; };
  }
};

}  // namespace

TEST(AuthCache, HitMissWrongPasswordChangedHash) {
  FakeClock c;
  AuthCache cache(300, 100, c.fn());
  EXPECT_FALSE(cache.check("ana@x.org", "pw", "$argon2id$A"));  // nothing yet
  cache.remember("ana@x.org", "pw", "$argon2id$A");
  EXPECT_TRUE(cache.check("ana@x.org", "pw", "$argon2id$A"));
  EXPECT_FALSE(cache.check("ana@x.org", "pw2", "$argon2id$A"));  // wrong password
  EXPECT_FALSE(cache.check("ana@x.org", "", "$argon2id$A"));
  EXPECT_FALSE(cache.check("bob@x.org", "pw", "$argon2id$A"));  // another user
  EXPECT_FALSE(cache.check("ana@x.org", "pw", "$argon2id$B"));  // the stored hash changed
  EXPECT_TRUE(cache.check("ana@x.org", "pw", "$argon2id$A"));   // a miss does not evict
  EXPECT_EQ(cache.size(), 1u);
  // A user/hash/password split differently never collides.
  cache.remember("a", "bc", "h");
  EXPECT_FALSE(cache.check("a", "b", "ch"));
}

TEST(AuthCache, ExpiresAfterTtl) {
  FakeClock c;
  AuthCache cache(300, 100, c.fn());
  cache.remember("ana", "pw", "H");
  c.t += std::chrono::seconds(299);
  EXPECT_TRUE(cache.check("ana", "pw", "H"));
  c.t += std::chrono::seconds(1);
  EXPECT_FALSE(cache.check("ana", "pw", "H"));
  EXPECT_EQ(cache.size(), 0u);       // the expired entry was dropped
  cache.remember("ana", "pw", "H");  // a new success starts a new TTL
  EXPECT_TRUE(cache.check("ana", "pw", "H"));
}

TEST(AuthCache, ZeroTtlDisables) {
  AuthCache cache(0);
  EXPECT_FALSE(cache.enabled());
  cache.remember("ana", "pw", "H");
  EXPECT_FALSE(cache.check("ana", "pw", "H"));
  EXPECT_EQ(cache.size(), 0u);
}

TEST(AuthCache, BoundedDropsExpiredThenOldest) {
  FakeClock c;
  AuthCache cache(100, 3, c.fn());
  cache.remember("u1", "p", "H");
  c.t += std::chrono::seconds(10);
  cache.remember("u2", "p", "H");
  cache.remember("u3", "p", "H");
  cache.remember("u4", "p", "H");  // full: u1 (oldest) goes
  EXPECT_EQ(cache.size(), 3u);
  EXPECT_FALSE(cache.check("u1", "p", "H"));
  EXPECT_TRUE(cache.check("u4", "p", "H"));
  c.t += std::chrono::seconds(100);  // u2..u4 expired
  cache.remember("u5", "p", "H");
  EXPECT_EQ(cache.size(), 1u);
}
