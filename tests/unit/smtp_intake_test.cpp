// smtp_intake_test.cpp - listd's side of the SMTP/LMTP receiver (listd/intake.cpp) without
// sockets: which RCPTs are accepted (list addresses only; 550 5.1.1 at our hosts, 550 5.7.1
// elsewhere), one durable spool entry per list recipient after commit(), nothing left in the
// spool (tmp/ or new/) when a transaction is dropped, and the processor woken once per commit.
// Also one whole session through IntakeBackend: a refused message spools nothing.
#include <gtest/gtest.h>

#include <thread>

#include "listd/db.hpp"
#include "listd/intake.hpp"
#include "listd/spool.hpp"
#include "listd/store.hpp"
#include "test_util.hpp"

using namespace listd;

namespace {

std::size_t count_files(const std::filesystem::path& d) {
  std::size_t n = 0;
  if (!std::filesystem::exists(d)) return 0;
  for ([[maybe_unused]] auto& e : std::filesystem::directory_iterator(d)) ++n;
  return n;
}

struct Env {
  test::TempDir dir;
  Config cfg;
  int wakes = 0;
  std::unique_ptr<IntakeBackend> backend;
  explicit Env(bool journal = true) {
    cfg.spool.journal = journal;
    cfg.spool.journal_segment_size = 1 << 20;
    cfg.data_dir = dir.path();
    cfg.hostname = "lists.mired.org";
    auto db = db_open(cfg.db_path(), true);
    Store s(*db);
    s.create_list("mi_lista", "lists.mired.org", "ana@mired.org");
    s.create_list("otra", "lists.mired.org", "bob@mired.org");
    s.create_list("dev", "lists.other.test", "bob@mired.org");
    backend = std::make_unique<IntakeBackend>(cfg, "smtp", [this] { ++wakes; });
  }
  smtp::Reply rcpt(const std::string& addr, std::string* key) {
    auto m = smtp::parse_mailbox(addr);
    EXPECT_TRUE(m) << addr;
    return backend->check_rcpt(smtp::Envelope{}, *m.mailbox, key);
  }
};

}  // namespace

TEST(SmtpIntake, RcptOnlyForListAddresses) {
  Env e;
  std::string key;
  EXPECT_EQ(e.rcpt("mi_lista@lists.mired.org", &key).first_line(), "250 2.1.5 Recipient OK");
  EXPECT_EQ(key, "mi_lista@lists.mired.org");
  EXPECT_EQ(e.rcpt("MI_LISTA-Request@Lists.Mired.Org", &key).code, 250);
  EXPECT_EQ(key, "mi_lista-request@lists.mired.org");
  EXPECT_EQ(e.rcpt("mi_lista-bounces+ana=mired.org@lists.mired.org", &key).code, 250);
  EXPECT_EQ(e.rcpt("dev@lists.other.test", &key).code, 250);
  EXPECT_EQ(e.rcpt("nosuch@lists.mired.org", &key).first_line(),
            "550 5.1.1 <nosuch@lists.mired.org>: no such list here");
  EXPECT_EQ(e.rcpt("nosuch@lists.other.test", &key).code, 550);
  EXPECT_EQ(e.rcpt("nosuch@lists.other.test", &key).enhanced, "5.1.1");
  EXPECT_EQ(e.rcpt("victim@example.com", &key).first_line(), "550 5.7.1 <victim@example.com>: relaying denied");
  EXPECT_EQ(e.rcpt("mi_lista%example.com@lists.mired.org", &key).enhanced, "5.1.1");
  EXPECT_EQ(e.rcpt("mi_lista@lists.mired.org.example.com", &key).enhanced, "5.7.1");
}

class SmtpIntakeModes : public ::testing::TestWithParam<bool> {};
INSTANTIATE_TEST_SUITE_P(JournalOrFiles, SmtpIntakeModes, ::testing::Bool());

