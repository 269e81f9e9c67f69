// archive_view_test.cpp - listd::ArchiveView on a real SQLite database and Maildir: who may
// read which list, local-part logins, the merged INBOX and its UIDVALIDITY, FTS5 search
// (subjects decoded from RFC 2047, bodies from MIME parts), \Seen and POP3 deletions per
// person, anonymous access to public lists, and the backfill of older posts.
#include <gtest/gtest.h>

#include "listd/archive.hpp"
#include "listd/archive_search.hpp"
#include "listd/archive_view.hpp"
#include "listd/auth_cache.hpp"
#include "listd/db.hpp"
#include "listd/password.hpp"
#include "listd/store.hpp"
#include "test_util.hpp"

using namespace listd;

namespace {

struct Fixture {
  test::TempDir dir;
  std::filesystem::path db_path = dir.path() / "listd.db";
  std::filesystem::path archive = dir.path() / "archive";
  std::unique_ptr<SQLite::Database> db = db_open(db_path, true);
  Store store{*db};
  ListRow a = store.create_list("mi_lista", "lists.mired.org", "ana@mired.org");
  ListRow b = store.create_list("otra", "lists.mired.org", "carla@mired.org");
  int n = 0;

  Fixture() {
    store.add_members(a, {"bob@mired.org"});
    store.set_password_hash(*store.find_person("ana@mired.org"), hash_password("pw-ana"));
    store.set_password_hash(*store.find_person("bob@mired.org"), hash_password("pw-bob"));
  }
  void post(const ListRow& l, const std::string& raw, bool with_access = true) {
    std::string id = "spool" + std::to_string(++n);
    auto rel = archive_write(archive, l, id, 1770000000 + n, "host", raw);
    auto info = message_info(raw);
    archive_index(*db, l, id, rel, info, 1770000000 + n, with_access ? std::string_view(raw) : std::string_view());
  }
  std::unique_ptr<ArchiveView> view(const std::string& user, const std::string& pw) {
    auto v = std::make_unique<ArchiveView>(db_path, archive);
    EXPECT_TRUE(v->login(user, pw)) << user;
    return v;
  }
};

// Row - a message as one session sees it: the shared list's entry plus this person's \Seen.
struct Row : imap::MessageMeta {
  bool seen = false;
};

bool open(ArchiveView& view, const std::string& mailbox, std::uint32_t& validity, std::vector<Row>& out) {
  out.clear();
  imap::MessageListPtr list;
  if (!view.open(mailbox, validity, list)) return false;
  auto seen = view.seen_keys(mailbox, 0);
  for (auto& m : *list) {
    Row r;
    static_cast<imap::MessageMeta&>(r) = m;
    r.seen = std::find(seen.begin(), seen.end(), m.key) != seen.end();
    out.push_back(r);
  }
  return true;
}

std::vector<std::int64_t> keys(const std::vector<Row>& m) {
  std::vector<std::int64_t> k;
  for (auto& x : m) k.push_back(x.key);
  return k;
}

}  // namespace

TEST(ArchiveView, LoginsAndMailboxes) {
  Fixture f;
  ArchiveView v(f.db_path, f.archive);
  EXPECT_FALSE(v.login("ana", "wrong"));
  EXPECT_FALSE(v.login("nobody@mired.org", "pw"));
  EXPECT_TRUE(v.login("ANA", "pw-ana"));
  EXPECT_EQ(v.mailboxes(), (std::vector<std::string>{"INBOX", "mi_lista@lists.mired.org"}));
  EXPECT_TRUE(v.login("bob@mired.org", "pw-bob"));
  EXPECT_EQ(v.mailboxes(), (std::vector<std::string>{"INBOX", "mi_lista@lists.mired.org"}));
  // A second "ana" makes the local part ambiguous: the full address is then needed.
  f.store.set_password_hash(f.store.ensure_person("ana@otro.org"), hash_password("pw-ana"));
  EXPECT_FALSE(v.login("ana", "pw-ana"));
  EXPECT_TRUE(v.login("ana@mired.org", "pw-ana"));
}

