// web_app_test.cpp - the web application without sockets: Request in, Response out, on a
// real SQLite data dir. Sessions, CSRF refusal, role checks, escaping of hostile held posts
// and archived messages, throttled logins, API tokens.
#include <gtest/gtest.h>

#include <SQLiteCpp/Statement.h>

#include <regex>

#include "listd/db.hpp"
#include "listd/fsutil.hpp"
#include "listd/password.hpp"
#include "listd/store.hpp"
#include "test_util.hpp"
#include "web-admin/app.hpp"
#include "web-admin/auth.hpp"

using namespace listd;
using namespace listd::web;

namespace {

const char* kHostile =
    "From: =?utf-8?b?PHNjcmlwdD5ldmlsPC9zY3JpcHQ+?= <mallory@evil.example>\n"
    "To: mi_lista@lists.mired.org\n"
    "Subject: <script>alert(1)</script>\n"
    "Message-ID: <evil@x>\n"
    "Content-Type: text/html\n\n"
    "<a href=\"javascript:alert(2)\">click</a><img src=x onerror=alert(3)>\n";

struct Fixture : ::testing::Test {
  test::TempDir dir;
  Config cfg;
  Templates templates;
  std::unique_ptr<SQLite::Database> db;
  std::unique_ptr<App> app;
  ListRow list, other;

  void SetUp() override {
    cfg.data_dir = dir.path();
    cfg.base_url = "http://lists.example";
    db = db_open(cfg.db_path(), true);
    Store store(*db);
    list = store.create_list("mi_lista", "lists.mired.org", "ana@mired.org");
    other = store.create_list("otra", "lists.mired.org", "carol@mired.org");
    store.set_password_hash(*store.find_person("ana@mired.org"), hash_password("ana-pw"));
    store.set_password_hash(*store.find_person("carol@mired.org"), hash_password("carol-pw"));
    store.add_members(list, {"mod@mired.org"}, "moderator");
    store.set_password_hash(*store.find_person("mod@mired.org"), hash_password("mod-pw"));
    app = std::make_unique<App>(cfg, templates);
  }

  Response call(const std::string& method, const std::string& target, const std::string& body = "",
                const std::string& cookie = "", std::map<std::string, std::string> headers = {}) {
    Request r;
    r.method = method;
    r.target = target;
    auto q = target.find('?');
    r.path = *percent_decode(target.substr(0, q));
    if (q != std::string::npos) r.query = target.substr(q + 1);
    r.headers = std::move(headers);
    if (!body.empty() && !r.headers.count("content-type"))
      r.headers["content-type"] = "application/x-www-form-urlencoded";
    if (!cookie.empty()) r.headers["cookie"] = cookie;
    r.body = body;
    r.peer = "127.0.0.1";
    r.loopback = true;
    return app->handle(r);
  }

  static std::string header(const Response& r, const std::string& name) {
    for (auto& [k, v] : r.headers)
      if (k == name) return v;
    return {};
  }

  // session - log in through the app itself; returns (cookie, csrf).
  std::pair<std::string, std::string> session(const std::string& email, const std::string& pw) {
    auto form = call("GET", "/login");
    std::string anon = header(form, "Set-Cookie");
    anon = anon.substr(0, anon.find(';'));
    std::smatch m;
    std::regex re("name=\"csrf\" value=\"([0-9a-f]{64})\"");
    EXPECT_TRUE(std::regex_search(form.body, m, re));
    auto r = call("POST", "/login", "csrf=" + m[1].str() + "&email=" + email + "&password=" + pw, anon);
    EXPECT_EQ(r.status, 303) << r.body;
    std::string cookie = header(r, "Set-Cookie");
    cookie = cookie.substr(0, cookie.find(';'));
    auto page = call("GET", "/admin", "", cookie);
    EXPECT_TRUE(std::regex_search(page.body, m, re));
    return {cookie, m[1].str()};
  }

