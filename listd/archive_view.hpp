// archive_view.hpp - the read side of the archive for one logged-in person: which lists they
// may read, the merged INBOX, per-person \Seen and POP3 deletions, FTS5 search.
//
// One ArchiveView per IMAP or POP3 connection (its SQLite connection borrowed per call); the network
// layer calls it from the worker pool only, one call at a time. Who may read what:
// members, moderators and owners read their lists; `anonymous` (any password) reads lists
// whose setting archive_public is on. Login takes the email or, when it names exactly one
// person, the local part. UIDs: a list mailbox uses archive.uid and lists.uidvalidity; INBOX
// uses archive_imap.uid (AUTOINCREMENT, never reused) and a per-person UIDVALIDITY that is
// raised whenever the set of merged lists changes (RFC 3501 §2.3.1.1).
// Message lists come from a MailboxCache shared by every view of the process: one immutable
// list per mailbox (a list, or an INBOX's set of lists), checked against the database on each
// open/current and extended when posts were added (sharing the old version's full chunks) or
// rebuilt when posts went away (a deleted list at once, other removals within kRecount);
// sessions keep only a pointer to it. SQLite connections are borrowed per call from a
// ConnectionPool. Password checks go through an optional AuthCache and are split in two
// (begin_login/finish_login) so the network layer can queue the slow argon2id half.
// Errors: SQLite::Exception propagates (the session then fails the command, see archive_net).
#pragma once

#include <SQLiteCpp/Database.h>

#include <chrono>

#include <filesystem>
#include <map>
#include <memory>
#include <mutex>
#include <set>
#include <string>
#include <vector>

#include "imap/session.hpp"
#include "pop3/session.hpp"

namespace listd {

class AuthCache;

// ConnectionPool - SQLite connections lent to ArchiveViews for one call at a time, so a session
// holds none between commands (each connection has its own page cache, up to ~2 MiB): the
// number open follows the pool threads, not the session count. Thread-safe; at most `keep`
// idle connections are kept, extra ones are closed when given back.
class ConnectionPool {
 public:
  explicit ConnectionPool(std::filesystem::path db_path, std::size_t keep = 4);
  ~ConnectionPool();
  class Lease {
   public:
    Lease(ConnectionPool* pool, std::unique_ptr<SQLite::Database> db) : pool_(pool), db_(std::move(db)) {}
    Lease(Lease&& o) noexcept = default;
    Lease& operator=(Lease&&) = delete;
    ~Lease();
    SQLite::Database& operator*() { return *db_; }

   private:
    ConnectionPool* pool_;
    std::unique_ptr<SQLite::Database> db_;
  };
  Lease get();
  std::size_t opened() const;  // connections opened so far (tests)

 private:
  void put(std::unique_ptr<SQLite::Database> db);
  std::filesystem::path db_path_;
  std::size_t keep_;
  mutable std::mutex mu_;
  std::vector<std::unique_ptr<SQLite::Database>> idle_;
  std::size_t opened_ = 0;
};

// MailboxCache - shared, immutable message lists per mailbox (thread-safe).
class MailboxCache {
 public:
  // get - the list of the mailbox made of `list_ids` (inbox: merged, ordered by archive_imap.uid;
  // else one list, by archive.uid), brought up to date with `db` first.
  imap::MessageListPtr get(SQLite::Database& db, const std::vector<std::int64_t>& list_ids, bool inbox);
  // drop - the POP3 listing of the INBOX made of `list_ids` (before per-person deletions).
  pop3::DropListPtr drop(SQLite::Database& db, const std::vector<std::int64_t>& list_ids);
  struct Stats {
    std::size_t builds = 0, appends = 0, hits = 0, entries = 0;
  };
  Stats stats() const;

 private:
  struct Entry {
    imap::MessageListPtr list;
    pop3::DropListPtr drop;   // built from list on demand
    std::int64_t count = -1;  // archive rows of these lists (as of `counted`, plus posts added since)
    std::int64_t top = 0;     // max(archive_imap.uid) when the list was last brought up to date
    std::int64_t lists = 0;   // how many of the lists existed then
    std::chrono::steady_clock::time_point counted;
  };
  Entry& refresh(SQLite::Database& db, const std::vector<std::int64_t>& list_ids, bool inbox);
  static constexpr std::size_t kMaxIdleEntries = 64;   // past this, unused lists are dropped
  static constexpr std::chrono::seconds kRecount{10};  // posts removed are noticed within this
  mutable std::mutex mu_;
  std::map<std::string, Entry> entries_;
  Stats stats_;
};

class ArchiveView : public imap::Backend, public pop3::Maildrop {
 public:
  // cache: shared with other views (null: a private one); auth: the login cache (null: none).
  // conns: the connections to borrow (null: a private pool of one).
  ArchiveView(const std::filesystem::path& db_path, const std::filesystem::path& archive_dir,
              std::shared_ptr<MailboxCache> cache = nullptr, AuthCache* auth = nullptr,
              std::shared_ptr<ConnectionPool> conns = nullptr);
  ~ArchiveView() override;

  bool login(const std::string& user, const std::string& password) override;  // both halves at once
  imap::Backend::LoginStep begin_login(const std::string& user, const std::string& password) override;
  pop3::Maildrop::LoginStep start_login(const std::string& user, const std::string& password) override;
  bool finish_login() override;
  std::vector<std::string> mailboxes() override;
  bool open(const std::string& mailbox, std::uint32_t& uidvalidity, imap::MessageListPtr& out) override;
  imap::MessageListPtr current(const std::string& mailbox) override;
  std::vector<std::int64_t> seen_keys(const std::string& mailbox, std::uint32_t after_uid) override;
  std::optional<std::string> message(std::int64_t key) override;
  std::vector<imap::MessageFacts> facts(const std::vector<std::int64_t>& keys) override;
  std::vector<std::int64_t> search(const std::string& mailbox, imap::SearchField field, const std::string& header,
                                   const std::string& value) override;
  void set_seen(const std::vector<std::int64_t>& keys, bool seen) override;
  // POP3
  pop3::DropListPtr list() override;
  std::string uidl(std::int64_t key) override;
  void remove(const std::vector<std::int64_t>& keys) override;

  const std::string& person() const { return email_; }

 private:
  std::string list_clause(const std::string& mailbox, std::vector<std::int64_t>& ids);
  std::uint32_t inbox_uidvalidity(SQLite::Database& db);
  void logged_in(SQLite::Database& db, std::int64_t id, const std::string& email);

  struct PendingLogin {
    std::int64_t id = -1;  // -1: unknown user (a dummy check is still spent)
    std::string email, hash, password;
  };
  std::shared_ptr<ConnectionPool> conns_;
  std::filesystem::path archive_dir_;
  std::shared_ptr<MailboxCache> cache_;
  AuthCache* auth_ = nullptr;
  std::optional<PendingLogin> pending_;
  std::int64_t person_id_ = -1;  // 0 = anonymous
  std::string email_;
  std::map<std::string, std::int64_t> lists_;  // address -> list id, readable lists
  std::set<std::int64_t> anon_seen_;           // anonymous: \Seen for this session only
};

}  // namespace listd
