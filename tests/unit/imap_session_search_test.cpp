// imap_session_search_test.cpp - SEARCH / UID SEARCH (RFC 3501 §6.4.4): text keys through the
// backend, dates, sizes, sets, NOT/OR/parentheses, charsets and syntax errors.
#include <gtest/gtest.h>

#include "imap_fake.hpp"

using fake::Transcript;

namespace {
std::string search(Transcript& t, const std::string& criteria) {
  auto out = t.send("s " + criteria + "\r\n");
  auto nl = out.find("\r\n");
  return out.substr(0, nl);
}
}  // namespace

TEST(ImapSearch, Keys) {
  Transcript t;
  t.login();
  t.send("x SELECT INBOX\r\n");
  EXPECT_EQ(search(t, "SEARCH ALL"), "* SEARCH 1 2 3");
  EXPECT_EQ(search(t, "SEARCH FROM ana"), "* SEARCH 1");
  EXPECT_EQ(search(t, "SEARCH FROM \"MIRED.ORG\""), "* SEARCH 1 2");
  EXPECT_EQ(search(t, "SEARCH TO lista CC ana"), "* SEARCH 2");
  EXPECT_EQ(search(t, "SEARCH SUBJECT adios"), "* SEARCH 2");
  EXPECT_EQ(search(t, "SEARCH BODY palabra"), "* SEARCH 2");
  EXPECT_EQ(search(t, "SEARCH TEXT hola"), "* SEARCH 1");
  EXPECT_EQ(search(t, "SEARCH HEADER X-Tag verde"), "* SEARCH 2");
  EXPECT_EQ(search(t, "SEARCH NOT FROM ana"), "* SEARCH 2 3");
  EXPECT_EQ(search(t, "SEARCH OR FROM ana FROM carla"), "* SEARCH 1 3");
  EXPECT_EQ(search(t, "SEARCH (OR FROM ana FROM bob) NOT SUBJECT hola"), "* SEARCH 2");
  EXPECT_EQ(search(t, "SEARCH 2:*"), "* SEARCH 2 3");
  EXPECT_EQ(search(t, "SEARCH UID 1,3"), "* SEARCH 1 3");
  EXPECT_EQ(search(t, "UID SEARCH SUBJECT adios"), "* SEARCH 2");
  EXPECT_EQ(search(t, "SEARCH SINCE 3-Feb-2026"), "* SEARCH 2 3");
  EXPECT_EQ(search(t, "SEARCH BEFORE 3-Feb-2026"), "* SEARCH 1");
  EXPECT_EQ(search(t, "SEARCH ON 4-Feb-2026"), "* SEARCH 3");
  EXPECT_EQ(search(t, "SEARCH SENTON 2-Feb-2026"), "* SEARCH 1");
  EXPECT_EQ(search(t, "SEARCH LARGER 200"), "* SEARCH 3");
  EXPECT_EQ(search(t, "SEARCH SMALLER 200"), "* SEARCH 1 2");
  EXPECT_EQ(search(t, "SEARCH CHARSET UTF-8 SUBJECT hola"), "* SEARCH 1");
  EXPECT_EQ(search(t, "SEARCH DELETED"), "* SEARCH");
  EXPECT_EQ(search(t, "SEARCH UNSEEN"), "* SEARCH 1 2 3");
  t.send("f FETCH 2 BODY[]\r\n");
  EXPECT_EQ(search(t, "SEARCH SEEN"), "* SEARCH 2");
}

TEST(ImapSearch, Errors) {
  Transcript t;
  t.login();
  t.send("x SELECT INBOX\r\n");
  EXPECT_EQ(t.send("a SEARCH\r\n"), "a BAD missing search criteria\r\n");
  EXPECT_EQ(t.send("b SEARCH FROM\r\n"), "b BAD missing search value\r\n");
  EXPECT_EQ(t.send("c SEARCH BOGUS\r\n"), "c BAD unknown search key BOGUS\r\n");
  EXPECT_EQ(t.send("d SEARCH SINCE yesterday\r\n"), "d BAD bad date (expected e.g. 1-Feb-2026)\r\n");
  EXPECT_EQ(t.send("e SEARCH CHARSET KOI8-R ALL\r\n"), "e NO [BADCHARSET (UTF-8 US-ASCII)] unsupported charset\r\n");
  EXPECT_EQ(t.send("f SEARCH OR ALL\r\n"), "f BAD missing search key\r\n");
  std::string deep = "g SEARCH ";
  for (int i = 0; i < 50; ++i) deep += "NOT ";
  EXPECT_EQ(t.send(deep + "ALL\r\n"), "g BAD search nested too deeply\r\n");
}