  void hold(const std::string& spool_id, const std::string& message) {
    make_private_dir(cfg.held_dir());
    make_private_dir(cfg.held_dir() / "tmp");
    write_durable(cfg.held_dir() / "tmp", cfg.held_dir(), spool_id + ".eml", {message});
    SQLite::Statement q(*db,
                        "INSERT INTO held_messages(list_id, spool_id, sender, subject, reason, path, size, received) "
                        "VALUES (?, ?, 'mallory@evil.example', '<script>alert(1)</script>', 'not a member', ?, ?, "
                        "1796119200)");
    q.bind(1, list.id);
    q.bind(2, spool_id);
    q.bind(3, "held/" + spool_id + ".eml");
    q.bind(4, static_cast<std::int64_t>(message.size()));
    q.exec();
  }
};

}  // namespace

TEST_F(Fixture, PublicPagesAndHeaders) {
  auto r = call("GET", "/");
  EXPECT_EQ(r.status, 200);
  EXPECT_NE(r.body.find("mi_lista@lists.mired.org"), std::string::npos);
  EXPECT_NE(header(r, "Content-Security-Policy").find("default-src 'none'"), std::string::npos);
  EXPECT_EQ(call("GET", "/lists/none@lists.mired.org").status, 404);
  EXPECT_EQ(call("POST", "/").status, 405);
  EXPECT_EQ(call("GET", "/admin").status, 303);
  EXPECT_EQ(call("GET", "/api/v1/lists").status, 401);
}

TEST_F(Fixture, CsrfIsRequiredOnEveryStateChange) {
  auto [cookie, csrf] = session("ana@mired.org", "ana-pw");
  const std::string url = "/admin/lists/mi_lista@lists.mired.org/members";
  EXPECT_EQ(call("POST", url, "action=add&addresses=x%40mired.org", cookie).status, 403);
  EXPECT_EQ(call("POST", url, "action=add&addresses=x%40mired.org&csrf=" + std::string(64, 'a'), cookie).status, 403);
  Store store(*db);
  EXPECT_FALSE(store.membership(list, "x@mired.org"));
  EXPECT_EQ(call("POST", url, "action=add&addresses=x%40mired.org&csrf=" + csrf, cookie).status, 303);
  EXPECT_TRUE(store.membership(list, "x@mired.org"));
  // The API with a session cookie needs the header too.
  EXPECT_EQ(call("PATCH", "/api/v1/lists/mi_lista@lists.mired.org/settings", "{\"emergency\":true}", cookie,
                 {{"content-type", "application/json"}})
                .status,
            403);
  EXPECT_EQ(call("PATCH", "/api/v1/lists/mi_lista@lists.mired.org/settings", "{\"emergency\":true}", cookie,
                 {{"content-type", "application/json"}, {"x-csrf-token", csrf}})
                .status,
            200);
}

TEST_F(Fixture, RoleChecks) {
  auto [ana, ana_csrf] = session("ana@mired.org", "ana-pw");
  EXPECT_EQ(call("GET", "/admin/lists/mi_lista@lists.mired.org/settings", "", ana).status, 200);
  EXPECT_EQ(call("GET", "/admin/lists/otra@lists.mired.org/settings", "", ana).status, 403);
  EXPECT_EQ(call("GET", "/admin/lists/otra@lists.mired.org/held", "", ana).status, 403);
  EXPECT_EQ(
      call("POST", "/admin/lists", "address=z%40lists.mired.org&owner=ana%40mired.org&csrf=" + ana_csrf, ana).status,
      403);
  auto [mod, mod_csrf] = session("mod@mired.org", "mod-pw");
  EXPECT_EQ(call("GET", "/admin/lists/mi_lista@lists.mired.org/held", "", mod).status, 200);
  EXPECT_EQ(call("GET", "/admin/lists/mi_lista@lists.mired.org/pending", "", mod).status, 200);
  EXPECT_EQ(call("GET", "/admin/lists/mi_lista@lists.mired.org/members", "", mod).status, 403);
  EXPECT_EQ(call("GET", "/admin/lists/mi_lista@lists.mired.org/settings", "", mod).status, 403);
  Auth auth(*db);
  auto token = auth.create_api_token(*Store(*db).find_person("carol@mired.org"));
  EXPECT_EQ(
      call("GET", "/api/v1/lists/mi_lista@lists.mired.org/members", "", "", {{"authorization", "Bearer " + token}})
          .status,
      403);
  EXPECT_EQ(
      call("GET", "/api/v1/lists/otra@lists.mired.org/members", "", "", {{"authorization", "Bearer " + token}}).status,
      200);
}

