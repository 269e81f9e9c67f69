// delivery.cpp - see delivery.hpp.
#include "listd/delivery.hpp"

#include <SQLiteCpp/Statement.h>
#include <SQLiteCpp/Transaction.h>
#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <limits>
#include <stdexcept>
#include <system_error>

#include "listd/db.hpp"
#include "listd/fsutil.hpp"
#include "listd/log.hpp"
#include "listd/relay.hpp"
#include "listd/relay_personalize.hpp"

namespace listd {

MaildirTransport::MaildirTransport(std::filesystem::path outbox, std::string hostname, std::string base_url)
    : dir_(std::move(outbox)), hostname_(std::move(hostname)), base_url_(std::move(base_url)) {
  make_private_dir(dir_ / "tmp");
  make_private_dir(dir_ / "new");
  make_private_dir(dir_ / "cur");
}

MaildirTransport::~MaildirTransport() = default;

std::vector<RecipientOutcome> MaildirTransport::deliver(const JobInfo& job, const std::string& message,
                                                        const std::vector<JobRecipient>& batch) {
  std::vector<RecipientOutcome> out(batch.size());
  std::vector<std::pair<std::filesystem::path, std::filesystem::path>> renames;
  bool personal = personalize_from(job.personalize) != Personalize::none;
  if (personal && personal_job_ != job.id) {
    personal_ = std::make_unique<PersonalMessage>(
        message, PersonalContext{personalize_from(job.personalize), job.footer, job.list_address, base_url_});
    personal_job_ = job.id;
  }
  for (std::size_t i = 0; i < batch.size(); ++i) {
    const auto& r = batch[i];
    std::string name =
        std::to_string(job.created) + ".J" + std::to_string(job.id) + "R" + std::to_string(r.id) + "." + hostname_;
    auto tmp = dir_ / "tmp" / name;
    std::string sender = personal || job.verp ? verp_sender(job.envelope_from, r.address) : job.envelope_from;
    std::string head = "Return-Path: <" + sender + ">\nDelivered-To: " + r.address + "\n";
    int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    bool ok = fd >= 0;
    auto put = [&](const std::string& s) {
      std::size_t off = 0;
      while (ok && off < s.size()) {
        ssize_t n = ::write(fd, s.data() + off, s.size() - off);
        if (n < 0 && errno == EINTR) continue;
        if (n < 0)
          ok = false;
        else
          off += static_cast<std::size_t>(n);
      }
    };
    put(head);
    put(personal ? personal_->render_lf(r.address) : message);
    if (fd >= 0 && ::close(fd) != 0) ok = false;
    if (!ok) {
      int e = errno;
      ::unlink(tmp.c_str());
      out[i] = {RecipientResult::deferred, "451 4.3.0 outbox write failed: " + std::system_category().message(e)};
      continue;
    }
    renames.emplace_back(tmp, dir_ / "new" / name);
  }
  // One syncfs for the whole batch instead of an fsync per copy, then the renames and one
  // directory fsync (Maildir: a file is in new/ only once its bytes are on disk).
  if (!renames.empty()) {
    try {
      SyncBatch files;
      files.note(dir_ / "tmp");
      files.sync();
    } catch (const std::exception& e) {
      for (std::size_t i = 0, j = 0; i < batch.size(); ++i) {
        if (out[i].result == RecipientResult::deferred) continue;
        ::unlink(renames[j++].first.c_str());
        out[i] = {RecipientResult::deferred, std::string("451 4.3.0 outbox sync failed: ") + e.what()};
      }
      return out;
    }
  }
  std::size_t k = 0;
  for (std::size_t i = 0; i < batch.size(); ++i) {
    if (out[i].result == RecipientResult::deferred) continue;
    auto& [from, to] = renames[k++];
    if (::rename(from.c_str(), to.c_str()) != 0) {
      out[i] = {RecipientResult::deferred, "451 4.3.0 outbox rename failed"};
      ::unlink(from.c_str());
    } else {
      out[i] = {RecipientResult::delivered, "250 2.0.0 delivered to maildir"};
    }
  }
  fsync_dir(dir_ / "new");
  return out;
}

std::unique_ptr<Transport> make_transport(const Config& cfg) {
  switch (cfg.relay.mode) {
    case RelayMode::maildir: return std::make_unique<MaildirTransport>(cfg.outbox_dir(), cfg.hostname, cfg.base_url);
    case RelayMode::smarthost:
    case RelayMode::mx: return std::make_unique<SmtpTransport>(cfg);
  }
  return nullptr;
}

void wake_delivery(const Config& cfg) {
  try {
    make_private_dir(cfg.queue_dir() / "tmp");
    write_durable(cfg.queue_dir() / "tmp", cfg.queue_dir(), ".wake", {});
  } catch (const std::exception&) {
    // The daemon's periodic tick picks the work up anyway.
  }
}

std::int64_t backoff_delay(int attempts, unsigned retry_initial, unsigned retry_max) {
  std::int64_t delay = retry_initial;
  for (int a = 0; a < attempts && delay < retry_max; ++a) delay *= 2;
  return std::min<std::int64_t>(delay, retry_max);
}

namespace {
std::int64_t now_ms() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::system_clock::now().time_since_epoch())
      .count();
}
}  // namespace

