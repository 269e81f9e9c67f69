// intake.cpp - SMTP/LMTP intake into the durable spool; see intake.hpp.
#include "listd/intake.hpp"

#include <SQLiteCpp/Database.h>
#include <SQLiteCpp/Statement.h>

#include <algorithm>
#include <condition_variable>
#include <ctime>
#include <mutex>

#include "listd/db.hpp"
#include "listd/fsutil.hpp"
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

namespace {

class IntakeTransaction : public smtp::Transaction {
 public:
  IntakeTransaction(const Spool& spool, DirSync& dir_sync, const smtp::Envelope& env, const std::string& via,
                    const std::function<void()>& wake)
      : dir_sync_(dir_sync), wake_(wake), recipients_(env.recipients), sender_(env.sender) {
    for (const auto& r : env.recipients) {
      SpoolEnvelope e;
      e.received = std::time(nullptr);
      e.via = via;
      e.sender = env.sender;
      e.recipient = r;
      writers_.push_back(std::make_unique<SpoolWriter>(spool, e));
    }
  }

  void append(std::string_view bytes) override {
    if (!error_.empty()) return;
    try {
      for (auto& w : writers_) w->append(bytes);
    } catch (const std::exception& e) {
      error_ = e.what();
    }
  }

  std::vector<smtp::Reply> commit() override {
    std::vector<smtp::Reply> replies;
    if (!error_.empty()) {
      log_event(LogLevel::error, "intake-write-failed", {{"error", error_}});
      replies.assign(writers_.size(), smtp::Reply(451, "4.3.0", "Local error writing the message; try again later"));
      return replies;
    }
    // Each entry: write, fsync, rename into new/ (commit(false)); then one shared fsync of new/
    // (DirSync) before any 250 is returned (SECURITY P1/S-19).
    std::vector<std::string> ids(writers_.size());
    bool any = false;
    for (std::size_t i = 0; i < writers_.size(); ++i) {
      try {
        ids[i] = writers_[i]->commit(false);
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
      }
    }
    for (std::size_t i = 0; i < writers_.size(); ++i) {
      if (ids[i].empty()) {
        replies.emplace_back(451, "4.3.0", "Local error storing the message; try again later");
        continue;
      }
      log_event(LogLevel::info, "received",
                {{"spool", ids[i]},
                 {"rcpt", recipients_[i]},
                 {"sender", sender_},
                 {"size", std::to_string(writers_[i]->size())}});
      replies.emplace_back(250, "2.0.0", "Queued as " + ids[i]);
    }
    if (any && wake_) wake_();
    return replies;
  }

 private:
  DirSync& dir_sync_;
  std::function<void()> wake_;
  std::vector<std::string> recipients_;
  std::string sender_;
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

smtp::Reply IntakeBackend::check_rcpt(const smtp::Envelope&, const smtp::Mailbox& rcpt, std::string* key) {
  try {
    if (!db_) db_ = db_open(cfg_.db_path());
    Store store(*db_);
    std::string addr = lower(rcpt.str());
    auto route = route_address(
        addr, [&](const std::string& n, const std::string& h) { return store.find_list(n, h).has_value(); });
    if (route) {
      *key = addr;
      return smtp::Reply(250, "2.1.5", "Recipient OK");
    }
    SQLite::Statement q(*db_, "SELECT 1 FROM domains WHERE name = ?");
    q.bind(1, rcpt.domain);
    bool ours = rcpt.domain == cfg_.hostname || q.executeStep();
    if (ours) return smtp::Reply(550, "5.1.1", "<" + rcpt.str() + ">: no such list here");
    return smtp::Reply(550, "5.7.1", "<" + rcpt.str() + ">: relaying denied");
  } catch (const std::exception& e) {
    log_event(LogLevel::error, "intake-rcpt-check-failed", {{"error", e.what()}});
    db_.reset();
    return smtp::Reply(451, "4.3.0", "Local error checking the recipient; try again later");
  }
}

std::unique_ptr<smtp::Transaction> IntakeBackend::begin(const smtp::Envelope& env) {
  if (!spool_) {
    spool_ = std::make_unique<Spool>(cfg_.spool_dir());
    dir_sync_ = std::make_unique<DirSync>(spool_->new_dir());
  }
  return std::make_unique<IntakeTransaction>(*spool_, *dir_sync_, env, via_, wake_);
}

}  // namespace listd
