// pipeline_test.cpp - a spool entry through route, rules, decoration, archive and the
// maildir outbox, on a temporary data dir; and idempotence when processing repeats.
#include <gtest/gtest.h>

#include <SQLiteCpp/Statement.h>

#include "listd/db.hpp"
#include "listd/delivery.hpp"
#include "listd/fsutil.hpp"
#include "listd/pipeline.hpp"
#include "listd/store.hpp"
#include "test_util.hpp"

using namespace listd;

namespace {

std::size_t count_files(const std::filesystem::path& d) {
  std::size_t n = 0;
  std::error_code ec;
  for (auto it = std::filesystem::directory_iterator(d, ec); !ec && it != std::filesystem::directory_iterator(); ++it)
    if (it->is_regular_file()) ++n;
  return n;
}

struct Env {
  test::TempDir dir;
  Config cfg;
  Templates templates;
  std::unique_ptr<SQLite::Database> db;
  Env() {
    cfg.data_dir = dir.path();
    cfg.hostname = "lists.mired.org";
    db = db_open(cfg.db_path(), true);
    Store s(*db);
    auto l = s.create_list("mi_lista", "lists.mired.org", "ana@mired.org");
    s.add_members(l, {"ana@mired.org", "bob@mired.org"});
  }
  std::string spool(const std::string& msg, const std::string& rcpt = "mi_lista@lists.mired.org",
                    const std::string& sender = "ana@mired.org") {
    Spool sp(cfg.spool_dir());
    SpoolEnvelope e;
    e.via = "inject";
    e.sender = sender;
    e.recipient = rcpt;
    return sp.commit(e, msg);
  }
  int scalar(const std::string& sql) { return db->execAndGet(sql).getInt(); }
};

const char* kPost =
    "From: Ana <ana@mired.org>\nTo: mi_lista@lists.mired.org\nSubject: Hola\nMessage-ID: <p1@mired.org>\n"
    "Date: Sat, 28 Nov 2026 10:00:00 +0000\n\nHola a todos.\n";

}  // namespace

TEST(Pipeline, MemberPostIsArchivedAndDelivered) {
  Env env;
  auto id = env.spool(kPost);
  Processor p(env.cfg, env.templates);
  auto r = p.process(id);
  EXPECT_EQ(r.outcome, "accepted") << r.detail;
  EXPECT_EQ(env.scalar("SELECT count(*) FROM archive"), 1);
  EXPECT_EQ(env.scalar("SELECT count(*) FROM delivery_recipients"), 2);
  EXPECT_TRUE(p.spool().pending().empty());
  EXPECT_EQ(count_files(env.cfg.archive_dir() / "mi_lista@lists.mired.org" / "cur"), 1u);

  DeliveryRunner runner(env.cfg, make_transport(env.cfg));
  runner.run_due();
  auto outbox = env.cfg.outbox_dir() / "new";
  ASSERT_EQ(count_files(outbox), 2u);
  for (auto& f : std::filesystem::directory_iterator(outbox)) {
    auto text = read_file(f.path());
    EXPECT_EQ(text.rfind("Return-Path: <mi_lista-bounces@lists.mired.org>\nDelivered-To: ", 0), 0u) << text;
    EXPECT_NE(text.find("Subject: [mi_lista] Hola"), std::string::npos) << text;
    EXPECT_NE(text.find("List-Id: "), std::string::npos);
    EXPECT_NE(text.find("Precedence: list"), std::string::npos);
    EXPECT_NE(text.find("To unsubscribe send an email to mi_lista-leave@lists.mired.org"), std::string::npos);
  }
  EXPECT_EQ(env.scalar("SELECT done FROM delivery_jobs"), 1);
}

