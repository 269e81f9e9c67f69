// session.cpp - see session.hpp. Command names and states follow RFC 3501 §6.
#include "imap/session.hpp"

#include <algorithm>
#include <cctype>
#include <charconv>
#include <ctime>
#include <functional>
#include <unordered_map>
#include <unordered_set>

#include "imap/mime.hpp"

namespace imap {
namespace {

std::string upper(std::string_view s) {
  std::string r(s);
  for (auto& c : r) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  return r;
}

bool iequal(std::string_view a, std::string_view b) {
  return upper(a) == upper(b);
}

// wildcard - LIST pattern match: '*' matches anything, '%' anything but the delimiter.
bool wildcard(std::string_view pat, std::string_view name) {
  if (pat.empty()) return name.empty();
  if (pat[0] == '*' || pat[0] == '%') {
    for (std::size_t i = 0; i <= name.size(); ++i) {
      if (wildcard(pat.substr(1), name.substr(i))) return true;
      if (i < name.size() && pat[0] == '%' && name[i] == '/') return false;
    }
    return false;
  }
  if (name.empty() ||
      std::toupper(static_cast<unsigned char>(pat[0])) != std::toupper(static_cast<unsigned char>(name[0])))
    return false;
  return wildcard(pat.substr(1), name.substr(1));
}

std::string mailbox_name(std::string n) {
  if (iequal(n, "INBOX")) return "INBOX";
  return n;
}

// --- FETCH items ------------------------------------------------------------------------
struct FetchItem {
  enum Kind { flags, internaldate, size, envelope, body, bodystructure, uid, part, rfc822, rfc822_header, rfc822_text };
  Kind kind;
  std::string section;  // for Kind::section: text inside the brackets
  bool peek = false;
  bool partial = false;
  std::uint64_t origin = 0, count = 0;
};

bool parse_fetch_item(std::string_view a, FetchItem& it) {
  std::string u = upper(a);
  if (u == "FLAGS")
    it.kind = FetchItem::flags;
  else if (u == "INTERNALDATE")
    it.kind = FetchItem::internaldate;
  else if (u == "RFC822.SIZE")
    it.kind = FetchItem::size;
  else if (u == "ENVELOPE")
    it.kind = FetchItem::envelope;
  else if (u == "BODY")
    it.kind = FetchItem::body;
  else if (u == "BODYSTRUCTURE")
    it.kind = FetchItem::bodystructure;
  else if (u == "UID")
    it.kind = FetchItem::uid;
  else if (u == "RFC822")
    it.kind = FetchItem::rfc822;
  else if (u == "RFC822.HEADER")
    it.kind = FetchItem::rfc822_header;
  else if (u == "RFC822.TEXT")
    it.kind = FetchItem::rfc822_text;
  else {
    std::string_view rest;
    if (u.rfind("BODY.PEEK[", 0) == 0) {
      it.peek = true;
      rest = a.substr(10);
    } else if (u.rfind("BODY[", 0) == 0) {
      rest = a.substr(5);
    } else {
      return false;
    }
    auto close = rest.rfind(']');
    if (close == std::string_view::npos) return false;
    it.kind = FetchItem::part;
    it.section = std::string(rest.substr(0, close));
    std::string_view tail = rest.substr(close + 1);
    if (!tail.empty()) {
      if (tail.size() < 3 || tail.front() != '<' || tail.back() != '>') return false;
      tail = tail.substr(1, tail.size() - 2);
      auto dot = tail.find('.');
      if (dot == std::string_view::npos) return false;
      auto num = [](std::string_view s, std::uint64_t& v) {
        if (s.empty() || s.size() > 12) return false;
        auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
        return ec == std::errc() && p == s.data() + s.size();
      };
      if (!num(tail.substr(0, dot), it.origin) || !num(tail.substr(dot + 1), it.count) || it.count == 0) return false;
      it.partial = true;
    }
    // Validate the section syntax now (on an empty message) so bad sections are BAD, not NO.
    std::string scratch;
    MimePart empty;
    if (!fetch_section(empty, "", it.section, scratch)) return false;
  }
  return true;
}

// --- SEARCH keys ---------------------------------------------------------------------------
struct SearchKey {
  enum Op {
    all,
    and_,
    or_,
    not_,
    seq,
    uidset,
    text,
    since,
    before,
    on,
    sentsince,
    sentbefore,
    senton,
    larger,
    smaller,
    seen,
    unseen,
    none
  };
  Op op = all;
  std::vector<SearchKey> kids;
  std::vector<SeqRange> set;
  SearchField field = SearchField::text;
  std::string header, value;
  std::int64_t number = 0;
  std::shared_ptr<std::unordered_set<std::int64_t>> hits;  // text criteria, filled lazily
};

class SearchParser {
 public:
  SearchParser(const std::vector<Value>& a, std::size_t i, std::uint32_t max_seq, std::uint32_t max_uid)
      : a_(a), i_(i), max_seq_(max_seq), max_uid_(max_uid) {}
  bool parse_all(SearchKey& out, std::string& err) {
    out.op = SearchKey::and_;
    if (i_ < a_.size() && a_[i_].is_atom() && iequal(a_[i_].text, "CHARSET")) {
      if (i_ + 1 >= a_.size()) return fail(err, "CHARSET needs a name");
      std::string cs = upper(a_[i_ + 1].text);
      if (cs != "UTF-8" && cs != "US-ASCII") {
        err = "[BADCHARSET (UTF-8 US-ASCII)] unsupported charset";
        return false;
      }
      i_ += 2;
    }
    if (i_ >= a_.size()) return fail(err, "missing search criteria");
    while (i_ < a_.size()) {
      SearchKey k;
      if (!key(k, err, 0)) return false;
      out.kids.push_back(std::move(k));
    }
    return true;
  }