TEST_P(SmtpIntakeModes, OneDurableEntryPerListAfterCommit) {
  Env e(GetParam());
  smtp::Envelope env;
  env.sender = "ana@mired.org";
  env.recipients = {"mi_lista@lists.mired.org", "otra@lists.mired.org"};
  auto t = e.backend->begin(env);
  t->append("Received: from x\r\n\tby y; date\r\nSubject: hi\r\n\r\nbo");
  t->append("dy\r\n");
  Spool sp(e.cfg.spool_dir());
  EXPECT_TRUE(sp.pending().empty());  // nothing visible before commit
  auto replies = t->commit();
  ASSERT_EQ(replies.size(), 2u);
  for (auto& r : replies) EXPECT_EQ(r.first_line().substr(0, 20), "250 2.0.0 Queued as ");
  auto ids = sp.pending();
  ASSERT_EQ(ids.size(), 2u);
  std::set<std::string> rcpts;
  for (auto& id : ids) {
    auto entry = sp.read(id);
    EXPECT_EQ(entry.env.via, "smtp");
    EXPECT_EQ(entry.env.sender, "ana@mired.org");
    EXPECT_EQ(entry.message, "Received: from x\n\tby y; date\nSubject: hi\n\nbody\n");
    rcpts.insert(entry.env.recipient);
  }
  EXPECT_EQ(rcpts, (std::set<std::string>{"mi_lista@lists.mired.org", "otra@lists.mired.org"}));
  EXPECT_EQ(e.wakes, 1);
  EXPECT_EQ(count_files(e.cfg.spool_dir() / "tmp"), 0u);
}

TEST_P(SmtpIntakeModes, DroppedTransactionLeavesNothing) {
  Env e(GetParam());
  smtp::Envelope env;
  env.recipients = {"mi_lista@lists.mired.org"};
  {
    auto t = e.backend->begin(env);
    t->append("Subject: half\r\n\r\npartial");
    // Streaming files: the tmp file exists while DATA runs; the journal path buffers.
    EXPECT_EQ(count_files(e.cfg.spool_dir() / "tmp"), GetParam() ? 0u : 1u);
  }
  EXPECT_EQ(count_files(e.cfg.spool_dir() / "tmp"), 0u);
  EXPECT_EQ(count_files(e.cfg.spool_dir() / "new"), 0u);
  EXPECT_EQ(e.wakes, 0);
}

// A message larger than a journal record goes on as streaming spool files (one per list).
TEST(SmtpIntake, LargeMessageLeavesTheJournalForFiles) {
  Env e(true);
  smtp::Envelope env;
  env.sender = "ana@mired.org";
  env.recipients = {"mi_lista@lists.mired.org", "otra@lists.mired.org"};
  auto t = e.backend->begin(env);
  t->append("Subject: big\r\n\r\n");
  std::string line(998, 'x');
  line += "\r\n";
  std::string expect = "Subject: big\n\n";
  for (int i = 0; i < 1500; ++i) {  // 1.5 MB: more than a 1 MiB segment holds
    t->append(line);
    expect += std::string(998, 'x') + "\n";
  }
  EXPECT_EQ(count_files(e.cfg.spool_dir() / "tmp"), 2u);  // spilled into one file per list
  auto replies = t->commit();
  ASSERT_EQ(replies.size(), 2u);
  for (auto& r : replies) EXPECT_EQ(r.code, 250);
  Spool sp(e.cfg.spool_dir());
  ASSERT_EQ(sp.pending().size(), 2u);
  for (auto& id : sp.pending()) EXPECT_EQ(sp.read(id).message, expect);
}

TEST(SmtpIntake, WholeSessionRefusedMessageSpoolsNothing) {
  Env e;
  smtp::SessionOptions o;
  o.hostname = "lists.mired.org";
  o.client_ip = "127.0.0.1";
  smtp::ServerSession s(o, *e.backend);
  s.greet();
  s.feed("EHLO c\r\n");  // a real client waits for each EHLO and 354 reply (strict pipelining)
  std::string in =
      "MAIL FROM:<ana@mired.org>\r\nRCPT TO:<mi_lista@lists.mired.org>\r\nRCPT TO:<x@example.com>\r\n"
      "DATA\r\n";
  EXPECT_EQ(s.feed(in), in.size());
  std::string smuggle = "Subject: x\r\n\r\nhi\n.\nMAIL FROM:<evil@example.com>\r\n.\r\n";
  EXPECT_EQ(s.feed(smuggle), smuggle.size());
  EXPECT_FALSE(s.commit_due());
  auto out = s.take_output();
  EXPECT_NE(out.find("550 5.7.1 <x@example.com>: relaying denied\r\n354 "), std::string::npos) << out;
  EXPECT_NE(out.find("550 5.5.2 Message contains a bare CR or LF"), std::string::npos) << out;
  EXPECT_EQ(count_files(e.cfg.spool_dir() / "tmp"), 0u);
  EXPECT_EQ(count_files(e.cfg.spool_dir() / "new"), 0u);
  // And a clean one goes through to a durable entry.
  std::string ok = "MAIL FROM:<ana@mired.org>\r\nRCPT TO:<mi_lista@lists.mired.org>\r\nDATA\r\n";
  s.feed(ok);
  s.feed("Subject: ok\r\n\r\nfine\r\n.\r\n");
  ASSERT_TRUE(s.commit_due());
  s.committed(s.commit_target()->commit());
  EXPECT_NE(s.take_output().find("250 2.0.0 Queued as "), std::string::npos);
  EXPECT_EQ(count_files(e.cfg.spool_dir() / "new"), 1u);
}