TEST_F(Fixture, HostileHeldPostIsEscaped) {
  hold("evil1", kHostile);
  auto [mod, csrf] = session("mod@mired.org", "mod-pw");
  auto list_page = call("GET", "/admin/lists/mi_lista@lists.mired.org/held", "", mod);
  EXPECT_EQ(list_page.status, 200);
  EXPECT_EQ(list_page.body.find("<script>"), std::string::npos);
  EXPECT_NE(list_page.body.find("&lt;script&gt;alert(1)&lt;/script&gt;"), std::string::npos);
  auto id = db->execAndGet("SELECT id FROM held_messages").getInt64();
  auto view = call("GET", "/admin/lists/mi_lista@lists.mired.org/held/" + std::to_string(id), "", mod);
  EXPECT_EQ(view.status, 200);
  EXPECT_EQ(view.body.find("<script>"), std::string::npos);
  EXPECT_EQ(view.body.find("<img"), std::string::npos);
  EXPECT_EQ(view.body.find("href=\"javascript:"), std::string::npos);
  EXPECT_NE(view.body.find("&lt;a href=&quot;javascript:alert(2)&quot;&gt;"), std::string::npos);
  // The encoded-word From: decodes to a tag, still escaped.
  EXPECT_NE(view.body.find("&lt;script&gt;evil&lt;/script&gt;"), std::string::npos);
  // Discard through the form; a second time it is gone.
  EXPECT_EQ(call("POST", "/admin/lists/mi_lista@lists.mired.org/held",
                 "action=discard&id=" + std::to_string(id) + "&csrf=" + csrf, mod)
                .status,
            303);
  EXPECT_EQ(db->execAndGet("SELECT count(*) FROM held_messages").getInt(), 0);
  EXPECT_FALSE(std::filesystem::exists(cfg.held_dir() / "evil1.eml"));
}

TEST_F(Fixture, LoginThrottledPerAccount) {
  Auth auth(*db);
  Principal p;
  for (int i = 0; i < kMaxFailuresPerAccount; ++i)
    EXPECT_EQ(auth.login("ana@mired.org", "wrong", "10.0.0.1", &p), LoginResult::bad_credentials);
  EXPECT_EQ(auth.login("ana@mired.org", "ana-pw", "10.0.0.2", &p), LoginResult::throttled);
  EXPECT_EQ(auth.login("carol@mired.org", "carol-pw", "10.0.0.1", &p), LoginResult::ok);
  EXPECT_EQ(auth.login("nobody@mired.org", "x", "10.0.0.3", &p), LoginResult::bad_credentials);
}

TEST_F(Fixture, SessionsAndTokensStoreOnlyHashes) {
  Auth auth(*db);
  auto id = *Store(*db).find_person("ana@mired.org");
  auto sid = auth.create_session(id);
  EXPECT_EQ(sid.size(), 64u);
  EXPECT_TRUE(auth.session(sid));
  SQLite::Statement q(*db, "SELECT count(*) FROM web_sessions WHERE id_hash = ?");
  q.bind(1, sid);
  q.executeStep();
  EXPECT_EQ(q.getColumn(0).getInt(), 0);
  auth.end_session(sid);
  EXPECT_FALSE(auth.session(sid));
  EXPECT_FALSE(auth.session("short"));
  EXPECT_FALSE(auth.api_token(std::string(64, 'f')));
}

// --- the page cache ---------------------------------------------------------------------

namespace {

// archive_row - an index row as the archiver writes it (and the next UID it moves on).
void archive_row(SQLite::Database& db, const ListRow& l, std::int64_t uid, std::int64_t date,
                 const std::string& subject) {
  SQLite::Statement q(
      db,
      "INSERT INTO archive(list_id, uid, spool_id, message_id, date, received, from_addr, subject, size, "
      "path) VALUES (?, ?, ?, ?, ?, ?, 'ana@mired.org', ?, 100, 'x/cur/y')");
  q.bind(1, l.id);
  q.bind(2, uid);
  q.bind(3, "s" + std::to_string(uid));
  q.bind(4, "m" + std::to_string(uid) + "@x");
  q.bind(5, date);
  q.bind(6, date);
  q.bind(7, subject);
  q.exec();
  SQLite::Statement u(db, "UPDATE lists SET next_uid = ? WHERE id = ?");
  u.bind(1, uid + 1);
  u.bind(2, l.id);
  u.exec();
}

Request get_request(const std::string& target, const std::string& cookie = "", const std::string& if_none_match = "") {
  Request r;
  r.method = "GET";
  r.target = r.path = target;
  if (!cookie.empty()) r.headers["cookie"] = cookie;
  if (!if_none_match.empty()) r.headers["if-none-match"] = if_none_match;
  r.peer = "127.0.0.1";
  r.loopback = true;
  return r;
}

}  // namespace

