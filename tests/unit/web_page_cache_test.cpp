// web_page_cache_test.cpp - the page cache on its own: token holes, entity tags, generations,
// expiry and the byte bound (least recently used out first).
#include <gtest/gtest.h>

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
