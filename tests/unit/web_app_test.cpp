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
