// web_page_cache_test.cpp - the page cache on its own: token holes, entity tags, generations,
// revalidation by validator, expiry and the byte bound (least recently used out first); one
// render at a time per key (SingleFlight).
#include <gtest/gtest.h>

#include <atomic>
#include <thread>

#include "web-admin/page_cache.hpp"

using namespace listd::web;

namespace {

std::shared_ptr<CachedPage> page(const std::string& body, std::uint64_t gen, const std::string& marker = "@T@") {
  auto p = CachedPage::cut(body, marker);
  p->generation = gen;
  return p;
}

}  // namespace

TEST(PageCache, HolesTakeEachVisitorsToken) {
  struct Case {
    std::string body;
    std::size_t holes;
    std::string with_token;
  };
  const Case cases[] = {
      {"no token here", 0, "no token here"},
      {"@T@", 1, "abc"},
      {"<input value=\"@T@\">", 1, "<input value=\"abc\">"},
      {"@T@@T@ and @T@.", 3, "abcabc and abc."},
      {"@T", 0, "@T"},
  };
  for (const auto& c : cases) {
    auto p = page(c.body, 1);
    EXPECT_EQ(p->holes.size(), c.holes) << c.body;
    EXPECT_EQ(p->materialize("abc"), c.with_token) << c.body;
    EXPECT_EQ(p->body.find("@T@"), std::string::npos) << c.body;
  }
}

TEST(PageCache, EntityTagsFollowContentAndToken) {
  auto a = page("<p>@T@</p>", 1), b = page("<p>@T@</p>", 7), c = page("<p>@T@!</p>", 1);
  EXPECT_EQ(a->etag("t1"), b->etag("t1"));  // same page, same tag, whatever the generation
  EXPECT_NE(a->etag("t1"), a->etag("t2"));  // another visitor's token: another body
  EXPECT_NE(a->etag("t1"), c->etag("t1"));
  auto plain = page("<p>x</p>", 1);
  EXPECT_EQ(plain->etag("t1"), plain->etag("t2"));
  EXPECT_EQ(plain->etag("t1").front(), '"');
  EXPECT_EQ(plain->etag("t1").back(), '"');
}

TEST(PageCache, AnotherGenerationOrExpiryIsAMiss) {
  PageCache cache(1 << 20);
  cache.put("/a", page("A", 3));
  EXPECT_EQ(cache.get("/b", 3), nullptr);
  ASSERT_NE(cache.get("/a", 3), nullptr);
  EXPECT_EQ(cache.get("/a", 3)->body, "A");
  EXPECT_EQ(cache.get("/a", 4), nullptr);  // the database changed: dropped
  EXPECT_EQ(cache.get("/a", 3), nullptr);
  auto old = page("B", 3);
  old->expires = std::chrono::steady_clock::now() - std::chrono::seconds(1);
  cache.put("/b", old);
  EXPECT_EQ(cache.get("/b", 3), nullptr);
  auto s = cache.stats();
  EXPECT_EQ(s.hits, 2u);
  EXPECT_EQ(s.entries, 0u);
  EXPECT_EQ(s.bytes, 0u);
}

TEST(PageCache, BoundedInBytesLeastRecentlyUsedFirstOut) {
  const std::string k(10000, 'x');
  PageCache cache(100000);
  for (int i = 0; i < 9; ++i) cache.put("/" + std::to_string(i), page(k, 1));
  EXPECT_EQ(cache.stats().entries, 9u);
  ASSERT_NE(cache.get("/0", 1), nullptr);  // now the most recent
  cache.put("/9", page(k, 1));
  cache.put("/10", page(k, 1));
  auto s = cache.stats();
  EXPECT_LE(s.bytes, 100000u);
  EXPECT_GT(s.evictions, 0u);
  EXPECT_NE(cache.get("/0", 1), nullptr);
  EXPECT_NE(cache.get("/10", 1), nullptr);
  EXPECT_EQ(cache.get("/1", 1), nullptr);  // the least recently used went first
  // Replacing a key does not count it twice; a page over a quarter of the bound is not kept.
  cache.put("/10", page(k, 1));
  EXPECT_EQ(cache.stats().entries, s.entries);
  cache.put("/big", page(std::string(30000, 'y'), 1));
  EXPECT_EQ(cache.get("/big", 1), nullptr);
  cache.clear();
  EXPECT_EQ(cache.stats().bytes, 0u);
}

