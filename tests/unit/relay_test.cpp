// relay_test.cpp - the relay's pure parts: transaction planning (grouping by domain, the
// max_recipients cut, VERP), the VERP sender and the retry backoff schedule; and the chunked
// copy of a member job's recipients on a real SQLite file.
#include <SQLiteCpp/Transaction.h>
#include <gtest/gtest.h>

#include "listd/db.hpp"
#include "listd/delivery.hpp"
#include "listd/relay.hpp"
#include "listd/store.hpp"
#include "test_util.hpp"

using namespace listd;

namespace {
std::vector<JobRecipient> wave(std::initializer_list<const char*> addrs) {
  std::vector<JobRecipient> w;
  std::int64_t id = 1;
  for (auto a : addrs) w.push_back({id++, a, 0});
  return w;
}
}  // namespace

TEST(Plan, SmarthostCutsByMaxRecipientsOnly) {
  auto w = wave({"a@x.org", "b@y.org", "c@x.org", "d@z.org", "e@x.org"});
  auto p = plan_transactions(w, "l-bounces@h", 2, false, false);
  ASSERT_EQ(p.size(), 3u);
  EXPECT_EQ(p[0].rcpts, (std::vector<std::size_t>{0, 1}));
  EXPECT_EQ(p[1].rcpts, (std::vector<std::size_t>{2, 3}));
  EXPECT_EQ(p[2].rcpts, (std::vector<std::size_t>{4}));
  for (auto& t : p) {
    EXPECT_EQ(t.domain, "");
    EXPECT_EQ(t.envelope_from, "l-bounces@h");
  }
}

TEST(Plan, MxGroupsByDomainCaseInsensitively) {
  auto w = wave({"a@x.org", "b@Y.org", "c@X.ORG", "d@y.org", "e@x.org", "f@y.org"});
  auto p = plan_transactions(w, "l-bounces@h", 2, true, false);
  ASSERT_EQ(p.size(), 4u);
  EXPECT_EQ(p[0].domain, "x.org");
  EXPECT_EQ(p[0].rcpts, (std::vector<std::size_t>{0, 2}));
  EXPECT_EQ(p[1].domain, "y.org");
  EXPECT_EQ(p[1].rcpts, (std::vector<std::size_t>{1, 3}));
  EXPECT_EQ(p[2].domain, "x.org");
  EXPECT_EQ(p[2].rcpts, (std::vector<std::size_t>{4}));
  EXPECT_EQ(p[3].domain, "y.org");
  EXPECT_EQ(p[3].rcpts, (std::vector<std::size_t>{5}));
}

TEST(Plan, EveryRecipientExactlyOnce) {
  std::vector<JobRecipient> w;
  for (int i = 0; i < 1000; ++i)
    w.push_back({i + 1, "u" + std::to_string(i) + "@d" + std::to_string(i % 7) + ".org", 0});
  for (bool by_domain : {false, true})
    for (unsigned max : {1u, 3u, 100u, 5000u}) {
      auto p = plan_transactions(w, "s@h", max, by_domain, false);
      std::vector<int> seen(w.size(), 0);
      for (auto& t : p) {
        EXPECT_LE(t.rcpts.size(), max);
        EXPECT_FALSE(t.rcpts.empty());
        for (auto i : t.rcpts) {
          ++seen[i];
          if (by_domain) {
            EXPECT_EQ(w[i].address.substr(w[i].address.find('@') + 1), t.domain);
          }
        }
      }
      for (auto n : seen) EXPECT_EQ(n, 1);
    }
}

TEST(Plan, VerpIsOneRecipientPerTransaction) {
  auto w = wave({"ana@mired.org", "bob@x.org"});
  auto p = plan_transactions(w, "mi_lista-bounces@lists.mired.org", 100, false, true);
  ASSERT_EQ(p.size(), 2u);
  EXPECT_EQ(p[0].envelope_from, "mi_lista-bounces+ana=mired.org@lists.mired.org");
  EXPECT_EQ(p[1].envelope_from, "mi_lista-bounces+bob=x.org@lists.mired.org");
  EXPECT_EQ(p[1].rcpts, (std::vector<std::size_t>{1}));
}

