// parser.cpp - see parser.hpp.
#include "imap/parser.hpp"

#include <cctype>
#include <charconv>

namespace imap {
namespace {

bool atom_char(char c) {
  auto u = static_cast<unsigned char>(c);
  if (u <= 0x1f || u == 0x7f) return false;
  switch (c) {
    case '(':
    case ')':
    case '{':
    case ' ':
    case '"':
    case '%':
    case '*':
    case '\\': return false;
    default: return true;
  }
}

// Tokenizer over one framed command (literals inline after their "{n}\r\n" marker).
class Tokenizer {
 public:
  Tokenizer(std::string_view s, const ParserLimits& lim) : s_(s), lim_(lim) {}

  bool at_end() { return pos_ >= s_.size() || s_[pos_] == '\r' || s_[pos_] == '\n'; }
  bool space() {
    if (pos_ < s_.size() && s_[pos_] == ' ') {
      while (pos_ < s_.size() && s_[pos_] == ' ') ++pos_;  // lenient about doubled spaces
      return true;
    }
    return false;
  }
  // word - tag or command name: atom characters, no brackets.
  std::string word() {
    std::size_t b = pos_;
    while (pos_ < s_.size() && atom_char(s_[pos_]) && s_[pos_] != '[' && s_[pos_] != ']') ++pos_;
    return std::string(s_.substr(b, pos_ - b));
  }
  bool value(Value& out, std::size_t depth, std::string& err) {
    if (++items_ > lim_.max_items) return fail(err, "too many arguments");
    if (pos_ >= s_.size()) return fail(err, "missing argument");
    char c = s_[pos_];
    if (c == '(') {
      if (depth >= lim_.max_depth) return fail(err, "lists nested too deeply");
      ++pos_;
      out.kind = Value::Kind::list;
      while (true) {
        if (pos_ >= s_.size() || s_[pos_] == '\r' || s_[pos_] == '\n') return fail(err, "unterminated list");
        if (s_[pos_] == ')') {
          ++pos_;
          return true;
        }
        if (!out.items.empty() && !space()) return fail(err, "expected space or ')' in list");
        if (s_[pos_] == ')') continue;
        Value v;
        if (!value(v, depth + 1, err)) return false;
        out.items.push_back(std::move(v));
      }
    }
    if (c == '"') {
      ++pos_;
      out.kind = Value::Kind::string;
      while (pos_ < s_.size()) {
        char d = s_[pos_++];
        if (d == '"') return true;
        if (d == '\r' || d == '\n') return fail(err, "line break in quoted string");
        if (d == '\\') {
          if (pos_ >= s_.size() || (s_[pos_] != '"' && s_[pos_] != '\\'))
            return fail(err, "bad escape in quoted string");
          d = s_[pos_++];
        }
        out.text.push_back(d);
      }
      return fail(err, "unterminated quoted string");
    }
    if (c == '{') {
      auto close = s_.find('}', pos_);
      if (close == std::string_view::npos) return fail(err, "bad literal");
      std::string_view digits = s_.substr(pos_ + 1, close - pos_ - 1);
      if (!digits.empty() && digits.back() == '+') digits.remove_suffix(1);
      std::size_t n = 0;
      auto [p, ec] = std::from_chars(digits.data(), digits.data() + digits.size(), n);
      if (digits.empty() || ec != std::errc() || p != digits.data() + digits.size()) return fail(err, "bad literal");
      pos_ = close + 1;
      if (pos_ < s_.size() && s_[pos_] == '\r') ++pos_;
      if (pos_ >= s_.size() || s_[pos_] != '\n') return fail(err, "literal must end its line");
      ++pos_;
      if (s_.size() - pos_ < n) return fail(err, "short literal");
      out.kind = Value::Kind::string;
      out.text.assign(s_.substr(pos_, n));
      pos_ += n;
      return true;
    }
    // Atom, with bracketed sections allowed to hold spaces and parentheses: BODY[HEADER.FIELDS (A B)]<0.10>.
    out.kind = Value::Kind::atom;
    std::size_t b = pos_;
    int brackets = 0;
    while (pos_ < s_.size()) {
      char d = s_[pos_];
      if (d == '\r' || d == '\n') break;
      if (brackets > 0) {
        if (d == '[') ++brackets;
        if (d == ']') --brackets;
        ++pos_;
        continue;
      }
      if (d == '[') {
        ++brackets;
        ++pos_;
        continue;
      }
      if (!atom_char(d) && d != '%' && d != '*' && d != '\\') break;
      ++pos_;
    }
    if (brackets > 0) return fail(err, "unterminated '['");
    if (pos_ == b)
      return fail(err, std::string("unexpected character '") +
                           (std::isprint(static_cast<unsigned char>(c)) ? std::string(1, c) : "?") + "'");
    out.text.assign(s_.substr(b, pos_ - b));
    return true;
  }

