// http_util.hpp - pure HTTP helpers for the web admin: the request/response values the
// handlers see (independent of Beast, so handlers are tested without sockets), percent
// decoding, query/form parsing (application/x-www-form-urlencoded), cookies, HTML escaping.
// Callers: web-admin/server.cpp (builds Request from a Beast message), web-admin/app.cpp.
// Nothing here throws for bad input: undecodable text is reported through return values
// (std::nullopt) and the caller answers 400. RFC 3986 §2.1, RFC 6265 §4.2, HTML 5 §13.1.
#pragma once

#include <chrono>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace listd::web {

struct Request {
  std::string method;                          // "GET", "POST" ...
  std::string target;                          // raw request-target ("/lists/x?y=1")
  std::string path;                            // decoded path, no query
  std::string query;                           // raw query (after '?'), not decoded
  std::map<std::string, std::string> headers;  // lower-case names; repeated fields joined with ", "
  std::string body;
  std::string peer;  // remote IP address as text
  bool loopback = false;
  bool tls = false;
  // When the server had read it (before it waited for a worker); unset (epoch) from tests.
  std::chrono::steady_clock::time_point received{};
  std::string header(const std::string& name) const {
    auto it = headers.find(name);
    return it == headers.end() ? std::string() : it->second;
  }
};

struct Response {
  int status = 200;
  std::string content_type = "text/html; charset=utf-8";
  std::vector<std::pair<std::string, std::string>> headers;  // extra fields (Set-Cookie, Location ...)
  std::string body;
  // A cached page answered without a copy: when `owner` is set, the body is `shared_body`
  // (bytes `owner` keeps alive) and `body` is empty. Only App::cached answers this way.
  std::shared_ptr<const void> owner;
  std::string_view shared_body;
  void set(std::string name, std::string value) { headers.emplace_back(std::move(name), std::move(value)); }
  std::string_view text() const { return owner ? shared_body : std::string_view(body); }
};

// percent_decode - "%41+b" -> "A+b" (or "A b" when plus_is_space). nullopt on a bad escape
// or a decoded NUL.
std::optional<std::string> percent_decode(std::string_view s, bool plus_is_space = false);

// percent_encode - every byte outside RFC 3986 unreserved is %XX-encoded.
std::string percent_encode(std::string_view s);

// Form - decoded key/value pairs of a query string or urlencoded body, in order.
using Form = std::vector<std::pair<std::string, std::string>>;
std::optional<Form> parse_form(std::string_view s);
// form_get - first value for KEY, or "".
std::string form_get(const Form& f, const std::string& key);
// form_all - every value for KEY (checkbox groups).
std::vector<std::string> form_all(const Form& f, const std::string& key);

// cookie_get - value of cookie NAME in a Cookie: header, or "".
std::string cookie_get(std::string_view header, std::string_view name);

// html_escape - & < > " ' escaped (for the few strings built outside templates).
std::string html_escape(std::string_view s);

// split_path - "/a/b/" -> {"a","b"}; empty segments dropped.
std::vector<std::string> split_path(std::string_view path);

// is_loopback_address - 127.0.0.0/8, ::1, ::ffff:127.x.
bool is_loopback_address(const std::string& ip);

// status_text - reason phrase for the status codes we use.
const char* status_text(int status);

// format_date - unix time -> "2026-11-28 10:00" (UTC); month_key -> "2026-11".
std::string format_date(long long t);
std::string month_key(long long t);

}  // namespace listd::web