TEST(ArchiveView, MergedInboxUidsAndValidity) {
  Fixture f;
  f.post(f.a, "Subject: uno\n\nuno\n");
  f.post(f.b, "Subject: dos\n\ndos\n");
  f.post(f.a, "Subject: tres\n\ntres\n");
  auto ana = f.view("ana", "pw-ana");
  std::uint32_t v1 = 0, v2 = 0, lv = 0;
  std::vector<Row> inbox, list;
  ASSERT_TRUE(open(*ana, "INBOX", v1, inbox));
  ASSERT_EQ(inbox.size(), 2u);
  EXPECT_LT(inbox[0].uid, inbox[1].uid);
  ASSERT_TRUE(open(*ana, "mi_lista@lists.mired.org", lv, list));
  EXPECT_EQ(lv, static_cast<std::uint32_t>(f.a.uidvalidity));
  EXPECT_EQ(list[0].uid, 1u);
  EXPECT_EQ(list[1].uid, 2u);  // the list's own UIDs
  EXPECT_FALSE(open(*ana, "otra@lists.mired.org", lv, list));
  ASSERT_TRUE(open(*ana, "INBOX", v2, inbox));
  EXPECT_EQ(v1, v2);  // stable while the set of lists is the same
  f.store.add_members(f.b, {"ana@mired.org"});
  auto again = f.view("ana", "pw-ana");
  ASSERT_TRUE(open(*again, "INBOX", v2, inbox));
  EXPECT_GT(v2, v1);  // a list joined: older posts appear, so UIDVALIDITY must change
  EXPECT_EQ(inbox.size(), 3u);
  f.post(f.b, "Subject: cuatro\n\ncuatro\n");
  std::vector<imap::MessageMeta> more;
  for (auto& m : *again->current("INBOX"))
    if (m.uid > inbox.back().uid) more.push_back(m);
  ASSERT_EQ(more.size(), 1u);
  EXPECT_GT(more[0].uid, inbox.back().uid);
  auto raw = again->message(more[0].key);
  ASSERT_TRUE(raw);
  EXPECT_EQ(*raw, "Subject: cuatro\r\n\r\ncuatro\r\n");
  EXPECT_EQ(more[0].size, raw->size());
}

TEST(ArchiveView, SearchUsesTheFullTextIndex) {
  Fixture f;
  f.post(f.a, "From: Ana <ana@mired.org>\nTo: mi_lista@lists.mired.org\nSubject: =?UTF-8?Q?ma=C3=B1ana?=\n\nnada\n");
  f.post(f.a,
         "From: bob@mired.org\nSubject: adjunto\nMIME-Version: 1.0\nContent-Type: multipart/mixed; boundary=b\n\n--b\n"
         "Content-Type: text/plain; charset=iso-8859-1\nContent-Transfer-Encoding: quoted-printable\n\ncaf=E9 "
         "con leche\n--b\nContent-Type: application/octet-stream\n\nsecretword\n--b--\n");
  auto ana = f.view("ana", "pw-ana");
  std::uint32_t v;
  std::vector<Row> m;
  open(*ana, "INBOX", v, m);
  using F = imap::SearchField;
  EXPECT_EQ(ana->search("INBOX", F::subject, "", "ADJUNTO"), std::vector<std::int64_t>{m[1].key});
  EXPECT_EQ(ana->search("INBOX", F::subject, "", "mañana"), std::vector<std::int64_t>{m[0].key});
  EXPECT_EQ(ana->search("INBOX", F::body, "", "café"), std::vector<std::int64_t>{m[1].key});
  EXPECT_TRUE(ana->search("INBOX", F::text, "", "secretword").empty());  // attachments are not text
  EXPECT_EQ(ana->search("INBOX", F::from, "", "bob"), std::vector<std::int64_t>{m[1].key});
  EXPECT_EQ(ana->search("INBOX", F::to, "", "mi_lista@"), std::vector<std::int64_t>{m[0].key});
  EXPECT_EQ(ana->search("INBOX", F::text, "", "ña").size(), 1u);               // short: scanned, still found
  EXPECT_EQ(ana->search("INBOX", F::text, "", "\"quoted\" OR x").size(), 0u);  // FTS syntax is escaped
  EXPECT_EQ(ana->search("INBOX", F::header, "content-type", "MULTIPART").size(), 1u);
  EXPECT_EQ(ana->search("INBOX", F::text, "", "").size(), 2u);
}