TEST_F(Fixture, PageCacheServesAnonymousPagesUntilTheDatabaseChanges) {
  const std::string month = "/lists/mi_lista@lists.mired.org/archive/2026-12";
  archive_row(*db, list, 1, 1796119200, "First post");
  EXPECT_FALSE(app->cached(get_request(month)));  // never rendered
  auto r = call("GET", month);
  ASSERT_EQ(r.status, 200);
  EXPECT_NE(r.body.find("First post"), std::string::npos);
  auto hit = app->cached(get_request(month));
  ASSERT_TRUE(hit);
  EXPECT_EQ(hit->text(), r.body);  // the cached bytes themselves (no holes: shared)
  EXPECT_TRUE(hit->owner);
  EXPECT_EQ(header(*hit, "ETag"), header(r, "ETag"));
  EXPECT_NE(header(*hit, "Content-Security-Policy").find("default-src 'none'"), std::string::npos);
  // A new post shows at once: the archiver's commit (another connection) moves the generation.
  archive_row(*db, list, 2, 1796119300, "Second post");
  EXPECT_FALSE(app->cached(get_request(month)));
  r = call("GET", month);
  EXPECT_NE(r.body.find("Second post"), std::string::npos);
  ASSERT_TRUE(app->cached(get_request(month)));
  EXPECT_NE(app->cached(get_request(month))->text().find("Second post"), std::string::npos);
  // A member added through the web shows in the cached list page's count at once (the count
  // cache is dropped for the list; counts changed elsewhere may lag kCountCacheSeconds).
  const std::string lp = "/lists/mi_lista@lists.mired.org";
  EXPECT_NE(call("GET", lp).body.find(">0</span><span>members"), std::string::npos);
  ASSERT_TRUE(app->cached(get_request(lp)));
  auto [cookie, csrf] = session("ana@mired.org", "ana-pw");
  ASSERT_EQ(call("POST", "/admin/lists/mi_lista@lists.mired.org/members",
                 "action=add&addresses=new%40mired.org&csrf=" + csrf, cookie)
                .status,
            303);
  EXPECT_FALSE(app->cached(get_request(lp)));
  r = call("GET", lp);
  EXPECT_NE(r.body.find(">1</span><span>members"), std::string::npos) << r.body;
  auto again = app->cached(get_request(lp));
  ASSERT_TRUE(again);
  EXPECT_NE(again->body.find(">1</span><span>members"), std::string::npos);
}

