// imap_fake.hpp - an in-memory imap::Backend / pop3::Maildrop for session transcript tests:
// user ana (password "pw") reads INBOX and lista@x.org; searches are plain substring checks.
#pragma once

#include <algorithm>
#include <map>
#include <set>
#include <string>
#include <vector>

#include "imap/mime.hpp"
#include "imap/session.hpp"
#include "pop3/session.hpp"

namespace fake {

inline std::string lower(std::string s) {
  for (auto& c : s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return s;
}

struct Msg {
  std::int64_t key;
  std::uint32_t uid;
  std::string raw;  // CRLF
  std::int64_t date;
};

class Backend : public imap::Backend, public pop3::Maildrop {
 public:
  Backend() {
    add("From: Ana <ana@mired.org>\nTo: lista@x.org\nSubject: hola\nDate: Mon, 2 Feb 2026 10:00:00 +0000\n"
        "Message-ID: <1@x>\n\nprimer mensaje\n",
        1770026400);
    add("From: bob@mired.org\nTo: lista@x.org\nCc: ana@mired.org\nSubject: adios\nX-Tag: Verde\n\n"
        "segundo mensaje con PALABRA\n.dot line\n",
        1770112800);
    add("From: \"Carla C.\" <carla@otro.org>\nTo: lista@x.org\nSubject: =?UTF-8?Q?ma=C3=B1ana?=\n"
        "MIME-Version: 1.0\nContent-Type: multipart/mixed; boundary=\"b1\"\n\n--b1\nContent-Type: text/plain; "
        "charset=utf-8\n\ntexto\n--b1\nContent-Type: application/pdf; name=a.pdf\nContent-Disposition: attachment; "
        "filename=a.pdf\nContent-Transfer-Encoding: base64\n\nJVBERi0=\n--b1--\n",
        1770199200);
  }
  void add(const std::string& raw, std::int64_t date) {
    Msg m{static_cast<std::int64_t>(100 + msgs.size()), static_cast<std::uint32_t>(msgs.size() + 1), imap::to_crlf(raw),
          date};
    msgs.push_back(m);
  }
  bool login(const std::string& user, const std::string& password) override {
    ++logins;
    return (user == "ana" || user == "ana@mired.org") && password == "pw";
  }
  // With `slow`, logins take the two-step path (as listd's password hashes do).
  imap::Backend::LoginStep begin_login(const std::string& user, const std::string& password) override {
    if (!slow) return login(user, password) ? imap::Backend::LoginStep::ok : imap::Backend::LoginStep::fail;
    pending = {user, password};
    return imap::Backend::LoginStep::slow;
  }
  pop3::Maildrop::LoginStep start_login(const std::string& user, const std::string& password) override {
    auto s = begin_login(user, password);
    return s == imap::Backend::LoginStep::slow ? pop3::Maildrop::LoginStep::slow
           : s == imap::Backend::LoginStep::ok ? pop3::Maildrop::LoginStep::ok
                                               : pop3::Maildrop::LoginStep::fail;
  }
  bool finish_login() override { return login(pending.first, pending.second); }
  std::vector<std::string> mailboxes() override { return {"INBOX", "lista@x.org"}; }
  bool open(const std::string& mailbox, std::uint32_t& uidvalidity, imap::MessageListPtr& out) override {
    if (mailbox != "INBOX" && mailbox != "lista@x.org") return false;
    uidvalidity = mailbox == "INBOX" ? 77 : 88;
    out = current(mailbox);
    return true;
  }
  // current - one shared list while msgs is unchanged (as listd's mailbox cache does).
  imap::MessageListPtr current(const std::string&) override {
    imap::MessageList now;
    for (auto& m : msgs) now.push_back({m.uid, m.key, m.raw.size(), m.date, m.date});
    bool same = shared && shared->size() == now.size() &&
                std::equal(now.begin(), now.end(), shared->begin(), [](auto& a, auto& b) { return a.uid == b.uid; });
    if (!same) shared = std::make_shared<const imap::MessageList>(std::move(now));
    return shared;
  }
  std::vector<std::int64_t> seen_keys(const std::string&, std::uint32_t after) override {
    std::vector<std::int64_t> out;
    for (auto& m : msgs)
      if (m.uid > after && seen.count(m.key)) out.push_back(m.key);
    return out;
  }
  std::optional<std::string> message(std::int64_t key) override {
    for (auto& m : msgs)
      if (m.key == key) return m.raw;
    return std::nullopt;
  }
  std::vector<imap::MessageFacts> facts(const std::vector<std::int64_t>& keys) override {
    ++facts_calls;
    std::vector<imap::MessageFacts> out;
    for (auto k : keys) {
      auto raw = *message(k);
      auto t = imap::parse_mime(raw);
      out.push_back({imap::envelope(std::string_view(raw).substr(0, t.body_begin)), imap::bodystructure(t, raw, false),
                     imap::bodystructure(t, raw, true)});
    }
    return out;
  }
  std::vector<std::int64_t> search(const std::string&, imap::SearchField f, const std::string& header,
                                   const std::string& value) override {
    std::vector<std::int64_t> out;
    for (auto& m : msgs) {
      auto t = imap::parse_mime(m.raw);
      std::string_view h = std::string_view(m.raw).substr(0, t.body_begin);
      std::string hay;
      switch (f) {
        case imap::SearchField::from: hay = imap::header_value(h, "from"); break;
        case imap::SearchField::to: hay = imap::header_value(h, "to"); break;
        case imap::SearchField::cc: hay = imap::header_value(h, "cc"); break;
        case imap::SearchField::bcc: hay = imap::header_value(h, "bcc"); break;
        case imap::SearchField::subject: hay = imap::header_value(h, "subject"); break;
        case imap::SearchField::body: hay = m.raw.substr(t.body_begin); break;
        case imap::SearchField::text: hay = m.raw; break;
        case imap::SearchField::header: hay = imap::header_value(h, header); break;
      }
      if (lower(hay).find(lower(value)) != std::string::npos) out.push_back(m.key);
    }
    return out;
  }
  void set_seen(const std::vector<std::int64_t>& keys, bool s) override {
    for (auto k : keys) s ? (void)seen.insert(k) : (void)seen.erase(k);
  }
  pop3::DropListPtr list() override {
    auto out = std::make_shared<pop3::DropList>();
    for (auto& m : msgs)
      if (!hidden.count(m.key)) out->push_back({m.key, m.raw.size()});
    return out;
  }
  std::string uidl(std::int64_t key) override { return "u" + std::to_string(key); }
  void remove(const std::vector<std::int64_t>& keys) override { hidden.insert(keys.begin(), keys.end()); }

  std::vector<Msg> msgs;
  std::set<std::int64_t> seen, hidden;
  int logins = 0, facts_calls = 0;
  bool slow = false;
  std::pair<std::string, std::string> pending;
  imap::MessageListPtr shared;
};

// Transcript - a session with the fake; `send` returns what the server answered.
struct Transcript {
  explicit Transcript(imap::SessionOptions o = plain()) : session(backend, o) { greeting = session.greeting(); }
  static imap::SessionOptions plain() {
    imap::SessionOptions o;
    o.plaintext_allowed = true;
    o.limits.failed_login_delay_ms = 0;
    return o;
  }
  std::string send(const std::string& s) {
    std::string out = session.input(s);
    while (session.more()) out += session.resume();
    return out;
  }
  std::string login() { return send("L LOGIN ana pw\r\n"); }
  Backend backend;
  imap::Session session;
  std::string greeting;
};

}  // namespace fake