 private:
  bool fail(std::string& err, std::string what) {
    err = std::move(what);
    return false;
  }
  bool astring(std::string& v, std::string& err) {
    if (i_ >= a_.size() || !a_[i_].is_astring()) return fail(err, "missing search value");
    v = a_[i_++].text;
    return true;
  }
  bool key(SearchKey& k, std::string& err, int depth) {
    if (depth > 32) return fail(err, "search nested too deeply");
    if (i_ >= a_.size()) return fail(err, "missing search key");
    const Value& v = a_[i_++];
    if (v.is_list()) {
      SearchParser sub(v.items, 0, max_seq_, max_uid_);
      k.op = SearchKey::and_;
      if (v.items.empty()) return fail(err, "empty search list");
      while (sub.i_ < v.items.size()) {
        SearchKey c;
        if (!sub.key(c, err, depth + 1)) return false;
        k.kids.push_back(std::move(c));
      }
      return true;
    }
    if (!v.is_atom()) return fail(err, "bad search key");
    std::string u = upper(v.text);
    if (!u.empty() && (std::isdigit(static_cast<unsigned char>(u[0])) || u[0] == '*')) {
      k.op = SearchKey::seq;
      if (!parse_sequence_set(u, max_seq_, k.set)) return fail(err, "bad sequence set");
      return true;
    }
    static const std::unordered_map<std::string, SearchField> text_keys = {
        {"FROM", SearchField::from}, {"TO", SearchField::to},           {"CC", SearchField::cc},
        {"BCC", SearchField::bcc},   {"SUBJECT", SearchField::subject}, {"BODY", SearchField::body},
        {"TEXT", SearchField::text}};
    if (auto f = text_keys.find(u); f != text_keys.end()) {
      k.op = SearchKey::text;
      k.field = f->second;
      return astring(k.value, err);
    }
    if (u == "HEADER") {
      k.op = SearchKey::text;
      k.field = SearchField::header;
      return astring(k.header, err) && astring(k.value, err);
    }
    if (u == "ALL") return (k.op = SearchKey::all, true);
    if (u == "SEEN") return (k.op = SearchKey::seen, true);
    if (u == "UNSEEN") return (k.op = SearchKey::unseen, true);
    if (u == "ANSWERED" || u == "DELETED" || u == "FLAGGED" || u == "DRAFT" || u == "RECENT" || u == "NEW")
      return (k.op = SearchKey::none, true);
    if (u == "UNANSWERED" || u == "UNDELETED" || u == "UNFLAGGED" || u == "UNDRAFT" || u == "OLD")
      return (k.op = SearchKey::all, true);
    if (u == "KEYWORD") {
      std::string ignored;
      k.op = SearchKey::none;
      return astring(ignored, err);
    }
    if (u == "UNKEYWORD") {
      std::string ignored;
      k.op = SearchKey::all;
      return astring(ignored, err);
    }
    if (u == "NOT") {
      k.op = SearchKey::not_;
      k.kids.resize(1);
      return key(k.kids[0], err, depth + 1);
    }
    if (u == "OR") {
      k.op = SearchKey::or_;
      k.kids.resize(2);
      return key(k.kids[0], err, depth + 1) && key(k.kids[1], err, depth + 1);
    }
    if (u == "UID") {
      k.op = SearchKey::uidset;
      std::string s;
      if (!astring(s, err)) return false;
      if (!parse_sequence_set(s, max_uid_, k.set)) return fail(err, "bad UID set");
      return true;
    }
    static const std::unordered_map<std::string, SearchKey::Op> date_keys = {
        {"SINCE", SearchKey::since},         {"BEFORE", SearchKey::before},         {"ON", SearchKey::on},
        {"SENTSINCE", SearchKey::sentsince}, {"SENTBEFORE", SearchKey::sentbefore}, {"SENTON", SearchKey::senton}};
    if (auto d = date_keys.find(u); d != date_keys.end()) {
      k.op = d->second;
      std::string s;
      if (!astring(s, err)) return false;
      if (!parse_search_date(s, k.number)) return fail(err, "bad date (expected e.g. 1-Feb-2026)");
      return true;
    }
    if (u == "LARGER" || u == "SMALLER") {
      k.op = u == "LARGER" ? SearchKey::larger : SearchKey::smaller;
      std::string s;
      if (!astring(s, err)) return false;
      auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), k.number);
      if (ec != std::errc() || p != s.data() + s.size() || k.number < 0) return fail(err, "bad number");
      return true;
    }
    return fail(err, "unknown search key " + v.text.substr(0, 40));
  }
  const std::vector<Value>& a_;
  std::size_t i_;
  std::uint32_t max_seq_, max_uid_;
};

std::int64_t day_of(std::int64_t t) {
  return t - ((t % 86400) + 86400) % 86400;
}

bool flags_list(const Value& v, std::vector<std::string>& flags) {
  if (v.is_list()) {
    for (auto& i : v.items) {
      if (!i.is_atom()) return false;
      flags.push_back(i.text);
    }
    return true;
  }
  if (!v.is_atom()) return false;
  flags.push_back(v.text);
  return true;
}

}  // namespace

struct Session::FetchJob {
  std::string tag;
  bool uid = false;
  std::vector<FetchItem> items;
  std::vector<std::uint32_t> seqs;  // 1-based, ascending
  std::size_t next = 0;
  bool needs_facts = false, needs_raw = false, sets_seen = false;
};

void MessageList::push_back(const MessageMeta& m) {
  if (size_ % kChunk == 0) {
    chunks_.push_back(std::make_shared<std::vector<MessageMeta>>());
    chunks_.back()->reserve(kChunk);
  }
  chunks_.back()->push_back(m);
  ++size_;
}

MessageList MessageList::appended(const std::vector<MessageMeta>& more) const {
  MessageList next = *this;  // shares every chunk
  if (next.size_ % kChunk != 0) {
    // The last chunk is partial: the new version writes into its own copy of it.
    auto own = std::make_shared<std::vector<MessageMeta>>(*next.chunks_.back());
    own->reserve(kChunk);
    next.chunks_.back() = std::move(own);
  }
  for (auto& m : more) next.push_back(m);
  return next;
}