// RCPT reads a cached set of list addresses (no SQLite on the event loop); a list created or
// deleted by another connection (listctl, the web admin) is seen within the refresh interval.
TEST(SmtpIntake, RcptCacheFollowsListsCreatedAndDeletedElsewhere) {
  Env e;
  std::string key;
  EXPECT_EQ(e.rcpt("nueva@lists.mired.org", &key).code, 550);
  auto db = db_open(e.cfg.db_path());
  Store s(*db);
  s.create_list("nueva", "lists.mired.org", "ana@mired.org");
  auto until = std::chrono::steady_clock::now() + std::chrono::seconds(5);
  while (e.rcpt("nueva@lists.mired.org", &key).code != 250 && std::chrono::steady_clock::now() < until)
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  EXPECT_EQ(e.rcpt("nueva-request@lists.mired.org", &key).code, 250);
  s.delete_list(s.get_list("nueva@lists.mired.org"));
  until = std::chrono::steady_clock::now() + std::chrono::seconds(5);
  while (e.rcpt("nueva@lists.mired.org", &key).code != 550 && std::chrono::steady_clock::now() < until)
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  EXPECT_EQ(e.rcpt("nueva@lists.mired.org", &key).first_line(), "550 5.1.1 <nueva@lists.mired.org>: no such list here");
  EXPECT_EQ(e.rcpt("mi_lista@lists.mired.org", &key).code, 250);
}

// IntakePriority: a spool pass waits while the intake commits, runs once it is quiet, and is
// forced after max_defer however busy the intake is (no starvation).
TEST(SmtpIntake, ProcessingYieldsToTheIntakeButIsNeverStarved) {
  using namespace std::chrono_literals;
  IntakePriority p;
  p.configure({100ms, 400ms, 100ms});  // wide margins: CI machines are loaded
  EXPECT_EQ(p.delay().count(), 0);     // no intake yet
  p.begin_pass();
  EXPECT_FALSE(p.yield_flag()->load());
  p.note_commit();
  EXPECT_FALSE(p.yield_flag()->load());  // a lone message is no burst: nothing waits for it
  EXPECT_EQ(p.delay().count(), 0);
  p.note_commit();
  EXPECT_TRUE(p.yield_flag()->load());  // a second within `quiet`: a running pass stops between entries
  auto d = p.delay();
  EXPECT_GT(d.count(), 0);
  EXPECT_LE(d, std::chrono::duration_cast<IntakePriority::clock::duration>(100ms));
  std::this_thread::sleep_for(150ms);
  EXPECT_EQ(p.delay().count(), 0);  // quiet now
  // A sustained flood: a commit every 5 ms. The pass is forced within max_defer.
  p.note_commit();  // the flood's first commit is a lone one
  auto start = IntakePriority::clock::now();
  bool forced = false;
  while (IntakePriority::clock::now() - start < 2s) {
    p.note_commit();
    if (p.delay().count() == 0) {
      forced = true;
      break;
    }
    std::this_thread::sleep_for(5ms);
  }
  ASSERT_TRUE(forced);
  EXPECT_GE(IntakePriority::clock::now() - start, 390ms);
  p.begin_pass();
  p.note_commit();
  EXPECT_FALSE(p.yield_flag()->load());  // the forced slice is not interrupted
  std::this_thread::sleep_for(160ms);
  p.note_commit();
  p.note_commit();
  EXPECT_TRUE(p.yield_flag()->load());  // after the slice a burst makes it yield again
  // max_defer 0 turns the priority off.
  IntakePriority off;
  off.configure({20ms, 0ms, 0ms});
  off.begin_pass();
  off.note_commit();
  EXPECT_FALSE(off.yield_flag()->load());
  EXPECT_EQ(off.delay().count(), 0);
  off.stop();
  EXPECT_TRUE(off.yield_flag()->load());
}