// Under mail traffic the database changes all the time (deliveries, other lists, other
// months): an archive page is kept as long as what it shows is the same, and dropped as soon as
// a post lands on it or the list's settings change.
TEST_F(Fixture, PageCacheKeepsArchivePagesThatUnrelatedCommitsLeaveAlone) {
  const std::string base = "/lists/mi_lista@lists.mired.org/archive";
  const std::string month = base + "/2026-12", msg = base + "/msg/1";
  archive_row(*db, list, 1, 1796119200, "December post");
  auto cur = cfg.archive_dir() / list.address() / "cur";
  std::filesystem::create_directories(cur);
  write_durable(cur, cur, "y", {"From: ana@mired.org\nSubject: December post\n\nHola.\n"});
  for (const auto& t : {month, msg, base}) ASSERT_EQ(call("GET", t).status, 200) << t;
  auto all_cached = [&](std::initializer_list<std::string> targets) {
    for (const auto& t : targets)
      if (!app->cached(get_request(t))) return false;
    return true;
  };
  ASSERT_TRUE(all_cached({month, msg, base}));
  // A post to another list, a commit to another table: all three stay.
  archive_row(*db, other, 1, 1796119200, "Another list");
  SQLite::Statement(*db, "UPDATE people SET display_name = 'x' WHERE email = 'carol@mired.org'").exec();
  EXPECT_TRUE(all_cached({month, msg, base}));
  // A post to another month of this list: the month page and the message stay; the index
  // (counts per month) is dropped.
  archive_row(*db, list, 2, 1793527200, "November post");
  EXPECT_TRUE(all_cached({month, msg}));
  EXPECT_FALSE(app->cached(get_request(base)));
  // A post to this month: dropped, and the next render shows it.
  archive_row(*db, list, 3, 1796119300, "Second December post");
  EXPECT_FALSE(app->cached(get_request(month)));
  EXPECT_TRUE(all_cached({msg}));
  auto r = call("GET", month);
  EXPECT_NE(r.body.find("Second December post"), std::string::npos);
  EXPECT_NE(app->cached(get_request(month))->text().find("Second December post"), std::string::npos);
  // The same, answered by a worker (handle) rather than the event loop.
  archive_row(*db, other, 2, 1796119200, "Another list again");
  auto hits = app->page_cache_stats().hits;
  EXPECT_EQ(call("GET", month).text(), r.body);
  EXPECT_EQ(app->page_cache_stats().hits, hits + 1);
  // A settings change of the list drops its pages (here: one that shows nothing on them).
  list.settings.max_message_size = 77;
  Store(*db).save_settings(list);
  EXPECT_FALSE(app->cached(get_request(month)));
  EXPECT_FALSE(app->cached(get_request(msg)));
  // A list deleted and made again under the same name: nothing of the old one is served.
  ASSERT_EQ(call("GET", month).status, 200);
  ASSERT_TRUE(app->cached(get_request(month)));
  Store(*db).delete_list(list);
  EXPECT_FALSE(app->cached(get_request(month)));
  list = Store(*db).create_list("mi_lista", "lists.mired.org", "ana@mired.org");
  EXPECT_FALSE(app->cached(get_request(month)));
  r = call("GET", month);
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(r.body.find("December post"), std::string::npos);
}

// A request that was waiting (for a worker, or for another worker's render of the same page)
// when a render of its page ended takes that render, even if a post has landed since: the page
// is then at most one render older than the request. Never across a change of the list's
// settings (privacy), and never for a request that came after the render.
TEST_F(Fixture, WaitingRequestsTakeTheRenderThatEndedWhileTheyWaited) {
  const std::string month = "/lists/mi_lista@lists.mired.org/archive/2026-12";
  archive_row(*db, list, 1, 1796119200, "First post");
  auto waiting = get_request(month);
  waiting.received = std::chrono::steady_clock::now();
  ASSERT_EQ(call("GET", month).status, 200);  // the render that ends while `waiting` waits
  archive_row(*db, list, 2, 1796119300, "Later post");
  auto r = app->handle(waiting);
  EXPECT_EQ(r.status, 200);
  EXPECT_NE(r.text().find("First post"), std::string::npos);
  EXPECT_EQ(r.text().find("Later post"), std::string::npos);
  // Taken once: the copy is not confirmed for the new database state.
  EXPECT_FALSE(app->cached(get_request(month)));
  // A request that came after that render gets a new one.
  auto late = get_request(month);
  late.received = std::chrono::steady_clock::now();
  r = app->handle(late);
  EXPECT_NE(r.text().find("Later post"), std::string::npos);
  // Settings changed (the archive made private) while a request waited: no old copy for it.
  auto waiting2 = get_request(month);
  waiting2.received = std::chrono::steady_clock::now() - std::chrono::seconds(5);
  list.settings.archive_public = false;
  Store(*db).save_settings(list);
  r = app->handle(waiting2);
  EXPECT_EQ(r.status, 401);
  EXPECT_EQ(r.text().find("Later post"), std::string::npos);
}

