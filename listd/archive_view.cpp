// archive_view.cpp - see archive_view.hpp.
#include "listd/archive_view.hpp"

#include <SQLiteCpp/Statement.h>
#include <SQLiteCpp/Transaction.h>

#include <sqlite3.h>

#include <algorithm>
#include <cctype>

#include "imap/mime.hpp"
#include "listd/archive_search.hpp"
#include "listd/auth_cache.hpp"
#include "listd/db.hpp"
#include "listd/fsutil.hpp"
#include "listd/password.hpp"
#include "listd/store.hpp"

namespace listd {
namespace {

std::string lower(std::string s) {
  for (auto& c : s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return s;
}

// fts_phrase - an FTS5 string literal: "..." with quotes doubled.
std::string fts_phrase(const std::string& v) {
  std::string r = "\"";
  for (char c : v) {
    if (c == '"') r.push_back('"');
    r.push_back(c);
  }
  return r + "\"";
}

// SQL fold(x): fold_case() for the searches the trigram index cannot answer (under 3 characters).
void sql_fold(sqlite3_context* ctx, int /*argc*/, sqlite3_value** argv) {
  const unsigned char* text = sqlite3_value_text(argv[0]);
  if (!text) {
    sqlite3_result_null(ctx);
    return;
  }
  std::string f = fold_case(
      std::string_view(reinterpret_cast<const char*>(text), static_cast<std::size_t>(sqlite3_value_bytes(argv[0]))));
  sqlite3_result_text(ctx, f.data(), static_cast<int>(f.size()), SQLITE_TRANSIENT);
}

}  // namespace

ConnectionPool::ConnectionPool(std::filesystem::path db_path, std::size_t keep)
    : db_path_(std::move(db_path)), keep_(keep) {}

ConnectionPool::~ConnectionPool() = default;

ConnectionPool::Lease ConnectionPool::get() {
  {
    std::lock_guard lock(mu_);
    if (!idle_.empty()) {
      auto db = std::move(idle_.back());
      idle_.pop_back();
      return Lease(this, std::move(db));
    }
  }
  auto db = db_open(db_path_, false);
  int rc = sqlite3_create_function_v2(db->getHandle(), "fold", 1, SQLITE_UTF8 | SQLITE_DETERMINISTIC, nullptr, sql_fold,
                                      nullptr, nullptr, nullptr);
  if (rc != SQLITE_OK) throw SQLite::Exception(db->getHandle(), rc);
  std::lock_guard lock(mu_);
  ++opened_;
  return Lease(this, std::move(db));
}

void ConnectionPool::put(std::unique_ptr<SQLite::Database> db) {
  if (!db) return;
  std::lock_guard lock(mu_);
  if (idle_.size() < keep_ && db->getHandle() && sqlite3_get_autocommit(db->getHandle()))
    idle_.push_back(std::move(db));  // else closed here (outside a transaction only is kept)
}

std::size_t ConnectionPool::opened() const {
  std::lock_guard lock(mu_);
  return opened_;
}

ConnectionPool::Lease::~Lease() {
  if (pool_) pool_->put(std::move(db_));
}

ArchiveView::ArchiveView(const std::filesystem::path& db_path, const std::filesystem::path& archive_dir,
                         std::shared_ptr<MailboxCache> cache, AuthCache* auth, std::shared_ptr<ConnectionPool> conns)
    : conns_(conns ? std::move(conns) : std::make_shared<ConnectionPool>(db_path, 1)),
      archive_dir_(archive_dir),
      cache_(cache ? std::move(cache) : std::make_shared<MailboxCache>()),
      auth_(auth) {
  conns_->get();  // open (and migrate) now: a bad database shows at connect, not at the first command
}

ArchiveView::~ArchiveView() = default;

bool ArchiveView::login(const std::string& user, const std::string& password) {
  auto step = begin_login(user, password);
  return step == imap::Backend::LoginStep::slow ? finish_login() : step == imap::Backend::LoginStep::ok;
}

pop3::Maildrop::LoginStep ArchiveView::start_login(const std::string& user, const std::string& password) {
  using P = pop3::Maildrop::LoginStep;
  auto step = begin_login(user, password);
  return step == imap::Backend::LoginStep::slow ? P::slow : step == imap::Backend::LoginStep::ok ? P::ok : P::fail;
}

imap::Backend::LoginStep ArchiveView::begin_login(const std::string& user_in, const std::string& password) {
  auto lease = conns_->get();
  SQLite::Database& db = *lease;
  std::string user = lower(user_in);
  Store store(db);
  lists_.clear();
  pending_.reset();
  if (user == "anonymous") {
    for (auto& l : store.all_lists())
      if (l.settings.archive_public) lists_[l.address()] = l.id;
    person_id_ = 0;
    email_ = "anonymous";
    return imap::Backend::LoginStep::ok;
  }
  PendingLogin p;
  {
    SQLite::Statement q(
        db, user.find('@') != std::string::npos
                ? "SELECT id, email, password_hash FROM people WHERE email = ?"
                : "SELECT id, email, password_hash FROM people WHERE substr(email, 1, instr(email, '@') - 1) = ?");
    q.bind(1, user);
    int n = 0;
    while (q.executeStep()) {
      if (++n > 1) return imap::Backend::LoginStep::fail;  // ambiguous local part: the full address is needed
      p.id = q.getColumn(0).getInt64();
      p.email = q.getColumn(1).getString();
      p.hash = q.getColumn(2).isNull() ? "" : q.getColumn(2).getString();
    }
  }
  if (p.id < 0 || p.hash.empty()) {
    p.id = -1;  // spend the same work as a real check so timing does not reveal who exists
  } else if (auth_ && auth_->check(p.email, password, p.hash)) {
    logged_in(db, p.id, p.email);
    return imap::Backend::LoginStep::ok;
  }
  p.password = password;
  pending_ = std::move(p);
  return imap::Backend::LoginStep::slow;
}

bool ArchiveView::finish_login() {
  if (!pending_) return false;
  PendingLogin p = std::move(*pending_);
  pending_.reset();
  bool ok = false;
  if (p.id < 0) {
    static const std::string dummy = hash_password("not a real password");
    verify_password(p.password, dummy);
  } else if (auth_ && auth_->check(p.email, p.password, p.hash)) {
    ok = true;  // another session verified the same password while this one waited
  } else if (verify_password(p.password, p.hash)) {
    if (auth_) auth_->remember(p.email, p.password, p.hash);
    ok = true;
  }
  std::fill(p.password.begin(), p.password.end(), '\0');
  if (ok) {
    auto lease = conns_->get();
    logged_in(*lease, p.id, p.email);
  }
  return ok;
}

void ArchiveView::logged_in(SQLite::Database& db, std::int64_t id, const std::string& email) {
  person_id_ = id;
  email_ = email;
  SQLite::Statement q(
      db,
      "SELECT DISTINCT l.id, l.name || '@' || d.name FROM memberships m JOIN lists l ON l.id = m.list_id "
      "JOIN domains d ON d.id = l.domain_id WHERE m.person_id = ?");
  q.bind(1, id);
  while (q.executeStep()) lists_[q.getColumn(1).getString()] = q.getColumn(0).getInt64();
}

std::vector<std::string> ArchiveView::mailboxes() {
  std::vector<std::string> out{"INBOX"};
  for (auto& [name, id] : lists_) out.push_back(name);
  return out;
}

std::string ArchiveView::list_clause(const std::string& mailbox, std::vector<std::int64_t>& ids) {
  ids.clear();
  if (mailbox == "INBOX") {
    for (auto& [n, id] : lists_) ids.push_back(id);
  } else {
    auto it = lists_.find(lower(mailbox));
    if (it == lists_.end()) return {};
    ids.push_back(it->second);
  }
  std::string in = "a.list_id IN (";
  for (std::size_t i = 0; i < ids.size(); ++i) in += (i ? ",?" : "?");
  return in + ")";
}

std::uint32_t ArchiveView::inbox_uidvalidity(SQLite::Database& db) {
  std::string key;
  std::vector<std::int64_t> sorted;
  for (auto& [n, id] : lists_) sorted.push_back(id);
  std::sort(sorted.begin(), sorted.end());
  for (auto id : sorted) key += std::to_string(id) + ",";
  SQLite::Transaction tx(db, SQLite::TransactionBehavior::IMMEDIATE);
  std::int64_t validity = 0;
  std::string stored;
  {
    SQLite::Statement q(db, "SELECT lists, uidvalidity FROM imap_inbox WHERE person_id = ?");
    q.bind(1, person_id_);
    if (q.executeStep()) {
      stored = q.getColumn(0).getString();
      validity = q.getColumn(1).getInt64();
    }
  }
  if (validity == 0 || stored != key) {
    std::int64_t now = now_unix() & 0x7fffffff;
    validity = std::max(now, validity + 1);
    SQLite::Statement u(db, "INSERT OR REPLACE INTO imap_inbox(person_id, lists, uidvalidity) VALUES (?,?,?)");
    u.bind(1, person_id_);
    u.bind(2, key);
    u.bind(3, validity);
    u.exec();
  }
  tx.commit();
  return static_cast<std::uint32_t>(validity);
}

bool ArchiveView::open(const std::string& mailbox, std::uint32_t& uidvalidity, imap::MessageListPtr& out) {
  auto lease = conns_->get();
  SQLite::Database& db = *lease;
  if (mailbox != "INBOX") {
    auto it = lists_.find(lower(mailbox));
    if (it == lists_.end()) return false;
    SQLite::Statement q(db, "SELECT uidvalidity FROM lists WHERE id = ?");
    q.bind(1, it->second);
    if (!q.executeStep()) return false;
    uidvalidity = static_cast<std::uint32_t>(q.getColumn(0).getInt64());
  } else {
    uidvalidity = inbox_uidvalidity(db);
  }
  std::vector<std::int64_t> ids;
  list_clause(mailbox, ids);
  out = cache_->get(db, ids, mailbox == "INBOX");
  return out != nullptr;
}

imap::MessageListPtr ArchiveView::current(const std::string& mailbox) {
  std::vector<std::int64_t> ids;
  if (list_clause(mailbox, ids).empty()) return nullptr;  // not a mailbox of this user
  auto lease = conns_->get();
  SQLite::Database& db = *lease;
  return cache_->get(db, ids, mailbox == "INBOX");
}

std::vector<std::int64_t> ArchiveView::seen_keys(const std::string& mailbox, std::uint32_t after_uid) {
  std::vector<std::int64_t> ids, out;
  std::string in = list_clause(mailbox, ids);
  if (in.empty() || ids.empty()) return out;
  if (person_id_ == 0) {
    if (anon_seen_.empty()) return out;
    if (auto l = current(mailbox))
      for (auto& m : *l)
        if (m.uid > after_uid && anon_seen_.count(m.key)) out.push_back(m.key);
    return out;
  }
  auto lease = conns_->get();
  SQLite::Database& db = *lease;
  std::string uidcol = mailbox == "INBOX" ? "i.uid" : "a.uid";
  SQLite::Statement q(db,
                      "SELECT a.id FROM archive_seen s JOIN archive a ON a.id = s.archive_id "
                      "JOIN archive_imap i ON i.archive_id = a.id WHERE s.person_id = ? AND " +
                          in + " AND " + uidcol + " > ?");
  int k = 1;
  q.bind(k++, person_id_);
  for (auto id : ids) q.bind(k++, id);
  q.bind(k, static_cast<std::int64_t>(after_uid));
  while (q.executeStep()) out.push_back(q.getColumn(0).getInt64());
  return out;
}

std::optional<std::string> ArchiveView::message(std::int64_t key) {
  auto lease = conns_->get();
  SQLite::Database& db = *lease;
  SQLite::Statement q(db, "SELECT path FROM archive WHERE id = ?");
  q.bind(1, key);
  if (!q.executeStep()) return std::nullopt;
  try {
    return imap::to_crlf(read_file(archive_dir_ / q.getColumn(0).getString()));
  } catch (const std::exception&) {
    return std::nullopt;
  }
}

std::vector<imap::MessageFacts> ArchiveView::facts(const std::vector<std::int64_t>& keys) {
  std::vector<imap::MessageFacts> out(keys.size());
  if (keys.empty()) return out;
  auto lease = conns_->get();
  SQLite::Database& db = *lease;
  std::string in;
  for (std::size_t i = 0; i < keys.size(); ++i) in += (i ? ",?" : "?");
  SQLite::Statement q(
      db, "SELECT archive_id, envelope, body, bodystructure FROM archive_imap WHERE archive_id IN (" + in + ")");
  for (std::size_t i = 0; i < keys.size(); ++i) q.bind(static_cast<int>(i + 1), keys[i]);
  std::map<std::int64_t, imap::MessageFacts> byid;
  while (q.executeStep())
    byid[q.getColumn(0).getInt64()] = {q.getColumn(1).getString(), q.getColumn(2).getString(),
                                       q.getColumn(3).getString()};
  for (std::size_t i = 0; i < keys.size(); ++i)
    if (auto it = byid.find(keys[i]); it != byid.end()) out[i] = it->second;
  return out;
}

std::vector<std::int64_t> ArchiveView::search(const std::string& mailbox, imap::SearchField field,
                                              const std::string& header, const std::string& value) {
  std::vector<std::int64_t> ids;
  std::string in = list_clause(mailbox, ids);
  std::vector<std::int64_t> out;
  if (in.empty() || ids.empty()) return out;
  auto lease = conns_->get();
  SQLite::Database& db = *lease;
  const char* column = nullptr;
  switch (field) {
    case imap::SearchField::from: column = "sender"; break;
    case imap::SearchField::to:
    case imap::SearchField::cc: column = "recipients"; break;
    case imap::SearchField::subject: column = "subject"; break;
    case imap::SearchField::body: column = "body"; break;
    case imap::SearchField::text: column = nullptr; break;
    case imap::SearchField::bcc: return out;  // the archive keeps no Bcc
    case imap::SearchField::header: {
      // Rare: read the headers of the mailbox's messages (bounded by the mailbox size). The
      // value is compared decoded (RFC 2047) and case-folded, like the indexed fields.
      std::string h = lower(header), v = fold_case(value);
      SQLite::Statement q(db, "SELECT a.id, a.path FROM archive a WHERE " + in);
      for (std::size_t i = 0; i < ids.size(); ++i) q.bind(static_cast<int>(i + 1), ids[i]);
      while (q.executeStep()) {
        std::string raw;
        try {
          raw = read_file(archive_dir_ / q.getColumn(1).getString());
        } catch (const std::exception&) {
          continue;
        }
        auto end = raw.find("\n\n");
        bool found = false;
        std::string got =
            fold_case(decode_header_text(imap::header_value(std::string_view(raw).substr(0, end), h, &found)));
        if (found && got.find(v) != std::string::npos) out.push_back(q.getColumn(0).getInt64());
      }
      return out;
    }
  }
  if (value.empty()) {  // every message matches an empty substring
    SQLite::Statement q(db, "SELECT a.id FROM archive a WHERE " + in);
    for (std::size_t i = 0; i < ids.size(); ++i) q.bind(static_cast<int>(i + 1), ids[i]);
    while (q.executeStep()) out.push_back(q.getColumn(0).getInt64());
    return out;
  }
  std::string sql;
  std::string arg;
  // The trigram index answers substrings of 3+ characters; shorter ones scan the text.
  std::size_t chars = 0;
  for (char c : value) chars += (static_cast<unsigned char>(c) & 0xc0) != 0x80;
  bool indexed = chars >= 3;
  if (indexed) {
    // The FTS subquery runs once; a join would let the planner run MATCH once per archive row.
    sql =
        "SELECT a.id FROM archive a WHERE a.id IN (SELECT rowid FROM archive_fts WHERE archive_fts MATCH ?) AND " + in;
    arg = column ? std::string(column) + " : " + fts_phrase(value) : fts_phrase(value);
  } else {
    std::string expr = column ? std::string("f.") + column
                              : std::string("f.subject || ' ' || f.sender || ' ' || f.recipients || ' ' || f.body");
    sql = "SELECT f.rowid FROM archive_fts f JOIN archive a ON a.id = f.rowid WHERE instr(fold(" + expr +
          "), ?) > 0 AND " + in;
    arg = fold_case(value);
  }
  SQLite::Statement q(db, sql);
  q.bind(1, arg);
  for (std::size_t i = 0; i < ids.size(); ++i) q.bind(static_cast<int>(i + 2), ids[i]);
  while (q.executeStep()) out.push_back(q.getColumn(0).getInt64());
  return out;
}

void ArchiveView::set_seen(const std::vector<std::int64_t>& keys, bool seen) {
  auto lease = conns_->get();
  SQLite::Database& db = *lease;
  if (person_id_ == 0) {
    for (auto k : keys) seen ? (void)anon_seen_.insert(k) : (void)anon_seen_.erase(k);
    return;
  }
  SQLite::Transaction tx(db, SQLite::TransactionBehavior::IMMEDIATE);
  SQLite::Statement q(db, seen ? "INSERT OR IGNORE INTO archive_seen(person_id, archive_id) VALUES (?, ?)"
                               : "DELETE FROM archive_seen WHERE person_id = ? AND archive_id = ?");
  for (auto k : keys) {
    q.bind(1, person_id_);
    q.bind(2, k);
    q.exec();
    q.reset();
  }
  tx.commit();
}

pop3::DropListPtr ArchiveView::list() {
  std::vector<std::int64_t> ids;
  list_clause("INBOX", ids);
  if (ids.empty()) return std::make_shared<const pop3::DropList>();
  auto lease = conns_->get();
  SQLite::Database& db = *lease;
  pop3::DropListPtr all = cache_->drop(db, ids);
  std::set<std::int64_t> hidden;
  if (person_id_ > 0) {
    SQLite::Statement q(db, "SELECT archive_id FROM pop3_hidden WHERE person_id = ?");
    q.bind(1, person_id_);
    while (q.executeStep()) hidden.insert(q.getColumn(0).getInt64());
  }
  if (hidden.empty()) return all;  // the common case: the shared listing as is
  auto own = std::make_shared<pop3::DropList>();
  for (auto& m : *all)
    if (!hidden.count(m.key)) own->push_back(m);
  return own;
}

std::string ArchiveView::uidl(std::int64_t key) {
  return "listd-" + std::to_string(key);
}

void ArchiveView::remove(const std::vector<std::int64_t>& keys) {
  auto lease = conns_->get();
  SQLite::Database& db = *lease;
  if (person_id_ <= 0) return;  // anonymous: deletions last for the session only
  SQLite::Transaction tx(db, SQLite::TransactionBehavior::IMMEDIATE);
  SQLite::Statement q(db, "INSERT OR IGNORE INTO pop3_hidden(person_id, archive_id) VALUES (?, ?)");
  for (auto k : keys) {
    q.bind(1, person_id_);
    q.bind(2, k);
    q.exec();
    q.reset();
  }
  tx.commit();
}

// --- MailboxCache ---------------------------------------------------------------------------

MailboxCache::Entry& MailboxCache::refresh(SQLite::Database& db, const std::vector<std::int64_t>& list_ids,
                                           bool inbox) {
  std::vector<std::int64_t> ids = list_ids;
  std::sort(ids.begin(), ids.end());
  std::string key = inbox ? "I" : "L";
  std::string in;
  for (std::size_t i = 0; i < ids.size(); ++i) {
    key += std::to_string(ids[i]) + ",";
    in += i ? ",?" : "?";
  }
  if (entries_.size() >= kMaxIdleEntries && !entries_.count(key)) {
    // Forget lists no session holds any more (a list set nobody has open).
    for (auto it = entries_.begin(); it != entries_.end();) {
      bool idle = it->second.list.use_count() <= 1 && it->second.drop.use_count() <= 1;
      it = idle ? entries_.erase(it) : ++it;
    }
  }
  Entry& e = entries_[key];
  stats_.entries = entries_.size();
  if (ids.empty()) {
    if (!e.list) e.list = std::make_shared<const imap::MessageList>();
    return e;
  }
  auto bind_ids = [&](SQLite::Statement& q, int first) {
    for (std::size_t i = 0; i < ids.size(); ++i) q.bind(first + static_cast<int>(i), ids[i]);
  };
  // One read transaction: the checks and the rows come from the same database state.
  // Cheap checks each time (the newest archive_imap UID; how many of the lists still exist);
  // the archive rows are counted (O(posts)) at most every kRecount, to notice posts removed.
  SQLite::Transaction tx(db, SQLite::TransactionBehavior::DEFERRED);
  std::int64_t top = db.execAndGet("SELECT coalesce(max(uid), 0) FROM archive_imap").getInt64();
  SQLite::Statement l(db, "SELECT count(*) FROM lists WHERE id IN (" + in + ")");
  bind_ids(l, 1);
  l.executeStep();
  std::int64_t lists = l.getColumn(0).getInt64();
  auto now = std::chrono::steady_clock::now();
  bool recount = !e.list || lists != e.lists || now - e.counted >= kRecount;
  std::int64_t count = -1;
  if (recount) {
    SQLite::Statement c(db, "SELECT count(*) FROM archive WHERE list_id IN (" + in + ")");
    bind_ids(c, 1);
    c.executeStep();
    count = c.getColumn(0).getInt64();
  }
  if (e.list && top == e.top && lists == e.lists && (!recount || count == e.count)) {
    if (recount) e.counted = now;
    ++stats_.hits;
    return e;
  }
  const std::string uidcol = inbox ? "i.uid" : "a.uid";
  const std::string select = "SELECT a.id, " + uidcol +
                             ", i.vsize, a.received, a.date FROM archive_imap i JOIN archive a ON a.id = i.archive_id ";
  auto row = [&](SQLite::Statement& q) {
    imap::MessageMeta m;
    m.key = q.getColumn(0).getInt64();
    m.uid = static_cast<std::uint32_t>(q.getColumn(1).getInt64());
    m.size = static_cast<std::uint64_t>(q.getColumn(2).getInt64());
    m.internaldate = q.getColumn(3).getInt64();
    m.sent = q.getColumn(4).getInt64();
    return m;
  };
  // Posts only added since (the usual case): a new version sharing the old one's full chunks.
  if (e.list && top > e.top && lists == e.lists) {
    SQLite::Statement q(db, select + "WHERE i.uid > ? AND a.list_id IN (" + in + ") ORDER BY " + uidcol);
    q.bind(1, e.top);
    bind_ids(q, 2);
    std::vector<imap::MessageMeta> added;
    while (q.executeStep()) added.push_back(row(q));
    std::uint32_t last = e.list->empty() ? 0 : e.list->back().uid;
    std::int64_t expect = e.count + static_cast<std::int64_t>(added.size());
    if ((!recount || count == expect) && (added.empty() || added.front().uid > last)) {
      e.list = std::make_shared<const imap::MessageList>(e.list->appended(added));
      e.drop.reset();
      e.count = expect;
      e.top = top;
      if (recount) e.counted = now;
      ++stats_.appends;
      return e;
    }
  }
  // Anything else (first use, posts removed, an older post indexed late): read it all.
  SQLite::Statement q(db, select + "WHERE a.list_id IN (" + in + ") ORDER BY " + uidcol);
  bind_ids(q, 1);
  auto next = std::make_shared<imap::MessageList>();
  while (q.executeStep()) next->push_back(row(q));
  e.list = std::move(next);
  e.drop.reset();
  e.count = count;
  e.top = top;
  e.lists = lists;
  e.counted = now;
  ++stats_.builds;
  return e;
}

imap::MessageListPtr MailboxCache::get(SQLite::Database& db, const std::vector<std::int64_t>& list_ids, bool inbox) {
  std::lock_guard lock(mu_);
  return refresh(db, list_ids, inbox).list;
}

pop3::DropListPtr MailboxCache::drop(SQLite::Database& db, const std::vector<std::int64_t>& list_ids) {
  std::lock_guard lock(mu_);
  Entry& e = refresh(db, list_ids, true);
  if (!e.drop) {
    auto d = std::make_shared<pop3::DropList>();
    d->reserve(e.list->size());
    for (auto& m : *e.list) d->push_back({m.key, m.size});
    e.drop = std::move(d);
  }
  return e.drop;
}

MailboxCache::Stats MailboxCache::stats() const {
  std::lock_guard lock(mu_);
  return stats_;
}

}  // namespace listd