TEST(ArchiveView, SearchFoldsUnicodeCase) {
  Fixture f;
  f.post(f.a,
         "From: =?UTF-8?Q?=C3=91and=C3=BA_Garc=C3=ADa?= <nandu@example.org>\nSubject: "
         "=?UTF-8?B?w5FBTkTDmiBFTiBFTCDDgVJCT0w=?=\n"
         "X-Tema: =?UTF-8?Q?=C3=9Cber_Alles?=\nContent-Type: text/plain; charset=utf-8\n\nEl ÑANDÚ corre.\n");
  f.post(f.a, "From: otro@example.org\nSubject: nandu sin tilde\n\nnandu\n");
  auto ana = f.view("ana", "pw-ana");
  std::uint32_t v;
  std::vector<Row> m;
  open(*ana, "INBOX", v, m);
  using F = imap::SearchField;
  const std::vector<std::int64_t> first{m[0].key};
  EXPECT_EQ(ana->search("INBOX", F::from, "", "ñandú"), first);  // decoded display name, folded
  EXPECT_EQ(ana->search("INBOX", F::from, "", "GARCÍA"), first);
  EXPECT_EQ(ana->search("INBOX", F::subject, "", "ñandú en el árbol"), first);  // subject "ÑANDÚ EN EL ÁRBOL"
  EXPECT_EQ(ana->search("INBOX", F::body, "", "ñandú"), first);
  EXPECT_EQ(ana->search("INBOX", F::text, "", "Ñandú"), first);
  EXPECT_EQ(ana->search("INBOX", F::text, "", "ñ"), first);  // one character: the scan, folded too
  EXPECT_EQ(ana->search("INBOX", F::subject, "", "Á"), first);
  EXPECT_EQ(ana->search("INBOX", F::header, "x-tema", "über"), first);  // RFC 2047 decoded, folded
  EXPECT_EQ(ana->search("INBOX", F::header, "subject", "ÁRBOL"), first);
  EXPECT_EQ(ana->search("INBOX", F::subject, "", "nandu"), std::vector<std::int64_t>{m[1].key});  // accents count
}

TEST(ArchiveView, SeenAndPop3DeletionsArePerPerson) {
  Fixture f;
  f.post(f.a, "Subject: uno\n\nuno\n");
  f.post(f.a, "Subject: dos\n\ndos\n");
  auto ana = f.view("ana", "pw-ana");
  std::uint32_t v;
  std::vector<Row> m;
  open(*ana, "INBOX", v, m);
  ana->set_seen({m[0].key}, true);
  auto ana2 = f.view("ana@mired.org", "pw-ana");
  open(*ana2, "INBOX", v, m);
  EXPECT_TRUE(m[0].seen);
  EXPECT_FALSE(m[1].seen);
  auto bob = f.view("bob", "pw-bob");
  open(*bob, "INBOX", v, m);
  EXPECT_FALSE(m[0].seen);
  auto drop = bob->list();
  ASSERT_EQ(drop->size(), 2u);
  bob->remove({(*drop)[0].key});
  EXPECT_EQ(f.view("bob", "pw-bob")->list()->size(), 1u);
  EXPECT_EQ(f.view("ana", "pw-ana")->list()->size(), 2u);
  // The archive keeps the post: IMAP still shows it to bob.
  open(*f.view("bob", "pw-bob"), "INBOX", v, m);
  EXPECT_EQ(m.size(), 2u);
}

