// digest.cpp - see digest.hpp.
#include "listd/digest.hpp"

#include <SQLiteCpp/Statement.h>

#include <ctime>

#include "listd/db.hpp"
#include "listd/delivery.hpp"
#include "listd/fsutil.hpp"
#include "listd/log.hpp"
#include "listd/spool.hpp"

namespace listd {
namespace {

std::string rfc5322_date(std::int64_t t) {
  std::time_t tt = static_cast<std::time_t>(t);
  std::tm tm{};
  gmtime_r(&tt, &tm);
  char buf[64];
  std::strftime(buf, sizeof buf, "%a, %d %b %Y %H:%M:%S +0000", &tm);
  return buf;
}

int year_of(std::int64_t t) {
  std::time_t tt = static_cast<std::time_t>(t);
  std::tm tm{};
  gmtime_r(&tt, &tm);
  return tm.tm_year + 1900;
}

// One header line of ours: only our own ASCII text or already-decoded subjects go in; strip
// line breaks so nothing can inject a header.
std::string one_line(std::string s) {
  for (auto& c : s)
    if (c == '\n' || c == '\r') c = ' ';
  return s;
}

std::string title(const ListRow& list, int volume, int issue) {
  return list.name + " Digest, Vol " + std::to_string(volume) + ", Issue " + std::to_string(issue);
}

std::string headers(const ListRow& list, const std::string& subject, const std::string& content_type) {
  return "From: " + list.name + "-request@" + list.host + "\nTo: " + list.address() + "\nSubject: " + subject +
         "\nDate: " + rfc5322_date(now_unix()) + "\nMessage-ID: <digest." + random_hex(10) + "@" + list.host +
         ">\nMIME-Version: 1.0\nContent-Type: " + content_type + "\nReply-To: " + list.address() + "\nList-Id: <" +
         list.name + "." + list.host + ">\nList-Post: <mailto:" + list.address() +
         ">\nList-Unsubscribe: <mailto:" + list.name + "-leave@" + list.host + ">\nX-BeenThere: " + list.address() +
         "\nPrecedence: list\n";
}

std::string toc(const std::vector<DigestItem>& items) {
  std::string out = "Today's Topics:\n\n";
  for (std::size_t i = 0; i < items.size(); ++i)
    out += "   " + std::to_string(i + 1) + ". " + one_line(items[i].subject) + " (" + one_line(items[i].from) + ")\n";
  return out;
}

}  // namespace

std::string digest_build_mime(const ListRow& list, int volume, int issue, const std::vector<DigestItem>& items,
                              const std::string& header, const std::string& footer, const std::string& boundary_seed) {
  std::string outer = "=_digest_outer_" + boundary_seed, inner = "=_digest_inner_" + boundary_seed;
  std::string t = title(list, volume, issue);
  std::string out = headers(list, t, "multipart/mixed; boundary=\"" + outer + "\"");
  out += "\nThis is a MIME digest.\n\n--" + outer +
         "\nContent-Type: text/plain; charset=utf-8\nContent-Transfer-Encoding: 8bit\nContent-Description: " + t +
         "\n\n" + header + "\n" + toc(items) + "\n--" + outer + "\nContent-Type: multipart/digest; boundary=\"" +
         inner + "\"\n\n";
  for (auto& it : items) {
    out += "--" + inner + "\nContent-Type: message/rfc822\n\n" + it.message;
    if (!it.message.empty() && it.message.back() != '\n') out += "\n";
    out += "\n";
  }
  out += "--" + inner + "--\n\n--" + outer +
         "\nContent-Type: text/plain; charset=utf-8\nContent-Transfer-Encoding: 8bit\nContent-Description: Digest "
         "Footer\n\n" +
         footer + "\n--" + outer + "--\n";
  return out;
}

std::string digest_build_plain(const ListRow& list, int volume, int issue, const std::vector<DigestItem>& items,
                               const std::string& header, const std::string& footer) {
  const std::string sep30(30, '-'), sep70(70, '-');
  std::string t = title(list, volume, issue);
  std::string out = headers(list, t, "text/plain; charset=utf-8") + "Content-Transfer-Encoding: 8bit\n\n";
  out += header + "\n" + toc(items) + "\n" + sep70 + "\n";
  for (auto& it : items) {
    out +=
        "\nDate: " + one_line(it.date) + "\nFrom: " + one_line(it.from) + "\nSubject: " + one_line(it.subject) + "\n\n";
    // RFC 1153: a line of 30 dashes inside a post would read as a separator; indent it.
    std::size_t pos = 0;
    while (pos < it.text.size()) {
      auto nl = it.text.find('\n', pos);
      std::string line = it.text.substr(pos, nl == std::string::npos ? std::string::npos : nl - pos);
      if (line == sep30) line = " " + line;
      out += line + "\n";
      if (nl == std::string::npos) break;
      pos = nl + 1;
    }
    out += "\n" + sep30 + "\n";
  }
  std::string end = "End of " + t;
  out += "\n" + footer + "\n" + end + "\n" + std::string(end.size(), '*') + "\n";
  return out;
}

void digest_add(SQLite::Database& db, const ListRow& list, const std::string& spool_id, const MessageInfo& info,
                std::string_view message) {
  // Only lists with digest members collect.
  SQLite::Statement any(db,
                        "SELECT EXISTS(SELECT 1 FROM memberships WHERE list_id = ? AND role = 'member' AND delivery != "
                        "'regular')");
  any.bind(1, list.id);
  any.executeStep();
  if (any.getColumn(0).getInt() == 0) return;
  SQLite::Statement q(db,
                      "INSERT OR IGNORE INTO digest_items(list_id, spool_id, subject, from_text, date, text, message, "
                      "size, added) VALUES (?,?,?,?,?,?,?,?,?)");
  q.bind(1, list.id);
  q.bind(2, spool_id);
  q.bind(3, info.subject);
  q.bind(4, info.from_name.empty() ? info.from_address : info.from_name + " <" + info.from_address + ">");
  q.bind(5, rfc5322_date(info.date != 0 ? info.date : now_unix()));
  q.bind(6, info.first_text);
  q.bind(7, message.data(), static_cast<int>(message.size()));
  q.bind(8, static_cast<std::int64_t>(message.size()));
  q.bind(9, now_unix());
  q.exec();
}

std::size_t digest_send(const Config& cfg, SQLite::Database& db, const Templates& templates, const ListRow& list) {
  WriteTx tx(db);
  std::vector<DigestItem> items;
  std::int64_t max_id = 0;
  {
    SQLite::Statement q(db,
                        "SELECT id, subject, from_text, date, text, message FROM digest_items WHERE list_id = ? "
                        "ORDER BY id");
    q.bind(1, list.id);
    while (q.executeStep()) {
      max_id = q.getColumn(0).getInt64();
      auto blob = q.getColumn(5);
      items.push_back(
          {q.getColumn(1).getString(), q.getColumn(2).getString(), q.getColumn(3).getString(),
           q.getColumn(4).getString(),
           std::string(static_cast<const char*>(blob.getBlob()), static_cast<std::size_t>(blob.getBytes()))});
    }
  }
  if (items.empty()) return 0;
  // Volume and issue: the issue counts up; a new calendar year starts a new volume.
  int volume = 1, issue = 0;
  std::int64_t last_sent = 0;
  {
    SQLite::Statement q(db, "SELECT volume, issue, last_sent FROM digest_state WHERE list_id = ?");
    q.bind(1, list.id);
    if (q.executeStep()) {
      volume = q.getColumn(0).getInt();
      issue = q.getColumn(1).getInt();
      last_sent = q.getColumn(2).getInt64();
    }
  }
  auto now = now_unix();
  if (last_sent != 0 && year_of(now) != year_of(last_sent)) {
    ++volume;
    issue = 0;
  }
  ++issue;
  TemplateVars vars{{"list_name", list.name},
                    {"list_host", list.host},
                    {"list_address", list.address()},
                    {"list_url", cfg.base_url + "/lists/" + list.address()}};
  std::string header = templates.render("mail/digest-header.txt", vars);
  std::string footer = templates.render("mail/digest-footer.txt", vars);
  std::string seed = random_hex(8);
  struct Flavour {
    const char* delivery;
    std::string message;
  };
  Flavour flavours[] = {{"digest_mime", digest_build_mime(list, volume, issue, items, header, footer, seed)},
                        {"digest_plain", digest_build_plain(list, volume, issue, items, header, footer)}};
  for (auto& f : flavours) {
    std::vector<std::string> rcpts;
    SQLite::Statement q(db,
                        "SELECT p.email FROM memberships m JOIN people p ON p.id = m.person_id WHERE m.list_id = ? AND "
                        "m.role = 'member' AND m.delivery = ? AND m.nomail = 0 AND m.disabled = 0 ORDER BY p.email");
    q.bind(1, list.id);
    q.bind(2, f.delivery);
    while (q.executeStep()) rcpts.push_back(q.getColumn(0).getString());
    if (rcpts.empty()) continue;
    std::string id = spool_new_id();
    std::string name = id + "." + f.delivery + ".eml";
    make_private_dir(cfg.queue_dir() / "tmp");
    write_durable(cfg.queue_dir() / "tmp", cfg.queue_dir(), name, {f.message});
    job_create_for_addresses(db, &list, f.delivery, id, "queue/" + name, list.name + "-bounces@" + list.host, rcpts);
  }
  {
    SQLite::Statement d(db, "DELETE FROM digest_items WHERE list_id = ? AND id <= ?");
    d.bind(1, list.id);
    d.bind(2, max_id);
    d.exec();
    SQLite::Statement s(db,
                        "INSERT INTO digest_state(list_id, volume, issue, last_sent) VALUES (?,?,?,?) ON "
                        "CONFLICT(list_id) DO UPDATE SET volume = excluded.volume, issue = excluded.issue, last_sent "
                        "= excluded.last_sent");
    s.bind(1, list.id);
    s.bind(2, volume);
    s.bind(3, issue);
    s.bind(4, now);
    s.exec();
  }
  tx.commit();
  log_event(LogLevel::info, "digest-sent",
            {{"list", list.address()},
             {"volume", std::to_string(volume)},
             {"issue", std::to_string(issue)},
             {"posts", std::to_string(items.size())}});
  return items.size();
}

std::size_t digest_send_due(const Config& cfg, SQLite::Database& db, const Templates& templates, const ListRow* only) {
  Store store(db);
  std::size_t sent = 0;
  auto lists = only ? std::vector<ListRow>{*only} : store.all_lists();
  auto now = now_unix();
  for (auto& list : lists) {
    std::int64_t size = 0, oldest = 0, last_sent = 0;
    {
      SQLite::Statement q(db,
                          "SELECT coalesce(sum(size), 0), coalesce(min(added), 0) FROM digest_items WHERE list_id = ?");
      q.bind(1, list.id);
      q.executeStep();
      size = q.getColumn(0).getInt64();
      oldest = q.getColumn(1).getInt64();
    }
    if (size == 0) continue;
    {
      SQLite::Statement q(db, "SELECT last_sent FROM digest_state WHERE list_id = ?");
      q.bind(1, list.id);
      if (q.executeStep()) last_sent = q.getColumn(0).getInt64();
    }
    std::int64_t period = list.settings.digest_period == "weekly"    ? 7 * 86400
                          : list.settings.digest_period == "monthly" ? 30 * 86400
                                                                     : 86400;
    std::int64_t since = last_sent != 0 ? last_sent : oldest;
    bool by_size = list.settings.digest_size_threshold > 0 &&
                   size >= static_cast<std::int64_t>(list.settings.digest_size_threshold) * 1024;
    if (by_size || now - since >= period) sent += digest_send(cfg, db, templates, list);
  }
  return sent;
}

}  // namespace listd
