// imap_session_mailbox_test.cpp - LIST/LSUB, STATUS, NAMESPACE, SELECT/EXAMINE, CLOSE,
// UNSELECT and the read-only refusals (RFC 3501 §6.3).
#include <gtest/gtest.h>

#include "imap_fake.hpp"

using fake::Transcript;

TEST(ImapMailbox, SeedList) {
  Transcript t;
  t.login();
  EXPECT_EQ(t.send(". LIST \"\" \"*\"\r\n"),
            "* LIST (\\HasNoChildren) \"/\" \"INBOX\"\r\n* LIST (\\HasNoChildren) \"/\" \"lista@x.org\"\r\n"
            ". OK LIST completed\r\n");
  EXPECT_EQ(t.send("a LIST \"\" \"\"\r\n"), "* LIST (\\Noselect) \"/\" \"\"\r\na OK LIST completed\r\n");
  EXPECT_EQ(t.send("b LIST \"\" inbox\r\n"), "* LIST (\\HasNoChildren) \"/\" \"INBOX\"\r\nb OK LIST completed\r\n");
  EXPECT_EQ(t.send("c LIST \"\" lista%\r\n"),
            "* LIST (\\HasNoChildren) \"/\" \"lista@x.org\"\r\nc OK LIST completed\r\n");
  EXPECT_EQ(t.send("d LSUB \"\" \"*\"\r\n").rfind("* LSUB (\\HasNoChildren) \"/\" \"INBOX\"\r\n", 0), 0u);
  EXPECT_EQ(t.send("e LIST x\r\n"), "e BAD LIST takes a reference and a mailbox pattern\r\n");
}

TEST(ImapMailbox, SeedStatus) {
  Transcript t;
  t.login();
  EXPECT_EQ(t.send(". STATUS INBOX (messages)\r\n"), "* STATUS \"INBOX\" (MESSAGES 3)\r\n. OK STATUS completed\r\n");
  EXPECT_EQ(t.send("a STATUS lista@x.org (UIDNEXT UIDVALIDITY UNSEEN)\r\n"),
            "* STATUS \"lista@x.org\" (UIDNEXT 4 UIDVALIDITY 88 UNSEEN 3)\r\na OK STATUS completed\r\n");
  EXPECT_EQ(t.send("b STATUS nope (MESSAGES)\r\n"), "b NO [NONEXISTENT] no such mailbox\r\n");
  EXPECT_EQ(t.send("c STATUS INBOX (BOGUS)\r\n"), "c BAD unknown STATUS item\r\n");
}

TEST(ImapMailbox, SeedSelect) {
  Transcript t;
  t.login();
  EXPECT_EQ(t.send(". SELECT INBOX\r\n"),
            "* FLAGS (\\Answered \\Flagged \\Deleted \\Seen \\Draft)\r\n"
            "* OK [PERMANENTFLAGS (\\Seen)] only \\Seen is kept\r\n"
            "* 3 EXISTS\r\n* 0 RECENT\r\n* OK [UNSEEN 1] first unseen\r\n"
            "* OK [UIDVALIDITY 77] UIDs valid\r\n* OK [UIDNEXT 4] predicted next UID\r\n"
            ". OK [READ-WRITE] SELECT completed\r\n");
  auto ex = t.send("e EXAMINE lista@x.org\r\n");
  EXPECT_NE(ex.find("e OK [READ-ONLY] EXAMINE completed"), std::string::npos);
  EXPECT_NE(ex.find("[UIDVALIDITY 88]"), std::string::npos);
  EXPECT_EQ(t.send("f SELECT nope\r\n"), "f NO [NONEXISTENT] no such mailbox\r\n");
  // A failed SELECT leaves no mailbox selected.
  EXPECT_EQ(t.send("g FETCH 1 FLAGS\r\n"), "g BAD FETCH needs a selected mailbox\r\n");
}

TEST(ImapMailbox, CloseUnselectNamespaceAndReadOnly) {
  Transcript t;
  t.login();
  EXPECT_EQ(t.send("n NAMESPACE\r\n"), "* NAMESPACE ((\"\" \"/\")) NIL NIL\r\nn OK NAMESPACE completed\r\n");
  EXPECT_EQ(t.send("i ID NIL\r\n"), "* ID (\"name\" \"listd\" \"version\" \"0.1.0\")\r\ni OK ID completed\r\n");
  EXPECT_EQ(t.send("c CREATE foo\r\n"), "c NO [CANNOT] the archive is read-only\r\n");
  t.send("s SELECT INBOX\r\n");
  EXPECT_EQ(t.send("x EXPUNGE\r\n"), "x NO [CANNOT] the archive is read-only\r\n");
  EXPECT_EQ(t.send("y UID COPY 1 foo\r\n"), "y NO [CANNOT] the archive is read-only\r\n");
  EXPECT_EQ(t.send("k CHECK\r\n"), "k OK CHECK completed\r\n");
  EXPECT_EQ(t.send("u UNSELECT\r\n"), "u OK UNSELECT completed\r\n");
  EXPECT_EQ(t.send("v CLOSE\r\n"), "v BAD CLOSE needs a selected mailbox\r\n");
}

// MessageList versions share their full chunks: a new post costs one partial chunk, not a copy.
TEST(ImapMessageList, AppendedSharesFullChunks) {
  imap::MessageList a;
  const std::size_t n = 2 * imap::MessageList::kChunk + 5;
  for (std::size_t i = 0; i < n; ++i) a.push_back({static_cast<std::uint32_t>(i + 1), static_cast<std::int64_t>(i)});
  auto b = a.appended({{static_cast<std::uint32_t>(n + 1), 9999}});
  EXPECT_EQ(a.size(), n);  // the old version is untouched
  EXPECT_EQ(a.back().uid, n);
  ASSERT_EQ(b.size(), n + 1);
  EXPECT_EQ(b.back().key, 9999);
  EXPECT_EQ(b[n - 1].uid, n);
  EXPECT_TRUE(b.shares_chunk_with(a, 0));
  EXPECT_TRUE(b.shares_chunk_with(a, 1));
  EXPECT_FALSE(b.shares_chunk_with(a, 2));  // the partial last chunk was copied before writing
  std::uint32_t want = 1;
  for (auto& m : b) EXPECT_EQ(m.uid, want++);
  EXPECT_EQ(want, n + 2);
  // Filling the partial chunk exactly, then one more: a new chunk starts.
  std::vector<imap::MessageMeta> more;
  for (std::size_t i = b.size(); i < 3 * imap::MessageList::kChunk + 1; ++i)
    more.push_back({static_cast<std::uint32_t>(i + 1), static_cast<std::int64_t>(i)});
  auto c = b.appended(more);
  EXPECT_EQ(c.size(), 3 * imap::MessageList::kChunk + 1);
  EXPECT_EQ(c.chunks(), 4u);
  EXPECT_EQ(c[3 * imap::MessageList::kChunk].uid, 3 * imap::MessageList::kChunk + 1);
  EXPECT_EQ(b.size(), n + 1);
  imap::MessageList empty;
  auto d = empty.appended({});
  EXPECT_TRUE(d.empty());
  EXPECT_EQ(d.begin(), d.end());
}
