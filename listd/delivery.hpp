// delivery.hpp - delivery jobs (SQLite rows) and the agents that carry them out.
//
// A job is one outgoing message (data_dir/queue/<file>, LF line ends, rendered once) plus
// one row per recipient in delivery_recipients. job_create() runs inside the caller's
// transaction and fills the recipients with INSERT ... SELECT (member jobs in chunks, see
// kFillChunk), so a 100,000-member list is never held in memory. The delivery loop (DeliveryRunner) takes due
// recipients in batches of relay.max_recipients, hands each batch to a Transport, and commits the result of every batch
// before taking the next: after a crash only the batch in flight can be repeated (SECURITY P4). The maildir transport
// writes deterministic file names, so even that repetition replaces files instead of duplicating them. The SMTP
// transport (smarthost, mx: listd/relay.hpp) implements the same Transport interface, taking waves of batch_limit()
// recipients that it spreads over its connections.
#pragma once

#include <SQLiteCpp/Database.h>

#include <atomic>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "listd/config.hpp"
#include "listd/store.hpp"

namespace listd {

class PersonalMessage;  // relay_personalize.hpp

struct JobRecipient {
  std::int64_t id = 0;
  std::string address;
  int attempts = 0;
};

struct JobInfo {
  std::int64_t id = 0;
  std::string kind;
  std::string message_path;
  std::string envelope_from;
  std::int64_t created = 0;
  std::int64_t list_id = 0;          // 0: no list
  bool verp = false;                 // the list's verp setting (kind = post only)
  std::string personalize = "none";  // delivery_jobs.personalize: none | footer | full (relay_personalize.hpp)
  std::string footer;                // delivery_jobs.footer: rendered with the per-member placeholders
  std::string list_address;          // NAME@HOST ("" without a list)
};

enum class RecipientResult { delivered, deferred, failed };

struct RecipientOutcome {
  RecipientResult result = RecipientResult::delivered;
  std::string reply;  // the SMTP reply or local error text
};

class Transport {
 public:
  virtual ~Transport() = default;
  // batch_limit - how many recipients deliver() wants at once (0: relay.max_recipients).
  virtual std::size_t batch_limit() const { return 0; }
  // pass_done - the runner has nothing due for now (the SMTP relay closes idle connections).
  virtual void pass_done() {}
  // Commit hook, set by the runner around deliver(): a transport that learns outcomes one
  // transaction at a time calls it (on the thread that runs deliver()) with the indexes of
  // recipients now final and the outcomes vector, so they are durable before it goes on
  // (SECURITY P4: after a crash only transactions whose reply was lost are sent again).
  // Recipients never passed to it are committed by the runner when deliver() returns.
  using CommitFn = std::function<void(const std::vector<std::size_t>&, const std::vector<RecipientOutcome>&)>;
  void set_commit(CommitFn f) { commit_ = std::move(f); }
  // deliver - one batch of one job; `message` is the job's message (LF). Returns one outcome
  // per recipient, in order. Must not throw for per-recipient trouble.
  virtual std::vector<RecipientOutcome> deliver(const JobInfo& job, const std::string& message,
                                                const std::vector<JobRecipient>& batch) = 0;

 protected:
  CommitFn commit_;
};

// MaildirTransport - relay.mode = maildir: data_dir/outbox/new/<created>.J<job>R<rcpt>.<host>,
// each with Return-Path and Delivered-To prepended (as Postfix local(8) does). A personalized
// job (JobInfo::personalize) gets each member's own copy and the VERP Return-Path.
class MaildirTransport : public Transport {
 public:
  // base_url: for the members' unsubscribe links of personalized posts.
  MaildirTransport(std::filesystem::path outbox, std::string hostname, std::string base_url = {});
  ~MaildirTransport() override;
  std::vector<RecipientOutcome> deliver(const JobInfo& job, const std::string& message,
                                        const std::vector<JobRecipient>& batch) override;