namespace {

std::optional<std::int64_t> existing_job(SQLite::Database& db, const std::string& spool_id, const std::string& kind) {
  SQLite::Statement q(db, "SELECT id FROM delivery_jobs WHERE spool_id = ? AND kind = ?");
  q.bind(1, spool_id);
  q.bind(2, kind);
  if (q.executeStep()) return q.getColumn(0).getInt64();
  return std::nullopt;
}

std::int64_t insert_job(SQLite::Database& db, const ListRow* list, const std::string& kind, const std::string& spool_id,
                        const std::string& message_path, const std::string& envelope_from) {
  SQLite::Statement q(db,
                      "INSERT INTO delivery_jobs(list_id, kind, spool_id, message_path, envelope_from, created) "
                      "VALUES (?,?,?,?,?,?)");
  if (list)
    q.bind(1, list->id);
  else
    q.bind(1);
  q.bind(2, kind);
  q.bind(3, spool_id);
  q.bind(4, message_path);
  q.bind(5, envelope_from);
  q.bind(6, now_unix());
  q.exec();
  return db.getLastInsertRowid();
}

void set_total(SQLite::Database& db, std::int64_t job, int n) {
  SQLite::Statement q(db, "UPDATE delivery_jobs SET total = ?, done = (? = 0) WHERE id = ?");
  q.bind(1, n);
  q.bind(2, n);
  q.bind(3, job);
  q.exec();
}

}  // namespace

namespace {

// fill_chunk - copy the next chunk of a member job's recipients (person ids after `cursor`)
// into delivery_recipients, ordered by domain within the chunk; updates total and
// fill_cursor. Runs inside the caller's transaction. Returns the rows added.
int fill_chunk(SQLite::Database& db, std::int64_t job, std::int64_t list_id, const std::string& poster,
               std::int64_t cursor, int chunk) {
  static const char* kEligible =
      " FROM memberships m JOIN people p ON p.id = m.person_id WHERE m.list_id = ?2 AND m.role = 'member' AND "
      "m.delivery = 'regular' AND m.nomail = 0 AND m.disabled = 0 AND NOT (p.email = ?3 AND m.receive_own = 0) AND "
      "m.person_id > ?4";
  // Regular-delivery members, minus nomail/disabled, minus the poster if they opted out of
  // their own posts (Mailman's receive_own_postings).
  SQLite::Statement b(db, std::string("SELECT m.person_id") + kEligible + " ORDER BY m.person_id LIMIT 1 OFFSET ?5");
  b.bind(1, job);
  b.bind(2, list_id);
  b.bind(3, poster);
  b.bind(4, cursor);
  b.bind(5, chunk - 1);
  std::int64_t boundary = b.executeStep() ? b.getColumn(0).getInt64() : -1;
  SQLite::Statement q(db, std::string("INSERT INTO delivery_recipients(job_id, address) SELECT ?1, p.email") +
                              kEligible + " AND m.person_id <= ?5 ORDER BY substr(p.email, " +
                              "instr(p.email, '@') + 1), p.email");
  q.bind(1, job);
  q.bind(2, list_id);
  q.bind(3, poster);
  q.bind(4, cursor);
  // Both bounds must be plain comparisons so SQLite seeks the primary key range (an OR here
  // made every chunk scan the rest of the list: quadratic at 1,000,000 members).
  q.bind(5, boundary < 0 ? std::numeric_limits<std::int64_t>::max() : boundary);
  int n = q.exec();
  SQLite::Statement u(db,
                      "UPDATE delivery_jobs SET total = total + ?1, fill_cursor = ?2, done = (?2 < 0 AND total + ?1 = "
                      "0) WHERE id = ?3");
  u.bind(1, n);
  u.bind(2, boundary);
  u.bind(3, job);
  u.exec();
  return n;
}

}  // namespace

