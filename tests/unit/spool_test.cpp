// spool_test.cpp - durable spool framing: round trip, CRLF handling across chunk
// boundaries, truncation and corruption detected, no tmp files left behind.
#include <gtest/gtest.h>

#include <fstream>

#include "listd/fsutil.hpp"
#include "listd/spool.hpp"
#include "test_util.hpp"

using namespace listd;

namespace {
std::size_t count_files(const std::filesystem::path& d) {
  std::size_t n = 0;
  for ([[maybe_unused]] auto& e : std::filesystem::directory_iterator(d)) ++n;
  return n;
}
SpoolEnvelope env() {
  SpoolEnvelope e;
  e.via = "inject";
  e.sender = "ana@mired.org";
  e.recipient = "mi_lista@lists.mired.org";
  return e;
}
}  // namespace

TEST(Spool, RoundTrip) {
  test::TempDir t;
  Spool s(t.path() / "spool");
  auto id = s.commit(env(), "Subject: hi\r\n\r\nbody\r\n");
  ASSERT_EQ(s.pending(), std::vector<std::string>{id});
  auto e = s.read(id);
  EXPECT_EQ(e.env.id, id);
  EXPECT_EQ(e.env.sender, "ana@mired.org");
  EXPECT_EQ(e.env.recipient, "mi_lista@lists.mired.org");
  EXPECT_EQ(e.message, "Subject: hi\n\nbody\n");
  EXPECT_EQ(count_files(t.path() / "spool" / "tmp"), 0u);
  s.remove(id);
  EXPECT_TRUE(s.pending().empty());
}

TEST(Spool, NullSenderAndBareCrKept) {
  test::TempDir t;
  Spool s(t.path() / "spool");
  auto e0 = env();
  e0.sender = "";
  auto id = s.commit(e0, "A: b\n\nx\ry\r");
  auto e = s.read(id);
  EXPECT_EQ(e.env.sender, "");
  EXPECT_EQ(e.message, "A: b\n\nx\ry\r");
}

TEST(Spool, CrLfSplitAcrossChunksEveryOffset) {
  test::TempDir t;
  Spool s(t.path() / "spool");
  const std::string msg = "Subject: x\r\n\r\nline1\r\nline2\r\n";
  for (std::size_t cut = 0; cut <= msg.size(); ++cut) {
    SpoolWriter w(s, env());
    w.append(std::string_view(msg).substr(0, cut));
    w.append(std::string_view(msg).substr(cut));
    auto id = w.commit();
    EXPECT_EQ(s.read(id).message, "Subject: x\n\nline1\nline2\n") << "cut at " << cut;
    s.remove(id);
  }
}

TEST(Spool, AbortLeavesNothing) {
  test::TempDir t;
  Spool s(t.path() / "spool");
  {
    SpoolWriter w(s, env());
    w.append("Subject: never\n\n");
  }  // destroyed without commit
  EXPECT_EQ(count_files(t.path() / "spool" / "tmp"), 0u);
  EXPECT_TRUE(s.pending().empty());
}

TEST(Spool, TruncatedEntryIsCorrupt) {
  test::TempDir t;
  Spool s(t.path() / "spool");
  auto id = s.commit(env(), "Subject: hi\n\nbody body body\n");
  auto path = s.new_dir() / id;
  auto data = read_file(path);
  std::filesystem::resize_file(path, data.size() - 5);
  EXPECT_THROW(s.read(id), SpoolCorrupt);
  s.set_aside(id, "test");
  EXPECT_TRUE(s.pending().empty());
  EXPECT_TRUE(std::filesystem::exists(t.path() / "spool" / "bad" / id));
}

TEST(Spool, GarbageFileIsCorrupt) {
  test::TempDir t;
  Spool s(t.path() / "spool");
  std::ofstream(s.new_dir() / "0000.garbage") << "not a spool file";
  EXPECT_THROW(s.read("0000.garbage"), SpoolCorrupt);
  EXPECT_THROW(s.read("../etc/passwd"), SpoolCorrupt);
}

TEST(Spool, IdsAreUniqueAndSorted) {
  std::string prev;
  for (int i = 0; i < 1000; ++i) {
    auto id = spool_new_id();
    EXPECT_LT(prev, id);
    prev = id;
  }
}
