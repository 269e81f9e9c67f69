// intake.cpp - SMTP/LMTP intake into the durable spool; see intake.hpp.
#include "listd/intake.hpp"

#include <SQLiteCpp/Database.h>
#include <SQLiteCpp/Statement.h>
#include <SQLiteCpp/Transaction.h>

#include <algorithm>
#include <condition_variable>
#include <ctime>
#include <mutex>
#include <set>
#include <thread>

#include "listd/db.hpp"
#include "listd/fsutil.hpp"
#include "listd/intake_journal.hpp"
#include "listd/log.hpp"
#include "listd/router.hpp"
#include "listd/spool.hpp"
#include "listd/store.hpp"

namespace listd {

// DirSync - group commit of the spool's new/ directory: a session that renamed its entry
// waits for an fsync of new/ that *started after* its rename. One fsync serves every session
// that renamed before it began, so N concurrent sessions cost about one directory fsync, not N.
class DirSync {
 public:
  explicit DirSync(std::filesystem::path dir) : dir_(std::move(dir)) {}
  void sync_after_rename() {
    std::unique_lock lock(m_);
    std::uint64_t ticket = ++requested_;
    while (done_ < ticket) {
      if (running_) {
        cv_.wait(lock);
        continue;
      }
      running_ = true;
      std::uint64_t upto = requested_;
      lock.unlock();
      std::exception_ptr err;
      try {
        fsync_dir(dir_);
      } catch (...) {
        err = std::current_exception();
      }
      lock.lock();
      running_ = false;
      if (!err) done_ = std::max(done_, upto);
      cv_.notify_all();
      if (err) std::rethrow_exception(err);
    }
  }

 private:
  std::filesystem::path dir_;
  std::mutex m_;
  std::condition_variable cv_;
  std::uint64_t requested_ = 0, done_ = 0;
  bool running_ = false;
};

IntakePriority& intake_priority() {
  static IntakePriority p;
  return p;
}

void IntakePriority::configure(Settings s) {
  std::lock_guard lock(m_);
  s_ = s;
  quiet_rep_ = std::chrono::duration_cast<clock::duration>(s.quiet).count();
  enabled_ = s.max_defer.count() > 0;
}

void IntakePriority::note_commit() {
  if (!enabled_.load(std::memory_order_relaxed)) return;
  auto now = clock::now().time_since_epoch().count();
  auto prev = last_commit_.exchange(now, std::memory_order_relaxed);
  // A lone message (none in the `quiet` before it) is no burst: its processing, and so its
  // first delivery, starts at once. The second commit within `quiet` starts deferring.
  bool burst = now - prev <= quiet_rep_.load(std::memory_order_relaxed);
  burst_.store(burst, std::memory_order_relaxed);
  if (burst && now >= forced_until_.load(std::memory_order_relaxed)) yield_.store(true, std::memory_order_relaxed);
}

IntakePriority::clock::duration IntakePriority::delay() {
  std::lock_guard lock(m_);
  auto now = clock::now();
  auto quiet_at = clock::time_point(clock::duration(last_commit_.load(std::memory_order_relaxed))) + s_.quiet;
  forced_ = false;
  if (!enabled_ || stopping_ || quiet_at <= now || !burst_.load(std::memory_order_relaxed)) {
    deferring_ = false;
    return clock::duration::zero();
  }
  if (!deferring_) {
    deferring_ = true;
    deferred_since_ = now;
  }
  auto force_at = deferred_since_ + s_.max_defer;
  if (force_at <= now) {
    deferring_ = false;
    forced_ = true;
    return clock::duration::zero();
  }
  return std::min(quiet_at, force_at) - now;
}

void IntakePriority::begin_pass() {
  std::lock_guard lock(m_);
  if (forced_) forced_until_.store((clock::now() + s_.slice).time_since_epoch().count(), std::memory_order_relaxed);
  if (!stopping_) yield_.store(false, std::memory_order_relaxed);
}

namespace {

class IntakeTransaction : public smtp::Transaction {
 public:
  IntakeTransaction(const Spool& spool, DirSync& dir_sync, std::shared_ptr<IntakeJournal> journal,
                    const smtp::Envelope& env, const std::string& via, const std::function<void()>& wake)
      : spool_(spool),
        dir_sync_(dir_sync),
        journal_(std::move(journal)),
        wake_(wake),
        recipients_(env.recipients),
        sender_(env.sender),
        via_(via) {
    if (!journal_) open_writers();
  }

  void append(std::string_view bytes) override {
    if (!error_.empty()) return;
    try {
      // The journal takes whole entries: buffer the message up to kJournalMaxMessage, then go
      // on with one streaming spool file per recipient.
      if (journal_ && raw_.size() + bytes.size() >
                          std::min<std::uint64_t>(kJournalMaxMessage, journal_->max_entry() - kEntrySlack)) {
        open_writers();
        for (auto& w : writers_) w->append(raw_);
        std::string().swap(raw_);
        journal_.reset();
      }
      if (journal_) {
        raw_.append(bytes);
        return;
      }
      for (auto& w : writers_) w->append(bytes);
    } catch (const std::exception& e) {
      error_ = e.what();
    }
  }