std::int64_t job_create_for_members(SQLite::Database& db, const ListRow& list, const std::string& kind,
                                    const std::string& spool_id, const std::string& message_path,
                                    const std::string& envelope_from, const std::string& poster) {
  if (auto id = existing_job(db, spool_id, kind)) return *id;
  auto job = insert_job(db, &list, kind, spool_id, message_path, envelope_from);
  SQLite::Statement p(db, "UPDATE delivery_jobs SET poster = ? WHERE id = ?");
  p.bind(1, poster);
  p.bind(2, job);
  p.exec();
  // Only the first chunk now, so a 1,000,000-member post is accepted (and its first
  // recipients reached) in milliseconds; the runner copies the rest as it goes.
  fill_chunk(db, job, list.id, poster, 0, kFirstFillChunk);
  return job;
}

bool job_fill_more(SQLite::Database& db, std::int64_t job) {
  SQLite::Transaction tx(db, SQLite::TransactionBehavior::IMMEDIATE);
  SQLite::Statement q(db, "SELECT list_id, poster, fill_cursor FROM delivery_jobs WHERE id = ?");
  q.bind(1, job);
  if (!q.executeStep() || q.getColumn(2).getInt64() < 0) return false;
  if (q.getColumn(0).isNull()) {  // the list was deleted meanwhile: nothing more to copy
    q.reset();
    SQLite::Statement u(db, "UPDATE delivery_jobs SET fill_cursor = -1 WHERE id = ?");
    u.bind(1, job);
    u.exec();
    tx.commit();
    return false;
  }
  auto list_id = q.getColumn(0).getInt64();
  auto poster = q.getColumn(1).getString();
  auto cursor = q.getColumn(2).getInt64();
  q.reset();
  fill_chunk(db, job, list_id, poster, cursor, kFillChunk);
  tx.commit();
  return true;
}

void job_set_personal(SQLite::Database& db, std::int64_t job, const std::string& mode, const std::string& footer) {
  SQLite::Statement q(db, "UPDATE delivery_jobs SET personalize = ?, footer = ? WHERE id = ?");
  q.bind(1, mode);
  q.bind(2, footer);
  q.bind(3, job);
  q.exec();
}

std::int64_t job_create_for_role(SQLite::Database& db, const ListRow& list, const std::string& kind,
                                 const std::string& spool_id, const std::string& message_path,
                                 const std::string& envelope_from, const std::vector<std::string>& roles) {
  if (auto id = existing_job(db, spool_id, kind)) return *id;
  auto job = insert_job(db, &list, kind, spool_id, message_path, envelope_from);
  int total = 0;
  for (auto& role : roles) {
    SQLite::Statement q(db,
                        "INSERT INTO delivery_recipients(job_id, address) SELECT ?1, p.email FROM memberships m JOIN "
                        "people p ON p.id = m.person_id WHERE m.list_id = ?2 AND m.role = ?3 AND p.email NOT IN "
                        "(SELECT address FROM delivery_recipients WHERE job_id = ?1)");
    q.bind(1, job);
    q.bind(2, list.id);
    q.bind(3, role);
    total += q.exec();
  }
  set_total(db, job, total);
  return job;
}

std::int64_t job_create_for_addresses(SQLite::Database& db, const ListRow* list, const std::string& kind,
                                      const std::string& spool_id, const std::string& message_path,
                                      const std::string& envelope_from, const std::vector<std::string>& addresses) {
  if (auto id = existing_job(db, spool_id, kind)) return *id;
  auto job = insert_job(db, list, kind, spool_id, message_path, envelope_from);
  SQLite::Statement q(db, "INSERT INTO delivery_recipients(job_id, address) VALUES (?, ?)");
  int total = 0;
  for (auto& a : addresses) {
    q.bind(1, job);
    q.bind(2, a);
    total += q.exec();
    q.reset();
  }
  set_total(db, job, total);
  return job;
}

DeliveryRunner::DeliveryRunner(const Config& cfg, std::unique_ptr<Transport> transport)
    : cfg_(cfg), transport_(std::move(transport)), db_(db_open(cfg.db_path())) {}

