// pipeline.cpp - see pipeline.hpp.
#include "listd/pipeline.hpp"

#include <SQLiteCpp/Exception.h>
#include <SQLiteCpp/Statement.h>
#include <SQLiteCpp/Transaction.h>
#include <sqlite3.h>

#include <cctype>
#include <cerrno>
#include <system_error>

#include "listd/archive.hpp"
#include "listd/bounce.hpp"
#include "listd/commands.hpp"
#include "listd/db.hpp"
#include "listd/decorate.hpp"
#include "listd/delivery.hpp"
#include "listd/digest.hpp"
#include "listd/dmarc.hpp"
#include "listd/fsutil.hpp"
#include "listd/log.hpp"
#include "listd/message.hpp"
#include "listd/moderation_mail.hpp"
#include "listd/relay_personalize.hpp"
#include "listd/router.hpp"
#include "listd/rules.hpp"
#include "listd/store.hpp"
#include "listd/subscription.hpp"
#include "smtp/address.hpp"

namespace listd {
namespace {

// Set-aside notices per owner and day (SECURITY P7: automatic mail is rate-limited).
constexpr int kSetAsideNoticesPerDay = 20;

// resource_fault - a failure that says nothing about the message (disk full, database busy or
// locked, I/O error, out of descriptors or memory). Such a try is not counted towards
// spool.max_attempts, so a full disk or a held lock never sets good mail aside as poison.
bool resource_fault(const std::exception& e) {
  if (auto* s = dynamic_cast<const std::system_error*>(&e)) {
    if (s->code().category() != std::generic_category() && s->code().category() != std::system_category()) return false;
    int v = s->code().value();
    return v == ENOSPC || v == EDQUOT || v == EIO || v == EROFS || v == EMFILE || v == ENFILE || v == ENOMEM;
  }
  if (auto* q = dynamic_cast<const SQLite::Exception*>(&e)) {
    int c = q->getErrorCode() & 0xff;
    return c == SQLITE_BUSY || c == SQLITE_LOCKED || c == SQLITE_FULL || c == SQLITE_IOERR || c == SQLITE_NOMEM;
  }
  return false;
}

// header_subject - the Subject of a raw message by a bounded byte scan (no MIME parser: the
// message may be the poison): the first line of the field, control characters replaced by
// spaces, at most 200 bytes.
std::string header_subject(std::string_view m) {
  std::size_t pos = 0;
  while (pos < m.size() && pos < 65536) {
    auto nl = m.find('\n', pos);
    std::string_view line = m.substr(pos, nl == std::string_view::npos ? std::string_view::npos : nl - pos);
    if (line.empty() || line == "\r") break;
    if (line.size() >= 8 && (line[0] == 'S' || line[0] == 's') && line.substr(1, 7).find(':') == 6) {
      std::string name(line.substr(0, 7));
      for (auto& c : name) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
      if (name == "subject") {
        std::string out;
        for (char c : line.substr(8)) out.push_back(static_cast<unsigned char>(c) < 0x20 ? ' ' : c);
        while (!out.empty() && out.front() == ' ') out.erase(0, 1);
        return out.substr(0, 200);
      }
    }
    if (nl == std::string_view::npos) break;
    pos = nl + 1;
  }
  return "";
}

}  // namespace

Processor::Processor(const Config& cfg, const Templates& templates)
    : cfg_(cfg), templates_(templates), spool_(cfg.spool_dir()), db_(db_open(cfg.db_path())) {
  make_private_dir(cfg_.queue_dir());
  make_private_dir(cfg_.queue_dir() / "tmp");
  make_private_dir(cfg_.held_dir());
  make_private_dir(cfg_.held_dir() / "tmp");
  make_private_dir(cfg_.archive_dir());
  mime_init();
}

std::size_t Processor::maintenance() {
  // Spool files of writers killed before their commit (never acknowledged): 36 hours, the
  // Maildir rule for tmp/.
  if (auto n = spool_.remove_stale_tmp(std::chrono::hours(36)); n > 0)
    log_event(LogLevel::info, "spool-tmp-cleaned", {{"removed", std::to_string(n)}});
  return bounce_feed_from_delivery(cfg_, *db_, templates_) + bounce_maintenance(cfg_, *db_, templates_) +
         digest_send_due(cfg_, *db_, templates_) + owner_summaries(cfg_, *db_, templates_);
}

std::size_t Processor::process_pending(const std::atomic<bool>* stop) {
  auto ids = spool_.pending();
  std::size_t n = 0;
  while (n < ids.size()) {
    if (stop && stop->load()) break;
    n += process_batch(ids, n, stop);
  }
  return n;
}

namespace {

// fresh - never tried and not processed: such entries may share a transaction.
bool fresh(SQLite::Database& db, const std::string& spool_id) {
  SQLite::Statement q(db,
                      "SELECT EXISTS(SELECT 1 FROM processed WHERE spool_id = ?1) OR EXISTS(SELECT 1 FROM "
                      "spool_attempts WHERE spool_id = ?1)");
  q.bind(1, spool_id);
  q.executeStep();
  return q.getColumn(0).getInt() == 0;
}

void forget_attempt(SQLite::Database& db, const std::string& spool_id) {
  SQLite::Statement q(db, "DELETE FROM spool_attempts WHERE spool_id = ?");
  q.bind(1, spool_id);
  q.exec();
}

}  // namespace

std::size_t Processor::process_batch(const std::vector<std::string>& ids, std::size_t from,
                                     const std::atomic<bool>* stop) {
  // The run of fresh entries at `from`, at most kBatchEntries. An entry tried before (it may
  // be the poison that killed the last try) is processed alone, as is a lone entry.
  std::size_t k = 0;
  while (from + k < ids.size() && k < kBatchEntries && fresh(*db_, ids[from + k])) ++k;
  if (k < 2) {
    process(ids[from]);
    return 1;
  }
  // Each try is counted, durably, before anything runs (a kill -9 mid-batch counts it).
  {
    WriteTx tx(*db_);
    SQLite::Statement q(*db_, "INSERT OR IGNORE INTO spool_attempts(spool_id, attempts) VALUES (?, 1)");
    for (std::size_t i = 0; i < k; ++i) {
      q.bind(1, ids[from + i]);
      q.exec();
      q.reset();
    }
    tx.commit();
  }
  // Then one transaction and one syncfs for all of them; spool files go after the commit.
  std::vector<std::string> finished;
  std::size_t ran = 0;
  try {
    SyncBatch files;
    WriteTx tx(*db_);
    for (; ran < k; ++ran) {
      if (ran > 0 && stop && stop->load()) break;
      const auto& id = ids[from + ran];
      ProcessResult r;
      if (run_counted(id, 1, true, r)) {
        forget_attempt(*db_, id);
        finished.push_back(id);
      }
    }
    for (std::size_t i = ran; i < k; ++i) forget_attempt(*db_, ids[from + i]);  // not run: not tried
    files.sync();
    tx.commit();
  } catch (const std::exception& e) {
    // A resource fault (disk full, database locked): nothing of the batch committed. Its tries
    // are given back; the entries stay in the spool for the next pass.
    log_event(LogLevel::error, "process-batch-failed", {{"entries", std::to_string(k)}, {"error", e.what()}});
    try {
      WriteTx tx(*db_);
      for (std::size_t i = 0; i < k; ++i) forget_attempt(*db_, ids[from + i]);
      tx.commit();
    } catch (const std::exception&) {
      // Still failing: these tries stay counted (as a single entry's would).
    }
    return k;
  }
  for (auto& id : finished) spool_.remove_deferred(id);
  spool_.sync_new_dir();
  return ran;
}

void Processor::mark_processed(const std::string& spool_id, const ProcessResult& r) {
  SQLite::Statement q(*db_,
                      "INSERT OR IGNORE INTO processed(spool_id, outcome, detail, processed_at) VALUES (?,?,?,?)");
  q.bind(1, spool_id);
  q.bind(2, r.outcome);
  q.bind(3, r.detail);
  q.bind(4, now_unix());
  q.exec();
}

void Processor::notify_set_aside(const SpoolEntry& e, const std::string& why) {
  try {
    Store store(*db_);
    auto route = route_address(
        e.env.recipient, [&](const std::string& n, const std::string& h) { return store.find_list(n, h).has_value(); });
    if (!route) return;
    auto list = store.find_list(route->list_name, route->host);
    if (!list) return;
    TemplateVars vars{{"list_address", list->address()},
                      {"spool_id", e.env.id},
                      {"reason", why},
                      {"recipient", e.env.recipient},
                      {"sender", e.env.sender.empty() ? "<>" : e.env.sender},
                      {"subject", header_subject(e.message)},
                      {"via", e.env.via},
                      {"bad_path", (spool_.dir() / "bad" / e.env.id).string()}};
    std::string body = templates_.render("mail/set-aside.txt", vars);
    for (auto& o : store.members(*list, "owner")) {
      if (autoreply_sent_today(*db_, *list, o.email, "set-aside") >= kSetAsideNoticesPerDay) continue;
      queue_notice(
          cfg_, *db_, *list, o.email,
          compose_notice(*list, "owner", o.email, list->name + ": a message was set aside (" + e.env.id + ")", body));
      autoreply_record(*db_, *list, o.email, "set-aside");
    }
  } catch (const std::exception& ex) {
    // The entry is set aside either way; the log says so.
    log_event(LogLevel::warn, "set-aside-notice-failed", {{"spool", e.env.id}, {"error", ex.what()}});
  }
}

ProcessResult Processor::process(const std::string& spool_id) {
  {
    SQLite::Statement q(*db_, "SELECT outcome FROM processed WHERE spool_id = ?");
    q.bind(1, spool_id);
    if (q.executeStep()) {
      // Effects committed before a crash: only the spool file was left.
      spool_.remove(spool_id);
      return {"duplicate", q.getColumn(0).getString()};
    }
  }
  int attempts = 0;
  {
    SQLite::Statement q(*db_,
                        "INSERT INTO spool_attempts(spool_id, attempts) VALUES (?, 1) ON CONFLICT(spool_id) DO UPDATE "
                        "SET attempts = attempts + 1 RETURNING attempts");
    q.bind(1, spool_id);
    q.executeStep();
    attempts = q.getColumn(0).getInt();
  }
  ProcessResult r;
  if (run_counted(spool_id, attempts, false, r)) {
    spool_.remove(spool_id);
    forget_attempt(*db_, spool_id);
  }
  return r;
}

bool Processor::run_counted(const std::string& spool_id, int attempts, bool in_batch, ProcessResult& out) {
  // The file is moved to bad/ first, then the row and the owners' notice commit together: a
  // crash in between leaves the entry safe in bad/ (unmarked, unannounced), never lost.
  auto set_aside = [&](const std::string& why, const SpoolEntry* entry) {
    out = {"set-aside", why};
    spool_.set_aside(spool_id, why);
    WriteTx tx(*db_);
    mark_processed(spool_id, out);
    if (entry) notify_set_aside(*entry, why);
    tx.commit();
    log_event(LogLevel::error, "set-aside", {{"spool", spool_id}, {"reason", why}});
    return false;  // no spool file left to remove
  };
  SpoolEntry entry;
  try {
    entry = spool_.read(spool_id);
  } catch (const SpoolCorrupt& e) {
    return set_aside(std::string("corrupt spool entry: ") + e.what(), nullptr);
  }
  if (attempts > static_cast<int>(cfg_.spool.max_attempts))
    return set_aside("failed " + std::to_string(attempts - 1) + " times; see earlier log lines", &entry);
  try {
    out = process_entry(entry);
  } catch (const std::exception& e) {
    // Left in the spool: the next pass retries it, up to max_attempts. A resource fault is
    // not the message's fault: that try is given back (in a batch, the whole batch stops:
    // SQLite may have rolled its transaction back).
    bool resource = resource_fault(e);
    if (resource && in_batch) throw;
    log_event(LogLevel::error, "process-failed",
              {{"spool", spool_id},
               {"attempt", std::to_string(attempts)},
               {"counted", resource ? "no" : "yes"},
               {"error", e.what()}});
    if (resource) {
      try {
        SQLite::Statement q(*db_, "UPDATE spool_attempts SET attempts = attempts - 1 WHERE spool_id = ?");
        q.bind(1, spool_id);
        q.exec();
      } catch (const std::exception&) {
        // Still failing: this try stays counted.
      }
    }
    out = {"error", e.what()};
    return false;
  }
  return true;
}

namespace {

struct Ctx {
  const Config& cfg;
  SQLite::Database& db;
  Store store;
};

std::string footer_for(const Templates& t, const ListRow& list, const Config& cfg, bool personal = false) {
  TemplateVars vars{
      {"list_name", list.name},
      {"list_host", list.host},
      {"list_address", list.address()},
      {"description", list.settings.description},
      {"base_url", cfg.base_url},
      {"list_url", cfg.base_url + "/lists/" + list.address()},
      {"archive_url", list.settings.archive ? cfg.base_url + "/lists/" + list.address() + "/archive" : ""}};
  if (personal) vars.merge(personal_footer_vars());  // the relay fills these in per member
  std::string error;
  std::string out = list.settings.footer.empty() ? t.render("mail/footer.txt", vars, &error)
                                                 : Templates::render_text(list.settings.footer, vars, &error);
  if (!error.empty()) {
    log_event(LogLevel::warn, "footer-template-error", {{"list", list.address()}, {"error", error}});
    out = t.render("mail/footer.txt", vars);
  }
  return out;
}

}  // namespace

ProcessResult Processor::process_entry(const SpoolEntry& e) {
  const auto& id = e.env.id;
  Store store(*db_);
  auto route = route_address(
      e.env.recipient, [&](const std::string& n, const std::string& h) { return store.find_list(n, h).has_value(); });
  if (!route) {
    ProcessResult r{"unroutable", "no list for " + e.env.recipient};
    mark_processed(id, r);
    log_event(LogLevel::warn, "unroutable", {{"spool", id}, {"rcpt", e.env.recipient}});
    return r;
  }
  ListRow list = *store.find_list(route->list_name, route->host);
  const std::string bounces = list.name + "-bounces@" + list.host;
  log_event(LogLevel::info, "routed",
            {{"spool", id},
             {"list", list.address()},
             {"role", to_string(route->role)},
             {"sender", e.env.sender},
             {"size", std::to_string(e.message.size())}});

  if (route->role == Role::owner) {
    // Mail to NAME-owner reaches the owners, unchanged (loops stopped by X-BeenThere).
    auto info = message_info(e.message);
    for (auto& b : info.been_there)
      if (b == list.name + "-owner@" + list.host) {
        ProcessResult r{"discarded", "owner loop"};
        mark_processed(id, r);
        return r;
      }
    std::string rel = "queue/" + id + ".owner.eml";
    std::string hdr = "X-BeenThere: " + list.name + "-owner@" + list.host + "\n";
    write_durable(cfg_.queue_dir() / "tmp", cfg_.queue_dir(), id + ".owner.eml", {hdr, e.message});
    WriteTx tx(*db_);
    auto job = job_create_for_role(*db_, list, "owner", id, rel, bounces, {"owner"});
    ProcessResult r{"queued", "owner job " + std::to_string(job)};
    mark_processed(id, r);
    tx.commit();
    log_event(LogLevel::info, "owner-mail", {{"spool", id}, {"list", list.address()}, {"job", std::to_string(job)}});
    return r;
  }

  if (route->role == Role::request || route->role == Role::join || route->role == Role::leave ||
      route->role == Role::confirm) {
    // Email commands: handled and answered in the same transaction that marks the entry
    // processed, so a crash repeats them all or none.
    auto info = message_info(e.message);
    WriteTx tx(*db_);
    auto c = handle_command_mail(cfg_, *db_, templates_, list, *route, info, e.env.sender);
    ProcessResult r{c.outcome == "silent" ? "ignored" : "commands", c.detail};
    mark_processed(id, r);
    tx.commit();
    return r;
  }

  if (route->role == Role::bounces) {
    std::string verp;
    if (!route->detail.empty()) verp = verp_decode(route->detail).value_or("");
    auto b = bounce_parse(e.message, verp);
    WriteTx tx(*db_);
    std::string detail;
    for (auto& a : b.addresses) {
      auto what = bounce_record(cfg_, *db_, templates_, list, a);
      detail += (detail.empty() ? "" : "; ") + what;
      log_event(LogLevel::info, "bounce",
                {{"spool", id},
                 {"list", list.address()},
                 {"address", a.address},
                 {"permanent", a.permanent ? "yes" : "no"},
                 {"status", a.status},
                 {"format", b.format},
                 {"result", what}});
    }
    if (!b.is_bounce) {
      // Not recognisable as a bounce: kept for the owners to look at, never dropped.
      std::string rel = "queue/" + id + ".bounces.eml";
      write_durable(cfg_.queue_dir() / "tmp", cfg_.queue_dir(), id + ".bounces.eml", {e.message});
      SQLite::Statement q(*db_,
                          "INSERT OR IGNORE INTO role_queue(list_id, role, detail, spool_id, sender, path, received) "
                          "VALUES (?,?,?,?,?,?,?)");
      q.bind(1, list.id);
      q.bind(2, "bounces");
      q.bind(3, route->detail);
      q.bind(4, id);
      q.bind(5, e.env.sender);
      q.bind(6, rel);
      q.bind(7, e.env.received);
      q.exec();
      detail = "unrecognised bounce kept in queue/";
    }
    ProcessResult r{b.is_bounce ? "bounce" : "queued", detail};
    mark_processed(id, r);
    tx.commit();
    return r;
  }

  if (route->role != Role::post) {
    std::string rel = "queue/" + id + "." + to_string(route->role) + ".eml";
    write_durable(cfg_.queue_dir() / "tmp", cfg_.queue_dir(), id + "." + to_string(route->role) + ".eml", {e.message});
    WriteTx tx(*db_);
    SQLite::Statement q(*db_,
                        "INSERT OR IGNORE INTO role_queue(list_id, role, detail, spool_id, sender, path, received) "
                        "VALUES (?,?,?,?,?,?,?)");
    q.bind(1, list.id);
    q.bind(2, to_string(route->role));
    q.bind(3, route->detail);
    q.bind(4, id);
    q.bind(5, e.env.sender);
    q.bind(6, rel);
    q.bind(7, e.env.received);
    q.exec();
    ProcessResult r{"queued", to_string(route->role)};
    mark_processed(id, r);
    tx.commit();
    log_event(LogLevel::info, "queued", {{"spool", id}, {"list", list.address()}, {"role", to_string(route->role)}});
    return r;
  }

  // A post. An Approved: header never goes further than this point (it may hold a password).
  const std::string message = strip_fields(e.message, {"approved", "approve"});
  MessageInfo info = message_info(e.message);
  const bool password_ok = !info.approved.empty() && approved_by_password(*db_, list, info.approved);
  if (!info.approved.empty()) {
    log_event(LogLevel::info, "approved-header", {{"spool", id}, {"valid", password_ok ? "yes" : "no"}});
    info = message_info(message);
  }
  PostFacts facts;
  facts.list_address = list.address();
  facts.list_id = list.name + "." + list.host;
  facts.settings = &list.settings;
  facts.info = &info;
  // The poster: From:, then Sender:, then the envelope sender; a member under any of them counts.
  std::vector<std::string> candidates;
  for (const std::string* a :
       std::initializer_list<const std::string*>{&info.from_address, &info.sender_address, &e.env.sender})
    if (auto n = smtp::normalize_address(*a)) candidates.push_back(*n);
  facts.sender = candidates.empty() ? std::string() : candidates.front();
  for (auto& c : candidates) {
    if (auto m = store.membership(list, c)) {
      facts.sender_is_member = true;
      facts.sender_moderated = m->moderated;
      facts.sender = c;
      break;
    }
  }
  for (auto& c : candidates) facts.sender_banned = facts.sender_banned || store.is_banned(list, c);
  Decision d = evaluate_post(facts);
  // A post a moderator approved (listd/moderation.cpp re-spools it with via "approved"): the
  // hold is lifted; bans and rejections still apply.
  if ((e.env.via == "approved" || password_ok) && d.verdict == Verdict::hold) d = Decision{};

  std::optional<std::string> decorated;
  if (d.verdict == Verdict::accept) {
    ListIdentity ident{list.name, list.host, list.settings.description, cfg_.base_url};
    DecorateOptions opts;
    opts.subject_prefix = list.settings.subject_prefix;
    opts.reply_to = list.settings.reply_to == "list"      ? ReplyToPolicy::list
                    : list.settings.reply_to == "address" ? ReplyToPolicy::address
                                                          : ReplyToPolicy::none;
    opts.reply_to_address = list.settings.reply_to_address;
    opts.archive = list.settings.archive;
    decorated = decorate_headers(message, ident, opts);
    if (!decorated) d = Decision{Verdict::hold, "unparsable", "message could not be parsed as RFC 5322"};
  }

  if (d.verdict == Verdict::hold) {
    std::string name = id + ".eml";
    write_durable(cfg_.held_dir() / "tmp", cfg_.held_dir(), name, {message});
    WriteTx tx(*db_);
    SQLite::Statement q(*db_,
                        "INSERT OR IGNORE INTO held_messages(list_id, spool_id, sender, subject, message_id, reason, "
                        "path, size, received) VALUES (?,?,?,?,?,?,?,?,?)");
    q.bind(1, list.id);
    q.bind(2, id);
    q.bind(3, facts.sender);
    q.bind(4, info.subject);
    q.bind(5, info.message_id);
    q.bind(6, d.reason);
    q.bind(7, "held/" + name);
    q.bind(8, static_cast<std::int64_t>(message.size()));
    q.bind(9, e.env.received);
    if (q.exec() > 0)
      notify_held(cfg_, *db_, templates_, list, db_->getLastInsertRowid(), facts.sender, info.subject, d.reason);
    ProcessResult r{"held", d.rule + ": " + d.reason};
    mark_processed(id, r);
    tx.commit();
    log_event(
        LogLevel::info, "held",
        {{"spool", id}, {"list", list.address()}, {"rule", d.rule}, {"reason", d.reason}, {"sender", facts.sender}});
    return r;
  }
  if (d.verdict == Verdict::reject || d.verdict == Verdict::discard) {
    ProcessResult r{d.verdict == Verdict::reject ? "rejected" : "discarded", d.rule + ": " + d.reason};
    mark_processed(id, r);
    log_event(LogLevel::info, r.outcome,
              {{"spool", id}, {"list", list.address()}, {"rule", d.rule}, {"reason", d.reason}});
    return r;
  }

  // Accepted: archive copy (list headers, no footer), then the delivered copy (with footer).
  std::string archive_rel;
  if (list.settings.archive)
    archive_rel = archive_write(cfg_.archive_dir(), list, id, e.env.received, cfg_.hostname, *decorated);
  // personalize = footer|full: queued without the footer; the relay adds each member's own.
  const bool personal = personalize_from(list.settings.personalize) != Personalize::none;
  std::string footer = footer_for(templates_, list, cfg_, personal);
  std::string out = dmarc_mitigate(cfg_, list, info, personal ? *decorated : add_footer(*decorated, footer));
  std::string qname = id + ".post.eml";
  write_durable(cfg_.queue_dir() / "tmp", cfg_.queue_dir(), qname, {out});

  WriteTx tx(*db_);
  std::int64_t uid = 0;
  if (!archive_rel.empty()) {
    MessageInfo ainfo = info;
    ainfo.subject = message_info(*decorated).subject;
    ainfo.size = decorated->size();
    uid = archive_index(*db_, list, id, archive_rel, ainfo, e.env.received, *decorated);
  }
  auto job = job_create_for_members(*db_, list, "post", id, "queue/" + qname, bounces, facts.sender);
  if (personal) job_set_personal(*db_, job, list.settings.personalize, footer);
  digest_add(*db_, list, id, info, *decorated);
  digest_send_due(cfg_, *db_, templates_, &list);  // the size threshold
  ProcessResult r{"accepted", "job " + std::to_string(job)};
  mark_processed(id, r);
  tx.commit();
  log_event(LogLevel::info, "accepted",
            {{"spool", id},
             {"list", list.address()},
             {"uid", std::to_string(uid)},
             {"job", std::to_string(job)},
             {"message_id", info.message_id}});
  return r;
}

}  // namespace listd
