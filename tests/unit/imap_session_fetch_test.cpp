// imap_session_fetch_test.cpp - FETCH / UID FETCH (RFC 3501 §6.4.5): the seed's FETCH lines,
// sections, partials, implicit \Seen, macros, bad sets, and chunked output for big sets.
#include <gtest/gtest.h>

#include "imap_fake.hpp"

using fake::Transcript;

namespace {
Transcript& selected(Transcript& t) {
  t.login();
  t.send("s SELECT INBOX\r\n");
  return t;
}
}  // namespace

TEST(ImapFetch, SeedFlags) {
  Transcript t;
  selected(t);
  EXPECT_EQ(t.send(". FETCH 1:3 FLAGS\r\n"),
            "* 1 FETCH (FLAGS ())\r\n* 2 FETCH (FLAGS ())\r\n* 3 FETCH (FLAGS ())\r\n. OK FETCH completed\r\n");
}

TEST(ImapFetch, SeedHeaderFieldsSetsSeen) {
  Transcript t;
  selected(t);
  EXPECT_EQ(t.send(". FETCH 1 (body[header.fields (subject)])\r\n"),
            "* 1 FETCH (BODY[HEADER.FIELDS (SUBJECT)] {17}\r\nSubject: hola\r\n\r\n FLAGS (\\Seen))\r\n"
            ". OK FETCH completed\r\n");
  EXPECT_EQ(t.backend.seen.count(100), 1u);
}

TEST(ImapFetch, SeedRfc822Text) {
  Transcript t;
  selected(t);
  EXPECT_EQ(t.send(". FETCH 2 rfc822.text\r\n"),
            "* 2 FETCH (RFC822.TEXT {40}\r\nsegundo mensaje con PALABRA\r\n.dot line\r\n FLAGS (\\Seen))\r\n"
            ". OK FETCH completed\r\n");
}

TEST(ImapFetch, PeekDoesNotSetSeenAndExamineNeverDoes) {
  Transcript t;
  selected(t);
  t.send("a FETCH 1 BODY.PEEK[]\r\n");
  EXPECT_TRUE(t.backend.seen.empty());
  t.send("e EXAMINE INBOX\r\n");
  auto out = t.send("b FETCH 1 BODY[TEXT]\r\n");
  EXPECT_EQ(out.find("FLAGS"), std::string::npos);
  EXPECT_TRUE(t.backend.seen.empty());
}

TEST(ImapFetch, UidFetchAddsUidAndEnvelope) {
  Transcript t;
  selected(t);
  auto out = t.send("u UID FETCH 1:* (FLAGS RFC822.SIZE ENVELOPE)\r\n");
  EXPECT_NE(out.find("* 1 FETCH (UID 1 FLAGS () RFC822.SIZE "), std::string::npos);
  EXPECT_NE(out.find("ENVELOPE (\"Mon, 2 Feb 2026 10:00:00 +0000\" \"hola\" ((\"Ana\" NIL \"ana\" \"mired.org\"))"),
            std::string::npos);
  EXPECT_NE(out.find("ENVELOPE (NIL \"adios\" ((NIL NIL \"bob\" \"mired.org\"))"), std::string::npos);
  EXPECT_NE(out.find("u OK UID FETCH completed\r\n"), std::string::npos);
  // UIDs beyond the mailbox are not an error, they just match nothing.
  EXPECT_EQ(t.send("v UID FETCH 50:60 FLAGS\r\n"), "v OK UID FETCH completed\r\n");
}

TEST(ImapFetch, MultipartSectionsAndStructure) {
  Transcript t;
  selected(t);
  auto bs = t.send("a FETCH 3 BODYSTRUCTURE\r\n");
  EXPECT_NE(bs.find("(\"text\" \"plain\" (\"charset\" \"utf-8\") NIL NIL \"7bit\" 5 0 NIL NIL NIL NIL)"),
            std::string::npos)
      << bs;
  EXPECT_NE(bs.find("(\"application\" \"pdf\" (\"name\" \"a.pdf\") NIL NIL \"base64\" 8 NIL (\"attachment\" "
                    "(\"filename\" \"a.pdf\")) NIL NIL) \"mixed\" (\"boundary\" \"b1\") NIL NIL NIL)"),
            std::string::npos)
      << bs;
  EXPECT_EQ(t.send("b FETCH 3 BODY.PEEK[1]\r\n"), "* 3 FETCH (BODY[1] {5}\r\ntexto)\r\nb OK FETCH completed\r\n");
  EXPECT_EQ(t.send("c FETCH 3 BODY.PEEK[2.MIME]\r\n"),
            "* 3 FETCH (BODY[2.MIME] {129}\r\nContent-Type: application/pdf; name=a.pdf\r\nContent-Disposition: "
            "attachment; filename=a.pdf\r\nContent-Transfer-Encoding: base64\r\n\r\n)\r\nc OK FETCH completed\r\n");
  EXPECT_EQ(t.send("d FETCH 3 BODY.PEEK[1]<1.3>\r\n"), "* 3 FETCH (BODY[1]<1> {3}\r\next)\r\nd OK FETCH completed\r\n");
  EXPECT_EQ(t.send("e FETCH 3 BODY.PEEK[9]\r\n"), "* 3 FETCH (BODY[9] {0}\r\n)\r\ne OK FETCH completed\r\n");
}

TEST(ImapFetch, MacrosAndBadInput) {
  Transcript t;
  selected(t);
  auto all = t.send("a FETCH 1 ALL\r\n");
  EXPECT_NE(all.find("FLAGS () INTERNALDATE \"02-Feb-2026 10:00:00 +0000\" RFC822.SIZE"), std::string::npos) << all;
  EXPECT_EQ(t.send("b FETCH 1 BOGUS\r\n"), "b BAD unknown FETCH item BOGUS\r\n");
  EXPECT_EQ(t.send("c FETCH 4 FLAGS\r\n"), "c BAD no such message\r\n");
  EXPECT_EQ(t.send("d FETCH 0 FLAGS\r\n"), "d BAD bad sequence set\r\n");
  EXPECT_EQ(t.send("e FETCH 1 BODY[FOO]\r\n"), "e BAD unknown FETCH item BODY[FOO]\r\n");
  EXPECT_EQ(t.send("f FETCH 1\r\n"), "f BAD FETCH takes a sequence set and items\r\n");
}

TEST(ImapFetch, BigSetsComeOutInChunks) {
  imap::SessionOptions o = Transcript::plain();
  o.limits.fetch_chunk = 100;
  Transcript t(o);
  for (int i = 0; i < 2000; ++i) t.backend.add("Subject: n\n\nx\n", 1770000000);
  selected(t);
  std::string out = t.session.input("a FETCH 1:* (UID FLAGS)\r\nb NOOP\r\n");
  EXPECT_TRUE(t.session.more());
  int rounds = 0;
  while (t.session.more()) {
    out += t.session.resume();
    ++rounds;
  }
  EXPECT_GT(rounds, 2);
  EXPECT_NE(out.find("* 2003 FETCH (UID 2003 FLAGS ())\r\na OK FETCH completed\r\nb OK NOOP completed\r\n"),
            std::string::npos);
}