  std::vector<smtp::Reply> commit() override {
    std::vector<smtp::Reply> replies;
    if (!error_.empty()) {
      log_event(LogLevel::error, "intake-write-failed", {{"error", error_}});
      replies.assign(recipients_.size(), smtp::Reply(451, "4.3.0", "Local error writing the message; try again later"));
      return replies;
    }
    std::vector<std::string> ids(recipients_.size());
    std::vector<std::uint64_t> sizes(recipients_.size(), raw_.size());
    bool any = journal_ ? commit_journal(ids) : commit_files(ids, sizes);
    for (std::size_t i = 0; i < recipients_.size(); ++i) {
      if (ids[i].empty()) {
        replies.emplace_back(451, "4.3.0", "Local error storing the message; try again later");
        continue;
      }
      log_event(LogLevel::info, "received",
                {{"spool", ids[i]}, {"rcpt", recipients_[i]}, {"sender", sender_}, {"size", std::to_string(sizes[i])}});
      replies.emplace_back(250, "2.0.0", "Queued as " + ids[i]);
    }
    if (any) intake_priority().note_commit();
    if (any && wake_) wake_();
    return replies;
  }

 private:
  // Room for the spool entry's own header lines next to the message in one journal record.
  static constexpr std::size_t kEntrySlack = 4096;
  // Larger messages are streamed to files as they arrive (memory stays flat: at most this much
  // is buffered per session, 128 MiB for 500 sessions).
  static constexpr std::size_t kJournalMaxMessage = std::size_t{256} * 1024;

  SpoolEnvelope envelope(const std::string& rcpt) const {
    SpoolEnvelope e;
    e.received = std::time(nullptr);
    e.via = via_;
    e.sender = sender_;
    e.recipient = rcpt;
    return e;
  }

  void open_writers() {
    for (const auto& r : recipients_) writers_.push_back(std::make_unique<SpoolWriter>(spool_, envelope(r)));
  }

  // commit_journal - one record per recipient list, durable in one group commit with the other
  // sessions' (IntakeJournal), then materialized in spool/new (SECURITY P1).
  bool commit_journal(std::vector<std::string>& ids) {
    std::vector<std::string> entries;
    std::vector<std::string> fresh;
    for (const auto& r : recipients_) {
      auto e = envelope(r);
      entries.push_back(spool_entry_bytes(e, raw_));
      fresh.push_back(e.id);
    }
    try {
      journal_->commit(entries);
    } catch (const std::exception& e) {
      log_event(LogLevel::error, "intake-commit-failed", {{"error", e.what()}});
      return false;
    }
    ids = std::move(fresh);
    return true;
  }

  // commit_files - each entry: write, fsync, rename into new/ (commit(false)); then one shared
  // fsync of new/ (DirSync) before any 250 is returned (SECURITY P1/S-19).
  bool commit_files(std::vector<std::string>& ids, std::vector<std::uint64_t>& sizes) {
    bool any = false;
    for (std::size_t i = 0; i < writers_.size(); ++i) {
      try {
        ids[i] = writers_[i]->commit(false);
        sizes[i] = writers_[i]->size();
        any = true;
      } catch (const std::exception& e) {
        log_event(LogLevel::error, "intake-commit-failed", {{"rcpt", recipients_[i]}, {"error", e.what()}});
      }
    }
    if (any) {
      try {
        dir_sync_.sync_after_rename();
      } catch (const std::exception& e) {
        // Renamed but maybe not durable: the client retries; at worst a duplicate (P4).
        log_event(LogLevel::error, "intake-commit-failed", {{"error", e.what()}});
        ids.assign(ids.size(), std::string());
        any = false;
      }
    }
    return any;
  }

  const Spool& spool_;
  DirSync& dir_sync_;
  std::shared_ptr<IntakeJournal> journal_;  // null: streaming files (no journal, or too large)
  std::function<void()> wake_;
  std::vector<std::string> recipients_;
  std::string sender_;
  std::string via_;
  std::string raw_;                                    // the message as received (journal path)
  std::vector<std::unique_ptr<SpoolWriter>> writers_;  // destroyed uncommitted = removed
  std::string error_;
};

std::string lower(std::string s) {
  for (auto& c : s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return s;
}

}  // namespace

IntakeBackend::IntakeBackend(const Config& cfg, std::string via, std::function<void()> wake)
    : cfg_(cfg), via_(std::move(via)), wake_(std::move(wake)) {}

IntakeBackend::~IntakeBackend() = default;

// ListAddresses - the RCPT check's view of the database: every (list name, host) and every
// domain, read by a background thread so RCPT never waits on SQLite or the disk on the event
// loop. The thread reloads when `PRAGMA data_version` says another connection committed (list
// created or deleted by listctl, the web admin or the processor), checking every
// kRefreshInterval: a new list is accepted at RCPT at most that long after it was created.
// Only the first RCPT after start waits for the initial load.
class ListAddresses {
 public:
  static constexpr auto kRefreshInterval = std::chrono::milliseconds(500);
  struct Snapshot {
    std::set<std::pair<std::string, std::string>> lists;  // (name, host)
    std::set<std::string> domains;
  };
  explicit ListAddresses(std::filesystem::path db_path) : db_path_(std::move(db_path)) {}
  ~ListAddresses() {
    {
      std::lock_guard lock(m_);
      stop_ = true;
    }
    cv_.notify_all();
    if (thread_.joinable()) thread_.join();
  }