TEST(ArchiveView, AnonymousReadsPublicListsOnly) {
  Fixture f;
  f.post(f.a, "Subject: uno\n\nuno\n");
  f.b.settings.archive_public = false;
  f.store.save_settings(f.b);
  auto anon = f.view("anonymous", "guest@example.org");
  EXPECT_EQ(anon->mailboxes(), (std::vector<std::string>{"INBOX", "mi_lista@lists.mired.org"}));
  std::uint32_t v;
  std::vector<Row> m;
  open(*anon, "INBOX", v, m);
  ASSERT_EQ(m.size(), 1u);
  anon->set_seen({m[0].key}, true);  // kept for the session only
  open(*anon, "INBOX", v, m);
  EXPECT_TRUE(m[0].seen);
  EXPECT_TRUE(f.view("anonymous", "x")->list()->size() == 1u);
}

TEST(ArchiveView, BackfillIndexesOlderPosts) {
  Fixture f;
  f.post(f.a, "Subject: viejo\n\nantiguo\n", false);
  auto ana = f.view("ana", "pw-ana");
  std::uint32_t v;
  std::vector<Row> m;
  open(*ana, "INBOX", v, m);
  EXPECT_TRUE(m.empty());
  EXPECT_EQ(archive_backfill(*f.db, f.archive), 1u);
  EXPECT_EQ(archive_backfill(*f.db, f.archive), 0u);
  open(*ana, "INBOX", v, m);
  ASSERT_EQ(m.size(), 1u);
  EXPECT_EQ(ana->search("INBOX", imap::SearchField::body, "", "antiguo"), keys(m));
}