Session::Session(Backend& backend, SessionOptions options)
    : backend_(backend), options_(std::move(options)), parser_(options_.limits.parser) {
  tls_active_ = options_.tls_active;
}

Session::~Session() = default;

std::string Session::greeting() {
  std::string caps = "IMAP4rev1 LITERAL+ SASL-IR ID IDLE NAMESPACE UNSELECT CHILDREN";
  if (options_.tls_available && !tls_active_) caps += " STARTTLS";
  caps += auth_allowed() ? " AUTH=PLAIN" : " LOGINDISABLED";
  return "* OK [CAPABILITY " + caps + "] " + options_.server_name + " IMAP4rev1 archive server ready\r\n";
}

void Session::tls_started() {
  want_starttls_ = false;
  tls_active_ = true;
}

std::string Session::timeout() {
  closing_ = true;
  return "* BYE autologout; idle for too long\r\n";
}

bool Session::more() const {
  return job_ != nullptr;
}

std::string Session::resume() {
  std::string out;
  continue_fetch(out);
  if (!job_) run(out);
  return out;
}

std::string Session::input(std::string_view bytes) {
  parser_.feed(bytes);
  std::string out;
  if (!job_) run(out);
  return out;
}

void Session::run(std::string& out) {
  while (!closing_ && !want_starttls_ && !job_ && !pending_login_) {
    if (idle_tag_ || auth_tag_) {
      std::string line;
      bool too_long = false;
      if (!parser_.take_line(line, too_long)) return;
      if (auth_tag_) {
        finish_authenticate(too_long ? std::string("*") : line, out);
        continue;
      }
      std::string tag = *idle_tag_;
      idle_tag_.reset();
      if (iequal(line, "DONE"))
        out += tag + " OK IDLE terminated\r\n";
      else
        bad(tag, "expected DONE", out);
      continue;
    }
    auto r = parser_.next();
    if (r.status == Status::need_more) return;
    if (r.status == Status::continuation) {
      out += "+ Ready for literal data\r\n";
      continue;
    }
    if (r.status == Status::error) {
      if (r.fatal) {
        out += "* BYE " + r.error + "\r\n";
        closing_ = true;
        return;
      }
      bad(r.tag, r.error, out);
      continue;
    }
    if (state_ == State::not_authenticated && ++unauth_count_ > options_.limits.max_unauth_commands) {
      out += "* BYE too many commands without logging in\r\n";
      closing_ = true;
      return;
    }
    dispatch(r.command, out);
  }
}

void Session::bad(const std::string& tag, const std::string& text, std::string& out) {
  out += tag + " BAD " + text + "\r\n";
  if (++bad_count_ >= options_.limits.max_bad_commands) {
    out += "* BYE too many bad commands\r\n";
    closing_ = true;
  }
}

void Session::dispatch(const Command& c, std::string& out) {
  const std::string& t = c.tag;
  const std::string& n = c.name;
  auto nargs = [&](std::size_t k) {
    if (c.args.size() != k) {
      bad(t, n + " takes " + std::to_string(k) + " argument" + (k == 1 ? "" : "s"), out);
      return false;
    }
    return true;
  };
  // Any state.
  if (n == "CAPABILITY") {
    if (!nargs(0)) return;
    std::string caps = "IMAP4rev1 LITERAL+ SASL-IR ID IDLE NAMESPACE UNSELECT CHILDREN";
    if (state_ == State::not_authenticated) {
      if (options_.tls_available && !tls_active_) caps += " STARTTLS";
      caps += auth_allowed() ? " AUTH=PLAIN" : " LOGINDISABLED";
    }
    out += "* CAPABILITY " + caps + "\r\n" + t + " OK CAPABILITY completed\r\n";
    return;
  }
  if (n == "NOOP" || n == "CHECK") {
    if (n == "CHECK" && state_ != State::selected) return bad(t, "CHECK needs a selected mailbox", out);
    if (state_ == State::selected) refresh(out);
    out += t + " OK " + n + " completed\r\n";
    return;
  }
  if (n == "LOGOUT") {
    out += "* BYE " + options_.server_name + " logging out\r\n" + t + " OK LOGOUT completed\r\n";
    state_ = State::logout;
    closing_ = true;
    return;
  }
  if (n == "ID") {
    out += "* ID (\"name\" \"listd\" \"version\" \"0.1.0\")\r\n" + t + " OK ID completed\r\n";
    return;
  }
  if (state_ == State::not_authenticated) {
    if (n == "STARTTLS") {
      if (!nargs(0)) return;
      if (!options_.tls_available || tls_active_) return bad(t, "STARTTLS not available", out);
      // Anything pipelined after STARTTLS is discarded (RFC 3501 §11.1, command injection).
      parser_.clear();
      out += t + " OK Begin TLS negotiation now\r\n";
      want_starttls_ = true;
      return;
    }
    if (n == "LOGIN") {
      if (c.args.size() != 2 || !c.args[0].is_astring() || !c.args[1].is_astring())
        return bad(t, "LOGIN takes a user name and a password", out);
      return do_login(t, c.args[0].text, c.args[1].text, out);
    }
    if (n == "AUTHENTICATE") return do_authenticate(c, out);
    if (n == "SELECT" || n == "EXAMINE" || n == "LIST" || n == "LSUB" || n == "STATUS" || n == "FETCH" ||
        n == "SEARCH" || n == "UID" || n == "NAMESPACE" || n == "STORE" || n == "IDLE")
      return bad(t, n + " needs a login first", out);
    return bad(t, "unknown command " + n.substr(0, 32), out);
  }
  if (n == "STARTTLS" || n == "LOGIN" || n == "AUTHENTICATE") return bad(t, "already logged in", out);
  if (n == "NAMESPACE") {
    out += "* NAMESPACE ((\"\" \"/\")) NIL NIL\r\n" + t + " OK NAMESPACE completed\r\n";
    return;
  }
  if (n == "LIST" || n == "LSUB") return do_list(c, n == "LSUB", out);
  if (n == "STATUS") return do_status(c, out);
  if (n == "SELECT" || n == "EXAMINE") return do_select(c, n == "EXAMINE", out);
  if (n == "SUBSCRIBE" || n == "UNSUBSCRIBE") {
    if (!nargs(1)) return;
    out += t + " OK " + n + " completed (every readable list is subscribed)\r\n";
    return;
  }
  if (n == "CREATE" || n == "DELETE" || n == "RENAME" || n == "APPEND")
    return void(out += t + " NO [CANNOT] the archive is read-only\r\n");
  if (n == "IDLE") {
    if (!nargs(0)) return;
    idle_tag_ = t;
    if (state_ == State::selected) refresh(out);
    out += "+ idling\r\n";
    return;
  }
  if (state_ != State::selected) {
    if (n == "FETCH" || n == "SEARCH" || n == "STORE" || n == "UID" || n == "CLOSE" || n == "UNSELECT" ||
        n == "EXPUNGE" || n == "COPY")
      return bad(t, n + " needs a selected mailbox", out);
    return bad(t, "unknown command " + n.substr(0, 32), out);
  }
  if (n == "CLOSE" || n == "UNSELECT") {
    if (!nargs(0)) return;
    state_ = State::authenticated;
    set_list(nullptr);
    mailbox_.clear();
    out += t + " OK " + n + " completed\r\n";
    return;
  }
  if (n == "EXPUNGE" || n == "COPY" || n == "MOVE") return void(out += t + " NO [CANNOT] the archive is read-only\r\n");
  if (n == "FETCH") return do_fetch(c, 0, false, out);
  if (n == "STORE") return do_store(c, 0, false, out);
  if (n == "SEARCH") return do_search(c, 0, false, out);
  if (n == "UID") {
    if (c.args.empty() || !c.args[0].is_atom()) return bad(t, "UID needs a command", out);
    std::string sub = upper(c.args[0].text);
    if (sub == "FETCH") return do_fetch(c, 1, true, out);
    if (sub == "STORE") return do_store(c, 1, true, out);
    if (sub == "SEARCH") return do_search(c, 1, true, out);
    if (sub == "COPY" || sub == "MOVE" || sub == "EXPUNGE")
      return void(out += t + " NO [CANNOT] the archive is read-only\r\n");
    return bad(t, "unknown UID command " + sub.substr(0, 32), out);
  }
  bad(t, "unknown command " + n.substr(0, 32), out);
}