// Delivered rows of a finished job go after relay.keep_delivered; failed rows and the job's
// counts (listctl queue --all) stay; a job finished more recently keeps its rows.
TEST(Pipeline, DeliveredRowsPurgedAfterKeepDelivered) {
  Env env;
  env.cfg.relay.keep_delivered = 3600;
  Processor p(env.cfg, env.templates);
  EXPECT_EQ(p.process(env.spool(kPost)).outcome, "accepted");
  DeliveryRunner runner(env.cfg, make_transport(env.cfg));
  runner.run_due();
  ASSERT_EQ(env.scalar("SELECT done FROM delivery_jobs"), 1);
  EXPECT_GT(env.scalar("SELECT done_at FROM delivery_jobs"), 0);
  EXPECT_EQ(runner.purge_delivered(100), 0u);  // finished just now: kept
  EXPECT_EQ(env.scalar("SELECT count(*) FROM delivery_recipients"), 2);
  // One of the two became a failure (as a 5xx would); the job finished two hours ago.
  env.db->exec("UPDATE delivery_recipients SET state = 'failed' WHERE id = (SELECT min(id) FROM delivery_recipients)");
  env.db->exec("UPDATE delivery_jobs SET done_at = done_at - 7200, delivered = 1, failed = 1");
  EXPECT_EQ(runner.purge_delivered(100), 1u);
  EXPECT_EQ(env.scalar("SELECT count(*) FROM delivery_recipients WHERE state = 'failed'"), 1);
  EXPECT_EQ(env.scalar("SELECT count(*) FROM delivery_recipients WHERE state = 'delivered'"), 0);
  EXPECT_EQ(env.scalar("SELECT purged FROM delivery_jobs"), 1);
  EXPECT_EQ(runner.purge_delivered(100), 0u);  // nothing left to look at
  auto jobs = job_status(*env.db, true);
  ASSERT_EQ(jobs.size(), 1u);
  EXPECT_EQ(jobs[0].delivered, 1);
  EXPECT_EQ(jobs[0].failed, 1);
  EXPECT_EQ(jobs[0].pending, 0);
  EXPECT_TRUE(job_status(*env.db, false).empty());
}

// Fresh entries share one transaction; one that throws is rolled back alone (its savepoint)
// and retried alone on the next pass with its try counted; the others commit and leave.
TEST(Pipeline, BatchKeepsGoodEntriesWhenOneThrows) {
  Env env;
  std::vector<std::string> ids;
  for (int i = 0; i < 5; ++i) {
    std::string m = kPost;
    m.replace(m.find("<p1@"), 4, "<b" + std::to_string(i) + "@");
    ids.push_back(env.spool(m));
  }
  // Every try of ids[2] throws (its queue file cannot replace a directory): the poison.
  std::filesystem::create_directories(env.cfg.queue_dir() / (ids[2] + ".post.eml"));
  Processor p(env.cfg, env.templates);
  EXPECT_EQ(p.process_pending(), 5u);
  EXPECT_EQ(env.scalar("SELECT count(*) FROM archive"), 4);
  EXPECT_EQ(env.scalar("SELECT count(DISTINCT uid) FROM archive"), 4);
  EXPECT_EQ(env.scalar("SELECT count(*) FROM processed"), 4);
  EXPECT_EQ(env.scalar("SELECT count(*) FROM delivery_jobs"), 4);
  ASSERT_EQ(p.spool().pending(), std::vector<std::string>{ids[2]});
  EXPECT_EQ(env.scalar("SELECT attempts FROM spool_attempts"), 1);
  EXPECT_EQ(p.process_pending(), 1u);  // alone now: tried before
  EXPECT_EQ(env.scalar("SELECT attempts FROM spool_attempts"), 2);
  std::filesystem::remove(env.cfg.queue_dir() / (ids[2] + ".post.eml"));
  EXPECT_EQ(p.process_pending(), 1u);
  EXPECT_EQ(env.scalar("SELECT count(*) FROM archive"), 5);
  EXPECT_EQ(env.scalar("SELECT count(*) FROM spool_attempts"), 0);
  EXPECT_TRUE(p.spool().pending().empty());
  EXPECT_EQ(count_files(env.cfg.archive_dir() / "mi_lista@lists.mired.org" / "cur"), 5u);
}

TEST(Pipeline, ProcessingTwiceHasNoSecondEffect) {
  Env env;
  auto id = env.spool(kPost);
  // Simulate a crash after the commit but before the spool file was removed: copy it back.
  auto saved = read_file(env.cfg.spool_dir() / "new" / id);
  Processor p(env.cfg, env.templates);
  EXPECT_EQ(p.process(id).outcome, "accepted");
  write_durable(env.cfg.spool_dir() / "tmp", env.cfg.spool_dir() / "new", id, {saved});
  EXPECT_EQ(p.process(id).outcome, "duplicate");
  EXPECT_EQ(env.scalar("SELECT count(*) FROM archive"), 1);
  EXPECT_EQ(env.scalar("SELECT count(*) FROM delivery_jobs"), 1);
  EXPECT_TRUE(p.spool().pending().empty());
}