TEST(Verp, SenderForm) {
  EXPECT_EQ(verp_sender("l-bounces@h.org", "a.b+c@d.org"), "l-bounces+a.b+c=d.org@h.org");
  EXPECT_EQ(verp_sender("", "a@d"), "");  // null sender stays null
}

TEST(Backoff, DoublesUpToTheCap) {
  EXPECT_EQ(backoff_delay(0, 300, 3600), 300);
  EXPECT_EQ(backoff_delay(1, 300, 3600), 600);
  EXPECT_EQ(backoff_delay(2, 300, 3600), 1200);
  EXPECT_EQ(backoff_delay(3, 300, 3600), 2400);
  EXPECT_EQ(backoff_delay(4, 300, 3600), 3600);
  EXPECT_EQ(backoff_delay(60, 300, 3600), 3600);
  EXPECT_EQ(backoff_delay(0, 1, 1), 1);
}

// Member jobs are copied into delivery_recipients in chunks of kFillChunk: the first with
// the job, the rest by job_fill_more; total follows, and the job is complete only at the end.
TEST(Fill, MemberJobInChunks) {
  test::TempDir dir;
  auto db = db_open(dir.path() / "listd.db", true);
  Store store(*db);
  auto l = store.create_list("big", "lists.mired.org", "owner@mired.org");
  std::vector<std::string> emails;
  const int n = 2 * kFillChunk + 123;
  for (int i = 0; i < n; ++i) emails.push_back("u" + std::to_string(i) + "@d" + std::to_string(i % 9) + ".org");
  emails.push_back("poster@mired.org");
  store.add_members(l, emails);
  auto rows = [&] { return db->execAndGet("SELECT count(*) FROM delivery_recipients").getInt(); };
  auto total = [&] { return db->execAndGet("SELECT total FROM delivery_jobs").getInt(); };
  std::int64_t job = 0;
  {
    SQLite::Transaction tx(*db);
    job = job_create_for_members(*db, l, "post", "spool-1", "queue/x", "big-bounces@lists.mired.org", "nobody@x.org");
    tx.commit();
  }
  EXPECT_EQ(rows(), kFillChunk);
  EXPECT_EQ(total(), kFillChunk);
  EXPECT_TRUE(job_fill_more(*db, job));
  EXPECT_EQ(rows(), 2 * kFillChunk);
  EXPECT_TRUE(job_fill_more(*db, job));
  EXPECT_EQ(rows(), n + 1);
  EXPECT_EQ(total(), n + 1);
  EXPECT_FALSE(job_fill_more(*db, job));
  EXPECT_EQ(db->execAndGet("SELECT count(DISTINCT address) FROM delivery_recipients").getInt(), n + 1);
  EXPECT_EQ(db->execAndGet("SELECT fill_cursor FROM delivery_jobs").getInt(), -1);
  // the same spool id again: the same job, nothing copied twice
  SQLite::Transaction tx(*db);
  EXPECT_EQ(job_create_for_members(*db, l, "post", "spool-1", "queue/x", "big-bounces@lists.mired.org", "x@y.org"),
            job);
  EXPECT_EQ(rows(), n + 1);
}

TEST(RelayConfig, KeysAndErrors) {
  auto cfg = parse_config(
      "[relay]\nmode = mx\nper_destination = 2\nauth_user = u\nauth_password = p w\nresolver = 127.0.0.1:5353\n"
      "mx_port = 2525\ncommand_timeout = 30\n",
      "/etc/listd/listd.conf");
  EXPECT_EQ(cfg.relay.mode, RelayMode::mx);
  EXPECT_EQ(cfg.relay.per_destination, 2u);
  EXPECT_EQ(cfg.relay.auth_user, "u");
  EXPECT_EQ(cfg.relay.auth_password, "p w");
  EXPECT_EQ(cfg.relay.resolver.host, "127.0.0.1");
  EXPECT_EQ(cfg.relay.resolver.port, 5353);
  EXPECT_EQ(cfg.relay.mx_port, 2525);
  EXPECT_EQ(cfg.relay.command_timeout, 30u);
  EXPECT_THROW(parse_config("[relay]\nresolver = dns.example:53\n", "/x.conf"), ConfigError);
  EXPECT_THROW(parse_config("[relay]\nmx_port = 0\n", "/x.conf"), ConfigError);
  EXPECT_THROW(parse_config("[relay]\ncommand_timeout = 0\n", "/x.conf"), ConfigError);
}
