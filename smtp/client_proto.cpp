// client_proto.cpp - see client_proto.hpp.
#include "smtp/client_proto.hpp"

#include <algorithm>
#include <cctype>

namespace smtp {

std::string ParsedReply::text() const {
  std::string s = std::to_string(code);
  if (!lines.empty()) s += " " + lines.front();
  return s;
}

std::optional<ParsedReply> ReplyParser::next() {
  if (pos_ == buf_.size()) {  // everything consumed: reuse the buffer
    buf_.clear();
    pos_ = 0;
  } else if (pos_ > 65536) {
    buf_.erase(0, pos_);
    pos_ = 0;
  }
  while (true) {
    std::size_t eol = buf_.find('\n', pos_);
    if (skipping_) {  // the rest of an over-long line, already reported
      pos_ = eol == std::string::npos ? buf_.size() : eol + 1;
      if (eol == std::string::npos) return std::nullopt;
      skipping_ = false;
      continue;
    }
    if (eol == std::string::npos) {
      // Too long already: report once, skip the rest. A CR at the very end may be the line's
      // CRLF and does not count (the same verdict as once the LF has arrived).
      std::size_t pending = buf_.size() - pos_;
      if (pending > 0 && buf_.back() == '\r') --pending;
      if (pending > kMaxReplyLine) {
        ParsedReply bad;
        bad.malformed = true;
        bad.lines.push_back("reply line too long");
        pos_ = buf_.size();
        skipping_ = true;
        cur_ = {};
        return bad;
      }
      return std::nullopt;
    }
    std::string_view line(buf_.data() + pos_, eol - pos_);
    pos_ = eol + 1;
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    auto malformed = [&](const char* why) {
      ParsedReply bad;
      bad.malformed = true;
      bad.lines.push_back(why);
      cur_ = {};
      return bad;
    };
    if (line.size() > kMaxReplyLine) return malformed("reply line too long");
    // RFC 5321 4.2: three digits, then SP (last line), '-' (more follow) or end of line.
    if (line.size() < 3 || line[0] < '2' || line[0] > '5' || !std::isdigit(static_cast<unsigned char>(line[1])) ||
        !std::isdigit(static_cast<unsigned char>(line[2])))
      return malformed("reply without a valid code");
    int code = (line[0] - '0') * 100 + (line[1] - '0') * 10 + (line[2] - '0');
    char sep = line.size() > 3 ? line[3] : ' ';
    if (sep != ' ' && sep != '-') return malformed("reply code not followed by SP or '-'");
    if (!cur_.lines.empty() && cur_.code != code) return malformed("reply lines with different codes");
    cur_.code = code;
    cur_.lines.emplace_back(line.size() > 4 ? line.substr(4) : std::string_view());
    if (cur_.lines.size() > kMaxReplyLines) return malformed("reply with too many lines");
    if (sep == ' ') {
      ParsedReply done = std::move(cur_);
      cur_ = {};
      return done;
    }
  }
}

Extensions parse_ehlo(const ParsedReply& r) {
  Extensions e;
  e.esmtp = r.klass() == 2;
  if (!e.esmtp) return e;
  for (std::size_t i = 1; i < r.lines.size(); ++i) {  // line 0 is the greeting text
    std::string l = r.lines[i];
    std::transform(l.begin(), l.end(), l.begin(), [](unsigned char c) { return std::toupper(c); });
    auto sp = l.find(' ');
    std::string kw = l.substr(0, sp);
    std::string args = sp == std::string::npos ? "" : l.substr(sp + 1);
    if (kw == "PIPELINING")
      e.pipelining = true;
    else if (kw == "CHUNKING")
      e.chunking = true;
    else if (kw == "8BITMIME")
      e.eightbitmime = true;
    else if (kw == "SMTPUTF8")
      e.smtputf8 = true;
    else if (kw == "STARTTLS")
      e.starttls = true;
    else if (kw == "SIZE") {
      e.has_size = true;
      std::uint64_t n = 0;
      for (char c : args) {
        if (c < '0' || c > '9' || n > (1ull << 50)) break;
        n = n * 10 + static_cast<std::uint64_t>(c - '0');
      }
      e.size = n;
    } else if (kw == "AUTH") {
      std::size_t p = 0;
      while (p < args.size()) {
        auto q = args.find(' ', p);
        if (q == std::string::npos) q = args.size();
        if (q > p) e.auth.insert(args.substr(p, q - p));
        p = q + 1;
      }
    }
  }
  return e;
}

Outcome outcome_of(const ParsedReply& r) {
  if (r.klass() == 2) return Outcome::delivered;
  if (r.klass() == 5) return Outcome::failed;
  return Outcome::deferred;
}

ClientTransaction::ClientTransaction(const Extensions& ext, std::string from, std::vector<std::string> rcpts,
                                     std::uint64_t body_size, bool needs_utf8)
    : ext_(ext),
      from_(std::move(from)),
      rcpts_(std::move(rcpts)),
      size_(body_size),
      utf8_(needs_utf8),
      pipelining_(ext.pipelining),
      bdat_(ext.chunking),
      rcpt_state_(rcpts_.size(), 0),
      results_(rcpts_.size(), RcptResult{Outcome::deferred, "451 4.4.0 no reply"}) {}

void ClientTransaction::queue_mail() {
  out_ += "MAIL FROM:<" + from_ + ">";
  if (ext_.has_size) out_ += " SIZE=" + std::to_string(size_);
  if (ext_.eightbitmime) out_ += " BODY=8BITMIME";
  if (utf8_) out_ += " SMTPUTF8";
  out_ += "\r\n";
}

void ClientTransaction::queue_rcpt(std::size_t i) {
  out_ += "RCPT TO:<" + rcpts_[i] + ">\r\n";
}

void ClientTransaction::queue_data() {
  if (bdat_) {
    out_ += "BDAT " + std::to_string(size_) + " LAST\r\n";
    body_now_ = true;
  } else {
    out_ += "DATA\r\n";
  }
}

void ClientTransaction::finish_all(Outcome o, const std::string& reply) {
  for (std::size_t i = 0; i < rcpts_.size(); ++i)
    if (rcpt_state_[i] != 2) {
      results_[i] = {o, reply};
      rcpt_state_[i] = 2;
    }
  phase_ = Phase::finished;
}

void ClientTransaction::fail_all(const std::string& why) {
  finish_all(Outcome::deferred, why);
}

ClientTransaction::Step ClientTransaction::start() {
  out_.clear();
  if (utf8_ && !ext_.smtputf8) {
    finish_all(Outcome::failed, "553 5.6.7 the server does not offer SMTPUTF8 (RFC 6531)");
    return Step::done;
  }
  if (ext_.has_size && ext_.size > 0 && size_ > ext_.size) {
    finish_all(Outcome::failed, "552 5.3.4 message larger than the server's SIZE " + std::to_string(ext_.size));
    return Step::done;
  }
  if (rcpts_.empty()) {
    phase_ = Phase::finished;
    return Step::done;
  }
  queue_mail();
  if (pipelining_) {  // RFC 2920 3.1: MAIL, RCPTs and DATA/BDAT in one group
    for (std::size_t i = 0; i < rcpts_.size(); ++i) queue_rcpt(i);
    queue_data();
  }
  return Step::write_commands;
}

ClientTransaction::Step ClientTransaction::on_reply(const ParsedReply& r) {
  out_.clear();
  body_now_ = false;
  ++replies_;
  if (phase_ == Phase::finished) return Step::done;
  if (r.malformed) {
    usable_ = false;
    finish_all(Outcome::deferred, "451 4.5.0 malformed reply: " + (r.lines.empty() ? "" : r.lines.front()));
    return Step::done;
  }
  if (r.code == 421) {  // the server is closing the channel (RFC 5321 3.8)
    usable_ = false;
    finish_all(Outcome::deferred, r.text());
    return Step::done;
  }
  switch (phase_) {
    case Phase::mail:
      mail_ok_ = r.klass() == 2;
      if (!mail_ok_) {
        Outcome o = outcome_of(r) == Outcome::delivered ? Outcome::deferred : outcome_of(r);
        for (std::size_t i = 0; i < rcpts_.size(); ++i) {
          results_[i] = {o, r.text()};
          rcpt_state_[i] = 2;
        }
        if (!pipelining_) {
          phase_ = Phase::finished;
          return Step::done;
        }
      }
      phase_ = Phase::rcpt;
      if (!pipelining_) {
        queue_rcpt(0);
        return Step::write_commands;
      }
      return Step::wait;
    case Phase::rcpt: {
      std::size_t i = rcpt_i_++;
      if (rcpt_state_[i] == 0) {
        if (r.klass() == 2) {
          rcpt_state_[i] = 1;
          ++accepted_;
        } else {
          results_[i] = {outcome_of(r), r.text()};
          rcpt_state_[i] = 2;
        }
      }
      if (rcpt_i_ < rcpts_.size()) {
        if (pipelining_) return Step::wait;
        queue_rcpt(rcpt_i_);
        return Step::write_commands;
      }
      phase_ = Phase::data;
      if (pipelining_) return Step::wait;
      if (accepted_ == 0) {  // nobody to send to: end the transaction
        rset_needed_ = true;
        phase_ = Phase::finished;
        return Step::done;
      }
      queue_data();
      return Step::write_commands;
    }
    case Phase::data:
      if (bdat_) {  // the final reply to BDAT ... LAST
        if (accepted_ > 0) finish_all(r.klass() == 2 ? Outcome::delivered : outcome_of(r), r.text());
        if (r.klass() != 2) rset_needed_ = true;
        phase_ = Phase::finished;
        return Step::done;
      }
      if (r.code == 354) {
        phase_ = Phase::body;
        if (accepted_ == 0) {  // RFC 2920 3.1: no valid recipient, end the data at once
          out_ = ".\r\n";
          return Step::write_commands;
        }
        return Step::send_body;
      }
      if (accepted_ > 0) finish_all(outcome_of(r) == Outcome::delivered ? Outcome::deferred : outcome_of(r), r.text());
      rset_needed_ = mail_ok_;
      phase_ = Phase::finished;
      return Step::done;
    case Phase::body:
      if (accepted_ > 0) finish_all(outcome_of(r), r.text());
      phase_ = Phase::finished;
      return Step::done;
    case Phase::finished: break;
  }
  return Step::done;
}

std::string base64_encode(std::string_view in) {
  static const char* tab = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  std::string out;
  out.reserve((in.size() + 2) / 3 * 4);
  std::size_t i = 0;
  for (; i + 2 < in.size(); i += 3) {
    unsigned v = (static_cast<unsigned char>(in[i]) << 16) | (static_cast<unsigned char>(in[i + 1]) << 8) |
                 static_cast<unsigned char>(in[i + 2]);
    out += tab[(v >> 18) & 63];
    out += tab[(v >> 12) & 63];
    out += tab[(v >> 6) & 63];
    out += tab[v & 63];
  }
  if (i + 1 == in.size()) {
    unsigned v = static_cast<unsigned char>(in[i]) << 16;
    out += tab[(v >> 18) & 63];
    out += tab[(v >> 12) & 63];
    out += "==";
  } else if (i + 2 == in.size()) {
    unsigned v = (static_cast<unsigned char>(in[i]) << 16) | (static_cast<unsigned char>(in[i + 1]) << 8);
    out += tab[(v >> 18) & 63];
    out += tab[(v >> 12) & 63];
    out += tab[(v >> 6) & 63];
    out += '=';
  }
  return out;
}

}  // namespace smtp