TEST(Pipeline, NonmemberHeldByDefault) {
  Env env;
  auto id = env.spool("From: eve@example.org\nSubject: spam\n\nbuy\n", "mi_lista@lists.mired.org", "eve@example.org");
  Processor p(env.cfg, env.templates);
  auto r = p.process(id);
  EXPECT_EQ(r.outcome, "held");
  EXPECT_EQ(env.scalar("SELECT count(*) FROM held_messages"), 1);
  EXPECT_EQ(env.scalar("SELECT count(*) FROM archive"), 0);
  EXPECT_EQ(count_files(env.cfg.held_dir()), 1u);
}

TEST(Pipeline, OwnLoopDiscarded) {
  Env env;
  std::string looped = std::string("List-Id: <mi_lista.lists.mired.org>\n") + kPost;
  Processor p(env.cfg, env.templates);
  EXPECT_EQ(p.process(env.spool(looped)).outcome, "discarded");
}

TEST(Pipeline, OtherRolesQueuedNotDropped) {
  Env env;
  Processor p(env.cfg, env.templates);
  EXPECT_EQ(p.process(env.spool("From: carol@example.org\nSubject: subscribe\n\n", "mi_lista-request@lists.mired.org",
                                "carol@example.org"))
                .outcome,
            "commands");
  EXPECT_EQ(p.process(env.spool("From: dave@example.org\nSubject: x\n\n", "mi_lista-join@lists.mired.org",
                                "dave@example.org"))
                .outcome,
            "commands");
  EXPECT_EQ(env.scalar("SELECT count(*) FROM pending_tokens WHERE action = 'subscribe'"), 2);
  EXPECT_EQ(p.process(env.spool("Subject: x\n\n", "mi_lista-bounces@lists.mired.org")).outcome, "queued");
  EXPECT_EQ(p.process(env.spool("Subject: x\n\n", "mi_lista-bounces+bob=mired.org@lists.mired.org")).outcome, "bounce");
  EXPECT_EQ(env.scalar("SELECT count(*) FROM role_queue"), 1);
  EXPECT_EQ(p.process(env.spool("Subject: help\n\nplease\n", "mi_lista-owner@lists.mired.org")).outcome, "queued");
  EXPECT_EQ(env.scalar("SELECT total FROM delivery_jobs WHERE kind = 'owner'"), 1);
}

TEST(Pipeline, CorruptEntrySetAside) {
  Env env;
  Spool sp(env.cfg.spool_dir());
  write_durable(env.cfg.spool_dir() / "tmp", sp.new_dir(), "00000000.bad", {"garbage"});
  Processor p(env.cfg, env.templates);
  EXPECT_EQ(p.process("00000000.bad").outcome, "set-aside");
  EXPECT_TRUE(p.spool().pending().empty());
  EXPECT_TRUE(std::filesystem::exists(env.cfg.spool_dir() / "bad" / "00000000.bad"));
}

TEST(Pipeline, GarbageAndHeaderlessMessagesHaveADefinedOutcome) {
  Env env;
  Processor p(env.cfg, env.templates);
  std::string binary;
  for (int i = 0; i < 4096; ++i) binary.push_back(static_cast<char>((i * 131) & 0xff));
  for (const std::string& m : {std::string("no headers at all, just text\n"), binary, std::string("\n\n\n"),
                               std::string("Subject: \xff\xfe bad 8-bit\nFrom: \x80@x\n\nbody\n")}) {
    auto r = p.process(env.spool(m));
    EXPECT_TRUE(r.outcome == "accepted" || r.outcome == "held") << r.outcome << " " << r.detail;
  }
  EXPECT_TRUE(p.spool().pending().empty());
}

TEST(Pipeline, UnknownListIsUnroutable) {
  Env env;
  Processor p(env.cfg, env.templates);
  EXPECT_EQ(p.process(env.spool(kPost, "nosuch@lists.mired.org")).outcome, "unroutable");
}
