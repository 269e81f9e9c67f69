// imap_session_store_idle_test.cpp - STORE / UID STORE of \Seen (the only write), NOOP and
// IDLE announcing new posts, and the bad-command limit.
#include <gtest/gtest.h>

#include "imap_fake.hpp"

using fake::Transcript;

TEST(ImapStore, SeenIsTheOnlyKeptFlag) {
  Transcript t;
  t.login();
  t.send("x SELECT INBOX\r\n");
  EXPECT_EQ(t.send("a STORE 1:2 +FLAGS (\\Seen)\r\n"),
            "* 1 FETCH (FLAGS (\\Seen))\r\n* 2 FETCH (FLAGS (\\Seen))\r\na OK STORE completed\r\n");
  EXPECT_EQ(t.backend.seen.size(), 2u);
  EXPECT_EQ(t.send("b UID STORE 2 -FLAGS.SILENT (\\Seen)\r\n"), "b OK UID STORE completed\r\n");
  EXPECT_EQ(t.backend.seen.size(), 1u);
  EXPECT_EQ(t.send("c STORE 3 +FLAGS \\Deleted\r\n"), "* 3 FETCH (FLAGS ())\r\nc OK STORE completed\r\n");
  EXPECT_EQ(t.send("d STORE 1 FLAGS ()\r\n"), "* 1 FETCH (FLAGS ())\r\nd OK STORE completed\r\n");
  EXPECT_TRUE(t.backend.seen.empty());
  EXPECT_EQ(t.send("e STORE 1 REPLACE (\\Seen)\r\n"), "e BAD bad STORE action\r\n");
  t.send("y EXAMINE INBOX\r\n");
  EXPECT_EQ(t.send("f STORE 1 +FLAGS (\\Seen)\r\n"), "f NO [READ-ONLY] mailbox was opened with EXAMINE\r\n");
}

TEST(ImapIdle, NewPostAppearsWhileIdling) {
  Transcript t;
  t.login();
  t.send("x SELECT INBOX\r\n");
  EXPECT_EQ(t.send("i IDLE\r\n"), "+ idling\r\n");
  EXPECT_TRUE(t.session.idling());
  EXPECT_EQ(t.session.poll(), "");
  t.backend.add("Subject: nuevo\n\nhola\n", 1770300000);
  EXPECT_EQ(t.session.poll(), "* 4 EXISTS\r\n* 0 RECENT\r\n");
  EXPECT_EQ(t.session.poll(), "");
  EXPECT_EQ(t.send("DONE\r\n"), "i OK IDLE terminated\r\n");
  EXPECT_FALSE(t.session.idling());
  t.backend.add("Subject: otro\n\nhola\n", 1770300000);
  EXPECT_EQ(t.send("n NOOP\r\n"), "* 5 EXISTS\r\n* 0 RECENT\r\nn OK NOOP completed\r\n");
}

TEST(ImapIdle, SplitDoneAndWrongLine) {
  Transcript t;
  t.login();
  t.send("i IDLE\r\n");
  EXPECT_EQ(t.send("DO"), "");
  EXPECT_EQ(t.send("NE\r\n"), "i OK IDLE terminated\r\n");
  t.send("j IDLE\r\n");
  EXPECT_EQ(t.send("STOP\r\n"), "j BAD expected DONE\r\n");
}

TEST(ImapLimits, TooManyBadCommands) {
  Transcript t;
  std::string out;
  for (int i = 0; i < 25 && !t.session.closing(); ++i) out = t.send("a FOO\r\n");
  EXPECT_TRUE(t.session.closing());
  EXPECT_NE(out.find("* BYE too many bad commands"), std::string::npos);
}