std::size_t DeliveryRunner::run_due() {
  std::size_t attempted = 0;
  std::vector<JobInfo> jobs;
  {
    SQLite::Statement q(*db_,
                        "SELECT j.id, j.kind, j.message_path, j.envelope_from, j.created, coalesce(j.list_id, 0), "
                        "coalesce((SELECT value FROM list_settings s WHERE s.list_id = j.list_id AND s.key = 'verp'), "
                        "'no'), j.personalize, j.footer, coalesce((SELECT l.name || '@' || d.name FROM lists l JOIN "
                        "domains d ON d.id = l.domain_id WHERE l.id = j.list_id), '') FROM delivery_jobs j WHERE "
                        "j.done = 0 ORDER BY j.id");
    while (q.executeStep()) {
      JobInfo j{q.getColumn(0).getInt64(),
                q.getColumn(1).getString(),
                q.getColumn(2).getString(),
                q.getColumn(3).getString(),
                q.getColumn(4).getInt64(),
                q.getColumn(5).getInt64(),
                false,
                "none",
                {},
                {}};
      std::string v = q.getColumn(6).getString();
      j.verp = (v == "yes" || v == "true" || v == "on" || v == "1") && j.kind == "post";
      j.personalize = q.getColumn(7).getString();
      j.footer = q.getColumn(8).getString();
      j.list_address = q.getColumn(9).getString();
      jobs.push_back(std::move(j));
    }
  }
  for (auto& job : jobs) {
    std::string message;
    try {
      message = read_file(cfg_.data_dir / job.message_path);
    } catch (const std::exception& e) {
      log_event(LogLevel::error, "job-message-missing", {{"job", std::to_string(job.id)}, {"error", e.what()}});
      continue;
    }
    std::int64_t cursor = 0;
    while (!(stop_ && *stop_) && run_one_batch(job, message, cursor)) ++attempted;
    finish_job(job.id);
    if (stop_ && *stop_) break;
  }
  transport_->pass_done();
  return attempted;
}

bool DeliveryRunner::run_one_batch(const JobInfo& job, const std::string& message, std::int64_t& cursor) {
  std::vector<JobRecipient> batch;
  std::size_t limit = transport_->batch_limit();
  if (limit == 0) limit = cfg_.relay.max_recipients;
  {
    // Keyset paging by id (the delivery_recipients_job index): each wave reads only its own
    // rows, so a 1,000,000-recipient job streams instead of being sorted or held in memory.
    SQLite::Statement q(*db_,
                        "SELECT id, address, attempts FROM delivery_recipients INDEXED BY delivery_recipients_job "
                        "WHERE job_id = ? AND id > ? AND state IN ('pending','deferred') AND next_attempt <= ? "
                        "ORDER BY id LIMIT ?");
    q.bind(1, job.id);
    q.bind(2, cursor);
    q.bind(3, now_unix());
    q.bind(4, static_cast<std::int64_t>(limit));
    while (q.executeStep())
      batch.push_back({q.getColumn(0).getInt64(), q.getColumn(1).getString(), q.getColumn(2).getInt()});
  }
  if (batch.size() < limit && job_fill_more(*db_, job.id)) return run_one_batch(job, message, cursor);
  if (batch.empty()) return false;
  cursor = batch.back().id;
  auto started = now_ms();
  // Outcomes are committed as the transport reports them (per SMTP transaction), the rest
  // when deliver() returns.
  std::vector<char> committed(batch.size(), 0);
  transport_->set_commit([&](const std::vector<std::size_t>& which, const std::vector<RecipientOutcome>& outs) {
    commit_outcomes(job, batch, outs, which, started);
    for (auto i : which) committed[i] = 1;
  });
  std::vector<RecipientOutcome> outcomes;
  try {
    outcomes = transport_->deliver(job, message, batch);
  } catch (...) {
    transport_->set_commit(nullptr);
    throw;
  }
  transport_->set_commit(nullptr);
  std::vector<std::size_t> rest;
  for (std::size_t i = 0; i < batch.size(); ++i)
    if (!committed[i]) rest.push_back(i);
  if (!rest.empty()) commit_outcomes(job, batch, outcomes, rest, started);
  log_event(
      LogLevel::info, "delivery-batch",
      {{"job", std::to_string(job.id)},
       {"recipients", std::to_string(batch.size())},
       {"delivered", std::to_string(std::count_if(outcomes.begin(), outcomes.end(), [](const RecipientOutcome& o) {
          return o.result == RecipientResult::delivered;
        }))}});
  // Stop this pass if everything in the batch was deferred (the destination is unhappy).
  return std::any_of(outcomes.begin(), outcomes.end(),
                     [](const RecipientOutcome& o) { return o.result != RecipientResult::deferred; });
}