// The month page's rows (written by app.cpp, not the template engine): threads depth-first
// with children by date, replies whose parent is in a loop still listed, everything escaped.
TEST_F(Fixture, MonthPageThreadsEscapesAndKeepsReplyLoops) {
  struct Row {
    int uid;
    const char* parent;
    const char* subject;
  };
  const Row rows[] = {{1, "", "<script>root</script>"}, {2, "m1", "re 1"},   {3, "m2", "re 2"},  {4, "", "other"},
                      {5, "m1", "re 1 again"},          {6, "m7", "loop a"}, {7, "m6", "loop b"}};
  for (const auto& r : rows) {
    SQLite::Statement q(*db,
                        "INSERT INTO archive(list_id, uid, spool_id, message_id, date, received, from_name, from_addr, "
                        "subject, in_reply_to, size, path) VALUES (?, ?, ?, ?, ?, ?, 'Ana <&>', 'ana@mired.org', ?, ?, "
                        "100, 'x/cur/y')");
    q.bind(1, list.id);
    q.bind(2, r.uid);
    q.bind(3, "s" + std::to_string(r.uid));
    q.bind(4, "m" + std::to_string(r.uid));
    q.bind(5, 1796119200 + r.uid * 60);
    q.bind(6, 1796119200 + r.uid * 60);
    q.bind(7, r.subject);
    q.bind(8, r.parent);
    q.exec();
  }
  auto listed = [&](const std::string& target) {
    auto r = call("GET", target);
    EXPECT_EQ(r.status, 200);
    std::string out;
    std::regex li("<li class=\"d(\\d)\"><a href=\"/lists/mi_lista@lists.mired.org/archive/msg/(\\d+)\">");
    for (std::sregex_iterator it(r.body.begin(), r.body.end(), li), end; it != end; ++it)
      out += (*it)[2].str() + ":" + (*it)[1].str() + " ";
    EXPECT_EQ(r.body.find("<script>root"), std::string::npos);
    EXPECT_NE(r.body.find("&lt;script&gt;root&lt;/script&gt;</a> <span class=\"meta\">Ana &lt;&amp;&gt; \xC2\xB7 "),
              std::string::npos);
    EXPECT_NE(r.body.find("(7 messages)"), std::string::npos);
    return out;
  };
  EXPECT_EQ(listed("/lists/mi_lista@lists.mired.org/archive/2026-12"), "1:0 2:1 3:2 5:1 4:0 6:0 7:1 ");
  EXPECT_EQ(listed("/lists/mi_lista@lists.mired.org/archive/2026-12?sort=date"), "1:0 2:0 3:0 4:0 5:0 6:0 7:0 ");
  // A site's own template that iterates `rows` (as before rows_html) gets the same rows.
  auto tpl = dir.path() / "tpl" / "web";
  std::filesystem::create_directories(tpl);
  write_durable(tpl, tpl, "archive_month.html.mustache",
                {"({{count}} messages)\n{{#rows}}<li class=\"d{{depth}}\"><a href=\"/lists/{{list_enc}}/archive/msg/"
                 "{{uid}}\">{{subject}}</a> <span class=\"meta\">{{from}} \xC2\xB7 {{date}}</span></li>\n{{/rows}}"});
  Templates own(dir.path() / "tpl");
  app = std::make_unique<App>(cfg, own);
  EXPECT_EQ(listed("/lists/mi_lista@lists.mired.org/archive/2026-12"), "1:0 2:1 3:2 5:1 4:0 6:0 7:1 ");
}

TEST_F(Fixture, PageCacheNeverServesLoggedInOrPrivatePages) {
  const std::string month = "/lists/mi_lista@lists.mired.org/archive/2026-12";
  archive_row(*db, list, 1, 1796119200, "Members only post");
  ASSERT_EQ(call("GET", month).status, 200);
  ASSERT_TRUE(app->cached(get_request(month)));
  // A logged-in visitor is never answered from the cache.
  auto [cookie, csrf] = session("ana@mired.org", "ana-pw");
  EXPECT_FALSE(app->cached(get_request(month, cookie)));
  Request basic = get_request(month);
  basic.headers["authorization"] = "Bearer " + std::string(64, 'a');
  EXPECT_FALSE(app->cached(basic));
  // The archive turns private: the cached copy is gone and anonymous visitors get 401.
  list.settings.archive_public = false;
  Store(*db).save_settings(list);
  EXPECT_FALSE(app->cached(get_request(month)));
  auto r = call("GET", month);
  EXPECT_EQ(r.status, 401);
  EXPECT_EQ(r.body.find("Members only post"), std::string::npos);
  EXPECT_FALSE(app->cached(get_request(month)));
  EXPECT_EQ(call("GET", "/lists/mi_lista@lists.mired.org/archive/msg/1").status, 401);
  EXPECT_FALSE(app->cached(get_request("/lists/mi_lista@lists.mired.org/archive/msg/1")));
  // The owner still sees it; that page does not go to the cache either.
  r = call("GET", month, "", cookie);
  EXPECT_EQ(r.status, 200);
  EXPECT_NE(r.body.find("Members only post"), std::string::npos);
  EXPECT_FALSE(app->cached(get_request(month)));
  EXPECT_EQ(call("GET", month).status, 401);
}