TEST(PageCache, AnotherGenerationKeepsAPageWhoseValidatorStillHolds) {
  using V = PageCache::Validity;
  PageCache cache(1 << 20);
  auto p = page("A", 3);
  p->validator = "list|m10/99";
  cache.put("/a", p);
  int asked = 0;
  auto check = [&](const std::string& now, V otherwise = V::no) {
    return [&asked, now, otherwise](const CachedPage& c) { return ++asked, c.validator == now ? V::good : otherwise; };
  };
  // The database moved on (generation 4) but not what the page shows: kept, now good at 4.
  auto hit = cache.get("/a", 4, check("list|m10/99"));
  ASSERT_NE(hit, nullptr);
  EXPECT_EQ(hit->body, "A");
  EXPECT_EQ(asked, 1);
  EXPECT_EQ(hit->generation.load(), 4u);
  EXPECT_NE(cache.get("/a", 4, check("list|m11/100")), nullptr);  // good at 4 already: not asked again
  EXPECT_EQ(asked, 1);
  // An older generation asking does not move it back.
  EXPECT_NE(cache.get("/a", 2, check("list|m10/99")), nullptr);
  EXPECT_EQ(hit->generation.load(), 4u);
  // What it shows changed: a miss, but the copy stays (a caller may still take it once, as the
  // render it waited for; a new render replaces it).
  EXPECT_EQ(cache.get("/a", 5, check("list|m11/100")), nullptr);
  EXPECT_EQ(asked, 3);
  EXPECT_EQ(cache.stats().entries, 1u);
  EXPECT_NE(cache.get("/a", 5, check("list|m11/100", V::serve_once)), nullptr);
  EXPECT_EQ(hit->generation.load(), 4u);  // served once, not confirmed
  EXPECT_EQ(cache.get("/a", 5, check("list|m11/100")), nullptr);
  // Without a validator (or without a check), another generation drops the page as before.
  cache.put("/b", page("B", 3));
  EXPECT_EQ(cache.get("/b", 4, check("")), nullptr);
  auto v = page("C", 3);
  v->validator = "x";
  cache.put("/c", v);
  EXPECT_EQ(cache.get("/c", 4), nullptr);
  // An expired page is dropped even if its validator holds.
  auto e = page("D", 3);
  e->validator = "list|m10/99";
  e->expires = std::chrono::steady_clock::now() - std::chrono::seconds(1);
  cache.put("/d", e);
  EXPECT_EQ(cache.get("/d", 4, check("list|m10/99")), nullptr);
  auto s = cache.stats();
  EXPECT_EQ(s.entries, 1u);  // "/a"
  EXPECT_EQ(s.hits, 4u);
}

TEST(SingleFlight, OneRenderPerKeyTheOthersWait) {
  SingleFlight flights;
  auto first = flights.enter("/a", std::chrono::milliseconds(1000));
  ASSERT_NE(first, nullptr);
  EXPECT_NE(flights.enter("/b", std::chrono::milliseconds(0)), nullptr);   // another key: no wait
  EXPECT_EQ(flights.enter("/a", std::chrono::milliseconds(20)), nullptr);  // waited, still busy
  std::atomic<bool> released{false}, entered{false};
  std::thread waiter([&] {
    auto t = flights.enter("/a", std::chrono::milliseconds(10000));
    entered = t != nullptr;
    EXPECT_TRUE(released.load());  // only after the first ticket ended
  });
  std::this_thread::sleep_for(std::chrono::milliseconds(50));
  EXPECT_FALSE(entered.load());
  released = true;
  first.reset();
  waiter.join();
  EXPECT_TRUE(entered.load());
  EXPECT_EQ(flights.busy(), 0u);
}
