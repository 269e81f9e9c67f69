// app.cpp - see app.hpp. Routes are declared in Impl::Impl(); handlers follow, grouped:
// public pages, login, archive, admin pages, REST API, metrics.
#include "web-admin/app.hpp"

#include <SQLiteCpp/Statement.h>

#include <kainjow/mustache.hpp>
#include <nlohmann/json.hpp>

#include <sqlite3.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <limits>
#include <map>
#include <mutex>
#include <set>
#include <sstream>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "listd/db.hpp"
#include "listd/delivery.hpp"
#include "listd/fsutil.hpp"
#include "listd/log.hpp"
#include "listd/message.hpp"
#include "listd/moderation.hpp"
#include "listd/store.hpp"
#include "listd/subscription.hpp"
#include "smtp/address.hpp"
#include "web-admin/archive_query.hpp"
#include "web-admin/archive_view.hpp"
#include "web-admin/auth.hpp"
#include "web-admin/multipart.hpp"
#include "web-admin/page_cache.hpp"
#include "web-admin/router.hpp"
#include "web-admin/stmt_cache.hpp"

namespace listd::web {

namespace mu = kainjow::mustache;
using json = nlohmann::json;

namespace {

constexpr const char* kSessionCookie = "listd_session";
constexpr const char* kAnonCsrfCookie = "listd_csrf";

enum class Access { anyone, login, admin, list_mod, list_owner };

struct HttpError {
  int status;
  std::string message;
};

bool is_hex64(const std::string& s) {
  return s.size() == 64 &&
         std::all_of(s.begin(), s.end(), [](char c) { return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'); });
}

std::int64_t to_int(const std::string& s, std::int64_t dflt) {
  if (s.empty() || s.size() > 18) return dflt;
  std::int64_t v = 0;
  for (char c : s) {
    if (c < '0' || c > '9') return dflt;
    v = v * 10 + (c - '0');
  }
  return v;
}

// Splits pasted text (one address per line, or separated by commas/spaces) into addresses.
std::vector<std::string> split_addresses(const std::string& text) {
  std::vector<std::string> out;
  std::string cur;
  for (char c : text) {
    if (c == '\n' || c == '\r' || c == ',' || c == ';' || c == ' ' || c == '\t') {
      if (!cur.empty()) out.push_back(cur);
      cur.clear();
    } else {
      cur.push_back(c);
    }
  }
  if (!cur.empty()) out.push_back(cur);
  return out;
}

// Settings shown on the settings page, in groups; every key of settings_to_pairs appears.
struct SettingField {
  const char* key;
  const char* label;
  const char* kind;  // text | textarea | bool | choice:a,b,c | number
  const char* group;
};
const SettingField kSettingFields[] = {
    {"description", "Description", "text", "Identity"},
    {"subject_prefix", "Subject prefix", "text", "Identity"},
    {"advertised", "Show on the lists page", "bool", "Identity"},
    {"member_only", "Only members may post", "bool", "Posting and moderation"},
    {"nonmember_action", "Posts from non-members", "choice:hold,accept,reject,discard", "Posting and moderation"},
    {"emergency", "Emergency moderation (hold every post)", "bool", "Posting and moderation"},
    {"administrivia", "Hold posts that look like commands", "bool", "Posting and moderation"},
    {"max_message_size", "Largest post (KiB, 0 = no limit)", "number", "Posting and moderation"},
    {"reply_to", "Reply-To", "choice:none,list,address", "Posting and moderation"},
    {"reply_to_address", "Reply-To address", "text", "Posting and moderation"},
    {"subscribe_policy", "Subscription policy", "choice:open,confirm,moderate,confirm_then_moderate", "Subscription"},
    {"unsubscribe_policy", "Unsubscription policy", "choice:open,confirm", "Subscription"},
    {"archive", "Keep an archive", "bool", "Archive"},
    {"archive_public", "Archive is public", "bool", "Archive"},
    {"footer", "Footer template (mustache; empty = built-in)", "textarea", "Decoration"},
    {"dmarc_mitigation", "When the poster's domain has a strict DMARC policy", "choice:munge_from,wrap_message,none",
     "Decoration"},
    {"roster", "Who may get the member list by email", "choice:nobody,members,anyone", "Subscription"},
    {"digest_period", "Digest period", "choice:daily,weekly,monthly", "Digests"},
    {"digest_size_threshold", "Send a digest early at (KiB, 0 = period only)", "number", "Digests"},
    {"bounce_threshold", "Disable delivery at bounce score", "text", "Bounces"},
    {"bounce_stale_days", "Bounce score half-life (days)", "number", "Bounces"},
    {"bounce_warnings", "Warnings before removal", "number", "Bounces"},
    {"bounce_warning_interval", "Days between warnings", "number", "Bounces"},
    {"verp", "One SMTP transaction per member (VERP)", "bool", "Delivery"},
    {"personalize", "Per-member footer (footer) and To: header (full)", "choice:none,footer,full", "Delivery"},
};

// Counts of 100,000-row lists cost tens of milliseconds in SQLite; pages show them from this
// cache: exact while the database generation (App::Impl::generation) is the one the count was
// taken at, and otherwise reused for at most kCountCacheSeconds (the page that shows such a
// count is kept in the page cache no longer than that). Dropped for a list whenever the web
// changes it.
constexpr std::int64_t kCountCacheSeconds = 5;
constexpr std::size_t kPageCacheBytes = std::size_t{16} * 1024 * 1024;

class CountCache {
 public:
  // get - the count under KEY; when it was taken at another generation than GEN, *valid_until
  // (unix time) is lowered to when it stops being good enough.
  std::optional<std::int64_t> get(const std::string& key, std::uint64_t gen, std::int64_t* valid_until) {
    std::lock_guard lock(mu_);
    auto it = map_.find(key);
    if (it == map_.end()) return std::nullopt;
    if (it->second.gen == gen) return it->second.value;
    std::int64_t until = it->second.taken + kCountCacheSeconds;
    if (until < now_unix()) return std::nullopt;
    *valid_until = std::min(*valid_until, until);
    return it->second.value;
  }
  void put(const std::string& key, std::int64_t v, std::uint64_t gen) {
    std::lock_guard lock(mu_);
    if (map_.size() > 4096) map_.clear();
    map_[key] = {v, now_unix(), gen};
  }
  void drop_list(std::int64_t list_id) {
    std::lock_guard lock(mu_);
    std::string suffix = "#" + std::to_string(list_id);
    for (auto it = map_.begin(); it != map_.end();)
      it = it->first.size() >= suffix.size() &&
                   it->first.compare(it->first.size() - suffix.size(), suffix.size(), suffix) == 0
               ? map_.erase(it)
               : std::next(it);
  }

 private:
  struct Entry {
    std::int64_t value = 0, taken = 0;
    std::uint64_t gen = 0;
  };
  std::mutex mu_;
  std::map<std::string, Entry> map_;
};

struct ThreadItem {
  std::int64_t uid = 0, date = 0;
  std::string subject, from, msgid, parent;
  int depth = 0;
};

}  // namespace

struct Ctx {
  const Request& req;
  Params params;
  SQLite::Database& db;
  std::optional<Principal> who;
  Form form;
  json body_json;
  bool api = false;
  std::optional<ListRow> list;
  std::string role;  // on `list`: admin | owner | moderator | ""
  std::string anon_csrf;
  std::vector<std::pair<std::string, std::string>> set_headers;
  StmtCache* sc = nullptr;       // prepared statements of `db`
  std::uint64_t generation = 0;  // of the database when the request began
  // An anonymous GET renders with `anon_csrf` = the page cache's marker (csrf_used: it was
  // asked for); the visitor's own token replaces it afterwards.
  bool marker_mode = false, csrf_used = false;
  std::int64_t valid_until = std::numeric_limits<std::int64_t>::max();  // unix time; see CountCache
  std::string list_fp{};    // `list` as read from the database (list_fingerprint)
  std::string validator{};  // what this anonymous page is rendered from (App::Impl::validator_for)
  bool from_cache = false;  // the answer is a page cache entry (served as is)
  std::unique_ptr<SingleFlight::Ticket> flight{};  // this request renders its target alone
  // When the request came (read by the server, else when handling began).
  std::chrono::steady_clock::time_point started =
      req.received != std::chrono::steady_clock::time_point{} ? req.received : std::chrono::steady_clock::now();
};

struct App::Impl {
  using Fn = Response (Impl::*)(Ctx&);
  using Vfn = std::string (Impl::*)(Ctx&);
  struct RouteDef {
    Fn fn;
    Access access;
    bool csrf_exempt = false;
    bool cacheable = false;  // an anonymous 200 answer may go to the page cache
    // The route's part of the page's validator (see validator_for): a cached page of a route
    // that has one survives database changes that leave its validator alone.
    Vfn validator = nullptr;
  };

  const Config& cfg;
  const Templates& templates;
  std::function<void()> wake;
  std::function<void()> wake_delivery;
  std::function<long()> connections;
  Router<RouteDef> router;
  std::string secure_attr;
  CountCache counts;
  // Rendered archive month listings (the content without the layout, for every visitor),
  // keyed by list, month, order and the month's rows (month_state); bounded in bytes.
  PageCache month_pages{kPageCacheBytes};
  // Whole pages for anonymous visitors (see page_cache.hpp), valid while `generation` stays:
  // it moves whenever a connection of this process sees the database changed.
  PageCache page_cache{kPageCacheBytes};
  // The members page's content per person, role and request target (admin_members).
  PageCache admin_pages{kPageCacheBytes / 4};
  // Renders of one anonymous page, one at a time: the others wait and take the cached copy.
  SingleFlight renders;
  std::atomic<std::uint64_t> generation{1};
  const std::string csrf_marker = random_hex(32);

  Impl(const Config& c, const Templates& t, std::function<void()> w, std::function<void()> wd)
      : cfg(c), templates(t), wake(std::move(w)), wake_delivery(std::move(wd)) {
    auto r = [&](const char* m, const char* p, Fn fn, Access a, bool exempt = false, bool cacheable = false,
                 Vfn validator = nullptr) {
      router.add(m, p, RouteDef{fn, a, exempt, cacheable, validator});
    };
    // Public pages (the cacheable ones: the same for every anonymous visitor but the token).
    r("GET", "/", &Impl::index, Access::anyone, false, true);
    r("GET", "/static/{file}", &Impl::static_file, Access::anyone);
    r("GET", "/favicon.ico", &Impl::favicon, Access::anyone);
    r("GET", "/login", &Impl::login_form, Access::anyone);
    r("POST", "/login", &Impl::login_post, Access::anyone);
    r("POST", "/logout", &Impl::logout, Access::login);
    r("GET", "/lists/{list}", &Impl::list_page, Access::anyone, false, true);
    r("POST", "/lists/{list}/subscribe", &Impl::subscribe_post, Access::anyone);
    r("GET", "/lists/{list}/unsubscribe", &Impl::unsubscribe_form, Access::anyone);
    r("POST", "/lists/{list}/unsubscribe", &Impl::unsubscribe_post, Access::anyone, true);
    r("GET", "/confirm/{token}", &Impl::confirm_form, Access::anyone);
    r("POST", "/confirm/{token}", &Impl::confirm_post, Access::anyone);
    r("GET", "/lists/{list}/archive", &Impl::archive_index, Access::anyone, false, true, &Impl::index_state);
    r("GET", "/lists/{list}/archive/search", &Impl::archive_search, Access::anyone);
    r("GET", "/lists/{list}/archive/{month}", &Impl::archive_month, Access::anyone, false, true, &Impl::month_state);
    r("GET", "/lists/{list}/archive/msg/{uid}", &Impl::archive_message, Access::anyone, false, true,
      &Impl::message_state);
    r("GET", "/lists/{list}/archive/msg/{uid}/att/{n}", &Impl::archive_attachment, Access::anyone);
    r("GET", "/metrics", &Impl::metrics, Access::anyone);
    // Admin pages.
    r("GET", "/admin", &Impl::admin_home, Access::login);
    r("POST", "/admin/lists", &Impl::admin_create_list, Access::admin);
    r("POST", "/admin/admins", &Impl::admin_add_admin, Access::admin);
    r("GET", "/admin/lists/{list}", &Impl::admin_list, Access::list_mod);
    r("POST", "/admin/lists/{list}/delete", &Impl::admin_delete_list, Access::admin);
    r("GET", "/admin/lists/{list}/settings", &Impl::admin_settings, Access::list_owner);
    r("POST", "/admin/lists/{list}/settings", &Impl::admin_settings_post, Access::list_owner);
    r("GET", "/admin/lists/{list}/members", &Impl::admin_members, Access::list_owner);
    r("POST", "/admin/lists/{list}/members", &Impl::admin_members_post, Access::list_owner);
    r("GET", "/admin/lists/{list}/held", &Impl::admin_held, Access::list_mod);
    r("POST", "/admin/lists/{list}/held", &Impl::admin_held_post, Access::list_mod);
    r("GET", "/admin/lists/{list}/held/{id}", &Impl::admin_held_view, Access::list_mod);
    r("GET", "/admin/lists/{list}/pending", &Impl::admin_pending, Access::list_mod);
    r("POST", "/admin/lists/{list}/pending", &Impl::admin_pending_post, Access::list_mod);
    r("GET", "/admin/lists/{list}/jobs", &Impl::admin_jobs, Access::list_owner);
    // REST API.
    r("GET", "/api/v1/lists", &Impl::api_lists, Access::login);
    r("POST", "/api/v1/lists", &Impl::api_create_list, Access::admin);
    r("GET", "/api/v1/lists/{list}", &Impl::api_list, Access::list_mod);
    r("DELETE", "/api/v1/lists/{list}", &Impl::api_delete_list, Access::admin);
    r("GET", "/api/v1/lists/{list}/members", &Impl::api_members, Access::list_owner);
    r("POST", "/api/v1/lists/{list}/members", &Impl::api_add_members, Access::list_owner);
    r("DELETE", "/api/v1/lists/{list}/members/{email}", &Impl::api_remove_member, Access::list_owner);
    r("GET", "/api/v1/lists/{list}/settings", &Impl::api_settings, Access::list_owner);
    r("PATCH", "/api/v1/lists/{list}/settings", &Impl::api_settings_patch, Access::list_owner);
    r("GET", "/api/v1/lists/{list}/held", &Impl::api_held, Access::list_mod);
    r("GET", "/api/v1/lists/{list}/held/{id}", &Impl::api_held_one, Access::list_mod);
    r("POST", "/api/v1/lists/{list}/held/{id}", &Impl::api_held_action, Access::list_mod);
    r("GET", "/api/v1/lists/{list}/pending", &Impl::api_pending, Access::list_mod);
    r("POST", "/api/v1/lists/{list}/pending/{id}", &Impl::api_pending_action, Access::list_mod);
    r("GET", "/api/v1/jobs", &Impl::api_jobs, Access::login);
    secure_attr = "";
  }

  // --- infrastructure ---------------------------------------------------------------------

  // Each worker thread has its own connection and, destroyed before it, its statement cache.
  struct Conn {
    std::unique_ptr<SQLite::Database> db;
    std::unique_ptr<StmtCache> stmts;
    std::int64_t data_version = -1, changes = -1;  // last seen by current_generation()
  };
  Conn& conn() {
    thread_local std::map<std::string, Conn> conns;
    auto& c = conns[cfg.db_path().string()];
    if (!c.db) {
      c.db = db_open(cfg.db_path());
      c.stmts = std::make_unique<StmtCache>(*c.db);
    }
    return c;
  }
  SQLite::Database& db() { return *conn().db; }
  StmtCache& stmts() { return *conn().stmts; }

  // current_generation - `generation`, moved on first if this thread's connection sees the
  // database changed since it last looked: PRAGMA data_version moves when another connection
  // (another thread, listctl, the daemon's pipeline) committed, the connection's total
  // changes when it wrote itself. Every commit is seen by the next look on any thread.
  std::uint64_t current_generation() {
    auto& c = conn();
    std::int64_t dv;
    {
      auto q = c.stmts->get("PRAGMA data_version");
      q->executeStep();
      dv = q->getColumn(0).getInt64();
    }
    std::int64_t ch = sqlite3_total_changes64(c.db->getHandle());
    if (dv != c.data_version || ch != c.changes) {
      c.data_version = dv;
      c.changes = ch;
      return ++generation;
    }
    return generation.load();
  }

  // anonymous_get - a GET or HEAD with no session cookie and no credentials: its answer
  // cannot depend on who asks (but for the anonymous CSRF token).
  static bool anonymous_get(const Request& req) {
    if (req.method != "GET" && req.method != "HEAD") return false;
    if (req.headers.count("authorization")) return false;
    return cookie_get(req.header("cookie"), kSessionCookie).empty();
  }

  static std::string anon_cookie(const std::string& token, bool tls) {
    return std::string(kAnonCsrfCookie) + "=" + token + "; Path=/; HttpOnly; SameSite=Strict" + (tls ? "; Secure" : "");
  }

  // serve_page - PAGE for REQ: the visitor's anonymous token (a new one, with its cookie, when
  // the page asked for one and they have none) in its holes; 304 when If-None-Match names it.
  // SHARE: a page without holes is answered with its cached bytes (Response::owner), no copy.
  Response serve_page(const Request& req, const std::shared_ptr<const CachedPage>& page, bool share) {
    const CachedPage& p = *page;
    bool needs_token = p.needs_token;
    Response res;
    res.content_type = p.content_type;
    std::string token = cookie_get(req.header("cookie"), kAnonCsrfCookie);
    if (!is_hex64(token)) token.clear();
    if (needs_token && token.empty()) {
      token = random_hex(32);
      res.set("Set-Cookie", anon_cookie(token, req.tls));
    }
    std::string tag = p.etag(token);
    res.set("ETag", tag);
    res.set("Cache-Control", "private, no-cache");
    if (etag_matches(req.header("if-none-match"), tag)) {
      res.status = 304;
      res.content_type.clear();
      return res;
    }
    if (share && p.holes.empty()) {
      res.owner = page;
      res.shared_body = p.body;
    } else {
      res.body = p.materialize(token);
    }
    return res;
  }

  // etag_matches - does an If-None-Match field list TAG (weak comparison, RFC 9110 §13.1.2)?
  static bool etag_matches(const std::string& field, const std::string& tag) {
    if (field.empty()) return false;
    std::size_t i = 0;
    while (i < field.size()) {
      while (i < field.size() && (field[i] == ' ' || field[i] == '\t' || field[i] == ',')) ++i;
      if (i >= field.size()) break;
      if (field[i] == '*') return true;
      if (field.compare(i, 2, "W/") == 0) i += 2;
      if (i >= field.size() || field[i] != '"') return false;
      auto end = field.find('"', i + 1);
      if (end == std::string::npos) return false;
      if (field.compare(i, end + 1 - i, tag) == 0) return true;
      i = end + 1;
    }
    return false;
  }

  // cached - the page cache's answer to REQ, if it has one. A page kept from an older database
  // generation is served when its validator is still what the database says now.
  std::optional<Response> cached(const Request& req) {
    if (!anonymous_get(req)) return std::nullopt;
    std::uint64_t gen = current_generation();
    auto page = page_cache.get(req.target, gen, [&](const CachedPage& p) {
      return current_validator(req, gen) == p.validator ? PageCache::Validity::good : PageCache::Validity::no;
    });
    if (!page) return std::nullopt;
    return serve_page(req, page, true);
  }

  // current_validator - validator_for the page at REQ's target, from the database now; "" when
  // its route has none or its list is gone.
  std::string current_validator(const Request& req, std::uint64_t gen) {
    auto m = router.match(req.method, split_path(req.path));
    if (m.status != 200 || !m.handler->validator) return {};
    Ctx c{req, std::move(m.params), db(), {}, {}, {}, false, {}, {}, {}, {}, &stmts()};
    c.generation = gen;
    auto it = c.params.find("list");
    if (it == c.params.end()) return {};
    try {
      auto [name, host] = split_list_address(it->second);
      c.list = find_list_cached(name, host, gen, &c.list_fp);
    } catch (const StoreError&) {
    }
    if (!c.list) return {};
    return validator_for(c, *m.handler);
  }

  // validator_for - what an anonymous page of ROUTE for C is rendered from: the list as stored
  // (its row and every setting, so a settings change or a list made anew under the same name
  // changes it) and the route's own state (the archive rows the page shows). Archive rows are
  // only ever added (a list's rows go only with the list) and ids only grow, so a (count, newest
  // id) pair names the set of rows exactly. "" when the route has no validator.
  std::string validator_for(Ctx& c, const RouteDef& route) {
    if (!route.validator || !c.list || c.list_fp.empty()) return {};
    return c.list_fp + "\x1f" + (this->*route.validator)(c);
  }

  // month_state - the rows of the month page: their count and the newest id (index
  // archive_web_list_date covers it).
  std::string month_state(Ctx& c) {
    std::int64_t from = 0, to = 0;
    if (!parse_month(c.params["month"], &from, &to)) return "no month";
    auto q =
        c.sc->get("SELECT count(*), coalesce(max(id), 0) FROM archive WHERE list_id = ? AND date >= ? AND date < ?");
    q->bind(1, c.list->id);
    q->bind(2, from);
    q->bind(3, to);
    q->executeStep();
    return "m" + q->getColumn(0).getString() + "/" + q->getColumn(1).getString();
  }

  // message_state - the archived message (its row and file never change once written).
  std::string message_state(Ctx& c) {
    auto q = c.sc->get("SELECT id FROM archive WHERE list_id = ? AND uid = ?");
    q->bind(1, c.list->id);
    q->bind(2, to_int(c.params["uid"], -1));
    return q->executeStep() ? "u" + q->getColumn(0).getString() : "none";
  }

  // index_state - every month of the list: the newest archive row (a new post anywhere in the
  // list moves it; index archive_list_id answers it with one seek).
  std::string index_state(Ctx& c) {
    auto q = c.sc->get("SELECT coalesce(max(id), 0) FROM archive WHERE list_id = ?");
    q->bind(1, c.list->id);
    q->executeStep();
    return "i" + q->getColumn(0).getString();
  }

  // find_list - Store::find_list with this thread's prepared statements (it runs on every
  // request that names a list); settings parsed by the same settings_set.
  // Rows of find_list by address, reused while the database generation they were read at
  // holds (a settings change anywhere moves it).
  // FINGERPRINT (optional) gets the list's row and settings as stored (see find_list).
  struct ListEntry {
    std::uint64_t gen = 0;
    ListRow row;
    std::string fingerprint;
  };
  std::mutex list_mu;
  std::map<std::string, ListEntry> list_rows;

  std::optional<ListRow> find_list_cached(const std::string& name, const std::string& host, std::uint64_t gen,
                                          std::string* fingerprint = nullptr) {
    std::string key = name + "@" + host;
    {
      std::lock_guard lock(list_mu);
      if (auto it = list_rows.find(key); it != list_rows.end() && it->second.gen == gen) {
        if (fingerprint) *fingerprint = it->second.fingerprint;
        return it->second.row;
      }
    }
    std::string fp;
    auto l = find_list(name, host, &fp);
    if (l) {
      std::lock_guard lock(list_mu);
      if (list_rows.size() > 1024) list_rows.clear();
      list_rows[key] = {gen, *l, fp};
      if (fingerprint) *fingerprint = std::move(fp);
    }
    return l;
  }

  // find_list - FINGERPRINT (optional) gets every column read, each with its length (no two
  // different lists or settings give the same text).
  std::optional<ListRow> find_list(const std::string& name, const std::string& host,
                                   std::string* fingerprint = nullptr) {
    auto q = stmts().get(
        "SELECT l.id, l.name, d.name, l.created, l.uidvalidity FROM lists l JOIN domains d ON d.id = l.domain_id "
        "WHERE l.name = ? AND d.name = ?");
    q->bind(1, name);
    q->bind(2, host);
    if (!q->executeStep()) return std::nullopt;
    ListRow r;
    r.id = q->getColumn(0).getInt64();
    r.name = q->getColumn(1).getString();
    r.host = q->getColumn(2).getString();
    r.created = q->getColumn(3).getInt64();
    r.uidvalidity = q->getColumn(4).getInt64();
    std::string fp;
    auto add = [&fp](const std::string& v) { fp.append(std::to_string(v.size())).append(":").append(v); };
    for (int i = 0; i < 5; ++i) add(q->getColumn(i).getString());
    auto s = stmts().get("SELECT key, value FROM list_settings WHERE list_id = ? ORDER BY key");
    s->bind(1, r.id);
    while (s->executeStep()) {
      add(s->getColumn(0).getString());
      add(s->getColumn(1).getString());
      try {
        settings_set(r.settings, s->getColumn(0).getString(), s->getColumn(1).getString());
      } catch (const StoreError&) {
        // A key from a newer build or a hand edit: the default stays (as Store::load_settings).
      }
    }
    if (fingerprint) *fingerprint = std::move(fp);
    return r;
  }

  std::string render_raw(const std::string& name, const mu::data& d) {
    thread_local std::map<std::string, std::pair<std::string, std::unique_ptr<mu::mustache>>> cache;
    std::string src = templates.source("web/" + name);
    auto& slot = cache[name];
    if (!slot.second || slot.first != src) {
      slot.first = src;
      slot.second = std::make_unique<mu::mustache>(src);
    }
    if (!slot.second->is_valid())
      throw std::runtime_error("template web/" + name + ": " + slot.second->error_message());
    return slot.second->render(d);
  }

  std::string csrf_token(Ctx& c) {
    if (c.who && c.who->via == "session") return c.who->csrf;
    if (c.marker_mode) {
      c.csrf_used = true;
      return csrf_marker;
    }
    if (c.anon_csrf.empty()) {
      c.anon_csrf = random_hex(32);
      c.set_headers.emplace_back("Set-Cookie", anon_cookie(c.anon_csrf, c.req.tls));
    }
    return c.anon_csrf;
  }

  std::string secure(const Ctx& c) const { return c.req.tls ? "; Secure" : ""; }

  // password_allowed - [auth] plaintext: may a password be sent over this connection?
  bool password_allowed(const Request& req) const {
    switch (cfg.plaintext_auth) {
      case PlaintextAuth::yes: return true;
      case PlaintextAuth::loopback: return req.tls || req.loopback;
      case PlaintextAuth::no: return req.tls;
    }
    return false;
  }

  Response page(Ctx& c, int status, const std::string& title, const std::string& tmpl, mu::data d) {
    return layout_page(c, status, title, render_content(c, tmpl, std::move(d), csrf_token(c)));
  }

  // render_content - the content template TMPL with D and the values every page has.
  std::string render_content(Ctx& c, const std::string& tmpl, mu::data d, const std::string& csrf) {
    d.set("csrf", csrf);
    d.set("base_url", cfg.base_url);
    if (c.who) {
      d.set("user", c.who->email);
      d.set("is_admin", c.who->is_admin);
    }
    if (c.list) {
      d.set("list", c.list->address());
      d.set("list_enc", percent_encode(c.list->address()));
      d.set("can_own", c.role == "owner" || c.role == "admin");
      d.set("can_mod", !c.role.empty());
    }
    return render_raw(tmpl + ".html", d);
  }

  // expiry - when a page rendered for C stops being good (a count it shows was reused from an
  // older generation; see CountCache), as a page cache expiry.
  static std::chrono::steady_clock::time_point expiry(const Ctx& c) {
    if (c.valid_until == std::numeric_limits<std::int64_t>::max()) return std::chrono::steady_clock::time_point::max();
    return std::chrono::steady_clock::now() +
           std::chrono::seconds(std::max<std::int64_t>(0, c.valid_until - now_unix()));
  }

  // page_data - the user-independent values a content template may use (the list); content
  // rendered with only these may be cached and shown to everyone.
  void page_data(Ctx& c, mu::data& d) {
    if (c.list) {
      d.set("list", c.list->address());
      d.set("list_enc", percent_encode(c.list->address()));
    }
  }

  // layout_page - CONTENT (a page we rendered with escaping: our own HTML) inside the layout.
  // The layout is rendered around a marker that is then replaced, so a 150 KB archive page
  // is copied once rather than through the template engine's data and output.
  Response layout_page(Ctx& c, int status, const std::string& title, const std::string& content) {
    static const std::string kMarker = "\x01listd-content\x01";
    std::string csrf = csrf_token(c);
    mu::data layout;
    layout.set("title", title);
    layout.set("content", kMarker);
    layout.set("csrf", csrf);
    if (c.who) layout.set("user", c.who->email);
    std::string outer = render_raw("layout.html", layout);
    Response res;
    res.status = status;
    auto at = outer.find(kMarker);
    if (at == std::string::npos || outer.find(kMarker, at + 1) != std::string::npos) {
      // No {{{content}}} in an overriding layout, or the marker also came in with user data
      // (a title): render the plain way.
      layout.set("content", content);
      res.body = render_raw("layout.html", layout);
      return res;
    }
    res.body.reserve(outer.size() - kMarker.size() + content.size());
    res.body.append(outer, 0, at).append(content).append(outer, at + kMarker.size());
    return res;
  }

  Response message_page(Ctx& c, int status, const std::string& title, const std::string& text,
                        const std::string& link = "", const std::string& link_text = "") {
    mu::data d;
    d.set("heading", title);
    d.set("text", text);
    if (!link.empty()) {
      d.set("link", link);
      d.set("link_text", link_text);
    }
    d.set("error", status >= 400);
    return page(c, status, title, "message", std::move(d));
  }

  Response json_response(int status, const json& j) {
    Response r;
    r.status = status;
    r.content_type = "application/json";
    r.body = j.dump(-1, ' ', false, json::error_handler_t::replace) + "\n";
    return r;
  }

  Response error(Ctx& c, int status, const std::string& msg) {
    if (c.api) return json_response(status, json{{"error", msg}});
    return message_page(c, status, status_text(status), msg);
  }

  static Response redirect(const std::string& to) {
    Response r;
    r.status = 303;
    r.set("Location", to);
    r.content_type = "text/plain; charset=utf-8";
    r.body = "See " + to + "\n";
    return r;
  }

  std::string admin_list_url(const ListRow& l) { return "/admin/lists/" + percent_encode(l.address()); }

  // --- dispatch -----------------------------------------------------------------------------

  Response handle(const Request& req) {
    auto segs = split_path(req.path);
    auto m = router.match(req.method, segs);
    Ctx c{req, {}, db(), {}, {}, {}, req.path.rfind("/api/", 0) == 0, {}, {}, {}, {}, &stmts()};
    Response res;
    bool cacheable = false;
    try {
      c.generation = current_generation();
      // Before routing: error pages keep the caller's session and anonymous CSRF cookie
      // (a 404 for /favicon.ico must not rotate the token of the form being filled in).
      authenticate(c);
      c.marker_mode = anonymous_get(req) && !c.who;
      if (m.status == 404) {
        res = error(c, 404, "There is no page at this address.");
      } else if (m.status == 405) {
        res = error(c, 405, "This address does not accept " + req.method + ".");
        res.set("Allow", m.allow);
      } else {
        c.params = m.params;
        cacheable = m.handler->cacheable;
        res = dispatch(c, *m.handler);
      }
    } catch (const HttpError& e) {
      res = error(c, e.status, e.message);
    } catch (const StoreError& e) {
      res = error(c, 422, e.what());
    } catch (const std::exception& e) {
      log_event(LogLevel::error, "http-handler-failed", {{"path", req.path}, {"error", e.what()}});
      res = error(c, 500, "Something went wrong on the server; the error was logged.");
    }
    for (auto& h : c.set_headers) res.headers.push_back(h);
    if (c.marker_mode && !c.from_cache) return finish_anonymous(c, std::move(res), cacheable);
    return res;
  }

  // finish_anonymous - RES was rendered for an anonymous GET with the marker for a token: a
  // 200 page of a cacheable route without headers of its own goes to the page cache; every
  // answer gets the visitor's token in place of the marker.
  Response finish_anonymous(Ctx& c, Response res, bool cacheable) {
    auto page = CachedPage::cut(res.body, csrf_marker);
    page->content_type = res.content_type;
    page->generation = c.generation;
    page->needs_token = c.csrf_used;
    page->expires = expiry(c);
    page->validator = c.validator;
    page->stored = std::chrono::steady_clock::now();
    if (cacheable && plain_query(c.req) && res.status == 200 && res.headers.empty()) {
      page_cache.put(c.req.target, page);
      return serve_page(c.req, page, false);
    }
    std::string token = c.anon_csrf;
    if (c.csrf_used && token.empty()) {
      token = random_hex(32);
      res.set("Set-Cookie", anon_cookie(token, c.req.tls));
    }
    res.body = page->materialize(token);
    return res;
  }

  // same_list - do validators A and B name the same list as stored (they differ at most in the
  // route's part, after the last separator)?
  static bool same_list(const std::string& a, const std::string& b) {
    auto i = a.rfind('\x1f'), j = b.rfind('\x1f');
    return i != std::string::npos && i == j && a.compare(0, i, b, 0, j) == 0;
  }

  // plain_query - only the query strings the pages read are cached (so random ones cannot push
  // real pages out).
  static bool plain_query(const Request& req) { return req.query.empty() || req.query == "sort=date"; }

  // kRenderWait - how long a request waits for another worker's render of the same page before
  // it renders the page itself.
  static constexpr auto kRenderWait = std::chrono::seconds(5);

  // from_cache_or_render - before a cacheable anonymous page is rendered: wait for a render of
  // the same target already running, then take the page from the cache if it is still good (by
  // generation, or its validator equal to the one this request computes), or if a render of it
  // ended after this request came (a render it waited for, on the flight or in the worker
  // queue) and differs only in its rows (the
  // same list and settings: never across a change of privacy) - a page that changes all the time
  // is then rendered once for all the requests that waited for it rather than once each, and is
  // at most one render older than the request; else this request renders (holding the target's
  // ticket until finish_anonymous has stored the page).
  std::optional<Response> from_cache_or_render(Ctx& c, const RouteDef& route) {
    c.flight = renders.enter(c.req.target, kRenderWait);
    c.validator = validator_for(c, route);
    auto page = page_cache.get(c.req.target, c.generation, [&](const CachedPage& p) {
      if (c.validator.empty()) return PageCache::Validity::no;
      if (p.validator == c.validator) return PageCache::Validity::good;
      if (p.stored >= c.started && same_list(p.validator, c.validator)) return PageCache::Validity::serve_once;
      return PageCache::Validity::no;
    });
    if (!page) return std::nullopt;
    c.from_cache = true;
    return serve_page(c.req, page, true);
  }

  void authenticate(Ctx& c) {
    Auth auth(c.db, c.sc);
    auto sid = cookie_get(c.req.header("cookie"), kSessionCookie);
    if (!sid.empty()) c.who = auth.session(sid);
    c.anon_csrf = cookie_get(c.req.header("cookie"), kAnonCsrfCookie);
    if (!is_hex64(c.anon_csrf)) c.anon_csrf.clear();
    if (!c.api) return;
    std::string authz = c.req.header("authorization");
    if (authz.rfind("Bearer ", 0) == 0) {
      c.who = auth.api_token(authz.substr(7));
      if (!c.who) throw HttpError{401, "invalid bearer token"};
    } else if (authz.rfind("Basic ", 0) == 0) {
      // DESIGN.md: Basic over TLS or loopback only, and never where [auth] plaintext forbids it.
      if (!(c.req.tls || c.req.loopback) || !password_allowed(c.req))
        throw HttpError{401, "HTTP Basic is not accepted over plain HTTP here; use HTTPS"};
      std::string decoded = base64_decode(authz.substr(6));
      auto colon = decoded.find(':');
      if (colon == std::string::npos) throw HttpError{401, "malformed Basic credentials"};
      Principal p;
      auto r = auth.login(decoded.substr(0, colon), decoded.substr(colon + 1), c.req.peer, &p);
      if (r == LoginResult::throttled) throw HttpError{429, "too many failed logins; try again later"};
      if (r != LoginResult::ok) throw HttpError{401, "wrong email or password"};
      p.via = "basic";
      c.who = p;
    }
  }

  static std::string base64_decode(const std::string& in) {
    std::string out;
    int val = 0, bits = -8;
    for (char ch : in) {
      int d;
      if (ch >= 'A' && ch <= 'Z')
        d = ch - 'A';
      else if (ch >= 'a' && ch <= 'z')
        d = ch - 'a' + 26;
      else if (ch >= '0' && ch <= '9')
        d = ch - '0' + 52;
      else if (ch == '+')
        d = 62;
      else if (ch == '/')
        d = 63;
      else
        break;
      val = (val << 6) | d;
      bits += 6;
      if (bits >= 0) {
        out.push_back(static_cast<char>((val >> bits) & 0xff));
        bits -= 8;
      }
    }
    return out;
  }

  void parse_body(Ctx& c) {
    std::string ct = c.req.header("content-type");
    auto semi = ct.find(';');
    std::string base = ct.substr(0, semi);
    std::transform(base.begin(), base.end(), base.begin(), [](unsigned char ch) { return std::tolower(ch); });
    if (base == "application/json") {
      try {
        c.body_json = json::parse(c.req.body.empty() ? std::string("{}") : c.req.body);
      } catch (const json::exception&) {
        throw HttpError{400, "the body is not valid JSON"};
      }
      if (!c.body_json.is_object()) throw HttpError{400, "the body must be a JSON object"};
    } else if (base == "multipart/form-data") {
      // Fields join the same Form as urlencoded ones (so CSRF and every handler read them the
      // same way); a file input's content is the value of its field.
      auto boundary = multipart_boundary(ct);
      if (!boundary) throw HttpError{400, "multipart/form-data without a valid boundary"};
      MultipartLimits lim;
      lim.max_parts = kMaxFormParts;
      lim.max_part_bytes = kMaxBodyBytesForForms;
      lim.max_total_bytes = kMaxBodyBytesForForms;
      MultipartParser mp(*boundary, lim);
      if (mp.feed(c.req.body) == MultipartStatus::error || mp.finish() == MultipartStatus::error)
        throw HttpError{mp.limit_exceeded() ? 413 : 400, "the form data was refused: " + mp.error()};
      for (auto& part : mp.take_parts()) c.form.emplace_back(std::move(part.name), std::move(part.data));
    } else if (base == "application/x-www-form-urlencoded" || (base.empty() && !c.req.body.empty() && !c.api) ||
               base.empty()) {
      auto f = parse_form(c.req.body);
      if (!f) throw HttpError{400, "the form data is malformed"};
      c.form = std::move(*f);
    } else if (!c.req.body.empty()) {
      throw HttpError{415, "unsupported Content-Type " + base};
    }
  }

  Response dispatch(Ctx& c, const RouteDef& route) {
    bool changing = c.req.method != "GET" && c.req.method != "HEAD";
    if (changing) parse_body(c);
    if (route.access != Access::anyone && !c.who) {
      if (c.api) {
        Response r = json_response(401, json{{"error", "authentication required"}});
        r.set("WWW-Authenticate", "Bearer realm=\"listd\"");
        return r;
      }
      return redirect("/login?next=" + percent_encode(c.req.path));
    }
    if (changing && !route.csrf_exempt) {
      if (c.who && c.who->via == "session") {
        std::string t = form_get(c.form, "csrf");
        if (t.empty() && c.body_json.is_object() && c.body_json.contains("csrf") && c.body_json["csrf"].is_string())
          t = c.body_json["csrf"].get<std::string>();
        if (t.empty()) t = c.req.header("x-csrf-token");
        if (!constant_time_equal(t, c.who->csrf)) throw HttpError{403, "missing or wrong CSRF token; reload the page"};
      } else if (!c.who) {
        if (c.anon_csrf.empty() || !constant_time_equal(form_get(c.form, "csrf"), c.anon_csrf))
          throw HttpError{403, "missing or wrong CSRF token; reload the page"};
      }
    }
    if (route.access == Access::admin && !c.who->is_admin) throw HttpError{403, "site administrators only"};
    if (auto it = c.params.find("list"); it != c.params.end()) {
      std::optional<ListRow> l;
      try {
        auto [name, host] = split_list_address(it->second);
        l = find_list_cached(name, host, c.generation, &c.list_fp);
      } catch (const StoreError&) {
      }
      if (!l) throw HttpError{404, "no such list"};
      c.list = std::move(l);
      if (c.who) c.role = c.who->is_admin ? "admin" : Auth(c.db, c.sc).list_role(c.who->person_id, c.list->id);
      if (route.access == Access::list_owner && c.role != "owner" && c.role != "admin")
        throw HttpError{403, "only the owners of " + c.list->address() + " may do this"};
      if (route.access == Access::list_mod && c.role.empty())
        throw HttpError{403, "only the owners and moderators of " + c.list->address() + " may do this"};
    }
    if (c.marker_mode && route.cacheable && plain_query(c.req))
      if (auto hit = from_cache_or_render(c, route)) return std::move(*hit);
    Response res = (this->*route.fn)(c);
    // A state change may have queued notices (confirmations, rejections): deliver them now
    // rather than at the next tick.
    if (changing && wake_delivery) wake_delivery();
    if (changing && c.list) counts.drop_list(c.list->id);
    return res;
  }

  // --- public pages -------------------------------------------------------------------------

  Response index(Ctx& c) {
    Store store(c.db);
    mu::list lists;
    for (auto& l : store.all_lists()) {
      if (!l.settings.advertised) continue;
      mu::object o{{"address", l.address()},
                   {"enc", percent_encode(l.address())},
                   {"description", l.settings.description},
                   {"members", std::to_string(member_count(c, l))}};
      lists.push_back(o);
    }
    mu::data d;
    d.set("lists", lists);
    d.set("none", lists.empty());
    return page(c, 200, "Mailing lists", "index", std::move(d));
  }

  // favicon - browsers ask for it on every site; answer "nothing here" without an error page.
  Response favicon(Ctx&) {
    Response r;
    r.status = 204;
    r.content_type.clear();
    r.set("Cache-Control", "public, max-age=86400");
    return r;
  }

  Response static_file(Ctx& c) {
    const std::string& f = c.params["file"];
    std::string type;
    if (f == "style.css")
      type = "text/css; charset=utf-8";
    else if (f == "app.js")
      type = "text/javascript; charset=utf-8";
    else
      throw HttpError{404, "no such file"};
    Response r;
    r.content_type = type;
    r.body = templates.source("web/static/" + f);
    r.set("Cache-Control", "public, max-age=3600");
    return r;
  }

  std::int64_t count(Ctx& c, const std::string& sql, std::int64_t id) {
    std::string key = sql + "#" + std::to_string(id);
    if (auto v = counts.get(key, c.generation, &c.valid_until)) return *v;
    auto q = lease(c.sc, c.db, sql);
    q->bind(1, id);
    q->executeStep();
    auto v = q->getColumn(0).getInt64();
    counts.put(key, v, c.generation);
    return v;
  }
  std::int64_t member_count(Ctx& c, const ListRow& l, const std::string& role = "member") {
    return count(c, "SELECT count(*) FROM memberships WHERE list_id = ? AND role = '" + role + "'", l.id);
  }

  Response list_page(Ctx& c) {
    const ListRow& l = *c.list;
    mu::data d;
    d.set("description", l.settings.description);
    d.set("members", std::to_string(member_count(c, l)));
    d.set("posts", std::to_string(count(c, "SELECT count(*) FROM archive WHERE list_id = ?", l.id)));
    d.set("archive", l.settings.archive && archive_allowed(c));
    d.set("post_address", l.address());
    d.set("policy", l.settings.subscribe_policy);
    return page(c, 200, l.address(), "list", std::move(d));
  }

  Response subscribe_post(Ctx& c) {
    Subscriptions subs(cfg, c.db, templates);
    std::string addr = form_get(c.form, "address");
    auto r = subs.request_subscribe(*c.list, addr, "web");
    int status = r.status == SubStatus::invalid_address ? 422 : r.status == SubStatus::rate_limited ? 429 : 200;
    std::string text;
    switch (r.status) {
      case SubStatus::confirmation_sent:
      case SubStatus::already_member:  // same answer: nobody learns who is subscribed
        text = "We sent a confirmation message to " + addr +
               ". Follow the link in it to finish subscribing (if you are not subscribed already).";
        break;
      case SubStatus::pending_approval: text = "Your request is waiting for the list owner's approval."; break;
      case SubStatus::subscribed: text = "You are subscribed to " + c.list->address() + "."; break;
      case SubStatus::invalid_address: text = "That is not a valid email address."; break;
      case SubStatus::rate_limited: text = "Too many requests for this address today; try again tomorrow."; break;
      case SubStatus::banned:
        text = "This address may not subscribe to this list.";
        status = 403;
        break;
      default: text = r.detail;
    }
    return message_page(c, status, "Subscribe to " + c.list->address(), text,
                        "/lists/" + percent_encode(c.list->address()), "Back to the list");
  }

  Response unsubscribe_form(Ctx& c) {
    mu::data d;
    std::string q_addr;
    if (auto f = parse_form(c.req.query)) q_addr = form_get(*f, "address");
    d.set("address", q_addr);
    return page(c, 200, "Unsubscribe from " + c.list->address(), "unsubscribe", std::move(d));
  }

  // RFC 8058 one-click: works without login or CSRF token (mail clients POST
  // "List-Unsubscribe=One-Click"). Without a per-recipient token the address comes from the
  // form (or the query); it starts the confirmed unsubscribe flow, which answers the same
  // whether or not the address is subscribed.
  Response unsubscribe_post(Ctx& c) {
    std::string addr = form_get(c.form, "address");
    if (addr.empty())
      if (auto f = parse_form(c.req.query)) addr = form_get(*f, "address");
    if (addr.empty()) {
      mu::data d;
      d.set("address", "");
      d.set("need_address", true);
      return page(c, 400, "Unsubscribe from " + c.list->address(), "unsubscribe", std::move(d));
    }
    Subscriptions subs(cfg, c.db, templates);
    auto r = subs.request_unsubscribe(*c.list, addr, "web");
    int status = 200;
    std::string text;
    switch (r.status) {
      case SubStatus::confirmation_sent:
      case SubStatus::not_member:
        text = "If " + addr + " is subscribed, a confirmation message is on its way. Follow its link to finish.";
        break;
      case SubStatus::unsubscribed: text = addr + " is no longer subscribed to " + c.list->address() + "."; break;
      case SubStatus::invalid_address:
        status = 422;
        text = "That is not a valid email address.";
        break;
      case SubStatus::rate_limited:
        status = 429;
        text = "Too many requests for this address today.";
        break;
      default: text = r.detail;
    }
    return message_page(c, status, "Unsubscribe from " + c.list->address(), text);
  }

  Response confirm_form(Ctx& c) {
    Subscriptions subs(cfg, c.db, templates);
    auto info = subs.token_info(c.params["token"]);
    if (!info) return message_page(c, 404, "Unknown link", "This confirmation link is unknown, used or expired.");
    mu::data d;
    d.set("action", info->action);
    d.set("address", info->address);
    d.set("token", c.params["token"]);
    return page(c, 200, "Confirm", "confirm", std::move(d));
  }

  Response confirm_post(Ctx& c) {
    Subscriptions subs(cfg, c.db, templates);
    auto r = subs.confirm(c.params["token"]);
    if (r.status == SubStatus::invalid_token)
      return message_page(c, 404, "Unknown link", "This confirmation link is unknown, used or expired.");
    std::string text;
    switch (r.status) {
      case SubStatus::subscribed: text = r.address + " is now subscribed."; break;
      case SubStatus::unsubscribed: text = r.address + " is no longer subscribed."; break;
      case SubStatus::pending_approval: text = "Confirmed; the list owner will now review the request."; break;
      default: text = r.detail;
    }
    return message_page(c, 200, "Confirmed", text);
  }

  Response login_form(Ctx& c) {
    mu::data d;
    std::string next;
    if (auto f = parse_form(c.req.query)) next = form_get(*f, "next");
    d.set("next", safe_next(next));
    return page(c, 200, "Log in", "login", std::move(d));
  }

  static std::string safe_next(const std::string& n) {
    // Only local paths: no scheme, no "//host" (open redirect).
    if (n.empty() || n[0] != '/' || (n.size() > 1 && (n[1] == '/' || n[1] == '\\'))) return "/admin";
    for (char ch : n)
      if (static_cast<unsigned char>(ch) < 0x20) return "/admin";
    return n;
  }

  Response login_post(Ctx& c) {
    if (!password_allowed(c.req))
      throw HttpError{403,
                      "Passwords are not accepted over plain HTTP here ([auth] plaintext); use the HTTPS address."};
    Auth auth(c.db);
    Principal p;
    auto r = auth.login(form_get(c.form, "email"), form_get(c.form, "password"), c.req.peer, &p);
    if (r != LoginResult::ok) {
      mu::data d;
      d.set("next", safe_next(form_get(c.form, "next")));
      d.set("email", form_get(c.form, "email"));
      d.set("failed", r == LoginResult::bad_credentials ? "Wrong email or password."
                                                        : "Too many failed attempts; wait 15 minutes.");
      return page(c, r == LoginResult::throttled ? 429 : 401, "Log in", "login", std::move(d));
    }
    std::string sid = auth.create_session(p.person_id);
    log_event(LogLevel::info, "web-login", {{"person", p.email}, {"ip", c.req.peer}});
    Response res = redirect(safe_next(form_get(c.form, "next")));
    res.set("Set-Cookie", std::string(kSessionCookie) + "=" + sid + "; Path=/; HttpOnly; SameSite=Strict; Max-Age=" +
                              std::to_string(kSessionTtl) + secure(c));
    return res;
  }

  Response logout(Ctx& c) {
    Auth(c.db).end_session(cookie_get(c.req.header("cookie"), kSessionCookie));
    Response res = redirect("/");
    res.set("Set-Cookie", std::string(kSessionCookie) + "=; Path=/; HttpOnly; SameSite=Strict; Max-Age=0" + secure(c));
    return res;
  }

  // --- archive ------------------------------------------------------------------------------

  bool archive_allowed(Ctx& c) {
    if (c.list->settings.archive_public) return true;
    if (!c.who) return false;
    if (c.who->is_admin || !c.role.empty()) return true;
    return Store(c.db).membership(*c.list, c.who->email).has_value();
  }

  void require_archive(Ctx& c) {
    if (!archive_allowed(c))
      throw HttpError{c.who ? 403 : 401, "the archive of " + c.list->address() + " is for members only; log in"};
  }

  Response archive_index(Ctx& c) {
    require_archive(c);
    SQLite::Statement q(c.db,
                        "SELECT strftime('%Y-%m', date, 'unixepoch') AS m, count(*) FROM archive WHERE list_id = ? "
                        "GROUP BY m ORDER BY m DESC");
    q.bind(1, c.list->id);
    mu::list months;
    while (q.executeStep())
      months.push_back(mu::object{{"month", q.getColumn(0).getString()}, {"count", q.getColumn(1).getString()}});
    mu::data d;
    d.set("months", months);
    d.set("none", months.empty());
    return page(c, 200, "Archive of " + c.list->address(), "archive_index", std::move(d));
  }

  static bool parse_month(const std::string& m, std::int64_t* from, std::int64_t* to) {
    if (m.size() != 7 || m[4] != '-') return false;
    for (int i : {0, 1, 2, 3, 5, 6})
      if (m[i] < '0' || m[i] > '9') return false;
    int y = std::stoi(m.substr(0, 4)), mo = std::stoi(m.substr(5, 2));
    if (mo < 1 || mo > 12 || y < 1970) return false;
    auto days_from_civil = [](int yy, int mm) {  // 1st of the month, days since 1970-01-01
      yy -= mm <= 2;
      int era = yy / 400;
      int yoe = yy - era * 400;
      int doy = (153 * (mm + (mm > 2 ? -3 : 9)) + 2) / 5;
      int doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
      return static_cast<std::int64_t>(era) * 146097 + doe - 719468;
    };
    *from = days_from_civil(y, mo) * 86400;
    *to = (mo == 12 ? days_from_civil(y + 1, 1) : days_from_civil(y, mo + 1)) * 86400;
    return true;
  }

  Response archive_month(Ctx& c) {
    require_archive(c);
    std::int64_t from = 0, to = 0;
    const std::string& month = c.params["month"];
    if (!parse_month(month, &from, &to)) throw HttpError{404, "no such month (use YYYY-MM)"};
    bool by_date = false;
    if (auto f = parse_form(c.req.query)) by_date = form_get(*f, "sort") == "date";
    // The month's rows (count, newest id) rather than the list's next UID: posts to other
    // months leave this content alone.
    std::string cache_key = std::to_string(c.list->id) + "|" + month + "|" + (by_date ? "d" : "t") + "|" +
                            month_state(c) + "|" + c.list->address();
    if (auto hit = month_pages.get(cache_key, 0))
      return layout_page(c, 200, month + " - " + c.list->address(), hit->body);
    auto lq = c.sc->get(
        "SELECT uid, date, subject, from_name, from_addr, message_id, in_reply_to FROM archive "
        "WHERE list_id = ? AND date >= ? AND date < ? ORDER BY date, uid");
    SQLite::Statement& q = *lq;
    q.bind(1, c.list->id);
    q.bind(2, from);
    q.bind(3, to);
    std::vector<ThreadItem> items;
    while (q.executeStep()) {
      ThreadItem t;
      t.uid = q.getColumn(0).getInt64();
      t.date = q.getColumn(1).getInt64();
      t.subject = q.getColumn(2).getString();
      t.from = q.getColumn(3).getString();
      if (t.from.empty()) t.from = q.getColumn(4).getString();
      t.msgid = q.getColumn(5).getString();
      t.parent = q.getColumn(6).getString();
      items.push_back(std::move(t));
    }
    // Order and depth: by date, or threads (a message whose In-Reply-To is in this month hangs
    // under it, depth-first, children by date). Walked with a stack: a reply chain as long as
    // the month cannot overflow the thread's stack; messages in a reply loop (no root) are
    // walked from their first member, so none is left out.
    std::vector<std::size_t> order;
    std::vector<int> depth(items.size(), 0);
    order.reserve(items.size());
    if (by_date) {
      for (std::size_t i = 0; i < items.size(); ++i) order.push_back(i);
    } else {
      std::unordered_map<std::string_view, std::size_t> by_id;
      by_id.reserve(items.size());
      for (std::size_t i = 0; i < items.size(); ++i)
        if (!items[i].msgid.empty()) by_id.emplace(items[i].msgid, i);
      std::vector<std::vector<std::size_t>> kids(items.size());
      std::vector<std::size_t> starts;
      for (std::size_t i = 0; i < items.size(); ++i) {
        auto it = items[i].parent.empty() ? by_id.end() : by_id.find(items[i].parent);
        if (it != by_id.end() && it->second != i)
          kids[it->second].push_back(i);
        else
          starts.push_back(i);
      }
      for (std::size_t i = 0; i < items.size(); ++i) starts.push_back(i);  // loops, after the roots
      std::vector<char> seen(items.size(), 0);
      std::vector<std::pair<std::size_t, int>> stack;
      for (auto root : starts) {
        stack.emplace_back(root, 0);
        while (!stack.empty()) {
          auto [i, dpt] = stack.back();
          stack.pop_back();
          if (seen[i]) continue;
          seen[i] = 1;
          order.push_back(i);
          depth[i] = std::min(dpt, 8);
          for (auto k = kids[i].rbegin(); k != kids[i].rend(); ++k) stack.emplace_back(*k, dpt + 1);
        }
      }
    }
    mu::data d;
    std::string enc = mu::html_escape<std::string>(percent_encode(c.list->address()));
    if (templates.source("web/archive_month.html").find("rows_html") != std::string::npos) {
      // The rows are written here rather than through a template list: the template engine's
      // data (a hash map and five strings per row) cost nine tenths of a 20,000-row render.
      std::string html;
      html.reserve(order.size() * 200);
      for (auto i : order) {
        const ThreadItem& t = items[i];
        html.append("<li class=\"d")
            .append(std::to_string(depth[i]))
            .append("\"><a href=\"/lists/")
            .append(enc)
            .append("/archive/msg/")
            .append(std::to_string(t.uid))
            .append("\">")
            .append(mu::html_escape<std::string>(t.subject.empty() ? "(no subject)" : t.subject))
            .append("</a> <span class=\"meta\">")
            .append(mu::html_escape<std::string>(t.from))
            .append(" \xC2\xB7 ")
            .append(format_date(t.date))
            .append("</span></li>\n");
      }
      d.set("rows_html", html);
    } else {
      // A site template of its own (templates_dir) iterates `rows`.
      mu::list rows;
      for (auto i : order) {
        const ThreadItem& t = items[i];
        rows.push_back(mu::object{{"uid", std::to_string(t.uid)},
                                  {"subject", t.subject.empty() ? "(no subject)" : t.subject},
                                  {"from", t.from},
                                  {"date", format_date(t.date)},
                                  {"depth", std::to_string(depth[i])}});
      }
      d.set("rows", rows);
    }
    d.set("month", month);
    d.set("count", std::to_string(items.size()));
    d.set("by_date", by_date);
    d.set("none", items.empty());
    page_data(c, d);
    std::string content = render_raw("archive_month.html", d);
    auto kept = CachedPage::cut(content, {});
    month_pages.put(cache_key, kept);
    return layout_page(c, 200, month + " - " + c.list->address(), kept->body);
  }

  struct ArchRow {
    std::int64_t uid = 0, date = 0;
    std::string subject, from_name, from_addr, path;
  };

  ArchRow load_archived(Ctx& c) {
    std::int64_t uid = to_int(c.params["uid"], -1);
    if (uid < 0) throw HttpError{404, "no such message"};
    auto lq =
        c.sc->get("SELECT uid, date, subject, from_name, from_addr, path FROM archive WHERE list_id = ? AND uid = ?");
    SQLite::Statement& q = *lq;
    q.bind(1, c.list->id);
    q.bind(2, uid);
    if (!q.executeStep()) throw HttpError{404, "no such message"};
    return {q.getColumn(0).getInt64(),  q.getColumn(1).getInt64(),  q.getColumn(2).getString(),
            q.getColumn(3).getString(), q.getColumn(4).getString(), q.getColumn(5).getString()};
  }

  Response archive_message(Ctx& c) {
    require_archive(c);
    auto a = load_archived(c);
    auto view = render_message(archived_bytes_for(c, a));
    mu::data d;
    d.set("uid", std::to_string(a.uid));
    d.set("subject", a.subject.empty() ? "(no subject)" : a.subject);
    d.set("from", a.from_name.empty() ? a.from_addr : a.from_name + " <" + a.from_addr + ">");
    d.set("date", format_date(a.date));
    d.set("month", month_key(a.date));
    d.set("body", view.text);
    mu::list atts;
    for (std::size_t i = 0; i < view.attachments.size(); ++i)
      atts.push_back(mu::object{{"n", std::to_string(i)},
                                {"name", view.attachments[i].filename},
                                {"type", view.attachments[i].content_type},
                                {"size", std::to_string(view.attachments[i].size)}});
    d.set("attachments", atts);
    d.set("has_attachments", !atts.empty());
    return page(c, 200, a.subject, "archive_message", std::move(d));
  }

  // The index path is "NAME@HOST/cur/FILE"; only its file name is trusted, inside this list's
  // own Maildir (no traversal even with a hand-edited index).
  std::string archived_bytes_for(Ctx& c, const ArchRow& a) {
    auto file = std::filesystem::path(a.path).filename();
    return read_file(cfg.archive_dir() / c.list->address() / "cur" / file);
  }

  Response archive_attachment(Ctx& c) {
    require_archive(c);
    auto a = load_archived(c);
    std::int64_t n = to_int(c.params["n"], -1);
    auto view = render_message(archived_bytes_for(c, a), true);
    if (n < 0 || static_cast<std::size_t>(n) >= view.attachments.size()) throw HttpError{404, "no such attachment"};
    auto& att = view.attachments[static_cast<std::size_t>(n)];
    Response r;
    r.content_type = "application/octet-stream";
    r.body = att.data;
    r.set("Content-Disposition", "attachment; filename=\"" + safe_filename(att.filename) + "\"");
    return r;
  }

  static std::string safe_filename(const std::string& name) {
    std::string out;
    for (unsigned char ch : name)
      out.push_back((std::isalnum(ch) || ch == '.' || ch == '-' || ch == '_') ? static_cast<char>(ch) : '_');
    while (!out.empty() && out.front() == '.') out.erase(out.begin());
    if (out.empty()) out = "attachment.bin";
    if (out.size() > 100) out.resize(100);
    return out;
  }

  // archive_search - the FTS5 trigram index (the one IMAP SEARCH uses) over subject, sender,
  // recipients and text; terms under 3 characters are checked on the index's hits, or, when no
  // term is long enough, on subjects and senders newest first. The kSearchResults most recently
  // archived hits, shown newest first.
  Response archive_search(Ctx& c) {
    require_archive(c);
    std::string term;
    if (auto f = parse_form(c.req.query)) term = form_get(*f, "q");
    ArchiveQuery aq = archive_query(term);
    struct Hit {
      std::int64_t uid, date;
      std::string subject, from;
    };
    std::vector<Hit> hits;
    if (!aq.empty()) {
      std::string sql;
      if (!aq.match.empty()) {
        // CROSS JOIN keeps the FTS table outside: it yields rowids newest first and the
        // LIMIT stops it early, instead of a probe per archive row of the list.
        sql =
            "SELECT a.uid, a.date, a.subject, a.from_name, a.from_addr FROM archive_fts f CROSS JOIN archive a ON "
            "a.id = f.rowid WHERE archive_fts MATCH ?1 AND a.list_id = ?2";
        for (std::size_t i = 0; i < aq.short_terms.size(); ++i)
          sql += " AND instr(lower(f.subject || ' ' || f.sender || ' ' || f.recipients || ' ' || f.body), lower(?" +
                 std::to_string(i + 4) + ")) > 0";
        sql += " ORDER BY f.rowid DESC LIMIT ?3";
      } else {
        sql = "SELECT a.uid, a.date, a.subject, a.from_name, a.from_addr FROM archive a WHERE a.list_id = ?2";
        for (std::size_t i = 0; i < aq.short_terms.size(); ++i)
          sql += " AND instr(lower(a.subject || ' ' || a.from_name || ' ' || a.from_addr), lower(?" +
                 std::to_string(i + 4) + ")) > 0";
        sql += " ORDER BY a.id DESC LIMIT ?3";
      }
      SQLite::Statement q(c.db, sql);
      if (!aq.match.empty()) q.bind(1, aq.match);
      q.bind(2, c.list->id);
      q.bind(3, static_cast<std::int64_t>(kSearchResults));
      for (std::size_t i = 0; i < aq.short_terms.size(); ++i) q.bind(static_cast<int>(i + 4), aq.short_terms[i]);
      while (q.executeStep()) {
        std::string from = q.getColumn(3).getString();
        if (from.empty()) from = q.getColumn(4).getString();
        hits.push_back({q.getColumn(0).getInt64(), q.getColumn(1).getInt64(), q.getColumn(2).getString(), from});
      }
      std::stable_sort(hits.begin(), hits.end(), [](const Hit& a, const Hit& b) { return a.date > b.date; });
    }
    mu::list rows;
    for (auto& h : hits)
      rows.push_back(mu::object{{"uid", std::to_string(h.uid)},
                                {"date", format_date(h.date)},
                                {"subject", h.subject.empty() ? "(no subject)" : h.subject},
                                {"from", h.from}});
    mu::data d;
    d.set("q", term);
    d.set("searched", !aq.empty());
    d.set("rows", rows);
    d.set("none", rows.empty());
    d.set("more", hits.size() >= kSearchResults);
    d.set("limit", std::to_string(kSearchResults));
    d.set("short_only", aq.match.empty() && !aq.short_terms.empty());
    d.set("truncated", aq.truncated);
    return page(c, 200, "Search " + c.list->address(), "archive_search", std::move(d));
  }

  // --- admin pages --------------------------------------------------------------------------

  std::vector<ListRow> visible_lists(Ctx& c) {
    Store store(c.db);
    auto all = store.all_lists();
    if (c.who->is_admin) return all;
    std::vector<ListRow> out;
    Auth auth(c.db);
    for (auto& l : all)
      if (!auth.list_role(c.who->person_id, l.id).empty()) out.push_back(l);
    return out;
  }

  Response admin_home(Ctx& c) {
    Store store(c.db);
    Auth auth(c.db);
    mu::list lists;
    for (auto& l : visible_lists(c)) {
      std::string role = c.who->is_admin ? "site admin" : auth.list_role(c.who->person_id, l.id);
      lists.push_back(
          mu::object{{"address", l.address()},
                     {"enc", percent_encode(l.address())},
                     {"role", role},
                     {"members", std::to_string(member_count(c, l))},
                     {"held", std::to_string(count(c, "SELECT count(*) FROM held_messages WHERE list_id = ?", l.id))}});
    }
    mu::data d;
    d.set("lists", lists);
    d.set("none", lists.empty());
    if (c.who->is_admin) {
      mu::list admins;
      SQLite::Statement q(c.db, "SELECT email FROM people WHERE is_admin = 1 ORDER BY email");
      while (q.executeStep()) admins.push_back(mu::object{{"email", q.getColumn(0).getString()}});
      d.set("admins", admins);
      d.set("hostname", cfg.hostname);
    }
    return page(c, 200, "Administration", "admin_home", std::move(d));
  }

  Response admin_create_list(Ctx& c) {
    std::string address = form_get(c.form, "address"), owner = form_get(c.form, "owner");
    auto [name, host] = split_list_address(address);
    if (!smtp::normalize_address(owner)) throw HttpError{422, "the owner address is not valid"};
    Store store(c.db);
    if (store.find_list(name, host)) throw HttpError{409, address + " exists already"};
    auto l = store.create_list(name, host, owner);
    l.settings.subject_prefix = "[" + name + "]";
    store.save_settings(l);
    log_event(LogLevel::info, "web-list-created", {{"list", l.address()}, {"by", c.who->email}});
    return redirect(admin_list_url(l));
  }

  Response admin_delete_list(Ctx& c) {
    if (form_get(c.form, "confirm") != c.list->address())
      throw HttpError{422, "type the list address to confirm its deletion"};
    Store(c.db).delete_list(*c.list);
    log_event(LogLevel::info, "web-list-deleted", {{"list", c.list->address()}, {"by", c.who->email}});
    return redirect("/admin");
  }

  Response admin_add_admin(Ctx& c) {
    auto email = smtp::normalize_address(form_get(c.form, "email"));
    if (!email) throw HttpError{422, "not a valid email address"};
    Store store(c.db);
    store.set_admin(store.ensure_person(*email), form_get(c.form, "remove").empty());
    return redirect("/admin");
  }

  Response admin_list(Ctx& c) {
    Store store(c.db);
    const ListRow& l = *c.list;
    mu::data d;
    d.set("description", l.settings.description);
    d.set("members", std::to_string(member_count(c, l)));
    d.set("owners", std::to_string(member_count(c, l, "owner")));
    d.set("held", std::to_string(count(c, "SELECT count(*) FROM held_messages WHERE list_id = ?", l.id)));
    d.set("pending", std::to_string(count(c, "SELECT count(*) FROM subscription_requests WHERE list_id = ?", l.id)));
    d.set("posts", std::to_string(count(c, "SELECT count(*) FROM archive WHERE list_id = ?", l.id)));
    d.set("posts_30d", std::to_string(count(c,
                                            "SELECT count(*) FROM archive WHERE list_id = ? AND received > "
                                            "strftime('%s','now') - 30*86400",
                                            l.id)));
    return page(c, 200, l.address(), "admin_list", std::move(d));
  }

  Response admin_settings(Ctx& c) {
    auto pairs = settings_to_pairs(c.list->settings);
    std::map<std::string, std::string> values(pairs.begin(), pairs.end());
    std::vector<std::string> group_order;
    std::map<std::string, mu::list> groups;
    for (auto& f : kSettingFields) {
      if (!values.count(f.key)) continue;
      if (!groups.count(f.group)) group_order.push_back(f.group);
      mu::object o{{"key", f.key}, {"label", f.label}, {"value", values[f.key]}};
      std::string kind = f.kind;
      if (kind == "bool") {
        o["is_bool"] = mu::data(true);
        o["checked"] = mu::data(values[f.key] == "true" || values[f.key] == "yes" || values[f.key] == "1");
      } else if (kind == "textarea") {
        o["is_textarea"] = mu::data(true);
      } else if (kind.rfind("choice:", 0) == 0) {
        o["is_choice"] = mu::data(true);
        mu::list opts;
        std::stringstream ss(kind.substr(7));
        std::string opt;
        while (std::getline(ss, opt, ','))
          opts.push_back(mu::object{{"opt", opt}, {"selected", mu::data(opt == values[f.key])}});
        o["options"] = opts;
      } else {
        o["is_text"] = mu::data(true);
        o["type"] = kind == "number" ? "number" : "text";
      }
      groups[f.group].push_back(o);
    }
    mu::list gl;
    for (auto& g : group_order) gl.push_back(mu::object{{"group", g}, {"fields", groups[g]}});
    mu::data d;
    d.set("groups", gl);
    d.set("prefix_preview", prefixed_preview(c.list->settings.subject_prefix));
    return page(c, 200, "Settings - " + c.list->address(), "admin_settings", std::move(d));
  }

  static std::string prefixed_preview(const std::string& prefix) {
    return prefix.empty() ? "Hello everyone" : prefix + " Hello everyone";
  }

  // apply_settings - validate every value first (settings_set throws StoreError), then save:
  // a bad value changes nothing.
  void apply_settings(Ctx& c, const std::vector<std::pair<std::string, std::string>>& changes) {
    ListRow l = *c.list;
    for (auto& [k, v] : changes) settings_set(l.settings, k, v);
    Store(c.db).save_settings(l);
    c.list = l;
    log_event(LogLevel::info, "web-settings-changed",
              {{"list", l.address()}, {"by", c.who->email}, {"count", std::to_string(changes.size())}});
  }

  Response admin_settings_post(Ctx& c) {
    std::vector<std::pair<std::string, std::string>> changes;
    auto current = settings_to_pairs(c.list->settings);
    std::map<std::string, std::string> known(current.begin(), current.end());
    for (auto& f : kSettingFields) {
      if (!known.count(f.key)) continue;
      if (std::string(f.kind) == "bool")
        changes.emplace_back(f.key, form_get(c.form, f.key).empty() ? "false" : "true");
      else
        for (auto& [k, v] : c.form)
          if (k == f.key) {
            std::string val = v;
            val.erase(std::remove(val.begin(), val.end(), '\r'), val.end());
            changes.emplace_back(k, val);
            break;
          }
    }
    apply_settings(c, changes);
    return redirect(admin_list_url(*c.list) + "/settings?saved=1");
  }

  struct MemberPage {
    std::vector<MemberRow> rows;
    std::size_t total = 0;
  };

  // member_page - LIMIT members from OFFSET in address order; or, keyset (the pager's links),
  // the LIMIT after address AFTER, or the LIMIT before address BEFORE, without walking the
  // OFFSET rows before them (page 2,000 of a 100,000-member list took 260 ms that way).
  MemberPage member_page(Ctx& c, const std::string& search, std::size_t offset, std::size_t limit,
                         const std::string& role, const std::string& after = "", const std::string& before = "") {
    MemberPage mp;
    std::string like = "%";
    for (char ch : search) {
      if (ch == '%' || ch == '_' || ch == '\\') like.push_back('\\');
      like.push_back(ch);
    }
    like += "%";
    if (search.empty()) {
      mp.total = static_cast<std::size_t>(member_count(c, *c.list, role));
    } else {
      SQLite::Statement q(c.db, search.empty()
                                    ? "SELECT count(*) FROM memberships WHERE list_id = ?1 AND role = ?2"
                                    : "SELECT count(*) FROM memberships m JOIN people p ON p.id = m.person_id WHERE "
                                      "m.list_id = ?1 AND m.role = ?2 AND p.email LIKE ?3 ESCAPE '\\'");
      q.bind(1, c.list->id);
      q.bind(2, role);
      if (!search.empty()) q.bind(3, like);
      q.executeStep();
      mp.total = static_cast<std::size_t>(q.getColumn(0).getInt64());
    }
    // Walk people in address order and probe the membership key: one page of a
    // 100,000-member list costs `limit` index probes, not a sort of the whole list.
    static const std::string kSelect =
        "SELECT p.id, p.email, m.role, m.delivery, m.moderated, m.nomail, m.disabled FROM people p "
        "CROSS JOIN memberships m ON m.list_id = ?1 AND m.person_id = p.id AND m.role = ?2 WHERE "
        "(?3 = '%%' OR p.email LIKE ?3 ESCAPE '\\') ";
    bool backwards = after.empty() && !before.empty();
    auto lq = c.sc->get(!after.empty() ? kSelect + "AND p.email > ?5 ORDER BY p.email LIMIT ?4"
                        : backwards    ? kSelect + "AND p.email < ?5 ORDER BY p.email DESC LIMIT ?4"
                                       : kSelect + "ORDER BY p.email LIMIT ?4 OFFSET ?5");
    SQLite::Statement& q = *lq;
    q.bind(1, c.list->id);
    q.bind(2, role);
    q.bind(3, search.empty() ? std::string("%%") : like);
    q.bind(4, static_cast<std::int64_t>(limit));
    if (!after.empty())
      q.bind(5, after);
    else if (backwards)
      q.bind(5, before);
    else
      q.bind(5, static_cast<std::int64_t>(offset));
    while (q.executeStep()) {
      MemberRow m;
      m.person_id = q.getColumn(0).getInt64();
      m.email = q.getColumn(1).getString();
      m.role = q.getColumn(2).getString();
      m.delivery = q.getColumn(3).getString();
      m.moderated = q.getColumn(4).getInt() != 0;
      m.nomail = q.getColumn(5).getInt() != 0;
      m.disabled = q.getColumn(6).getInt() != 0;
      mp.rows.push_back(std::move(m));
    }
    if (backwards) std::reverse(mp.rows.begin(), mp.rows.end());
    return mp;
  }

  Response admin_members(Ctx& c) {
    // The page's content for this person, role and query, rendered once per database
    // generation with a marker for the session's CSRF token (the access checks ran already).
    const std::string title = "Members - " + c.list->address();
    const std::string key = c.who->email + "|" + c.role + "|" + c.req.target;
    if (auto hit = admin_pages.get(key, c.generation))
      return layout_page(c, 200, title, hit->materialize(csrf_token(c)));
    return admin_members_render(c, title);
  }

  Response admin_members_render(Ctx& c, const std::string& title) {
    std::string search;
    std::size_t pageno = 1;
    std::string role = "member", after, before;
    if (auto f = parse_form(c.req.query)) {
      search = form_get(*f, "q");
      after = form_get(*f, "after");
      before = form_get(*f, "before");
      pageno = static_cast<std::size_t>(std::max<std::int64_t>(1, to_int(form_get(*f, "page"), 1)));
      std::string r = form_get(*f, "role");
      if (r == "owner" || r == "moderator") role = r;
    }
    auto mp = member_page(c, search, (pageno - 1) * kMembersPerPage, kMembersPerPage, role, after, before);
    // Walking back past the first member, or a stale key: start again from the top.
    if (mp.rows.empty() && (!after.empty() || !before.empty()) && pageno > 1) {
      pageno = 1;
      mp = member_page(c, search, 0, kMembersPerPage, role);
    }
    // The table rows are written here rather than through a template list: building and
    // copying the template engine's data for 50 rows (a hash map and five strings per row,
    // copied at each set) cost more than the rest of the page.
    std::string rows_html;
    rows_html.reserve(mp.rows.size() * 320);
    for (auto& m : mp.rows) {
      std::string e = mu::html_escape<std::string>(m.email);  // the templates' escaping
      rows_html.append("<tr><td><input type=\"checkbox\" name=\"email\" value=\"")
          .append(e)
          .append("\" aria-label=\"Select ")
          .append(e)
          .append("\"></td><td>")
          .append(e)
          .append("</td><td>")
          .append(mu::html_escape<std::string>(m.delivery))
          .append("</td><td>");
      if (m.moderated) rows_html.append("<span class=\"tag\">moderated</span>");
      if (m.nomail) rows_html.append("<span class=\"tag\">no mail</span>");
      if (m.disabled) rows_html.append("<span class=\"tag warn\">disabled</span>");
      rows_html.append("</td></tr>\n");
    }
    std::size_t pages = std::max<std::size_t>(1, (mp.total + kMembersPerPage - 1) / kMembersPerPage);
    mu::data d;
    d.set("rows_html", rows_html);
    d.set("total", std::to_string(mp.total));
    d.set("q", search);
    d.set("q_enc", percent_encode(search));
    d.set("role", role);
    d.set("page", std::to_string(pageno));
    d.set("pages", std::to_string(pages));
    if (pageno > 1) d.set("prev", std::to_string(pageno - 1));
    if (pageno < pages) d.set("next", std::to_string(pageno + 1));
    if (!mp.rows.empty()) {
      d.set("first_enc", percent_encode(mp.rows.front().email));
      d.set("last_enc", percent_encode(mp.rows.back().email));
    }
    d.set("none", mp.rows.empty());
    if (auto f = parse_form(c.req.query); f && !form_get(*f, "msg").empty()) d.set("flash", form_get(*f, "msg"));
    auto content = CachedPage::cut(render_content(c, "admin_members", std::move(d), csrf_marker), csrf_marker);
    content->generation = c.generation;
    content->expires = expiry(c);
    admin_pages.put(c.who->email + "|" + c.role + "|" + c.req.target, content);
    return layout_page(c, 200, title, content->materialize(csrf_token(c)));
  }

  Response admin_members_post(Ctx& c) {
    std::string action = form_get(c.form, "action");
    std::string role = form_get(c.form, "role");
    if (role.empty()) role = "member";
    if (role != "member" && role != "owner" && role != "moderator") throw HttpError{422, "unknown role"};
    // Pasted addresses and an uploaded file (multipart form, no JavaScript needed) go through
    // the same split and the same Store validation.
    auto addrs = split_addresses(form_get(c.form, "addresses"));
    std::string file = form_get(c.form, "addresses_file");
    if (file.rfind("\xEF\xBB\xBF", 0) == 0) file.erase(0, 3);  // a UTF-8 byte order mark
    for (auto& a : split_addresses(file)) addrs.push_back(a);
    for (auto& e : form_all(c.form, "email")) addrs.push_back(e);
    if (addrs.size() > kMaxBulkAddresses) throw HttpError{413, "too many addresses at once"};
    Store store(c.db);
    std::string msg;
    if (action == "add") {
      auto r = store.add_members(*c.list, addrs, role, false);
      msg = std::to_string(r.added) + " added, " + std::to_string(r.existing) + " already there";
      if (!r.bad.empty()) msg += ", " + std::to_string(r.bad.size()) + " invalid (first: " + r.bad.front().first + ")";
    } else if (action == "remove") {
      auto n = store.remove_members(*c.list, addrs, role);
      msg = std::to_string(n) + " removed";
    } else if (action == "flags") {
      set_flags(c, addrs, form_get(c.form, "flag"), form_get(c.form, "value") == "on");
      msg = "flags updated for " + std::to_string(addrs.size());
    } else {
      throw HttpError{422, "unknown action"};
    }
    log_event(LogLevel::info, "web-members", {{"list", c.list->address()}, {"by", c.who->email}, {"result", msg}});
    return redirect(admin_list_url(*c.list) + "/members?role=" + role + "&msg=" + percent_encode(msg));
  }

  void set_flags(Ctx& c, const std::vector<std::string>& emails, const std::string& flag, bool on) {
    std::string col;
    if (flag == "moderated" || flag == "nomail") col = flag;
    std::string delivery;
    if (flag == "digest") delivery = on ? "digest_plain" : "regular";
    if (col.empty() && delivery.empty()) throw HttpError{422, "unknown member flag"};
    WriteTx tx(c.db);
    for (auto& e : emails) {
      auto norm = smtp::normalize_address(e);
      if (!norm) continue;
      SQLite::Statement q(c.db, col.empty() ? "UPDATE memberships SET delivery = ?1 WHERE list_id = ?2 AND role = "
                                              "'member' AND person_id = (SELECT id FROM people WHERE email = ?3)"
                                            : "UPDATE memberships SET " + col +
                                                  " = ?1 WHERE list_id = ?2 AND role = 'member' AND person_id = "
                                                  "(SELECT id FROM people WHERE email = ?3)");
      if (col.empty())
        q.bind(1, delivery);
      else
        q.bind(1, on ? 1 : 0);
      q.bind(2, c.list->id);
      q.bind(3, *norm);
      q.exec();
    }
    tx.commit();
  }

  Response admin_held(Ctx& c) {
    Moderation mod(cfg, c.db, templates);
    mu::list rows;
    for (auto& h : mod.held(*c.list))
      rows.push_back(mu::object{{"id", std::to_string(h.id)},
                                {"sender", h.sender},
                                {"subject", h.subject.empty() ? "(no subject)" : h.subject},
                                {"reason", h.reason},
                                {"size", std::to_string(h.size)},
                                {"date", format_date(h.received)}});
    mu::data d;
    d.set("rows", rows);
    d.set("none", rows.empty());
    if (auto f = parse_form(c.req.query); f && !form_get(*f, "msg").empty()) d.set("flash", form_get(*f, "msg"));
    return page(c, 200, "Held posts - " + c.list->address(), "admin_held", std::move(d));
  }

  ModResult moderate(Ctx& c, std::int64_t id, const std::string& action, const std::string& reason) {
    Moderation mod(cfg, c.db, templates);
    ModResult r;
    if (action == "approve")
      r = mod.approve(*c.list, id);
    else if (action == "reject")
      r = mod.reject(*c.list, id, reason);
    else if (action == "discard")
      r = mod.discard(*c.list, id);
    else if (action == "ban")
      r = mod.ban(*c.list, id);
    else
      throw HttpError{422, "unknown action '" + action + "' (approve, reject, discard, ban)"};
    if (r.ok && action == "approve" && wake) wake();
    return r;
  }

  Response admin_held_post(Ctx& c) {
    std::string action = form_get(c.form, "action");
    auto ids = form_all(c.form, "id");
    if (ids.empty()) throw HttpError{422, "select at least one message"};
    int ok = 0, failed = 0;
    for (auto& s : ids) {
      auto r = moderate(c, to_int(s, -1), action, form_get(c.form, "reason"));
      (r.ok ? ok : failed)++;
    }
    std::string msg = action + ": " + std::to_string(ok) + " done" +
                      (failed ? ", " + std::to_string(failed) + " not found" : std::string());
    return redirect(admin_list_url(*c.list) + "/held?msg=" + percent_encode(msg));
  }

  Response admin_held_view(Ctx& c) {
    Moderation mod(cfg, c.db, templates);
    auto h = mod.get(*c.list, to_int(c.params["id"], -1));
    if (!h) throw HttpError{404, "no such held message"};
    auto view = render_message(mod.message(*h));
    mu::data d;
    d.set("id", std::to_string(h->id));
    d.set("sender", h->sender);
    d.set("subject", h->subject.empty() ? "(no subject)" : h->subject);
    d.set("reason", h->reason);
    d.set("date", format_date(h->received));
    d.set("headers", view.headers);
    d.set("body", view.text);
    mu::list atts;
    for (auto& a : view.attachments)
      atts.push_back(mu::object{{"name", a.filename}, {"type", a.content_type}, {"size", std::to_string(a.size)}});
    d.set("attachments", atts);
    return page(c, 200, "Held post - " + c.list->address(), "admin_held_view", std::move(d));
  }

  Response admin_pending(Ctx& c) {
    Subscriptions subs(cfg, c.db, templates);
    mu::list rows;
    for (auto& p : subs.pending(*c.list))
      rows.push_back(mu::object{{"id", std::to_string(p.id)},
                                {"address", p.address},
                                {"action", p.action},
                                {"date", format_date(p.created)}});
    mu::data d;
    d.set("rows", rows);
    d.set("none", rows.empty());
    return page(c, 200, "Pending requests - " + c.list->address(), "admin_pending", std::move(d));
  }

  Response admin_pending_post(Ctx& c) {
    Subscriptions subs(cfg, c.db, templates);
    std::string action = form_get(c.form, "action");
    for (auto& s : form_all(c.form, "id")) {
      if (action == "approve")
        subs.approve(*c.list, to_int(s, -1));
      else if (action == "reject")
        subs.reject(*c.list, to_int(s, -1), form_get(c.form, "reason"));
      else
        throw HttpError{422, "unknown action"};
    }
    return redirect(admin_list_url(*c.list) + "/pending");
  }

  json jobs_json(Ctx& c, const ListRow* only) {
    json out = json::array();
    auto allowed = visible_lists(c);
    std::set<std::string> names;
    for (auto& l : allowed) names.insert(l.address());
    for (auto& j : job_status(c.db, false)) {
      if (only && j.list != only->address()) continue;
      if (!c.who->is_admin && !names.count(j.list)) continue;
      out.push_back({{"id", j.id},
                     {"list", j.list},
                     {"kind", j.kind},
                     {"created", j.created},
                     {"total", j.total},
                     {"delivered", j.delivered},
                     {"deferred", j.deferred},
                     {"failed", j.failed},
                     {"pending", j.pending},
                     {"next_retry", j.next_retry},
                     {"done", j.done}});
    }
    return out;
  }

  Response admin_jobs(Ctx& c) {
    mu::list rows;
    for (auto& j : jobs_json(c, &*c.list)) {
      auto total = std::max<std::int64_t>(1, j["total"].get<std::int64_t>());
      auto pct = (j["delivered"].get<std::int64_t>() + j["failed"].get<std::int64_t>()) * 100 / total;
      rows.push_back(mu::object{{"id", std::to_string(j["id"].get<std::int64_t>())},
                                {"kind", j["kind"].get<std::string>()},
                                {"created", format_date(j["created"].get<std::int64_t>())},
                                {"total", std::to_string(j["total"].get<std::int64_t>())},
                                {"delivered", std::to_string(j["delivered"].get<std::int64_t>())},
                                {"deferred", std::to_string(j["deferred"].get<std::int64_t>())},
                                {"failed", std::to_string(j["failed"].get<std::int64_t>())},
                                {"pct", std::to_string(pct)}});
    }
    mu::data d;
    d.set("rows", rows);
    d.set("none", rows.empty());
    return page(c, 200, "Delivery - " + c.list->address(), "admin_jobs", std::move(d));
  }

  // --- REST API -----------------------------------------------------------------------------

  json list_json(Ctx& c, const ListRow& l) {
    Store store(c.db);
    return {{"address", l.address()},
            {"name", l.name},
            {"host", l.host},
            {"created", l.created},
            {"description", l.settings.description},
            {"members", member_count(c, l)},
            {"owners", member_count(c, l, "owner")},
            {"held", count(c, "SELECT count(*) FROM held_messages WHERE list_id = ?", l.id)}};
  }

  std::string jstr(Ctx& c, const char* key) {
    if (!c.body_json.is_object() || !c.body_json.contains(key)) return {};
    auto& v = c.body_json[key];
    if (v.is_string()) return v.get<std::string>();
    if (v.is_boolean()) return v.get<bool>() ? "true" : "false";
    if (v.is_number_integer()) return std::to_string(v.get<std::int64_t>());
    throw HttpError{400, std::string("field '") + key + "' must be a string"};
  }

  Response api_lists(Ctx& c) {
    json out = json::array();
    for (auto& l : visible_lists(c)) out.push_back(list_json(c, l));
    return json_response(200, out);
  }

  Response api_create_list(Ctx& c) {
    auto [name, host] = split_list_address(jstr(c, "address"));
    std::string owner = jstr(c, "owner");
    if (!smtp::normalize_address(owner)) throw HttpError{422, "owner: not a valid email address"};
    Store store(c.db);
    if (store.find_list(name, host)) throw HttpError{409, name + "@" + host + " exists already"};
    auto l = store.create_list(name, host, owner);
    l.settings.subject_prefix = "[" + name + "]";
    store.save_settings(l);
    return json_response(201, list_json(c, l));
  }

  Response api_list(Ctx& c) { return json_response(200, list_json(c, *c.list)); }

  Response api_delete_list(Ctx& c) {
    Store(c.db).delete_list(*c.list);
    Response r;
    r.status = 204;
    r.content_type.clear();
    return r;
  }

  Response api_members(Ctx& c) {
    std::string search, role = "member";
    std::size_t offset = 0, limit = 100;
    if (auto f = parse_form(c.req.query)) {
      search = form_get(*f, "q");
      offset = static_cast<std::size_t>(to_int(form_get(*f, "offset"), 0));
      limit = static_cast<std::size_t>(std::clamp<std::int64_t>(to_int(form_get(*f, "limit"), 100), 1, 1000));
      if (!form_get(*f, "role").empty()) role = form_get(*f, "role");
    }
    if (role != "member" && role != "owner" && role != "moderator") throw HttpError{400, "unknown role"};
    auto mp = member_page(c, search, offset, limit, role);
    json items = json::array();
    for (auto& m : mp.rows)
      items.push_back({{"email", m.email},
                       {"role", m.role},
                       {"delivery", m.delivery},
                       {"moderated", m.moderated},
                       {"nomail", m.nomail},
                       {"disabled", m.disabled}});
    return json_response(200, {{"total", mp.total}, {"offset", offset}, {"members", items}});
  }

  Response api_add_members(Ctx& c) {
    std::vector<std::string> emails;
    if (c.body_json.contains("emails") && c.body_json["emails"].is_array()) {
      for (auto& e : c.body_json["emails"]) {
        if (!e.is_string()) throw HttpError{400, "emails must be strings"};
        emails.push_back(e.get<std::string>());
      }
    } else if (!jstr(c, "email").empty()) {
      emails.push_back(jstr(c, "email"));
    } else {
      throw HttpError{400, "give \"emails\": [...] or \"email\""};
    }
    if (emails.size() > kMaxBulkAddresses) throw HttpError{413, "too many addresses at once"};
    std::string role = jstr(c, "role");
    if (role.empty()) role = "member";
    if (role != "member" && role != "owner" && role != "moderator") throw HttpError{400, "unknown role"};
    auto r = Store(c.db).add_members(*c.list, emails, role, true);
    if (!r.bad.empty()) {
      json bad = json::array();
      for (auto& [a, why] : r.bad) bad.push_back({{"address", a}, {"reason", why}});
      return json_response(422, {{"error", "invalid addresses; nothing was added"}, {"invalid", bad}});
    }
    return json_response(200, {{"added", r.added}, {"existing", r.existing}});
  }

  Response api_remove_member(Ctx& c) {
    std::string role = "member";
    if (auto f = parse_form(c.req.query); f && !form_get(*f, "role").empty()) role = form_get(*f, "role");
    auto n = Store(c.db).remove_members(*c.list, {c.params["email"]}, role);
    if (n == 0) throw HttpError{404, "not a member"};
    return json_response(200, {{"removed", n}});
  }

  Response api_settings(Ctx& c) {
    json out = json::object();
    for (auto& [k, v] : settings_to_pairs(c.list->settings)) out[k] = v;
    return json_response(200, out);
  }

  Response api_settings_patch(Ctx& c) {
    std::vector<std::pair<std::string, std::string>> changes;
    for (auto& [k, v] : c.body_json.items()) {
      if (k == "csrf") continue;
      if (v.is_string())
        changes.emplace_back(k, v.get<std::string>());
      else if (v.is_boolean())
        changes.emplace_back(k, v.get<bool>() ? "true" : "false");
      else if (v.is_number_integer())
        changes.emplace_back(k, std::to_string(v.get<std::int64_t>()));
      else
        throw HttpError{400, "setting '" + k + "' must be a string, boolean or integer"};
    }
    apply_settings(c, changes);
    return api_settings(c);
  }

  json held_json(const HeldRow& h) {
    return {{"id", h.id},         {"sender", h.sender}, {"subject", h.subject},  {"message_id", h.message_id},
            {"reason", h.reason}, {"size", h.size},     {"received", h.received}};
  }

  Response api_held(Ctx& c) {
    json out = json::array();
    for (auto& h : Moderation(cfg, c.db, templates).held(*c.list)) out.push_back(held_json(h));
    return json_response(200, out);
  }

  Response api_held_one(Ctx& c) {
    Moderation mod(cfg, c.db, templates);
    auto h = mod.get(*c.list, to_int(c.params["id"], -1));
    if (!h) throw HttpError{404, "no such held message"};
    json j = held_json(*h);
    j["message"] = mod.message(*h);
    return json_response(200, j);
  }

  Response api_held_action(Ctx& c) {
    auto r = moderate(c, to_int(c.params["id"], -1), jstr(c, "action"), jstr(c, "reason"));
    if (!r.ok) throw HttpError{404, r.detail};
    return json_response(200, {{"result", r.detail}});
  }

  Response api_pending(Ctx& c) {
    json out = json::array();
    for (auto& p : Subscriptions(cfg, c.db, templates).pending(*c.list))
      out.push_back({{"id", p.id}, {"action", p.action}, {"address", p.address}, {"created", p.created}});
    return json_response(200, out);
  }

  Response api_pending_action(Ctx& c) {
    Subscriptions subs(cfg, c.db, templates);
    std::string action = jstr(c, "action");
    SubResult r;
    if (action == "approve")
      r = subs.approve(*c.list, to_int(c.params["id"], -1));
    else if (action == "reject")
      r = subs.reject(*c.list, to_int(c.params["id"], -1), jstr(c, "reason"));
    else
      throw HttpError{422, "action must be approve or reject"};
    return json_response(200, {{"status", to_string(r.status)}, {"detail", r.detail}});
  }

  Response api_jobs(Ctx& c) { return json_response(200, jobs_json(c, nullptr)); }

  // --- metrics ------------------------------------------------------------------------------

  Response metrics(Ctx& c) {
    if (!c.req.loopback) throw HttpError{403, "/metrics is served to loopback clients only"};
    std::ostringstream out;
    auto one = [&](const char* name, const char* help, const char* type, const std::string& sql) {
      out << "# HELP " << name << " " << help << "\n# TYPE " << name << " " << type << "\n";
      SQLite::Statement q(c.db, sql);
      while (q.executeStep()) {
        if (q.getColumnCount() == 2)
          out << name << "{outcome=\"" << q.getColumn(0).getString() << "\"} " << q.getColumn(1).getInt64() << "\n";
        else
          out << name << " " << q.getColumn(0).getInt64() << "\n";
      }
    };
    one("listd_messages_processed_total", "Spool entries processed, by outcome.", "counter",
        "SELECT outcome, count(*) FROM processed GROUP BY outcome");
    // Finished jobs count from their stored totals (their delivered rows are purged after
    // relay.keep_delivered); open jobs from their rows, through the (job_id, state) index.
    one("listd_recipients_delivered_total", "Recipients delivered.", "counter",
        "SELECT (SELECT coalesce(sum(delivered), 0) FROM delivery_jobs WHERE done = 1) + (SELECT count(*) FROM "
        "delivery_recipients WHERE state = 'delivered' AND job_id IN (SELECT id FROM delivery_jobs WHERE done = 0))");
    one("listd_recipients_deferred", "Recipients waiting for a retry.", "gauge",
        "SELECT count(*) FROM delivery_recipients WHERE state = 'deferred'");
    one("listd_recipients_failed_total", "Recipients that failed permanently (bounced).", "counter",
        "SELECT (SELECT coalesce(sum(failed), 0) FROM delivery_jobs WHERE done = 1) + (SELECT count(*) FROM "
        "delivery_recipients WHERE state = 'failed' AND job_id IN (SELECT id FROM delivery_jobs WHERE done = 0))");
    one("listd_queue_depth", "Recipients not yet delivered (pending or deferred).", "gauge",
        "SELECT count(*) FROM delivery_recipients WHERE state IN ('pending', 'deferred') AND job_id IN (SELECT id "
        "FROM delivery_jobs WHERE done = 0)");
    one("listd_held_messages", "Posts waiting for a moderator.", "gauge", "SELECT count(*) FROM held_messages");
    one("listd_lists", "Mailing lists.", "gauge", "SELECT count(*) FROM lists");
    one("listd_memberships", "Memberships (all roles).", "gauge", "SELECT count(*) FROM memberships");
    one("listd_archived_messages", "Messages in the archives.", "gauge", "SELECT count(*) FROM archive");
    out << "# HELP listd_connections Open connections, by protocol.\n# TYPE listd_connections gauge\n";
    out << "listd_connections{protocol=\"http\"} " << (connections ? connections() : 0) << "\n";
    auto pc = page_cache.stats();
    out << "# HELP listd_web_page_cache_lookups_total Anonymous page requests looked up in the page cache.\n"
        << "# TYPE listd_web_page_cache_lookups_total counter\n"
        << "listd_web_page_cache_lookups_total{outcome=\"hit\"} " << pc.hits << "\n"
        << "listd_web_page_cache_lookups_total{outcome=\"miss\"} " << pc.misses << "\n"
        << "# HELP listd_web_page_cache_bytes Bytes of pages in the page cache.\n"
        << "# TYPE listd_web_page_cache_bytes gauge\n"
        << "listd_web_page_cache_bytes " << pc.bytes << "\n";
    Response r;
    r.content_type = "text/plain; version=0.0.4; charset=utf-8";
    r.body = out.str();
    return r;
  }
};

App::App(const Config& cfg, const Templates& templates, std::function<void()> wake, std::function<void()> wake_delivery)
    : impl_(std::make_unique<Impl>(cfg, templates, std::move(wake), std::move(wake_delivery))) {
  mime_init();
}
App::~App() = default;

namespace {

// finish - security headers on every response (HTML pages, JSON and files alike).
void finish(const Config& cfg, const Request& req, Response& r) {
  r.set("Content-Security-Policy",
        "default-src 'none'; style-src 'self'; script-src 'self'; img-src 'self'; connect-src 'self'; "
        "form-action 'self'; "
        "frame-ancestors 'none'; base-uri 'none'");
  r.set("X-Content-Type-Options", "nosniff");
  r.set("X-Frame-Options", "DENY");
  r.set("Referrer-Policy", "same-origin");
  bool has_cache = false;
  for (auto& [k, v] : r.headers) has_cache = has_cache || k == "Cache-Control";
  if (!has_cache) r.set("Cache-Control", "no-store");
  if (req.tls && cfg.http_hsts_max_age > 0)
    r.set("Strict-Transport-Security", "max-age=" + std::to_string(cfg.http_hsts_max_age));
}

}  // namespace

Response App::handle(const Request& req) {
  Response r = impl_->handle(req);
  finish(impl_->cfg, req, r);
  return r;
}

std::optional<Response> App::cached(const Request& req) {
  std::optional<Response> r;
  try {
    r = impl_->cached(req);
  } catch (const std::exception& e) {
    log_event(LogLevel::warn, "http-page-cache-failed", {{"path", req.path}, {"error", e.what()}});
    return std::nullopt;
  }
  if (r) finish(impl_->cfg, req, *r);
  return r;
}

App::PageCacheStats App::page_cache_stats() const {
  auto s = impl_->page_cache.stats();
  return {s.hits, s.misses, s.entries, s.bytes};
}

void App::set_connection_counter(std::function<long()> fn) {
  impl_->connections = std::move(fn);
}

}  // namespace listd::web