// SEARCH correctness at some scale: FTS answers must equal a brute-force substring scan.
TEST(ArchiveView, SearchAgreesWithBruteForce) {
  Fixture f;
  const std::vector<std::string> vocab = {"lista",    "correo",  "Servidor", "buzón", "año",  "reunión", "zz",
                                          "x",        "entrega", "cola",     "ñandú", "Hilo", "tema",    "prueba",
                                          "registro", "ÑANDÚ",   "Árbol",    "ÜBER",  "Öl",   "AÑO"};
  std::uint32_t seed = 12345;
  auto next = [&] {
    seed = seed * 1103515245u + 12345u;
    return (seed >> 16) & 0x7fff;
  };
  struct Post {
    std::string subject, from, body;
  };
  std::vector<Post> posts;
  for (int i = 0; i < 120; ++i) {
    Post p;
    for (int k = 0; k < 3; ++k) p.subject += vocab[next() % vocab.size()] + " ";
    p.from = "user" + std::to_string(next() % 20) + "@example.org";
    for (int k = 0; k < 20; ++k) p.body += vocab[next() % vocab.size()] + (k % 7 == 6 ? "\n" : " ");
    f.post(f.a, "From: " + p.from + "\nSubject: " + p.subject + "\nContent-Type: text/plain; charset=utf-8\n\n" +
                    p.body + "\n");
    posts.push_back(p);
  }
  auto ana = f.view("ana", "pw-ana");
  std::uint32_t v;
  std::vector<Row> m;
  open(*ana, "INBOX", v, m);
  ASSERT_EQ(m.size(), posts.size());
  auto fold = [](std::string s) {  // case folding of ASCII and of the few capitals used here
    for (auto& c : s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    for (auto [upper, lower] : {std::pair{"Ñ", "ñ"}, {"Ú", "ú"}, {"Á", "á"}, {"Ü", "ü"}, {"Ö", "ö"}})
      for (auto at = s.find(upper); at != std::string::npos; at = s.find(upper)) s.replace(at, 2, lower);
    return s;
  };
  using F = imap::SearchField;
  for (std::string q : {"lista", "LISTA", "servidor",  "buzón",  "año",     "zz",
                        "x",     "ñandú", "hilo tema", "user1@", "user13@", "reunión\nlista",
                        "nada",  "ón",    "a",         "ÑANDÚ",  "Ñandú",   "árbol",
                        "über",  "ÖL",    "ñ",         "Ñ",      "Ú",       "AÑ",
                        "añ"}) {
    for (F field : {F::subject, F::from, F::body, F::text}) {
      std::vector<std::int64_t> want;
      for (std::size_t i = 0; i < posts.size(); ++i) {
        std::string hay = field == F::subject ? posts[i].subject
                          : field == F::from  ? posts[i].from
                          : field == F::body  ? posts[i].body
                                              : posts[i].subject + "\n" + posts[i].from + "\n" + posts[i].body;
        if (field == F::subject) hay = hay.substr(0, hay.size() - 1);  // message_info trims the subject
        if (fold(hay).find(fold(q)) != std::string::npos) want.push_back(m[i].key);
      }
      auto got = ana->search("INBOX", field, "", q);
      std::sort(got.begin(), got.end());
      EXPECT_EQ(got, want) << "query '" << q << "' field " << static_cast<int>(field);
    }
  }
}

// Issue 8: every session that opens a mailbox holds the same immutable list; a new post
// makes a new list (the old one is untouched) that the next NOOP/IDLE of each session sees.
TEST(ArchiveView, SessionsShareOneListAndSeeNewPosts) {
  Fixture f;
  for (int i = 0; i < 3; ++i) f.post(f.a, "Subject: p" + std::to_string(i) + "\n\nx\n");
  auto cache = std::make_shared<MailboxCache>();
  ArchiveView ana(f.db_path, f.archive, cache), bob(f.db_path, f.archive, cache);
  ASSERT_TRUE(ana.login("ana", "pw-ana"));
  ASSERT_TRUE(bob.login("bob", "pw-bob"));
  const std::string box = "mi_lista@lists.mired.org";
  std::uint32_t v = 0;
  imap::MessageListPtr la, lb, ia, ib;
  ASSERT_TRUE(ana.open(box, v, la));
  ASSERT_TRUE(bob.open(box, v, lb));
  EXPECT_EQ(la.get(), lb.get());
  EXPECT_EQ(la->size(), 3u);
  EXPECT_EQ(cache->stats().builds, 1u);
  EXPECT_EQ(cache->stats().hits, 1u);
  ASSERT_TRUE(ana.open("INBOX", v, ia));  // both read only mi_lista: one INBOX list too
  ASSERT_TRUE(bob.open("INBOX", v, ib));
  EXPECT_EQ(ia.get(), ib.get());
  EXPECT_NE(ia.get(), la.get());                // INBOX numbers by the merged UIDs: its own list
  EXPECT_EQ(ana.current(box).get(), la.get());  // nothing changed: the same list
  f.post(f.a, "Subject: nuevo\n\nx\n");
  auto na = ana.current(box), nb = bob.current(box);
  EXPECT_EQ(na.get(), nb.get());
  EXPECT_NE(na.get(), la.get());
  ASSERT_EQ(na->size(), 4u);
  EXPECT_EQ(la->size(), 3u);  // the old list is never changed under a session
  EXPECT_EQ(na->back().uid, 4u);
  EXPECT_EQ(cache->stats().appends, 1u);  // extended, not read again
  EXPECT_EQ(cache->stats().builds, 2u);   // the list's and the INBOX's first builds only
  EXPECT_EQ(bob.list()->size(), 4u);      // POP3 sees it too (from the INBOX list)
  EXPECT_EQ(ana.list().get(), bob.list().get());
  // A deleted list: its posts go away, and the cache notices (the count dropped).
  f.store.delete_list(f.a);
  EXPECT_EQ(ana.current("INBOX")->size(), 0u);
}

// Two IMAP sessions: one list in memory, one SQLite connection lent to both in turn, and NOOP
// announces a new post to each with its own sequence numbers and \Seen.
TEST(ArchiveView, ImapSessionsShareTheListAndHearOfNewPosts) {
  Fixture f;
  f.post(f.a, "Subject: uno\n\nuno\n");
  f.post(f.a, "Subject: dos\n\ndos\n");
  auto cache = std::make_shared<MailboxCache>();
  auto conns = std::make_shared<ConnectionPool>(f.db_path, 2);
  ArchiveView va(f.db_path, f.archive, cache, nullptr, conns), vb(f.db_path, f.archive, cache, nullptr, conns);
  imap::SessionOptions o;
  o.plaintext_allowed = true;
  imap::Session a(va, o), b(vb, o);
  auto run = [](imap::Session& s, const std::string& in) {
    std::string out = s.input(in);
    while (s.login_pending()) out += s.verify();
    while (s.more()) out += s.resume();
    return out;
  };
  EXPECT_NE(run(a, "1 LOGIN ana pw-ana\r\n").find("1 OK"), std::string::npos);
  EXPECT_NE(run(b, "1 LOGIN bob pw-bob\r\n").find("1 OK"), std::string::npos);
  EXPECT_NE(run(a, "2 SELECT INBOX\r\n").find("* 2 EXISTS"), std::string::npos);
  EXPECT_NE(run(b, "2 SELECT INBOX\r\n").find("* 2 EXISTS"), std::string::npos);
  auto list = va.current("INBOX");
  EXPECT_EQ(list.use_count(), 4);  // the cache, both sessions, this copy
  run(a, "3 STORE 1 +FLAGS (\\Seen)\r\n");
  f.post(f.a, "Subject: tres\n\ntres\n");
  EXPECT_EQ(run(a, "4 NOOP\r\n"), "* 3 EXISTS\r\n* 0 RECENT\r\n4 OK NOOP completed\r\n");
  EXPECT_EQ(run(b, "4 NOOP\r\n"), "* 3 EXISTS\r\n* 0 RECENT\r\n4 OK NOOP completed\r\n");
  EXPECT_EQ(run(a, "5 SEARCH UNSEEN\r\n"), "* SEARCH 2 3\r\n5 OK SEARCH completed\r\n");
  EXPECT_EQ(run(b, "5 SEARCH UNSEEN\r\n"), "* SEARCH 1 2 3\r\n5 OK SEARCH completed\r\n");
  EXPECT_EQ(va.current("INBOX").get(), vb.current("INBOX").get());
  EXPECT_EQ(cache->stats().appends, 1u);
  // Sessions borrow a connection per call: two sessions used in turn needed only one.
  EXPECT_EQ(conns->opened(), 1u);
}

// The login cache: a success is remembered (keyed by the stored hash), a changed password
// hash in the database is no longer a hit, a failed login is never remembered.
TEST(ArchiveView, LoginCacheFollowsTheStoredHash) {
  Fixture f;
  AuthCache auth(300);
  ArchiveView v(f.db_path, f.archive, nullptr, &auth);
  EXPECT_EQ(v.begin_login("ana", "pw-ana"), imap::Backend::LoginStep::slow);  // not cached: argon2id
  EXPECT_TRUE(v.finish_login());
  EXPECT_EQ(auth.size(), 1u);
  EXPECT_EQ(v.begin_login("ana@mired.org", "pw-ana"), imap::Backend::LoginStep::ok);  // cached
  EXPECT_EQ(v.mailboxes().size(), 2u);
  EXPECT_EQ(v.begin_login("ana", "wrong"), imap::Backend::LoginStep::slow);  // a wrong one is checked
  EXPECT_FALSE(v.finish_login());
  EXPECT_EQ(v.begin_login("bob", "nope"), imap::Backend::LoginStep::slow);
  EXPECT_FALSE(v.finish_login());
  EXPECT_EQ(auth.size(), 1u);  // failures are not remembered
  f.store.set_password_hash(*f.store.find_person("ana@mired.org"), hash_password("nueva"));
  EXPECT_EQ(v.begin_login("ana", "pw-ana"), imap::Backend::LoginStep::slow);
  EXPECT_FALSE(v.finish_login());  // the old password no longer works, cache or not
  EXPECT_TRUE(v.login("ana", "nueva"));
  EXPECT_EQ(v.begin_login("nobody@mired.org", "x"), imap::Backend::LoginStep::slow);  // same cost as a real one
  EXPECT_FALSE(v.finish_login());
}
