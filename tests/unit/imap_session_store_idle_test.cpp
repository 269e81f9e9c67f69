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

// The session keeps the backend's shared list until NOOP/IDLE; a message that went away is
// announced with EXPUNGE (numbers of the others stay right), new ones with EXISTS.
TEST(ImapIdle, SharedListIsKeptUntilToldAndExpungeIsAnnounced) {
  Transcript t;
  t.login();
  t.send("x SELECT INBOX\r\n");
  auto shared = t.backend.shared;
  ASSERT_TRUE(shared);
  EXPECT_EQ(shared.use_count(), 3);                  // the fake's, this copy and the session's: one list
  t.backend.msgs.erase(t.backend.msgs.begin() + 1);  // uid 2 goes away
  t.backend.msgs.push_back({200, 5, imap::to_crlf("Subject: nuevo\n\nhola\n"), 1770300000});
  EXPECT_EQ(t.send("a FETCH 2 UID\r\n"), "* 2 FETCH (UID 2)\r\na OK FETCH completed\r\n");  // not yet told
  EXPECT_EQ(t.send("n NOOP\r\n"), "* 2 EXPUNGE\r\n* 3 EXISTS\r\n* 0 RECENT\r\nn OK NOOP completed\r\n");
  EXPECT_EQ(t.send("b FETCH 1:* UID\r\n"),
            "* 1 FETCH (UID 1)\r\n* 2 FETCH (UID 3)\r\n* 3 FETCH (UID 5)\r\nb OK FETCH completed\r\n");
  EXPECT_EQ(t.send("n NOOP\r\n"), "n OK NOOP completed\r\n");
}

TEST(ImapIdle, SeenBitsAreThePersonsNotTheSharedList) {
  Transcript t;
  t.backend.seen.insert(101);  // message 2 was read before
  t.login();
  EXPECT_NE(t.send("x SELECT INBOX\r\n").find("* OK [UNSEEN 1]"), std::string::npos);
  EXPECT_EQ(t.send("a FETCH 1:3 FLAGS\r\n"),
            "* 1 FETCH (FLAGS ())\r\n* 2 FETCH (FLAGS (\\Seen))\r\n* 3 FETCH (FLAGS ())\r\na OK FETCH completed\r\n");
  t.backend.seen.insert(102);
  t.backend.add("Subject: nuevo\n\nhola\n", 1770300000);
  t.backend.seen.insert(103);  // the new post, already read elsewhere
  EXPECT_EQ(t.send("n NOOP\r\n"), "* 4 EXISTS\r\n* 0 RECENT\r\nn OK NOOP completed\r\n");
  // Message 3's flag changed elsewhere: this session learns it on re-SELECT, the new one now.
  EXPECT_EQ(t.send("b FETCH 3:4 FLAGS\r\n"),
            "* 3 FETCH (FLAGS ())\r\n* 4 FETCH (FLAGS (\\Seen))\r\nb OK FETCH completed\r\n");
  EXPECT_EQ(t.send("s SEARCH UNSEEN\r\n"), "* SEARCH 1 3\r\ns OK SEARCH completed\r\n");
}
