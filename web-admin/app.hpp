// app.hpp - the web application: every page, form and REST API route of listd's web admin,
// as a pure function Request -> Response (no sockets: web-admin/server.cpp feeds it, and the
// unit tests call it directly).
//
// Handlers call the engine's services (Store, Subscriptions, Moderation, job_status): one code
// path per action, the same the CLI uses. Access is checked centrally before any handler runs:
// a route is public, needs a login, a site admin, or a role on the {list} of its path (owner;
// owner or moderator). State-changing requests need the session's CSRF token (form field
// `csrf` or header X-CSRF-Token); anonymous forms use a double-submit cookie; bearer-token
// and Basic API calls are exempt; the RFC 8058 one-click unsubscribe POST needs nothing.
// Pages are kainjow mustache templates (templates/web/*.html) with HTML escaping on.
// Thread-safe: each calling thread gets its own SQLite connection. Errors become status
// codes (400, 401, 403, 404, 405, 409, 413, 422, 429, 500) with a page or a JSON body.
#pragma once

#include <functional>
#include <memory>
#include <string>

#include "listd/config.hpp"
#include "listd/templates.hpp"
#include "web-admin/http_util.hpp"

namespace listd::web {

constexpr std::size_t kMembersPerPage = 50;
constexpr std::size_t kMaxBulkAddresses = 100000;  // addresses in one bulk add/remove
constexpr std::size_t kSearchResults = 100;
constexpr std::size_t kMaxFormParts = 64;                                    // multipart/form-data parts
constexpr std::size_t kMaxBodyBytesForForms = std::size_t{8} * 1024 * 1024;  // = server's kMaxBodyBytes

class App {
 public:
  // wake_processing: called after a held post was approved (a new spool entry exists);
  // wake_delivery: after a notice was queued (confirmation, rejection...).
  App(const Config& cfg, const Templates& templates, std::function<void()> wake_processing = {},
      std::function<void()> wake_delivery = {});
  ~App();
  Response handle(const Request& req);
  // active_connections - reported by /metrics (set by the server).
  void set_connection_counter(std::function<long()> fn);

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace listd::web