void Session::do_login(const std::string& tag, const std::string& user, const std::string& pass, std::string& out) {
  if (!auth_allowed()) {
    out += tag + " NO [PRIVACYREQUIRED] plaintext login needs TLS (use STARTTLS)\r\n";
    return;
  }
  bool ok = false;
  if (!user.empty() && user.size() <= 320 && pass.size() <= 1024) {
    auto step = backend_.begin_login(user, pass);
    if (step == Backend::LoginStep::slow) {
      pending_login_ = tag;  // run() stops here until verify()
      return;
    }
    ok = step == Backend::LoginStep::ok;
  }
  end_login(tag, ok, out);
}

std::string Session::verify() {
  std::string out;
  if (!pending_login_) return out;
  std::string tag = *pending_login_;
  pending_login_.reset();
  end_login(tag, backend_.finish_login(), out);
  if (!job_) run(out);
  return out;
}

void Session::end_login(const std::string& tag, bool ok, std::string& out) {
  if (!ok) {
    ++failed_logins_;
    delay_ms_ = options_.limits.failed_login_delay_ms * failed_logins_;
    out += tag + " NO [AUTHENTICATIONFAILED] invalid user name or password\r\n";
    if (failed_logins_ >= options_.limits.max_failed_logins) {
      out += "* BYE too many failed logins\r\n";
      closing_ = true;
    }
    return;
  }
  state_ = State::authenticated;
  out += tag + " OK [CAPABILITY IMAP4rev1 LITERAL+ SASL-IR ID IDLE NAMESPACE UNSELECT CHILDREN] logged in\r\n";
}

void Session::do_authenticate(const Command& c, std::string& out) {
  if (c.args.empty() || !c.args[0].is_atom()) return bad(c.tag, "AUTHENTICATE needs a mechanism", out);
  if (!iequal(c.args[0].text, "PLAIN") || c.args.size() > 2)
    return void(out += c.tag + " NO unsupported authentication mechanism (use PLAIN)\r\n");
  if (!auth_allowed()) {
    out += c.tag + " NO [PRIVACYREQUIRED] plaintext authentication needs TLS (use STARTTLS)\r\n";
    return;
  }
  auth_tag_ = c.tag;
  if (c.args.size() == 2) return finish_authenticate(c.args[1].text, out);
  out += "+ \r\n";
}

void Session::finish_authenticate(const std::string& line, std::string& out) {
  std::string tag = *auth_tag_;
  auth_tag_.reset();
  if (line == "*") return bad(tag, "AUTHENTICATE cancelled", out);
  std::string plain;
  if (!base64_decode(line == "=" ? "" : line, plain)) return bad(tag, "bad base64", out);
  auto a = plain.find('\0');
  auto b = a == std::string::npos ? a : plain.find('\0', a + 1);
  if (b == std::string::npos) return bad(tag, "bad PLAIN response", out);
  std::string authz = plain.substr(0, a), user = plain.substr(a + 1, b - a - 1), pass = plain.substr(b + 1);
  if (!authz.empty() && authz != user) {
    out += tag + " NO [AUTHORIZATIONFAILED] cannot act as another user\r\n";
    return;
  }
  do_login(tag, user, pass, out);
}