  // get - the current snapshot; the first call loads it (and starts the refresher). Throws on a
  // database error when no snapshot exists yet.
  std::shared_ptr<const Snapshot> get() {
    std::unique_lock lock(m_);
    if (!snap_) {
      lock.unlock();
      auto db = db_open(db_path_);
      std::int64_t version = data_version(*db);
      auto fresh = load(*db);
      lock.lock();
      if (!snap_) snap_ = std::move(fresh);
      if (!thread_.joinable())
        thread_ = std::thread([this, db = std::move(db), version]() mutable { refresh_loop(std::move(db), version); });
    }
    return snap_;
  }

 private:
  static std::int64_t data_version(SQLite::Database& db) {
    SQLite::Statement q(db, "PRAGMA data_version");
    q.executeStep();
    return q.getColumn(0).getInt64();
  }
  static std::shared_ptr<const Snapshot> load(SQLite::Database& db) {
    auto s = std::make_shared<Snapshot>();
    SQLite::Transaction t(db);  // one consistent read
    SQLite::Statement q(db, "SELECT l.name, d.name FROM lists l JOIN domains d ON d.id = l.domain_id");
    while (q.executeStep()) s->lists.emplace(q.getColumn(0).getString(), q.getColumn(1).getString());
    SQLite::Statement d(db, "SELECT name FROM domains");
    while (d.executeStep()) s->domains.insert(d.getColumn(0).getString());
    t.commit();
    return s;
  }
  void refresh_loop(std::unique_ptr<SQLite::Database> db, std::int64_t version) {
    std::unique_lock lock(m_);
    while (!stop_) {
      cv_.wait_for(lock, kRefreshInterval);
      if (stop_) break;
      lock.unlock();
      std::shared_ptr<const Snapshot> fresh;
      try {
        if (!db) {
          db = db_open(db_path_);
          version = -1;
        }
        auto v = data_version(*db);
        if (v != version) {
          fresh = load(*db);
          version = v;
        }
      } catch (const std::exception& e) {
        log_event(LogLevel::error, "intake-rcpt-refresh-failed", {{"error", e.what()}});
        db.reset();  // reopen next time; RCPT keeps the last snapshot meanwhile
      }
      lock.lock();
      if (fresh) snap_ = std::move(fresh);
    }
  }

  std::filesystem::path db_path_;
  std::mutex m_;
  std::condition_variable cv_;
  std::shared_ptr<const Snapshot> snap_;
  std::thread thread_;
  bool stop_ = false;
};

smtp::Reply IntakeBackend::check_rcpt(const smtp::Envelope&, const smtp::Mailbox& rcpt, std::string* key) {
  try {
    if (!addresses_) addresses_ = std::make_unique<ListAddresses>(cfg_.db_path());
    auto snap = addresses_->get();
    std::string addr = lower(rcpt.str());
    auto route = route_address(addr, [&](const std::string& n, const std::string& h) {
      return snap->lists.count({n, h}) > 0;
    });
    if (route) {
      *key = addr;
      return smtp::Reply(250, "2.1.5", "Recipient OK");
    }
    std::string domain = lower(rcpt.domain);
    bool ours =
        domain == lower(cfg_.hostname) || snap->domains.count(rcpt.domain) > 0 || snap->domains.count(domain) > 0;
    if (ours) return smtp::Reply(550, "5.1.1", "<" + rcpt.str() + ">: no such list here");
    return smtp::Reply(550, "5.7.1", "<" + rcpt.str() + ">: relaying denied");
  } catch (const std::exception& e) {
    log_event(LogLevel::error, "intake-rcpt-check-failed", {{"error", e.what()}});
    return smtp::Reply(451, "4.3.0", "Local error checking the recipient; try again later");
  }
}

std::unique_ptr<smtp::Transaction> IntakeBackend::begin(const smtp::Envelope& env) {
  if (!spool_) {
    spool_ = std::make_unique<Spool>(cfg_.spool_dir());
    dir_sync_ = std::make_unique<DirSync>(spool_->new_dir());
    try {
      journal_ = intake_journal(cfg_);
    } catch (const std::exception& e) {
      log_event(LogLevel::error, "journal-unavailable", {{"error", e.what()}, {"fallback", "one file per message"}});
    }
  }
  return std::make_unique<IntakeTransaction>(*spool_, *dir_sync_, journal_, env, via_, wake_);
}

}  // namespace listd