 private:
  bool fail(std::string& err, std::string what) {
    err = std::move(what);
    return false;
  }
  std::string_view s_;
  const ParserLimits& lim_;
  std::size_t pos_ = 0;
  std::size_t items_ = 0;
};

// literal_marker - if `line` (no CRLF) ends with {n} or {n+}, its size and whether it is
// non-synchronising. Returns false if there is no marker; sets `bad` for a malformed one.
bool literal_marker(std::string_view line, std::size_t& n, bool& plus, bool& bad) {
  bad = false;
  if (line.empty() || line.back() != '}') return false;
  auto open = line.rfind('{');
  if (open == std::string_view::npos) return false;
  std::string_view digits = line.substr(open + 1, line.size() - open - 2);
  plus = !digits.empty() && digits.back() == '+';
  if (plus) digits.remove_suffix(1);
  if (digits.empty() || digits.size() > 19) {
    bad = !digits.empty();
    return bad;
  }
  for (char c : digits)
    if (c < '0' || c > '9') return false;
  auto [p, ec] = std::from_chars(digits.data(), digits.data() + digits.size(), n);
  if (ec != std::errc()) bad = true;
  return true;
}

}  // namespace

ParseResult CommandParser::next() {
  ParseResult r;
  if (failed_) return r;  // after a fatal error nothing more is parsed
  while (true) {
    if (literal_left_ > 0) {
      std::size_t have = buf_.size() - scan_;
      if (have < literal_left_) {
        r.status = Status::need_more;
        return r;
      }
      scan_ += literal_left_;
      literal_left_ = 0;
      line_start_ = scan_;
      continue;
    }
    auto nl = buf_.find('\n', scan_);
    if (nl == std::string::npos) {
      scan_ = buf_.size();
      // A CR at the very end may be the line's CRLF: it does not count, as in the check below.
      std::size_t pending = buf_.size() - line_start_;
      if (pending > 0 && buf_.back() == '\r') --pending;
      if (pending > limits_.max_line) {
        r.status = Status::error;
        r.tag = "*";
        r.error = "line too long";
        r.fatal = true;
        clear();
        failed_ = true;
        return r;
      }
      r.status = Status::need_more;
      return r;
    }
    std::string_view line(buf_.data() + line_start_, nl - line_start_);
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    auto drop = [&](std::string msg, bool fatal) {
      ParseResult e;
      e.status = Status::error;
      std::string_view all(buf_.data(), nl);
      auto sp = all.find(' ');
      e.tag = std::string(all.substr(0, sp == std::string_view::npos ? all.size() : sp));
      if (e.tag.empty() || e.tag.size() > 64 || e.tag.find_first_of("\r+") != std::string::npos) e.tag = "*";
      e.error = std::move(msg);
      e.fatal = fatal;
      if (fatal) {
        clear();
        failed_ = true;
      } else {
        buf_.erase(0, nl + 1);
        reset();
      }
      return e;
    };
    if (line.size() > limits_.max_line) {  // the same verdict whether or not the LF has arrived yet
      r.status = Status::error;
      r.tag = "*";
      r.error = "line too long";
      r.fatal = true;
      clear();
      failed_ = true;
      return r;
    }
    std::size_t n = 0;
    bool plus = false, bad = false;
    if (literal_marker(line, n, plus, bad)) {
      if (bad || n > limits_.max_literal || nl + 1 + n > limits_.max_command)
        return drop(bad ? "bad literal size" : "literal too big", plus);
      scan_ = nl + 1;
      line_start_ = scan_;
      literal_left_ = n;
      if (!plus) {
        r.status = Status::continuation;
        if (n == 0) line_start_ = scan_;
        return r;
      }
      continue;
    }
    if (nl + 1 > limits_.max_command) return drop("command too long", false);
    auto res = tokenize(nl + 1);
    buf_.erase(0, nl + 1);
    reset();
    return res;
  }
}

ParseResult CommandParser::tokenize(std::size_t end) {
  ParseResult r;
  std::string_view s(buf_.data(), end);
  Tokenizer t(s, limits_);
  r.status = Status::error;
  r.tag = "*";
  std::string tag = t.word();
  if (tag.empty() || tag.find('+') != std::string::npos) {
    r.error = tag.empty() && t.at_end() ? "empty command line" : "bad tag";
    return r;
  }
  r.tag = tag;
  if (!t.space()) {
    r.error = "missing command";
    return r;
  }
  std::string name = t.word();
  if (name.empty()) {
    r.error = "missing command";
    return r;
  }
  for (auto& c : name) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  Command cmd;
  cmd.tag = tag;
  cmd.name = name;
  std::string err;
  while (!t.at_end()) {
    if (!t.space()) {
      r.error = "expected space between arguments";
      return r;
    }
    if (t.at_end()) break;  // trailing space: tolerated (telnet users)
    Value v;
    if (!t.value(v, 0, err)) {
      r.error = err;
      return r;
    }
    cmd.args.push_back(std::move(v));
  }
  r.status = Status::command;
  r.command = std::move(cmd);
  return r;
}

bool CommandParser::take_line(std::string& line, bool& too_long) {
  too_long = false;
  auto nl = buf_.find('\n');
  if (nl == std::string::npos) {
    // As in next(): a CR at the very end may be the CRLF and does not count yet.
    if (buf_.size() - (!buf_.empty() && buf_.back() == '\r' ? 1 : 0) > limits_.max_line) {
      too_long = true;
      buf_.clear();
      line.clear();
      return true;
    }
    return false;
  }
  line.assign(buf_, 0, nl);
  if (!line.empty() && line.back() == '\r') line.pop_back();
  buf_.erase(0, nl + 1);
  reset();
  if (line.size() > limits_.max_line) {
    too_long = true;
    line.clear();
  }
  return true;
}

bool parse_sequence_set(std::string_view text, std::uint32_t star, std::vector<SeqRange>& out) {
  out.clear();
  if (text.empty()) return false;
  auto number = [&](std::string_view s, std::uint32_t& v) {
    if (s == "*") {
      v = star;
      return true;
    }
    if (s.empty() || s.size() > 10) return false;
    for (char c : s)
      if (c < '0' || c > '9') return false;
    unsigned long long x = 0;
    std::from_chars(s.data(), s.data() + s.size(), x);
    if (x == 0 || x > 0xffffffffULL) return false;
    v = static_cast<std::uint32_t>(x);
    return true;
  };
  std::size_t pos = 0;
  while (pos <= text.size()) {
    auto comma = text.find(',', pos);
    std::string_view item = text.substr(pos, comma == std::string_view::npos ? std::string_view::npos : comma - pos);
    auto colon = item.find(':');
    std::uint32_t a = 0, b = 0;
    if (colon == std::string_view::npos) {
      if (!number(item, a)) return false;
      b = a;
    } else if (!number(item.substr(0, colon), a) || !number(item.substr(colon + 1), b)) {
      return false;
    }
    if (a > b) std::swap(a, b);
    out.push_back({a, b});
    if (comma == std::string_view::npos) break;
    pos = comma + 1;
  }
  return true;
}

bool in_sequence_set(const std::vector<SeqRange>& set, std::uint32_t n) {
  for (auto& r : set)
    if (n >= r.lo && n <= r.hi) return true;
  return false;
}

}  // namespace imap