void Session::do_list(const Command& c, bool lsub, std::string& out) {
  if (c.args.size() != 2 || !c.args[0].is_astring() || !c.args[1].is_astring())
    return bad(c.tag, "LIST takes a reference and a mailbox pattern", out);
  std::string pattern = c.args[0].text + c.args[1].text;
  if (c.args[1].text.empty()) {
    if (!lsub) out += "* LIST (\\Noselect) \"/\" \"\"\r\n";
  } else {
    for (auto& name : backend_.mailboxes())
      if (wildcard(pattern, name) || (name == "INBOX" && wildcard(upper(pattern), "INBOX")))
        out += std::string("* ") + (lsub ? "LSUB" : "LIST") + " (\\HasNoChildren) \"/\" " + quoted_or_literal(name) +
               "\r\n";
  }
  out += c.tag + " OK " + (lsub ? "LSUB" : "LIST") + " completed\r\n";
}

void Session::do_status(const Command& c, std::string& out) {
  if (c.args.size() != 2 || !c.args[0].is_astring() || !c.args[1].is_list())
    return bad(c.tag, "STATUS takes a mailbox and a list of items", out);
  std::uint32_t validity = 0;
  MessageListPtr list;
  std::string name = mailbox_name(c.args[0].text);
  std::string items;
  for (auto& i : c.args[1].items) {
    std::string u = upper(i.text);
    if (!i.is_atom() || (u != "MESSAGES" && u != "RECENT" && u != "UIDNEXT" && u != "UIDVALIDITY" && u != "UNSEEN"))
      return bad(c.tag, "unknown STATUS item", out);
  }
  if (!backend_.open(name, validity, list) || !list)
    return void(out += c.tag + " NO [NONEXISTENT] no such mailbox\r\n");
  const MessageList& m = *list;
  for (auto& i : c.args[1].items) {
    std::string u = upper(i.text);
    std::uint64_t v = 0;
    if (u == "MESSAGES") v = m.size();
    if (u == "UIDNEXT") v = m.empty() ? 1 : m.back().uid + 1;
    if (u == "UIDVALIDITY") v = validity;
    if (u == "UNSEEN") v = m.size() - std::min(m.size(), backend_.seen_keys(name, 0).size());
    items += (items.empty() ? "" : " ") + u + " " + std::to_string(v);
  }
  out += "* STATUS " + quoted_or_literal(name) + " (" + items + ")\r\n" + c.tag + " OK STATUS completed\r\n";
}

void Session::do_select(const Command& c, bool examine, std::string& out) {
  if (c.args.size() != 1 || !c.args[0].is_astring()) return bad(c.tag, "SELECT takes a mailbox name", out);
  state_ = State::authenticated;
  set_list(nullptr);
  std::string name = mailbox_name(c.args[0].text);
  MessageListPtr opened;
  if (!backend_.open(name, uidvalidity_, opened) || !opened) {
    mailbox_.clear();
    return void(out += c.tag + " NO [NONEXISTENT] no such mailbox\r\n");
  }
  set_list(std::move(opened));
  {
    auto keys = backend_.seen_keys(name, 0);
    std::unordered_set<std::int64_t> seen(keys.begin(), keys.end());
    for (std::size_t i = 0; i < seen_.size(); ++i) seen_[i] = seen.count(list()[i].key) > 0;
  }
  const MessageList& msgs = list();
  mailbox_ = name;
  read_only_ = examine;
  state_ = State::selected;
  out += "* FLAGS (\\Answered \\Flagged \\Deleted \\Seen \\Draft)\r\n";
  out += std::string("* OK [PERMANENTFLAGS (") + (examine ? "" : "\\Seen") + ")] only \\Seen is kept\r\n";
  out += "* " + std::to_string(msgs.size()) + " EXISTS\r\n* 0 RECENT\r\n";
  for (std::size_t i = 0; i < msgs.size(); ++i)
    if (!seen_[i]) {
      out += "* OK [UNSEEN " + std::to_string(i + 1) + "] first unseen\r\n";
      break;
    }
  out += "* OK [UIDVALIDITY " + std::to_string(uidvalidity_) + "] UIDs valid\r\n";
  out += "* OK [UIDNEXT " + std::to_string(msgs.empty() ? 1 : msgs.back().uid + 1) + "] predicted next UID\r\n";
  out += c.tag + " OK [" + (examine ? "READ-ONLY" : "READ-WRITE") + "] " + (examine ? "EXAMINE" : "SELECT") +
         " completed\r\n";
}

const MessageList& Session::list() const {
  static const MessageList empty;
  return msgs_ ? *msgs_ : empty;
}

void Session::set_list(MessageListPtr l) {
  msgs_ = std::move(l);
  seen_.assign(list().size(), false);
}

// refresh - move to the mailbox's current list. Usually it only grew at the end (new posts):
// the session takes the shared list as is and announces EXISTS. Otherwise (a list deleted,
// or an older post indexed late) the session keeps its numbering in a list of its own: it
// announces EXPUNGE for what went away (highest number first, so the others stay right) and
// adds only messages above the highest UID it had told, as UIDs must only grow (§2.3.1.1).
void Session::refresh(std::string& out) {
  MessageListPtr now = backend_.current(mailbox_);
  if (!now || now == msgs_) return;
  const MessageList& old = list();
  const MessageList& cur = *now;
  std::uint32_t last = old.empty() ? 0 : old.back().uid;
  bool grew = cur.size() >= old.size() && std::equal(old.begin(), old.end(), cur.begin(),
                                                     [](const auto& a, const auto& b) { return a.uid == b.uid; });
  std::size_t before = old.size(), expunged = 0;
  std::vector<bool> seen;
  MessageListPtr next;
  if (grew) {
    seen = seen_;
    next = now;
  } else {
    std::unordered_set<std::uint32_t> present, had;
    for (auto& m : cur) present.insert(m.uid);
    std::unordered_map<std::uint32_t, bool> kept_seen;
    for (std::size_t i = old.size(); i-- > 0;) {
      if (present.count(old[i].uid)) {
        had.insert(old[i].uid);
        kept_seen[old[i].uid] = seen_[i];
      } else {
        out += "* " + std::to_string(i + 1) + " EXPUNGE\r\n";
        ++expunged;
      }
    }
    auto own = std::make_shared<MessageList>();
    for (auto& m : cur)
      if (m.uid > last || had.count(m.uid)) {
        own->push_back(m);
        seen.push_back(m.uid > last ? false : kept_seen[m.uid]);
      }
    next = std::move(own);
  }
  std::size_t known = seen.size();
  seen.resize(next->size(), false);
  if (next->size() > known) {
    auto keys = backend_.seen_keys(mailbox_, last);
    std::unordered_set<std::int64_t> s(keys.begin(), keys.end());
    for (std::size_t i = known; i < next->size(); ++i) seen[i] = s.count((*next)[i].key) > 0;
  }
  msgs_ = std::move(next);
  seen_ = std::move(seen);
  if (msgs_->size() != before - expunged) out += "* " + std::to_string(msgs_->size()) + " EXISTS\r\n* 0 RECENT\r\n";
}

