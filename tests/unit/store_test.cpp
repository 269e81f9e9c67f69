// store_test.cpp - lists, members and settings on a real SQLite file, migrations, bulk add.
#include <gtest/gtest.h>

#include <SQLiteCpp/Statement.h>

#include "listd/db.hpp"
#include "listd/password.hpp"
#include "listd/store.hpp"
#include "test_util.hpp"

using namespace listd;

namespace {
struct Db {
  test::TempDir dir;
  std::unique_ptr<SQLite::Database> db = db_open(dir.path() / "listd.db", true);
  Store store{*db};
};
}  // namespace

TEST(Store, MigrationsAreIdempotent) {
  Db d;
  EXPECT_EQ(d.db->execAndGet("PRAGMA user_version").getInt(), db_schema_version());
  auto again = db_open(d.dir.path() / "listd.db");
  EXPECT_EQ(again->execAndGet("PRAGMA user_version").getInt(), db_schema_version());
  EXPECT_EQ(again->execAndGet("PRAGMA journal_mode").getString(), "wal");
}

TEST(Store, MissingDatabaseIsAnError) {
  test::TempDir t;
  EXPECT_THROW(db_open(t.path() / "nope.db"), std::runtime_error);
}

TEST(Store, CreateFindDeleteList) {
  Db d;
  auto l = d.store.create_list("mi_lista", "lists.mired.org", "Ana@Mired.org");
  EXPECT_EQ(l.address(), "mi_lista@lists.mired.org");
  EXPECT_EQ(l.settings.subject_prefix, "[mi_lista]");
  auto owners = d.store.members(l, "owner");
  ASSERT_EQ(owners.size(), 1u);
  EXPECT_EQ(owners[0].email, "ana@mired.org");
  EXPECT_THROW(d.store.create_list("mi_lista", "lists.mired.org", "ana@mired.org"), StoreError);
  EXPECT_EQ(d.store.get_list("mi_lista@lists.mired.org").id, l.id);
  d.store.delete_list(l);
  EXPECT_FALSE(d.store.find_list("mi_lista", "lists.mired.org"));
  EXPECT_EQ(d.db->execAndGet("SELECT count(*) FROM memberships").getInt(), 0);
}

TEST(Store, BadListNamesAndOwners) {
  Db d;
  for (const char* bad : {"../etc", "a b", "MiLista", "", "x-request", "foo-owner", "-x", "a/b", "a+b", "a..b"})
    EXPECT_THROW(d.store.create_list(bad, "lists.mired.org", "ana@mired.org"), StoreError) << bad;
  EXPECT_THROW(d.store.create_list("ok", "lists.mired.org", "not an address"), StoreError);
  EXPECT_THROW(d.store.create_list("ok", "bad host", "ana@mired.org"), StoreError);
  EXPECT_THROW(split_list_address("no-at-sign"), StoreError);
}

TEST(Store, MembersAddRemoveAndRecipients) {
  Db d;
  auto l = d.store.create_list("dev", "lists.mired.org", "ana@mired.org");
  auto r = d.store.add_members(l, {"bob@mired.org", "ana@mired.org", "BOB@mired.org"});
  EXPECT_EQ(r.added, 2u);
  EXPECT_EQ(r.existing, 1u);
  EXPECT_TRUE(r.bad.empty());
  auto bad = d.store.add_members(l, {"carol@example.org", "not-an-address"});
  EXPECT_EQ(bad.bad.size(), 1u);
  EXPECT_EQ(bad.added, 0u);  // all or nothing
  EXPECT_EQ(d.store.count_members(l), 2u);
  std::vector<std::string> rcpts;
  d.store.for_each_recipient(l, [&](const std::string& a) { rcpts.push_back(a); });
  EXPECT_EQ(rcpts, (std::vector<std::string>{"ana@mired.org", "bob@mired.org"}));
  EXPECT_EQ(d.store.remove_members(l, {"bob@mired.org", "nobody@mired.org"}), 1u);
  EXPECT_EQ(d.store.count_members(l), 1u);
}

TEST(Store, BulkAddHundredThousand) {
  Db d;
  auto l = d.store.create_list("big", "lists.mired.org", "ana@mired.org");
  std::vector<std::string> emails;
  for (int i = 0; i < 100000; ++i) emails.push_back("user" + std::to_string(i) + "@example.org");
  auto r = d.store.add_members(l, emails);
  EXPECT_EQ(r.added, 100000u);
  EXPECT_EQ(d.store.count_members(l), 100000u);
}

TEST(Store, SettingsRoundTripAndErrors) {
  Db d;
  auto l = d.store.create_list("dev", "lists.mired.org", "ana@mired.org");
  settings_set(l.settings, "nonmember_action", "discard");
  settings_set(l.settings, "description", "Desarrollo");
  settings_set(l.settings, "max_message_size", "40");
  d.store.save_settings(l);
  auto again = d.store.get_list("dev@lists.mired.org");
  EXPECT_EQ(again.settings.nonmember_action, NonmemberAction::discard);
  EXPECT_EQ(again.settings.description, "Desarrollo");
  EXPECT_EQ(again.settings.max_message_size, 40u);
  EXPECT_THROW(settings_set(l.settings, "nope", "1"), StoreError);
  EXPECT_THROW(settings_set(l.settings, "emergency", "perhaps"), StoreError);
  EXPECT_THROW(settings_set(l.settings, "max_message_size", "-5"), StoreError);
}

TEST(Store, Bans) {
  Db d;
  auto l = d.store.create_list("dev", "lists.mired.org", "ana@mired.org");
  d.store.add_ban(&l, "eve@example.org");
  d.store.add_ban(nullptr, "^.*@spam\\.test$");
  EXPECT_TRUE(d.store.is_banned(l, "EVE@example.org"));
  EXPECT_TRUE(d.store.is_banned(l, "x@spam.test"));
  EXPECT_FALSE(d.store.is_banned(l, "bob@mired.org"));
  EXPECT_THROW(d.store.add_ban(&l, "^([unclosed"), StoreError);
}

TEST(Store, Passwords) {
  auto h = hash_password("secret");
  EXPECT_EQ(h.rfind("$argon2id$", 0), 0u);
  EXPECT_TRUE(verify_password("secret", h));
  EXPECT_FALSE(verify_password("Secret", h));
  EXPECT_FALSE(verify_password("secret", "plaintext"));
  EXPECT_NE(hash_password("secret"), h);  // salted
  EXPECT_EQ(random_password().size(), 16u);
  EXPECT_NE(random_password(), random_password());
}
