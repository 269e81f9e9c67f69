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
// Anonymous GETs of the public pages (list, archive index, month, message) are kept whole in a
// page cache (page_cache.hpp) keyed by request target, valid until the database changes
// (PRAGMA data_version) - or, for archive pages, until what they show changes (a validator:
// the list's row and settings and the archive rows on the page) - with an ETag
// (If-None-Match -> 304); each visitor's anonymous CSRF
// token is put back into the cached copy, and only anonymous 200 answers are kept, so a
// private archive (401 for anonymous visitors) is never in it.
// Thread-safe: each calling thread gets its own SQLite connection. Errors become status
// codes (400, 401, 403, 404, 405, 409, 413, 422, 429, 500) with a page or a JSON body.
#pragma once

#include <functional>
#include <memory>
#include <optional>
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
  // cached - the answer from the page cache when REQ is an anonymous GET/HEAD of a page
  // rendered before at the current database generation (cheap: one PRAGMA and a copy), or at an
  // older one with a validator that still holds (one to three indexed queries); the server calls
  // it on its event loop and hands misses to handle() on the workers; else nullopt. Never throws.
  std::optional<Response> cached(const Request& req);
  struct PageCacheStats {
    std::uint64_t hits = 0, misses = 0;
    std::size_t entries = 0, bytes = 0;
  };
  PageCacheStats page_cache_stats() const;
  // active_connections - reported by /metrics (set by the server).
  void set_connection_counter(std::function<long()> fn);

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace listd::web