std::string Session::poll() {
  std::string out;
  if (idle_tag_ && state_ == State::selected) refresh(out);
  return out;
}

// seqs_for - the sequence numbers a set names (by UID or by sequence number), ascending.
static bool seqs_for(const MessageList& msgs, const std::string& text, bool uid, std::vector<std::uint32_t>& seqs) {
  std::vector<SeqRange> set;
  std::uint32_t star = uid ? (msgs.empty() ? 0 : msgs.back().uid) : static_cast<std::uint32_t>(msgs.size());
  if (!parse_sequence_set(text, star, set)) return false;
  if (uid && msgs.empty()) return true;
  for (std::size_t i = 0; i < msgs.size(); ++i) {
    std::uint32_t n = uid ? msgs[i].uid : static_cast<std::uint32_t>(i + 1);
    if (in_sequence_set(set, n)) seqs.push_back(static_cast<std::uint32_t>(i + 1));
  }
  return true;
}

void Session::do_fetch(const Command& c, std::size_t first, bool uid, std::string& out) {
  if (c.args.size() != first + 2 || !c.args[first].is_atom())
    return bad(c.tag, "FETCH takes a sequence set and items", out);
  auto job = std::make_unique<FetchJob>();
  job->tag = c.tag;
  job->uid = uid;
  std::vector<std::uint32_t> seqs;
  if (!uid && !c.args[first].text.empty() && c.args[first].text != "*") {
    // Sequence numbers beyond the mailbox are an error (RFC 3501 §6.4.8: UIDs are not).
    std::vector<SeqRange> set;
    if (parse_sequence_set(c.args[first].text, static_cast<std::uint32_t>(list().size()), set))
      for (auto& r : set)
        if (r.hi > list().size() || r.lo == 0) return void(out += c.tag + " BAD no such message\r\n");
  }
  if (!seqs_for(list(), c.args[first].text, uid, job->seqs)) return bad(c.tag, "bad sequence set", out);
  const Value& spec = c.args[first + 1];
  std::vector<std::string> names;
  if (spec.is_list()) {
    for (auto& i : spec.items) {
      if (!i.is_atom()) return bad(c.tag, "bad FETCH item", out);
      names.push_back(i.text);
    }
  } else if (spec.is_atom()) {
    std::string u = upper(spec.text);
    if (u == "ALL")
      names = {"FLAGS", "INTERNALDATE", "RFC822.SIZE", "ENVELOPE"};
    else if (u == "FAST")
      names = {"FLAGS", "INTERNALDATE", "RFC822.SIZE"};
    else if (u == "FULL")
      names = {"FLAGS", "INTERNALDATE", "RFC822.SIZE", "ENVELOPE", "BODY"};
    else
      names = {spec.text};
  } else {
    return bad(c.tag, "bad FETCH items", out);
  }
  if (names.empty()) return bad(c.tag, "no FETCH items", out);
  bool has_uid = false;
  for (auto& nm : names) {
    FetchItem it{};
    if (!parse_fetch_item(nm, it)) return bad(c.tag, "unknown FETCH item " + nm.substr(0, 40), out);
    if (it.kind == FetchItem::uid) has_uid = true;
    if (it.kind == FetchItem::envelope || it.kind == FetchItem::body || it.kind == FetchItem::bodystructure)
      job->needs_facts = true;
    if (it.kind == FetchItem::part || it.kind == FetchItem::rfc822 || it.kind == FetchItem::rfc822_header ||
        it.kind == FetchItem::rfc822_text)
      job->needs_raw = true;
    if (!read_only_ &&
        ((it.kind == FetchItem::part && !it.peek) || it.kind == FetchItem::rfc822 || it.kind == FetchItem::rfc822_text))
      job->sets_seen = true;
    job->items.push_back(std::move(it));
  }
  if (uid && !has_uid) job->items.insert(job->items.begin(), FetchItem{FetchItem::uid, "", false, false, 0, 0});
  job_ = std::move(job);
  continue_fetch(out);
}