 private:
  std::filesystem::path dir_;
  std::string hostname_, base_url_;
  std::int64_t personal_job_ = -1;
  std::unique_ptr<PersonalMessage> personal_;
};

// job_create_* - inside the caller's transaction. Each returns the job id (the existing one
// if this spool id + kind was already queued, which makes a retry after a crash harmless).
std::int64_t job_create_for_members(SQLite::Database& db, const ListRow& list, const std::string& kind,
                                    const std::string& spool_id, const std::string& message_path,
                                    const std::string& envelope_from, const std::string& poster);
// Member jobs are filled in chunks: the first, of kFirstFillChunk recipients, inside
// job_create_for_members (small, so the accepting transaction and the first delivery come
// quickly: ~2.5 us a row), the rest, kFillChunk each, by job_fill_more (own transaction) when
// the runner runs short. A member who leaves before their chunk is copied does not get the post.
constexpr int kFirstFillChunk = 1000;
constexpr int kFillChunk = 5000;
// job_fill_more - copy the next chunk; false when the job is complete.
bool job_fill_more(SQLite::Database& db, std::int64_t job);

// job_set_personal - inside the caller's transaction, right after job_create_for_members:
// deliver this post personalized (mode "footer" or "full"); `footer` is the list footer
// rendered with personal_footer_vars() (relay_personalize.hpp) and the queued message has none.
void job_set_personal(SQLite::Database& db, std::int64_t job, const std::string& mode, const std::string& footer);

std::int64_t job_create_for_role(SQLite::Database& db, const ListRow& list, const std::string& kind,
                                 const std::string& spool_id, const std::string& message_path,
                                 const std::string& envelope_from, const std::vector<std::string>& roles);

std::int64_t job_create_for_addresses(SQLite::Database& db, const ListRow* list, const std::string& kind,
                                      const std::string& spool_id, const std::string& message_path,
                                      const std::string& envelope_from, const std::vector<std::string>& addresses);

// DeliveryRunner - runs due batches until none is left (run_due) using its own connection.
class DeliveryRunner {
 public:
  DeliveryRunner(const Config& cfg, std::unique_ptr<Transport> transport);
  // run_due - deliver every due recipient; returns how many batches were attempted.
  std::size_t run_due();
  // stop_on - run_due returns between batches once *flag is set (the daemon's SIGTERM).
  void stop_on(const std::atomic<bool>* flag) { stop_ = flag; }
  // purge_delivered - delete the delivered-recipient rows of jobs finished more than
  // relay.keep_delivered seconds ago, in short transactions, stopping after about max_rows;
  // returns the rows deleted (max_rows or more: call again). Failed rows stay.
  std::size_t purge_delivered(std::size_t max_rows);
  // next_due - unix time of the earliest deferred recipient, 0 if none.
  std::int64_t next_due();

 private:
  bool run_one_batch(const JobInfo& job, const std::string& message, std::int64_t& cursor);
  void commit_outcomes(const JobInfo& job, const std::vector<JobRecipient>& batch,
                       const std::vector<RecipientOutcome>& outcomes, const std::vector<std::size_t>& which,
                       std::int64_t started);
  void finish_job(std::int64_t job_id);
  const Config& cfg_;
  std::unique_ptr<Transport> transport_;
  std::unique_ptr<SQLite::Database> db_;
  const std::atomic<bool>* stop_ = nullptr;
};

std::unique_ptr<Transport> make_transport(const Config& cfg);

// wake_delivery - tell a running daemon (inotify on queue/) that committed delivery work is
// waiting; for other processes (listctl) after their transaction committed. Best effort.
void wake_delivery(const Config& cfg);
// backoff_delay - seconds before the next try of a recipient deferred `attempts` times before:
// retry_initial * 2^attempts, capped at retry_max.
std::int64_t backoff_delay(int attempts, unsigned retry_initial, unsigned retry_max);

// Row for `listctl queue`.
struct JobStatus {
  std::int64_t id = 0;
  std::string list, kind;
  std::int64_t created = 0, total = 0, delivered = 0, deferred = 0, failed = 0, pending = 0;
  std::int64_t next_retry = 0;
  bool done = false;
  double rate = 0;  // delivered recipients per second since the first attempt (0: unknown)
};
std::vector<JobStatus> job_status(SQLite::Database& db, bool include_done);

}  // namespace listd
