// smtp_intake_test.cpp - listd's side of the SMTP/LMTP receiver (listd/intake.cpp) without
// sockets: which RCPTs are accepted (list addresses only; 550 5.1.1 at our hosts, 550 5.7.1
// elsewhere), one durable spool entry per list recipient after commit(), nothing left in the
// spool (tmp/ or new/) when a transaction is dropped, and the processor woken once per commit.
// Also one whole session through IntakeBackend: a refused message spools nothing.
#include <gtest/gtest.h>

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
  Env() {
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

TEST(SmtpIntake, OneDurableEntryPerListAfterCommit) {
  Env e;
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

TEST(SmtpIntake, DroppedTransactionLeavesNothing) {
  Env e;
  smtp::Envelope env;
  env.recipients = {"mi_lista@lists.mired.org"};
  {
    auto t = e.backend->begin(env);
    t->append("Subject: half\r\n\r\npartial");
    EXPECT_EQ(count_files(e.cfg.spool_dir() / "tmp"), 1u);
  }
  EXPECT_EQ(count_files(e.cfg.spool_dir() / "tmp"), 0u);
  EXPECT_EQ(count_files(e.cfg.spool_dir() / "new"), 0u);
  EXPECT_EQ(e.wakes, 0);
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