void Session::continue_fetch(std::string& out) {
  if (!job_) return;
  FetchJob& j = *job_;
  std::size_t start_size = out.size();
  while (j.next < j.seqs.size() && out.size() - start_size < options_.limits.fetch_chunk) {
    std::size_t batch_end = std::min(j.seqs.size(), j.next + (j.needs_raw ? 16 : 512));
    std::vector<std::int64_t> keys;
    for (std::size_t k = j.next; k < batch_end; ++k) keys.push_back(list()[j.seqs[k] - 1].key);
    std::vector<MessageFacts> facts;
    if (j.needs_facts) facts = backend_.facts(keys);
    std::vector<std::int64_t> newly_seen;
    for (std::size_t k = j.next; k < batch_end; ++k) {
      const MessageMeta& m = list()[j.seqs[k] - 1];
      auto seen_bit = seen_[j.seqs[k] - 1];
      std::optional<std::string> raw;
      MimePart tree;
      bool have_tree = false;
      if (j.needs_raw) {
        raw = backend_.message(m.key);
        if (!raw) raw = std::string();
      }
      bool seen_now = j.sets_seen && !seen_bit;
      if (seen_now) {
        seen_bit = true;
        newly_seen.push_back(m.key);
      }
      std::string line = "* " + std::to_string(j.seqs[k]) + " FETCH (";
      bool first_item = true;
      bool flags_sent = false;
      auto add = [&](const std::string& s) {
        if (!first_item) line += " ";
        first_item = false;
        line += s;
      };
      auto section_tree = [&]() -> const MimePart& {
        if (!have_tree) {
          tree = parse_mime(*raw);
          have_tree = true;
        }
        return tree;
      };
      for (auto& it : j.items) {
        switch (it.kind) {
          case FetchItem::flags:
            add(std::string("FLAGS (") + (seen_bit ? "\\Seen" : "") + ")");
            flags_sent = true;
            break;
          case FetchItem::uid: add("UID " + std::to_string(m.uid)); break;
          case FetchItem::internaldate: add("INTERNALDATE \"" + imap_date(m.internaldate) + "\""); break;
          case FetchItem::size: add("RFC822.SIZE " + std::to_string(m.size)); break;
          case FetchItem::envelope:
          case FetchItem::body:
          case FetchItem::bodystructure: {
            const MessageFacts& f = facts[k - j.next];
            std::string v = it.kind == FetchItem::envelope ? f.envelope
                            : it.kind == FetchItem::body   ? f.body
                                                           : f.bodystructure;
            if (v.empty()) {  // not precomputed: derive from the message itself
              std::string msg = backend_.message(m.key).value_or("");
              MimePart t = parse_mime(msg);
              v = it.kind == FetchItem::envelope ? envelope(std::string_view(msg).substr(0, t.body_begin))
                                                 : bodystructure(t, msg, it.kind == FetchItem::bodystructure);
            }
            add(std::string(it.kind == FetchItem::envelope ? "ENVELOPE "
                            : it.kind == FetchItem::body   ? "BODY "
                                                           : "BODYSTRUCTURE ") +
                v);
            break;
          }
          case FetchItem::rfc822: add("RFC822 " + quoted_or_literal(*raw)); break;
          case FetchItem::rfc822_header: {
            std::string h;
            fetch_section(section_tree(), *raw, "HEADER", h);
            add("RFC822.HEADER " + quoted_or_literal(h));
            break;
          }
          case FetchItem::rfc822_text: {
            std::string b;
            fetch_section(section_tree(), *raw, "TEXT", b);
            add("RFC822.TEXT " + quoted_or_literal(b));
            break;
          }
          case FetchItem::part: {
            std::string data;
            fetch_section(section_tree(), *raw, it.section, data);
            std::string label = "BODY[" + upper(it.section) + "]";
            if (it.partial) {
              label += "<" + std::to_string(it.origin) + ">";
              data = it.origin >= data.size() ? std::string() : data.substr(it.origin, it.count);
            }
            // Literals always for bodies: a quoted string cannot carry CR/LF.
            add(label + " {" + std::to_string(data.size()) + "}\r\n" + data);
            break;
          }
        }
      }
      if (seen_now && !flags_sent) add("FLAGS (\\Seen)");
      line += ")\r\n";
      out += line;
    }
    if (!newly_seen.empty()) backend_.set_seen(newly_seen, true);
    j.next = batch_end;
  }
  if (j.next >= j.seqs.size()) {
    out += j.tag + " OK " + (j.uid ? "UID FETCH" : "FETCH") + " completed\r\n";
    job_.reset();
  }
}

void Session::do_store(const Command& c, std::size_t first, bool uid, std::string& out) {
  if (c.args.size() != first + 3 || !c.args[first].is_atom() || !c.args[first + 1].is_atom())
    return bad(c.tag, "STORE takes a sequence set, an action and flags", out);
  std::string action = upper(c.args[first + 1].text);
  bool silent = action.size() > 7 && action.substr(action.size() - 7) == ".SILENT";
  if (silent) action.resize(action.size() - 7);
  if (action != "FLAGS" && action != "+FLAGS" && action != "-FLAGS") return bad(c.tag, "bad STORE action", out);
  std::vector<std::string> flags;
  if (!flags_list(c.args[first + 2], flags)) return bad(c.tag, "bad flag list", out);
  std::vector<std::uint32_t> seqs;
  if (!seqs_for(list(), c.args[first].text, uid, seqs)) return bad(c.tag, "bad sequence set", out);
  if (read_only_) return void(out += c.tag + " NO [READ-ONLY] mailbox was opened with EXAMINE\r\n");
  bool has_seen = std::any_of(flags.begin(), flags.end(), [](auto& f) { return iequal(f, "\\Seen"); });
  // Only \Seen is kept (PERMANENTFLAGS); other flags are accepted and dropped, as RFC 3501 allows.
  std::optional<bool> target;
  if (action == "+FLAGS" && has_seen) target = true;
  if (action == "-FLAGS" && has_seen) target = false;
  if (action == "FLAGS") target = has_seen;
  std::vector<std::int64_t> keys;
  for (auto s : seqs) {
    const MessageMeta& m = list()[s - 1];
    auto seen_bit = seen_[s - 1];
    if (target && seen_bit != *target) {
      seen_bit = *target;
      keys.push_back(m.key);
    }
    if (!silent)
      out += "* " + std::to_string(s) + " FETCH (" + (uid ? "UID " + std::to_string(m.uid) + " " : "") + "FLAGS (" +
             (seen_bit ? "\\Seen" : "") + "))\r\n";
  }
  if (target && !keys.empty()) backend_.set_seen(keys, *target);
  out += c.tag + " OK " + (uid ? "UID STORE" : "STORE") + " completed\r\n";
}

