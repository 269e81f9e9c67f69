// web_router_test.cpp - the web router: parameters, 404 vs 405 with Allow, HEAD as GET,
// "." and ".." never bound to a parameter, empty segments ignored.
#include <gtest/gtest.h>

#include "web-admin/http_util.hpp"
#include "web-admin/router.hpp"

using namespace listd::web;

namespace {
Router<int> make() {
  Router<int> r;
  r.add("GET", "/", 1);
  r.add("GET", "/lists/{list}", 2);
  r.add("POST", "/lists/{list}/subscribe", 3);
  r.add("GET", "/lists/{list}/archive/{month}", 4);
  r.add("GET", "/lists/{list}/archive/search", 5);
  r.add("DELETE", "/lists/{list}", 6);
  return r;
}
}  // namespace

TEST(WebRouter, Table) {
  struct Case {
    const char* method;
    const char* path;
    int status;
    int handler;
    const char* allow;
  };
  const Case cases[] = {
      {"GET", "/", 200, 1, ""},
      {"HEAD", "/", 200, 1, ""},
      {"POST", "/", 405, 0, "GET"},
      {"GET", "/lists/a@b", 200, 2, ""},
      {"GET", "//lists//a@b/", 200, 2, ""},
      {"PUT", "/lists/a@b", 405, 0, "GET, DELETE"},
      {"DELETE", "/lists/a@b", 200, 6, ""},
      {"GET", "/lists/a@b/subscribe", 405, 0, "POST"},
      {"POST", "/lists/a@b/subscribe", 200, 3, ""},
      {"GET", "/lists/a@b/archive/2026-11", 200, 4, ""},
      {"GET", "/lists/a@b/archive/search", 200, 4, ""},  // first match wins: declare specific routes first
      {"GET", "/lists/../archive/x", 404, 0, ""},
      {"GET", "/lists/./archive/x", 404, 0, ""},
      {"GET", "/lists/a@b/archive/..", 404, 0, ""},
      {"GET", "/nope", 404, 0, ""},
      {"GET", "/lists", 404, 0, ""},
      {"GET", "/lists/a/b/c/d/e", 404, 0, ""},
  };
  auto r = make();
  for (auto& c : cases) {
    auto m = r.match(c.method, split_path(c.path));
    EXPECT_EQ(m.status, c.status) << c.method << " " << c.path;
    if (c.status == 200) {
      ASSERT_NE(m.handler, nullptr);
      EXPECT_EQ(*m.handler, c.handler) << c.path;
    }
    EXPECT_EQ(m.allow, c.allow) << c.path;
  }
}

TEST(WebRouter, ParametersAreBound) {
  auto r = make();
  auto m = r.match("GET", split_path("/lists/mi_lista@lists.mired.org/archive/2026-11"));
  ASSERT_EQ(m.status, 200);
  EXPECT_EQ(m.params["list"], "mi_lista@lists.mired.org");
  EXPECT_EQ(m.params["month"], "2026-11");
}