TEST_F(Fixture, PageCacheKeepsEachVisitorsTokenAndAnswers304) {
  const std::string lp = "/lists/mi_lista@lists.mired.org";
  std::regex re("name=\"csrf\" value=\"([0-9a-f]{64})\"");
  std::smatch m;
  auto first = call("GET", lp);
  ASSERT_TRUE(std::regex_search(first.body, m, re));
  std::string t1 = m[1];
  EXPECT_EQ(header(first, "Set-Cookie").rfind("listd_csrf=" + t1 + ";", 0), 0u);
  // Another visitor without a cookie: another token, from the cache.
  auto second = app->cached(get_request(lp));
  ASSERT_TRUE(second);
  ASSERT_TRUE(std::regex_search(second->body, m, re));
  EXPECT_NE(m[1].str(), t1);
  EXPECT_EQ(header(*second, "Set-Cookie").rfind("listd_csrf=" + m[1].str() + ";", 0), 0u);
  // A visitor with a cookie keeps their token, gets no new cookie, and the same tag each time.
  auto mine = app->cached(get_request(lp, "listd_csrf=" + t1));
  ASSERT_TRUE(mine);
  ASSERT_TRUE(std::regex_search(mine->body, m, re));
  EXPECT_EQ(m[1].str(), t1);
  EXPECT_EQ(header(*mine, "Set-Cookie"), "");
  std::string tag = header(*mine, "ETag");
  ASSERT_FALSE(tag.empty());
  EXPECT_EQ(header(*app->cached(get_request(lp, "listd_csrf=" + t1)), "ETag"), tag);
  // The subscribe form filled from the cache works (the double-submit token matches).
  auto sub = call("POST", lp + "/subscribe", "csrf=" + t1 + "&address=new%40mired.org", "listd_csrf=" + t1);
  EXPECT_EQ(sub.status, 200) << sub.body;
  // If-None-Match with the tag: 304 without a body, from the cache and from a fresh render.
  auto not_modified = app->cached(get_request(lp, "listd_csrf=" + t1, "W/\"zzz\", " + tag));
  if (!not_modified) {  // the subscribe request changed the database: rendered afresh
    Request rq = get_request(lp, "listd_csrf=" + t1, tag);
    auto fresh = app->handle(rq);
    EXPECT_EQ(fresh.status, 304);
    EXPECT_TRUE(fresh.body.empty());
    not_modified = app->cached(get_request(lp, "listd_csrf=" + t1, tag));
  }
  ASSERT_TRUE(not_modified);
  EXPECT_EQ(not_modified->status, 304);
  EXPECT_TRUE(not_modified->body.empty());
  EXPECT_EQ(header(*not_modified, "ETag"), tag);
  EXPECT_EQ(app->cached(get_request(lp, "listd_csrf=" + t1, "\"other\""))->status, 200);
  // Query strings the pages do not read are not kept; error pages neither.
  EXPECT_EQ(call("GET", lp + "?x=1").status, 200);
  EXPECT_FALSE(app->cached(get_request(lp + "?x=1")));
  EXPECT_EQ(call("GET", "/lists/mi_lista@lists.mired.org/archive/2026-12?sort=date").status, 200);
  EXPECT_TRUE(app->cached(get_request("/lists/mi_lista@lists.mired.org/archive/2026-12?sort=date")));
  EXPECT_EQ(call("GET", "/lists/nope@lists.mired.org").status, 404);
  EXPECT_FALSE(app->cached(get_request("/lists/nope@lists.mired.org")));
}