void DeliveryRunner::commit_outcomes(const JobInfo& job, const std::vector<JobRecipient>& batch,
                                     const std::vector<RecipientOutcome>& outcomes,
                                     const std::vector<std::size_t>& which, std::int64_t started) {
  auto now = now_unix();
  WriteTx tx(*db_);
  {
    SQLite::Statement p(*db_,
                        "UPDATE delivery_jobs SET first_attempt_ms = CASE WHEN first_attempt_ms = 0 THEN ?1 ELSE "
                        "first_attempt_ms END, last_progress_ms = ?2, delivered = delivered + ?3 WHERE id = ?4");
    p.bind(1, started);
    p.bind(2, now_ms());
    p.bind(3, static_cast<std::int64_t>(std::count_if(which.begin(), which.end(), [&](std::size_t i) {
             return outcomes[i].result == RecipientResult::delivered;
           })));
    p.bind(4, job.id);
    p.exec();
  }
  SQLite::Statement upd(*db_,
                        "UPDATE delivery_recipients SET state = ?, attempts = attempts + 1, next_attempt = ?, "
                        "last_reply = ? WHERE id = ?");
  for (auto i : which) {
    auto& o = outcomes[i];
    const char* state = "delivered";
    std::int64_t next = 0;
    if (o.result == RecipientResult::failed) {
      state = "failed";
    } else if (o.result == RecipientResult::deferred) {
      // Exponential backoff; give up after max_queue_age (then it counts as failed, for the
      // bounce logic: see the delivery_failures view).
      std::int64_t delay = backoff_delay(batch[i].attempts, cfg_.relay.retry_initial, cfg_.relay.retry_max);
      state = now - job.created > cfg_.relay.max_queue_age ? "failed" : "deferred";
      next = now + delay;
    }
    upd.bind(1, state);
    upd.bind(2, next);
    upd.bind(3, o.reply);
    upd.bind(4, batch[i].id);
    upd.exec();
    upd.reset();
    LogLevel level = o.result == RecipientResult::delivered ? LogLevel::debug : LogLevel::warn;
    if (log_enabled(level))  // skip building the fields of a debug line per delivered recipient
      log_event(level, "delivery",
                {{"job", std::to_string(job.id)}, {"rcpt", batch[i].address}, {"state", state}, {"reply", o.reply}});
  }
  tx.commit();
}

void DeliveryRunner::finish_job(std::int64_t job_id) {
  WriteTx tx(*db_);
  SQLite::Statement q(*db_,
                      "SELECT (SELECT count(*) FROM delivery_recipients WHERE job_id = ?1 AND state = 'delivered'), "
                      "(SELECT count(*) FROM delivery_recipients WHERE job_id = ?1 AND state = 'deferred'), (SELECT "
                      "count(*) FROM delivery_recipients WHERE job_id = ?1 AND state = 'failed'), delivered, "
                      "deferred, failed, total, fill_cursor, message_path, kind FROM delivery_jobs WHERE id = ?1");
  q.bind(1, job_id);
  if (!q.executeStep()) return;
  std::int64_t delivered = q.getColumn(0).getInt64(), deferred = q.getColumn(1).getInt64(),
               failed = q.getColumn(2).getInt64();
  bool done = q.getColumn(6).getInt64() == delivered + failed && q.getColumn(7).getInt64() < 0;
  bool changed = delivered != q.getColumn(3).getInt64() || deferred != q.getColumn(4).getInt64() ||
                 failed != q.getColumn(5).getInt64();
  std::string path = q.getColumn(8).getString();
  std::string kind = q.getColumn(9).getString();
  q.reset();
  // A job this pass left as it was writes nothing: the commit of an unchanged transaction
  // costs no fsync (a backlog deferred behind a dead smarthost would cost one per job a pass).
  if (!done && !changed) return;
  SQLite::Statement u(*db_,
                      "UPDATE delivery_jobs SET delivered = ?, deferred = ?, failed = ?, done = ?, done_at = CASE WHEN "
                      "? THEN ? ELSE done_at END WHERE id = ?");
  u.bind(1, delivered);
  u.bind(2, deferred);
  u.bind(3, failed);
  u.bind(4, done ? 1 : 0);
  u.bind(5, done ? 1 : 0);
  u.bind(6, now_unix());
  u.bind(7, job_id);
  u.exec();
  tx.commit();
  if (done) {
    log_event(LogLevel::info, "job-done", {{"job", std::to_string(job_id)}, {"kind", kind}});
    std::error_code ec;
    std::filesystem::remove(cfg_.data_dir / path, ec);
  }
}

