// web.cpp - fuzz target: HTTP request routing and form/cookie parsing in the web admin
// (web-admin/http_util, web-admin/router via App::handle). A real App runs on a temporary data
// dir with one list and its owner logged in once at start-up. Input: a mode byte, then lines
// METHOD, TARGET, Cookie header, Content-Type, and the body. Mode bit 1 sends the owner's
// session cookie, bit 2 adds its CSRF token to the body, so the fuzzer reaches the handlers
// behind the login. Invariants: App::handle never throws and never answers 500 (bad input is a
// 4xx), every response has a status text; percent_encode/percent_decode round-trip; split_path
// gives non-empty segments without '/'; parse_form of an encoded form gives it back.
#include <regex>

#include "listd/db.hpp"
#include "listd/password.hpp"
#include "listd/store.hpp"
#include "tests/fuzz/fuzz.hpp"
#include "tests/unit/test_util.hpp"
#include "web-admin/app.hpp"
#include "web-admin/http_util.hpp"

using namespace listd;
using namespace listd::web;

namespace {

struct World {
  test::TempDir dir;
  Config cfg;
  Templates templates;
  std::unique_ptr<App> app;
  std::string cookie, csrf;

  World() {
    cfg.data_dir = dir.path();
    cfg.base_url = "http://lists.example";
    {
      auto db = db_open(cfg.db_path(), true);
      Store store(*db);
      auto list = store.create_list("mi_lista", "lists.mired.org", "ana@mired.org");
      store.set_password_hash(*store.find_person("ana@mired.org"), hash_password("ana-pw"));
      store.add_members(list, {"bob@mired.org"}, "member");
    }
    app = std::make_unique<App>(cfg, templates);
    auto form = call("GET", "/login", "", "");
    std::string anon = header(form, "Set-Cookie");
    anon = anon.substr(0, anon.find(';'));
    std::smatch m;
    std::regex re("name=\"csrf\" value=\"([0-9a-f]{64})\"");
    FUZZ_CHECK(std::regex_search(form.body, m, re), "no CSRF token on /login");
    auto r = call("POST", "/login", "csrf=" + m[1].str() + "&email=ana@mired.org&password=ana-pw", anon);
    FUZZ_CHECK(r.status == 303, "login failed: " + std::to_string(r.status));
    cookie = header(r, "Set-Cookie");
    cookie = cookie.substr(0, cookie.find(';'));
    auto page = call("GET", "/admin", "", cookie);
    FUZZ_CHECK(std::regex_search(page.body, m, re), "no CSRF token on /admin");
    csrf = m[1].str();
  }

  static std::string header(const Response& r, const std::string& name) {
    for (auto& [k, v] : r.headers)
      if (k == name) return v;
    return {};
  }

  Response call(const std::string& method, const std::string& target, const std::string& body,
                const std::string& cookie_header, const std::string& content_type = "") {
    Request r;
    r.method = method;
    r.target = target;
    auto q = target.find('?');
    auto path = percent_decode(target.substr(0, q));
    if (!path) {  // the server answers 400 itself before the app sees it
      Response bad;
      bad.status = 400;
      return bad;
    }
    r.path = *path;
    if (q != std::string::npos) r.query = target.substr(q + 1);
    if (!body.empty())
      r.headers["content-type"] = content_type.empty() ? "application/x-www-form-urlencoded" : content_type;
    if (!cookie_header.empty()) r.headers["cookie"] = cookie_header;
    r.body = body;
    r.peer = "127.0.0.1";
    r.loopback = true;
    return app->handle(r);
  }
};

std::string take_line(std::string_view& in) {
  auto [line, rest] = fuzz::split_first_line(in);
  in = rest;
  return std::string(line);
}

void check_helpers(const std::string& target, const std::string& body, const std::string& cookie) {
  auto segs = split_path(target);
  for (auto& s : segs) FUZZ_CHECK(!s.empty() && s.find('/') == std::string::npos, "bad segment");
  for (const std::string& s : {target, body, cookie}) {
    auto enc = percent_encode(s);
    auto dec = percent_decode(enc);
    if (s.find('\0') == std::string::npos) FUZZ_CHECK(dec && *dec == s, "percent round trip failed");
    if (auto f = parse_form(s)) {
      std::string again;
      for (auto& [k, v] : *f) again += (again.empty() ? "" : "&") + percent_encode(k) + "=" + percent_encode(v);
      auto f2 = parse_form(again);
      FUZZ_CHECK(f2 && *f2 == *f, "form does not survive encode + parse");
      (void)form_get(*f, "csrf");
      (void)form_all(*f, "member");
    }
  }
  (void)cookie_get(cookie, "listd_session");
  (void)cookie_get(cookie, "");
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  static World* world = new World();  // lives for the process (the temp dir stays until exit)
  if (size == 0) return 0;
  const unsigned mode = data[0];
  std::string_view in = fuzz::as_text(data + 1, size - 1);
  std::string method = take_line(in), target = take_line(in), cookie = take_line(in), type = take_line(in);
  std::string body(in);
  check_helpers(target, body, cookie);
  if (target.empty() || target[0] != '/') target = "/" + target;
  if (mode & 1) cookie = world->cookie + (cookie.empty() ? "" : "; " + cookie);
  if (mode & 2) body = "csrf=" + world->csrf + "&" + body;
  Response r;
  try {
    r = world->call(method, target, body, cookie, type);
  } catch (const std::exception& e) {
    FUZZ_CHECK(false, std::string("App::handle threw: ") + e.what());
  }
  FUZZ_CHECK(r.status >= 200 && r.status <= 599, "status out of range");
  FUZZ_CHECK(r.status != 500, method + " " + target + " answered 500: " + r.body.substr(0, 300));
  FUZZ_CHECK(std::string(status_text(r.status)).size() > 0, "no status text");
  return 0;
}