TEST_F(Fixture, MembersPagerLinksUseKeysetAndMatchOffsetPages) {
  std::vector<std::string> emails;
  for (int i = 0; i < 120; ++i) {
    char buf[32];
    std::snprintf(buf, sizeof buf, "m%03d@mired.org", i);
    emails.emplace_back(buf);
  }
  Store(*db).add_members(list, emails);
  auto [cookie, csrf] = session("ana@mired.org", "ana-pw");
  const std::string url = "/admin/lists/mi_lista@lists.mired.org/members";
  auto link = [](const std::string& body, const std::string& arrow) {
    std::regex re("<a href=\"(\\?[^\"]*)\">" + arrow);
    std::smatch m;
    if (!std::regex_search(body, m, re)) return std::string();
    return std::regex_replace(m[1].str(), std::regex("&amp;"), "&");
  };
  auto p1 = call("GET", url, "", cookie);
  ASSERT_EQ(p1.status, 200);
  EXPECT_NE(p1.body.find("value=\"m000@mired.org\""), std::string::npos);
  EXPECT_NE(p1.body.find("value=\"m049@mired.org\""), std::string::npos);
  std::string next = link(p1.body, "Next");
  ASSERT_NE(next.find("&after=m049"), std::string::npos) << next;
  auto p2 = call("GET", url + next, "", cookie);
  auto p2_offset = call("GET", url + "?page=2", "", cookie);
  EXPECT_EQ(p2.body, p2_offset.body);  // the same rows and links as the OFFSET page
  EXPECT_NE(p2.body.find("value=\"m050@mired.org\""), std::string::npos);
  EXPECT_EQ(p2.body.find("value=\"m049@mired.org\""), std::string::npos);
  EXPECT_NE(p2.body.find("page 2 of 3"), std::string::npos);
  auto p3 = call("GET", url + link(p2.body, "Next"), "", cookie);
  EXPECT_NE(p3.body.find("value=\"m119@mired.org\""), std::string::npos);
  EXPECT_EQ(link(p3.body, "Next"), "");
  std::string prev = link(p3.body, "← Previous");
  ASSERT_NE(prev.find("&before=m100"), std::string::npos) << prev;
  EXPECT_EQ(call("GET", url + prev, "", cookie).body, p2.body);
  // A key past the end starts again from the first page.
  auto stale = call("GET", url + "?page=9&after=zzz", "", cookie);
  EXPECT_NE(stale.body.find("value=\"m000@mired.org\""), std::string::npos);
}

TEST_F(Fixture, MembersPageContentIsReusedPerSessionTokenAndGeneration) {
  Store(*db).add_members(list, {"uno@mired.org"});
  auto [cookie1, csrf1] = session("ana@mired.org", "ana-pw");
  auto [cookie2, csrf2] = session("ana@mired.org", "ana-pw");
  ASSERT_NE(csrf1, csrf2);
  const std::string url = "/admin/lists/mi_lista@lists.mired.org/members";
  auto a = call("GET", url, "", cookie1);
  ASSERT_EQ(a.status, 200);
  EXPECT_EQ(call("GET", url, "", cookie1).body, a.body);  // the reused content
  auto b = call("GET", url, "", cookie2);
  EXPECT_NE(b.body.find("value=\"" + csrf2 + "\""), std::string::npos);
  EXPECT_EQ(b.body.find(csrf1), std::string::npos);
  // A change by another connection (listctl, the pipeline) shows at once.
  Store(*db).add_members(list, {"dos@mired.org"});
  auto c = call("GET", url, "", cookie1);
  EXPECT_NE(c.body.find("value=\"dos@mired.org\""), std::string::npos);
  EXPECT_NE(c.body.find("value=\"" + csrf1 + "\""), std::string::npos);
  // The moderator still may not see the page, cached or not; another list's owner neither.
  auto [mcookie, mcsrf] = session("mod@mired.org", "mod-pw");
  EXPECT_EQ(call("GET", url, "", mcookie).status, 403);
  auto [ccookie, ccsrf] = session("carol@mired.org", "carol-pw");
  EXPECT_EQ(call("GET", url, "", ccookie).status, 403);
}
