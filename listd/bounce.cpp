// bounce.cpp - see bounce.hpp.
#include "listd/bounce.hpp"

#include <SQLiteCpp/Statement.h>
#include <gmime/gmime.h>

#include <algorithm>
#include <cctype>
#include <cmath>
#include <iterator>
#include <memory>
#include <regex>
#include <sstream>
#include <utility>
#include <vector>

#include "listd/db.hpp"
#include "listd/log.hpp"
#include "listd/message.hpp"
#include "listd/subscription.hpp"
#include "smtp/address.hpp"

#include "listd/text.hpp"

namespace listd {
namespace {

struct Unref {
  void operator()(void* p) const {
    if (p) g_object_unref(p);
  }
};

std::string part_bytes(GMimeObject* obj) {
  if (!GMIME_IS_PART(obj)) return {};
  GMimeDataWrapper* content = g_mime_part_get_content(GMIME_PART(obj));
  if (!content) return {};
  std::unique_ptr<GMimeStream, Unref> out(g_mime_stream_mem_new());
  g_mime_data_wrapper_write_to_stream(content, out.get());  // decodes the transfer encoding
  GByteArray* bytes = g_mime_stream_mem_get_byte_array(GMIME_STREAM_MEM(out.get()));
  return std::string(reinterpret_cast<const char*>(bytes->data), std::min<std::size_t>(bytes->len, 1 << 20));
}

struct Walk {
  std::string delivery_status;  // the message/delivery-status part, if any
  std::string text;             // all text/plain of the report's own parts, concatenated
  bool report = false;
};

void walk(GMimeObject* obj, Walk& w, int depth) {
  if (!obj || depth > 8) return;
  GMimeContentType* ct = g_mime_object_get_content_type(obj);
  const char* type = ct ? g_mime_content_type_get_media_type(ct) : "text";
  const char* sub = ct ? g_mime_content_type_get_media_subtype(ct) : "plain";
  std::string t = lower(type ? type : ""), s = lower(sub ? sub : "");
  if (GMIME_IS_MULTIPART(obj)) {
    if (s == "report") w.report = true;
    int n = g_mime_multipart_get_count(GMIME_MULTIPART(obj));
    for (int i = 0; i < n && i < 32; ++i) walk(g_mime_multipart_get_part(GMIME_MULTIPART(obj), i), w, depth + 1);
    return;
  }
  if (GMIME_IS_MESSAGE_PART(obj)) return;  // the returned original: its addresses are not ours to judge
  if (t == "message" && (s == "delivery-status" || s == "global-delivery-status")) {
    w.delivery_status += part_bytes(obj);
    return;
  }
  if (t == "text" && (s == "plain" || s.empty())) {
    if (w.text.size() < (1 << 20)) w.text += part_bytes(obj) + "\n";
  }
}

void add(BounceResult& r, const std::string& addr, bool permanent, const std::string& status, const std::string& diag) {
  auto norm = smtp::normalize_address(trim(addr), true);
  if (!norm || r.addresses.size() >= kMaxBouncedAddresses) return;
  for (auto& a : r.addresses)
    if (a.address == *norm) return;
  // One line each: a bare CR or other control byte inside the remote text becomes a space.
  auto one_line = [](std::string s) {
    for (auto& c : s)
      if (static_cast<unsigned char>(c) < 32 || c == 127) c = ' ';
    return s;
  };
  r.addresses.push_back({*norm, permanent, one_line(status), one_line(diag.substr(0, 200))});
}

// RFC 3464 §2.3: per-recipient field groups separated by blank lines.
void parse_dsn(const std::string& ds, BounceResult& r) {
  std::istringstream in(ds);
  std::string line, recipient, action, status, diag;
  auto flush = [&] {
    if (!recipient.empty() && (action == "failed" || action == "delayed")) {
      bool permanent = action == "failed" && (status.empty() || status[0] != '4');
      add(r, recipient, permanent, status, diag);
    }
    recipient.clear();
    action.clear();
    status.clear();
    diag.clear();
  };
  std::string last_key;
  while (std::getline(in, line)) {
    if (!line.empty() && line.back() == '\r') line.pop_back();
    if (line.empty()) {
      flush();
      continue;
    }
    if ((line[0] == ' ' || line[0] == '\t') && last_key == "diagnostic-code") {
      diag += " " + trim(line);
      continue;
    }
    auto colon = line.find(':');
    if (colon == std::string::npos) continue;
    std::string key = lower(trim(line.substr(0, colon)));
    std::string value = trim(line.substr(colon + 1));
    last_key = key;
    if (key == "final-recipient" || (key == "original-recipient" && recipient.empty())) {
      auto semi = value.find(';');  // "rfc822; user@example.org"
      recipient = trim(semi == std::string::npos ? value : value.substr(semi + 1));
      if (!recipient.empty() && recipient.front() == '<') recipient = recipient.substr(1, recipient.find('>') - 1);
    } else if (key == "action") {
      action = lower(value);
    } else if (key == "status") {
      status = value.substr(0, value.find_first_of(" ("));
    } else if (key == "diagnostic-code") {
      diag = value;
    }
  }
  flush();
}

// Non-standard formats: a start marker (regex, case-insensitive) after which addresses are
// read until an end marker; `permanent` unless the marker says the error is temporary.
struct Format {
  const char* name;
  const char* start;
  const char* end;  // stop reading addresses here (regex)
  bool permanent;
};

const Format kFormats[] = {
    {"postfix", R"(^(the mail system|i'm sorry to have to inform you that your message could not))",
     R"(^(-- |content-description:))", true},
    {"exim", R"(^a message that you sent could not be delivered to one or more of its)", R"(^-+ this is a copy)", true},
    {"exim", R"(^message .* has been frozen|^this message has been delayed)", R"(^-+ this is a copy)", false},
    {"qmail", R"(^hi\. this is the qmail-send program)", R"(^--- (below this line|enclosed))", true},
    {"sendmail", R"(^-+ the following addresses had permanent fatal errors -+)", R"(^-+ )", true},
    {"sendmail", R"(^-+ the following addresses had transient non-fatal errors -+)", R"(^-+ )", false},
    {"exchange", R"(^(delivery has failed to these recipients or groups:|your message did not reach some or all))",
     R"(^(diagnostic information for administrators|original message headers))", true},
};

// Lines are cut to RFC 5322's 998 octets before any regex sees them: libstdc++'s std::regex
// recurses once per character, and a longer line overflowed the stack (found by tests/fuzz).
constexpr std::size_t kMaxMatchedLine = 998;

void parse_text(const std::string& text, BounceResult& r) {
  static const std::regex addr_re(R"(<?([A-Za-z0-9._%+=!#$&'*/?^`{|}~-]+@[A-Za-z0-9.-]+\.[A-Za-z]{2,})>?)");
  static const std::regex code_re(R"(\b([245]\.\d{1,3}\.\d{1,3})\b)");
  // Compiled once: compiling them for every message made each bounce cost milliseconds.
  static const auto markers = [] {
    std::vector<std::pair<std::regex, std::regex>> m;
    for (const auto& f : kFormats)
      m.emplace_back(std::regex(f.start, std::regex::icase), std::regex(f.end, std::regex::icase));
    return m;
  }();
  for (std::size_t fi = 0; fi < std::size(kFormats); ++fi) {
    const auto& f = kFormats[fi];
    const auto& [start, end] = markers[fi];
    std::istringstream in(text);
    std::string line;
    bool inside = false;
    int lines = 0;
    std::size_t before = r.addresses.size();
    while (std::getline(in, line) && lines < 400) {
      if (line.size() > kMaxMatchedLine) line.resize(kMaxMatchedLine);
      line = trim(line);
      if (!inside) {
        if (std::regex_search(line, start)) inside = true;
        continue;
      }
      ++lines;
      if (std::regex_search(line, end)) break;
      std::string l = lower(line);
      bool temporary = l.find("temporary") != std::string::npos || l.find("will retry") != std::string::npos;
      std::smatch m;
      if (std::regex_search(line, m, addr_re)) {
        // Skip lines that quote our own headers or mention the postmaster.
        std::string a = lower(m[1].str());
        if (a.rfind("postmaster@", 0) == 0 || a.rfind("mailer-daemon@", 0) == 0) continue;
        std::smatch code;
        std::string status = std::regex_search(line, code, code_re) ? code[1].str() : "";
        bool permanent = f.permanent && !temporary && (status.empty() || status[0] == '5');
        add(r, m[1].str(), permanent, status, trim(line));
      }
    }
    if (r.addresses.size() > before) {
      r.format = f.name;
      return;
    }
  }
}

}  // namespace

BounceResult bounce_parse(std::string_view raw, const std::string& verp_address) {
  mime_init();
  BounceResult r;
  MessageInfo info = message_info(raw);
  std::string lf = to_lf(raw);
  std::unique_ptr<GMimeStream, Unref> stream(g_mime_stream_mem_new_with_buffer(lf.data(), lf.size()));
  std::unique_ptr<GMimeParser, Unref> parser(g_mime_parser_new_with_stream(stream.get()));
  std::unique_ptr<GMimeMessage, Unref> msg(g_mime_parser_construct_message(parser.get(), nullptr));
  Walk w;
  if (msg) walk(g_mime_message_get_mime_part(msg.get()), w, 0);
  if (!w.delivery_status.empty()) {
    parse_dsn(w.delivery_status, r);
    if (!r.addresses.empty()) r.format = "dsn";
  }
  if (r.addresses.empty()) parse_text(w.text.empty() ? info.first_text : w.text, r);
  if (r.addresses.empty() && !verp_address.empty()) {
    // The VERP address says who; the text does not say how bad: count it as permanent only
    // when the report looks like a failure report at all.
    bool failure = w.report || lower(info.subject).find("undeliver") != std::string::npos ||
                   lower(info.subject).find("failure") != std::string::npos ||
                   lower(info.subject).find("returned") != std::string::npos;
    add(r, verp_address, failure, "", "");
    r.format = "verp";
  }
  r.is_bounce = !r.addresses.empty();
  return r;
}

namespace {

struct BounceSettings {
  double threshold = 5.0;
  int stale_days = 7;
  int warnings = 3;
  int warning_interval_days = 7;
};

BounceSettings bounce_settings(const ListRow& list) {
  BounceSettings b;
  b.threshold = list.settings.bounce_threshold;
  b.stale_days = list.settings.bounce_stale_days;
  b.warnings = list.settings.bounce_warnings;
  b.warning_interval_days = list.settings.bounce_warning_interval;
  return b;
}

void notify(const Config& cfg, SQLite::Database& db, const Templates& t, const ListRow& list, const std::string& to,
            const std::string& tmpl, const std::string& subject, TemplateVars vars) {
  vars["list_name"] = list.name;
  vars["list_host"] = list.host;
  vars["list_address"] = list.address();
  vars["list_url"] = cfg.base_url + "/lists/" + list.address();
  queue_notice(cfg, db, list, to, compose_notice(list, "owner", to, subject, t.render(tmpl, vars)));
}

void notify_owners(const Config& cfg, SQLite::Database& db, const Templates& t, const ListRow& list,
                   const std::string& subject, const TemplateVars& vars) {
  Store store(db);
  for (auto& o : store.members(list, "owner"))
    notify(cfg, db, t, list, o.email, "mail/bounce-owner.txt", subject, vars);
}

}  // namespace

std::string bounce_record(const Config& cfg, SQLite::Database& db, const Templates& templates, const ListRow& list,
                          const BouncedAddress& b) {
  Store store(db);
  auto m = store.membership(list, b.address);
  if (!m) return b.address + ": not a member";
  auto s = bounce_settings(list);
  auto now = now_unix();
  auto today = now / 86400;
  WriteTx tx(db);
  double score = 0;
  std::int64_t last_day = -1;
  {
    SQLite::Statement q(db, "SELECT score, last_day FROM bounce_scores WHERE list_id = ? AND person_id = ?");
    q.bind(1, list.id);
    q.bind(2, m->person_id);
    if (q.executeStep()) {
      score = q.getColumn(0).getDouble();
      last_day = q.getColumn(1).getInt64();
    }
  }
  if (last_day == today) return b.address + ": already counted today (score " + std::to_string(score) + ")";
  // Decay: the score halves for every bounce_stale_days without a bounce (a half-life), so
  // old trouble fades instead of adding up forever.
  if (last_day >= 0 && s.stale_days > 0) score *= std::pow(0.5, static_cast<double>(today - last_day) / s.stale_days);
  if (score < 0.05) score = 0;
  score += b.permanent ? 1.0 : 0.5;
  {
    SQLite::Statement q(
        db,
        "INSERT INTO bounce_scores(list_id, person_id, score, last_day, last_status) VALUES (?,?,?,?,?) "
        "ON CONFLICT(list_id, person_id) DO UPDATE SET score = excluded.score, last_day = "
        "excluded.last_day, last_status = excluded.last_status");
    q.bind(1, list.id);
    q.bind(2, m->person_id);
    q.bind(3, score);
    q.bind(4, today);
    q.bind(5, b.status + " " + b.diagnostic);
    q.exec();
  }
  std::string what = b.address + ": score " + std::to_string(score).substr(0, 4);
  if (score >= s.threshold && !m->disabled) {
    SQLite::Statement d(db,
                        "UPDATE memberships SET disabled = 1 WHERE list_id = ? AND person_id = ? AND role = 'member'");
    d.bind(1, list.id);
    d.bind(2, m->person_id);
    d.exec();
    SQLite::Statement w(db,
                        "UPDATE bounce_scores SET warnings_sent = 0, next_warning = ? WHERE list_id = ? AND "
                        "person_id = ?");
    w.bind(1, now);  // the first warning goes out at the next maintenance pass
    w.bind(2, list.id);
    w.bind(3, m->person_id);
    w.exec();
    notify_owners(cfg, db, templates, list, "Bounce action notice: " + b.address + " disabled",
                  {{"address", b.address}, {"action", "disabled"}, {"score", std::to_string(score).substr(0, 4)}});
    log_event(LogLevel::info, "bounce-disabled", {{"list", list.address()}, {"address", b.address}});
    what += ", delivery disabled";
  }
  tx.commit();
  return what;
}

std::size_t bounce_maintenance(const Config& cfg, SQLite::Database& db, const Templates& templates) {
  Store store(db);
  std::size_t acted = 0;
  auto now = now_unix();
  struct Due {
    std::int64_t list_id, person_id;
    std::string email;
    int sent;
  };
  std::vector<Due> due;
  {
    SQLite::Statement q(db,
                        // CROSS JOIN fixes the order: from the few due scores (bounce_scores_due) to
                        // their memberships, never a walk over every membership of a big list.
                        "SELECT b.list_id, b.person_id, p.email, b.warnings_sent FROM bounce_scores b CROSS JOIN "
                        "memberships m ON m.list_id = b.list_id AND m.person_id = b.person_id AND m.role = 'member' "
                        "CROSS JOIN people p ON p.id = b.person_id WHERE m.disabled = 1 AND b.next_warning > 0 AND "
                        "b.next_warning <= ? LIMIT 1000");
    q.bind(1, now);
    while (q.executeStep())
      due.push_back(
          {q.getColumn(0).getInt64(), q.getColumn(1).getInt64(), q.getColumn(2).getString(), q.getColumn(3).getInt()});
  }
  auto lists = store.all_lists();
  for (auto& d : due) {
    auto it = std::find_if(lists.begin(), lists.end(), [&](const ListRow& l) { return l.id == d.list_id; });
    if (it == lists.end()) continue;
    const ListRow& list = *it;
    auto s = bounce_settings(list);
    WriteTx tx(db);
    if (d.sent >= s.warnings) {
      store.remove_members(list, {d.email});
      SQLite::Statement del(db, "DELETE FROM bounce_scores WHERE list_id = ? AND person_id = ?");
      del.bind(1, d.list_id);
      del.bind(2, d.person_id);
      del.exec();
      notify_owners(cfg, db, templates, list, "Bounce action notice: " + d.email + " removed",
                    {{"address", d.email}, {"action", "removed after " + std::to_string(d.sent) + " warnings"}});
      log_event(LogLevel::info, "bounce-removed", {{"list", list.address()}, {"address", d.email}});
    } else {
      notify(cfg, db, templates, list, d.email, "mail/bounce-warning.txt",
             "Your membership in " + list.address() + " has been disabled",
             {{"address", d.email},
              {"warnings_left", std::to_string(s.warnings - d.sent)},
              {"reenable_address", list.name + "-request@" + list.host}});
      SQLite::Statement u(db,
                          "UPDATE bounce_scores SET warnings_sent = warnings_sent + 1, next_warning = ? WHERE list_id "
                          "= ? AND person_id = ?");
      u.bind(1, now + static_cast<std::int64_t>(s.warning_interval_days) * 86400);
      u.bind(2, d.list_id);
      u.bind(3, d.person_id);
      u.exec();
    }
    tx.commit();
    ++acted;
  }
  return acted;
}

std::size_t bounce_feed_from_delivery(const Config& cfg, SQLite::Database& db, const Templates& templates) {
  Store store(db);
  std::int64_t last = db.execAndGet("SELECT last_recipient_id FROM bounce_feed WHERE id = 1").getInt64();
  struct Row {
    std::int64_t id, list_id;
    std::string address, reply;
  };
  std::vector<Row> rows;
  {
    SQLite::Statement q(db,
                        "SELECT recipient_id, list_id, address, last_reply FROM delivery_failures WHERE recipient_id "
                        "> ? AND list_id IS NOT NULL AND kind IN ('post', 'digest_mime', 'digest_plain') ORDER BY "
                        "recipient_id LIMIT 1000");
    q.bind(1, last);
    while (q.executeStep())
      rows.push_back({q.getColumn(0).getInt64(), q.getColumn(1).getInt64(), q.getColumn(2).getString(),
                      q.getColumn(3).getString()});
  }
  if (rows.empty()) return 0;
  auto lists = store.all_lists();
  WriteTx tx(db);
  for (auto& r : rows) {
    auto it = std::find_if(lists.begin(), lists.end(), [&](const ListRow& l) { return l.id == r.list_id; });
    if (it == lists.end()) continue;
    BouncedAddress b;
    b.address = r.address;
    b.permanent = !r.reply.empty() && r.reply[0] == '5';
    auto sp = r.reply.find(' ');
    if (sp != std::string::npos && sp + 1 < r.reply.size() && std::isdigit(static_cast<unsigned char>(r.reply[sp + 1])))
      b.status = r.reply.substr(sp + 1, r.reply.find(' ', sp + 1) - sp - 1);
    b.diagnostic = r.reply;
    auto what = bounce_record(cfg, db, templates, *it, b);
    log_event(LogLevel::info, "bounce",
              {{"list", it->address()},
               {"address", b.address},
               {"permanent", b.permanent ? "yes" : "no"},
               {"status", b.status},
               {"format", "relay"},
               {"result", what}});
  }
  SQLite::Statement u(db, "UPDATE bounce_feed SET last_recipient_id = ? WHERE id = 1");
  u.bind(1, rows.back().id);
  u.exec();
  tx.commit();
  return rows.size();
}

std::size_t owner_summaries(const Config& cfg, SQLite::Database& db, const Templates& templates) {
  Store store(db);
  std::size_t sent = 0;
  auto now = now_unix();
  for (auto& list : store.all_lists()) {
    SQLite::Statement counts(db,
                             "SELECT (SELECT count(*) FROM held_messages WHERE list_id = ?1), (SELECT count(*) FROM "
                             "subscription_requests WHERE list_id = ?1), (SELECT coalesce(max(sent_at), 0) FROM "
                             "autoreply_log WHERE list_id = ?1 AND kind = 'summary')");
    counts.bind(1, list.id);
    counts.executeStep();
    auto held = counts.getColumn(0).getInt64(), pending = counts.getColumn(1).getInt64();
    auto last = counts.getColumn(2).getInt64();
    if ((held == 0 && pending == 0) || now - last < kOwnerSummaryInterval) continue;
    std::string details;
    SQLite::Statement h(db, "SELECT sender, subject, reason FROM held_messages WHERE list_id = ? ORDER BY id LIMIT 50");
    h.bind(1, list.id);
    while (h.executeStep())
      details += "  held: from " + h.getColumn(0).getString() + ", \"" + h.getColumn(1).getString() + "\" (" +
                 h.getColumn(2).getString() + ")\n";
    for (auto& r : Subscriptions(cfg, db, templates).pending(list)) details += "  subscription: " + r.address + "\n";
    TemplateVars vars{
        {"held_count", std::to_string(held)}, {"pending_count", std::to_string(pending)}, {"details", details}};
    WriteTx tx(db);
    std::vector<std::string> to;
    for (auto& m : store.members(list, "owner")) to.push_back(m.email);
    for (auto& m : store.members(list, "moderator"))
      if (std::find(to.begin(), to.end(), m.email) == to.end()) to.push_back(m.email);
    for (auto& who : to) {
      notify(cfg, db, templates, list, who, "mail/owner-summary.txt",
             std::to_string(held + pending) + " request(s) waiting for " + list.address(), vars);
      ++sent;
    }
    SQLite::Statement log(db,
                          "INSERT INTO autoreply_log(list_id, address, kind, sent_at) VALUES (?, '', 'summary', ?)");
    log.bind(1, list.id);
    log.bind(2, now);
    log.exec();
    tx.commit();
  }
  return sent;
}

}  // namespace listd
