// router.hpp - maps (method, decoded path) to a handler with named path parameters.
//
// Patterns are literal segments and `{name}` segments ("/lists/{list}/archive/{month}").
// A `{name}` matches exactly one non-empty segment; "." and ".." never match a parameter
// (path traversal is refused at the router). Matching is by segments, so "/a//b/" equals
// "/a/b". Result: the handler and its parameters, or 404 (no pattern matches the path) or
// 405 with the methods that would match (for the Allow header). Pure; tested in
// tests/unit/web_router_test.cpp. Callers: web-admin/app.cpp.
#pragma once

#include <functional>
#include <map>
#include <string>
#include <vector>

namespace listd::web {

using Params = std::map<std::string, std::string>;

template <class Handler>
class Router {
 public:
  void add(std::string method, const std::string& pattern, Handler h) {
    routes_.push_back(Route{std::move(method), split(pattern), std::move(h)});
  }

  struct Match {
    int status = 404;  // 200 found, 404, 405
    const Handler* handler = nullptr;
    Params params;
    std::string allow;  // for 405: "GET, POST"
  };

  Match match(const std::string& method, const std::vector<std::string>& segments) const {
    Match m;
    for (auto& r : routes_) {
      Params p;
      if (!matches(r.segs, segments, p)) continue;
      if (r.method == method || (method == "HEAD" && r.method == "GET")) {
        m.status = 200;
        m.handler = &r.handler;
        m.params = std::move(p);
        m.allow.clear();
        return m;
      }
      m.status = 405;
      if (m.allow.find(r.method) == std::string::npos) m.allow += (m.allow.empty() ? "" : ", ") + r.method;
    }
    return m;
  }

 private:
  struct Route {
    std::string method;
    std::vector<std::string> segs;
    Handler handler;
  };
  static std::vector<std::string> split(const std::string& pattern) {
    std::vector<std::string> out;
    std::string cur;
    for (char c : pattern) {
      if (c == '/') {
        if (!cur.empty()) out.push_back(cur);
        cur.clear();
      } else {
        cur.push_back(c);
      }
    }
    if (!cur.empty()) out.push_back(cur);
    return out;
  }
  static bool matches(const std::vector<std::string>& pat, const std::vector<std::string>& segs, Params& p) {
    if (pat.size() != segs.size()) return false;
    for (std::size_t i = 0; i < pat.size(); ++i) {
      const auto& ps = pat[i];
      if (ps.size() > 2 && ps.front() == '{' && ps.back() == '}') {
        if (segs[i].empty() || segs[i] == "." || segs[i] == ".." || segs[i].find('/') != std::string::npos)
          return false;
        p[ps.substr(1, ps.size() - 2)] = segs[i];
      } else if (ps != segs[i]) {
        return false;
      }
    }
    return true;
  }
  std::vector<Route> routes_;
};

}  // namespace listd::web