std::size_t DeliveryRunner::purge_delivered(std::size_t max_rows) {
  constexpr std::int64_t kChunk = 5000;  // rows per transaction: the write lock is held briefly
  std::size_t removed = 0;
  auto cutoff = now_unix() - static_cast<std::int64_t>(cfg_.relay.keep_delivered);
  while (removed < max_rows && !(stop_ && *stop_)) {
    std::int64_t job = 0;
    {
      SQLite::Statement q(*db_,
                          "SELECT id FROM delivery_jobs WHERE done = 1 AND purged = 0 AND done_at <= ? ORDER BY "
                          "done_at LIMIT 1");
      q.bind(1, cutoff);
      if (!q.executeStep()) break;
      job = q.getColumn(0).getInt64();
    }
    WriteTx tx(*db_);
    SQLite::Statement d(*db_,
                        "DELETE FROM delivery_recipients WHERE id IN (SELECT id FROM delivery_recipients WHERE job_id "
                        "= ? AND state = 'delivered' LIMIT ?)");
    d.bind(1, job);
    d.bind(2, kChunk);
    int n = d.exec();
    if (n < kChunk) {
      SQLite::Statement u(*db_, "UPDATE delivery_jobs SET purged = 1 WHERE id = ?");
      u.bind(1, job);
      u.exec();
    }
    tx.commit();
    removed += static_cast<std::size_t>(n);
  }
  return removed;
}

std::int64_t DeliveryRunner::next_due() {
  SQLite::Statement q(*db_, "SELECT min(next_attempt) FROM delivery_recipients WHERE state = 'deferred'");
  if (q.executeStep() && !q.getColumn(0).isNull()) return q.getColumn(0).getInt64();
  return 0;
}

std::vector<JobStatus> job_status(SQLite::Database& db, bool include_done) {
  // A finished job reads the counts finish_job stored (its delivered rows may be purged); an
  // open one counts its rows through the (job_id, state) index.
  SQLite::Statement q(
      db, std::string("SELECT j.id, coalesce(l.name || '@' || d.name, '-'), j.kind, j.created, j.total, "
                      "CASE WHEN j.done THEN j.delivered ELSE (SELECT count(*) FROM delivery_recipients r WHERE "
                      "r.job_id = j.id AND r.state = 'delivered') END, "
                      "CASE WHEN j.done THEN j.deferred ELSE (SELECT count(*) FROM delivery_recipients r WHERE "
                      "r.job_id = j.id AND r.state = 'deferred') END, "
                      "CASE WHEN j.done THEN j.failed ELSE (SELECT count(*) FROM delivery_recipients r WHERE "
                      "r.job_id = j.id AND r.state = 'failed') END, "
                      "CASE WHEN j.done THEN 0 ELSE (SELECT count(*) FROM delivery_recipients r WHERE r.job_id = "
                      "j.id AND r.state = 'pending') END, "
                      "(SELECT min(next_attempt) FROM delivery_recipients r WHERE r.job_id = j.id AND r.state = "
                      "'deferred'), j.done, j.first_attempt_ms, j.last_progress_ms FROM delivery_jobs j LEFT JOIN "
                      "lists l ON l.id = j.list_id LEFT JOIN domains d ON d.id = l.domain_id") +
              (include_done ? "" : " WHERE j.done = 0") + " ORDER BY j.id");
  std::vector<JobStatus> out;
  while (q.executeStep()) {
    JobStatus s;
    s.id = q.getColumn(0).getInt64();
    s.list = q.getColumn(1).getString();
    s.kind = q.getColumn(2).getString();
    s.created = q.getColumn(3).getInt64();
    s.total = q.getColumn(4).getInt64();
    s.delivered = q.getColumn(5).getInt64();
    s.deferred = q.getColumn(6).getInt64();
    s.failed = q.getColumn(7).getInt64();
    s.pending = q.getColumn(8).getInt64();
    s.next_retry = q.getColumn(9).isNull() ? 0 : q.getColumn(9).getInt64();
    s.done = q.getColumn(10).getInt() != 0;
    auto first = q.getColumn(11).getInt64(), last = q.getColumn(12).getInt64();
    if (first > 0 && last > first)
      s.rate = static_cast<double>(s.delivered) * 1000.0 / static_cast<double>(last - first);
    out.push_back(s);
  }
  return out;
}

}  // namespace listd