void Session::do_search(const Command& c, std::size_t first, bool uid, std::string& out) {
  SearchKey root;
  std::string err;
  const MessageList& msgs = list();
  SearchParser sp(c.args, first, static_cast<std::uint32_t>(msgs.size()), msgs.empty() ? 0 : msgs.back().uid);
  if (!sp.parse_all(root, err)) {
    if (err.rfind("[BADCHARSET", 0) == 0) return void(out += c.tag + " NO " + err + "\r\n");
    return bad(c.tag, err, out);
  }
  std::function<bool(SearchKey&, std::size_t)> match = [&](SearchKey& k, std::size_t i) -> bool {
    const MessageMeta& m = msgs[i];
    switch (k.op) {
      case SearchKey::all: return true;
      case SearchKey::none: return false;
      case SearchKey::and_:
        for (auto& kid : k.kids)
          if (!match(kid, i)) return false;
        return true;
      case SearchKey::or_: return match(k.kids[0], i) || match(k.kids[1], i);
      case SearchKey::not_: return !match(k.kids[0], i);
      case SearchKey::seq: return in_sequence_set(k.set, static_cast<std::uint32_t>(i + 1));
      case SearchKey::uidset: return in_sequence_set(k.set, m.uid);
      case SearchKey::seen: return seen_[i];
      case SearchKey::unseen: return !seen_[i];
      case SearchKey::larger: return m.size > static_cast<std::uint64_t>(k.number);
      case SearchKey::smaller: return m.size < static_cast<std::uint64_t>(k.number);
      case SearchKey::since: return day_of(m.internaldate) >= k.number;
      case SearchKey::before: return day_of(m.internaldate) < k.number;
      case SearchKey::on: return day_of(m.internaldate) == k.number;
      case SearchKey::sentsince: return day_of(m.sent) >= k.number;
      case SearchKey::sentbefore: return day_of(m.sent) < k.number;
      case SearchKey::senton: return day_of(m.sent) == k.number;
      case SearchKey::text:
        if (!k.hits) {
          auto keys = backend_.search(mailbox_, k.field, k.header, k.value);
          k.hits = std::make_shared<std::unordered_set<std::int64_t>>(keys.begin(), keys.end());
        }
        return k.hits->count(m.key) > 0;
    }
    return false;
  };
  std::string line = "* SEARCH";
  for (std::size_t i = 0; i < msgs.size(); ++i)
    if (match(root, i)) line += " " + std::to_string(uid ? msgs[i].uid : i + 1);
  out += line + "\r\n" + c.tag + " OK " + (uid ? "UID SEARCH" : "SEARCH") + " completed\r\n";
}

// --- helpers ---------------------------------------------------------------------------------
bool base64_decode(std::string_view in, std::string& out) {
  out.clear();
  unsigned buf = 0;
  int bits = 0;
  std::size_t pad = 0, n = 0;
  for (char c : in) {
    int v;
    if (c >= 'A' && c <= 'Z')
      v = c - 'A';
    else if (c >= 'a' && c <= 'z')
      v = c - 'a' + 26;
    else if (c >= '0' && c <= '9')
      v = c - '0' + 52;
    else if (c == '+')
      v = 62;
    else if (c == '/')
      v = 63;
    else if (c == '=') {
      ++pad;
      ++n;
      continue;
    } else {
      return false;
    }
    if (pad) return false;
    ++n;
    buf = (buf << 6) | static_cast<unsigned>(v);
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      out.push_back(static_cast<char>((buf >> bits) & 0xff));
    }
  }
  return n % 4 == 0 && pad <= 2;
}

std::string base64_encode(std::string_view in) {
  static const char* t = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  std::string out;
  std::size_t i = 0;
  for (; i + 2 < in.size(); i += 3) {
    unsigned v = (static_cast<unsigned char>(in[i]) << 16) | (static_cast<unsigned char>(in[i + 1]) << 8) |
                 static_cast<unsigned char>(in[i + 2]);
    out += {t[v >> 18], t[(v >> 12) & 63], t[(v >> 6) & 63], t[v & 63]};
  }
  if (i + 1 == in.size()) {
    unsigned v = static_cast<unsigned char>(in[i]) << 16;
    out += {t[v >> 18], t[(v >> 12) & 63], '=', '='};
  } else if (i + 2 == in.size()) {
    unsigned v = (static_cast<unsigned char>(in[i]) << 16) | (static_cast<unsigned char>(in[i + 1]) << 8);
    out += {t[v >> 18], t[(v >> 12) & 63], t[(v >> 6) & 63], '='};
  }
  return out;
}

static const char* const kMonths[] = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
                                      "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};

std::string imap_date(std::int64_t t) {
  std::time_t tt = static_cast<std::time_t>(t);
  std::tm tm{};
  gmtime_r(&tt, &tm);
  char buf[64];
  std::snprintf(buf, sizeof buf, "%02d-%s-%04d %02d:%02d:%02d +0000", tm.tm_mday, kMonths[tm.tm_mon], tm.tm_year + 1900,
                tm.tm_hour, tm.tm_min, tm.tm_sec);
  return buf;
}

bool parse_search_date(std::string_view s, std::int64_t& out) {
  auto d1 = s.find('-');
  auto d2 = d1 == std::string_view::npos ? d1 : s.find('-', d1 + 1);
  if (d2 == std::string_view::npos) return false;
  int day = 0, year = 0;
  auto ds = s.substr(0, d1), ms = s.substr(d1 + 1, d2 - d1 - 1), ys = s.substr(d2 + 1);
  if (std::from_chars(ds.data(), ds.data() + ds.size(), day).ptr != ds.data() + ds.size() || ds.empty()) return false;
  if (std::from_chars(ys.data(), ys.data() + ys.size(), year).ptr != ys.data() + ys.size() || ys.size() != 4)
    return false;
  int mon = -1;
  for (int i = 0; i < 12; ++i)
    if (iequal(ms, kMonths[i])) mon = i;
  if (mon < 0 || day < 1 || day > 31 || year < 1900) return false;
  // days from civil (Howard Hinnant's algorithm, restated)
  int y = year - (mon < 2 ? 1 : 0);
  int m = mon + 1;
  int era = (y >= 0 ? y : y - 399) / 400;
  int yoe = y - era * 400;
  int doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + day - 1;
  int doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
  std::int64_t days = static_cast<std::int64_t>(era) * 146097 + doe - 719468;
  out = days * 86400;
  return true;
}

}  // namespace imap
