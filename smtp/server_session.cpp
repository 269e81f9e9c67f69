// server_session.cpp - SMTP/LMTP server state machine; see server_session.hpp.
#include "smtp/server_session.hpp"

#include <algorithm>
#include <cctype>

#include "smtp/command_parser.hpp"

namespace smtp {

namespace {

std::string upper(std::string s) {
  for (auto& c : s) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  return s;
}

Reply problem_reply(DataProblem p, std::uint64_t max_size) {
  switch (p) {
    case DataProblem::too_big:
      return Reply(552, "5.3.4", "Message size exceeds fixed maximum message size (" + std::to_string(max_size) + ")");
    case DataProblem::long_line: return Reply(554, "5.6.0", "Message has a line longer than 998 octets");
    case DataProblem::bare_cr:
    case DataProblem::bare_lf:
      return Reply(550, "5.5.2", "Message contains a bare CR or LF; lines must end with CRLF (RFC 5321 2.3.8)");
    case DataProblem::nul: return Reply(554, "5.6.0", "Message contains a NUL byte");
    case DataProblem::too_many_hops: return Reply(554, "5.4.6", "Too many Received: header fields (mail loop?)");
    case DataProblem::no_header: return Reply(554, "5.6.0", "Message does not start with a header field");
    case DataProblem::header_too_big: return Reply(552, "5.3.4", "Message header too large");
    case DataProblem::too_many_fields: return Reply(552, "5.3.4", "Too many header fields");
    case DataProblem::field_too_big: return Reply(552, "5.3.4", "A header field is too long");
    case DataProblem::none: break;
  }
  return Reply(451, "4.3.0", "Internal error");
}

}  // namespace

ServerSession::ServerSession(SessionOptions opt, Backend& backend) : opt_(std::move(opt)), backend_(backend) {
  if (!opt_.now) opt_.now = [] { return std::time(nullptr); };
  env_.client_ip = opt_.client_ip;
  env_.lmtp = opt_.lmtp;
  env_.tls = opt_.tls_active;
}

ServerSession::~ServerSession() = default;

void ServerSession::greet(const std::optional<Reply>& refuse) {
  if (refuse) {
    reply(*refuse);
    closing_ = true;
    return;
  }
  reply(Reply(220, "", opt_.hostname + (opt_.lmtp ? " LMTP" : " ESMTP") + " listd ready"));
}

void ServerSession::talked_early() {
  reply(Reply(554, "5.5.0", opt_.hostname + " Protocol error: you talked before my greeting; closing"));
  closing_ = true;
}

std::string ServerSession::take_output() {
  std::string r;
  r.swap(out_);
  return r;
}

void ServerSession::reply(const Reply& r) {
  out_ += r.wire();
}

void ServerSession::error(Reply r) {
  reply(std::move(r));
  if (++errors_ >= opt_.limits.max_errors) {
    reply(Reply(421, "4.7.0", opt_.hostname + " Too many errors; closing the connection"));
    closing_ = true;
    reset_transaction();
  }
}

void ServerSession::reset_transaction() {
  txn_.reset();  // aborts whatever the backend wrote
  reader_.reset();
  content_.clear();
  in_mail_ = false;
  env_.sender.clear();
  env_.recipients.clear();
  env_.smtputf8 = env_.body_8bit = false;
  declared_size_ = 0;
  rcpt_keys_.clear();
  rcpt_slots_.clear();
  bdat_used_ = bdat_last_ = false;
  bdat_left_ = 0;
  bdat_error_.reset();
  committing_ = false;
  phase_ = Phase::command;
}

std::size_t ServerSession::feed(std::string_view in) {
  std::size_t used = 0;
  while (used < in.size() && !closing_ && !committing_ && !starttls_) {
    std::string_view rest = in.substr(used);
    if (phase_ == Phase::data) {
      used += feed_data(rest);
      continue;
    }
    if (phase_ == Phase::bdat) {
      used += feed_bdat(rest);
      continue;
    }
    if (discarding_) {  // the tail of an overlong command line
      auto lf = rest.find('\n');
      if (lf == std::string_view::npos) return in.size();
      used += lf + 1;
      discarding_ = false;
      error(Reply(500, "5.5.2", "Line too long"));
      continue;
    }
    LineScan s = next_command_line(rest, opt_.limits.max_command_line);
    switch (s.status) {
      case LineStatus::need_more: return used;
      case LineStatus::too_long:
        if (s.consumed == 0) {
          discarding_ = true;
          return in.size();
        }
        used += s.consumed;
        error(Reply(500, "5.5.2", "Line too long"));
        break;
      case LineStatus::bare_lf:
        used += s.consumed;
        error(Reply(500, "5.5.2", "Bare LF received; command lines must end with CRLF"));
        break;
      case LineStatus::line: {
        used += s.consumed;
        bool group_end = false;
        command(s.line, &group_end);
        if (group_end && used < in.size() && opt_.limits.reject_unauth_pipelining && !closing_) {
          // The client did not wait for our reply to EHLO/DATA (S-13): it cannot be trusted
          // to frame the rest, so nothing more is read.
          reset_transaction();
          reply(Reply(554, "5.5.0", "Unauthorized pipelining; closing"));
          closing_ = true;
          return in.size();
        }
        break;
      }
    }
  }
  return used;
}

void ServerSession::command(std::string_view line, bool* group_end) {
  Reply err;
  auto cmd = parse_command(line, &err);
  if (!cmd) return error(err);
  const std::string& v = cmd->verb;
  if (v == "EHLO" || v == "HELO" || v == "LHLO") {
    *group_end = true;
    return do_helo(v, cmd->arg);
  }
  if (v == "MAIL") return do_mail(cmd->arg);
  if (v == "RCPT") return do_rcpt(cmd->arg);
  if (v == "DATA") {
    do_data();
    *group_end = phase_ == Phase::data;
    return;
  }
  if (v == "BDAT") return do_bdat(cmd->arg);
  if (v == "RSET") {
    if (!cmd->arg.empty()) return error(Reply(501, "5.5.4", "Syntax: RSET"));
    reset_transaction();
    return reply(Reply(250, "2.0.0", "OK"));
  }
  if (v == "NOOP") return reply(Reply(250, "2.0.0", "OK"));
  if (v == "QUIT") {
    reply(Reply(221, "2.0.0", opt_.hostname + " closing connection"));
    closing_ = true;
    reset_transaction();
    return;
  }
  if (v == "VRFY") return reply(Reply(252, "2.5.0", "Cannot VRFY; send mail and delivery will be attempted"));
  if (v == "EXPN") return error(Reply(502, "5.5.1", "EXPN not available"));
  if (v == "HELP") {
    Reply r(214, "2.0.0", "listd: send mail to a list address");
    r.lines.push_back(std::string("Commands: ") + (opt_.lmtp ? "LHLO" : "EHLO HELO") +
                      " MAIL RCPT DATA BDAT RSET NOOP QUIT VRFY HELP" +
                      (opt_.tls_available && !opt_.tls_active ? " STARTTLS" : ""));
    r.lines.push_back("See RFC 5321");
    return reply(r);
  }
  if (v == "STARTTLS") {
    if (!cmd->arg.empty()) return error(Reply(501, "5.5.4", "Syntax: STARTTLS"));
    if (opt_.tls_active) return error(Reply(503, "5.5.1", "TLS already active"));
    if (!opt_.tls_available) return error(Reply(502, "5.5.1", "STARTTLS not available"));
    reset_transaction();
    reply(Reply(220, "2.0.0", "Ready to start TLS"));
    starttls_ = true;
    return;
  }
  error(Reply(500, "5.5.2", "Command unrecognized"));
}

void ServerSession::do_helo(const std::string& verb, const std::string& arg) {
  if (opt_.lmtp != (verb == "LHLO"))
    return error(Reply(500, "5.5.1", opt_.lmtp ? "This is LMTP: use LHLO" : "Command unrecognized"));
  bool ok = !arg.empty() && arg.size() <= 255;
  for (char c : arg) ok = ok && static_cast<unsigned char>(c) > 32 && static_cast<unsigned char>(c) < 127;
  if (!ok) return error(Reply(501, "5.5.4", "Syntax: " + verb + " hostname"));
  reset_transaction();
  helo_done_ = true;
  env_.helo = arg;
  env_.esmtp = verb != "HELO";
  if (!env_.esmtp) return reply(Reply(250, "", opt_.hostname));
  Reply r(250, "", opt_.hostname + " Hello " + arg + " [" + opt_.client_ip + "]");
  r.lines.push_back("PIPELINING");
  r.lines.push_back("SIZE " + std::to_string(opt_.limits.max_message_size));
  r.lines.push_back("8BITMIME");
  r.lines.push_back("SMTPUTF8");
  r.lines.push_back("ENHANCEDSTATUSCODES");
  r.lines.push_back("CHUNKING");
  if (opt_.tls_available && !opt_.tls_active) r.lines.push_back("STARTTLS");
  reply(r);
}

void ServerSession::do_mail(const std::string& arg) {
  if (!helo_done_) return error(Reply(503, "5.5.1", opt_.lmtp ? "Send LHLO first" : "Send EHLO/HELO first"));
  if (in_mail_) return error(Reply(503, "5.5.1", "Sender already specified"));
  Reply err;
  auto p = parse_mail_rcpt(arg, "FROM:", &err);
  if (!p) return error(err);
  bool utf8 = false, body8 = false;
  std::uint64_t size = 0;
  for (std::size_t i = 0; i < p->params.size(); ++i) {
    const auto& [key, value] = p->params[i];
    if (!env_.esmtp) return error(Reply(555, "5.5.4", "Parameters need EHLO"));
    for (std::size_t j = 0; j < i; ++j)
      if (p->params[j].first == key) return error(Reply(501, "5.5.4", "Duplicate parameter " + key));
    if (key == "SIZE") {
      auto n = parse_size(value);
      if (!n) return error(Reply(501, "5.5.4", "Bad SIZE parameter"));
      if (*n > opt_.limits.max_message_size)
        return error(Reply(
            552, "5.3.4",
            "Message size exceeds fixed maximum message size (" + std::to_string(opt_.limits.max_message_size) + ")"));
      size = *n;
    } else if (key == "BODY") {
      auto b = upper(value);
      if (b == "8BITMIME")
        body8 = true;
      else if (b != "7BIT")
        return error(Reply(555, "5.5.4", "Unsupported BODY type"));
    } else if (key == "SMTPUTF8") {
      if (!value.empty()) return error(Reply(501, "5.5.4", "SMTPUTF8 takes no value"));
      utf8 = true;
    } else {
      return error(Reply(555, "5.5.4", "Unsupported parameter " + key));
    }
  }
  std::string sender;
  if (!p->address.empty()) {
    auto m = parse_mailbox(p->address, utf8);
    if (!m) {
      if (m.error == AddressError::non_ascii) return error(Reply(553, "5.6.7", "Non-ASCII address needs SMTPUTF8"));
      return error(Reply(553, "5.1.7", "Bad sender address syntax"));
    }
    sender = m.mailbox->str();
  }
  in_mail_ = true;
  env_.sender = sender;
  env_.smtputf8 = utf8;
  env_.body_8bit = body8;
  declared_size_ = size;
  reply(Reply(250, "2.1.0", "Sender OK"));
}

void ServerSession::do_rcpt(const std::string& arg) {
  if (!in_mail_) return error(Reply(503, "5.5.1", "Need MAIL before RCPT"));
  if (bdat_used_) return error(Reply(503, "5.5.1", "RCPT after BDAT"));
  Reply err;
  auto p = parse_mail_rcpt(arg, "TO:", &err);
  if (!p) return error(err);
  if (!p->params.empty()) return error(Reply(555, "5.5.4", "Unsupported parameter " + p->params.front().first));
  if (p->address.empty()) return error(Reply(501, "5.1.3", "Null recipient"));
  auto m = parse_mailbox(p->address, env_.smtputf8);
  if (!m) {
    if (m.error == AddressError::non_ascii) return error(Reply(553, "5.6.7", "Non-ASCII address needs SMTPUTF8"));
    if (m.error == AddressError::too_long) return error(Reply(550, "5.1.1", "No such list"));
    return error(Reply(553, "5.1.3", "Bad recipient address syntax"));
  }
  if (rcpt_slots_.size() >= opt_.limits.max_recipients) return error(Reply(452, "4.5.3", "Too many recipients"));
  std::string key;
  Reply r = backend_.check_rcpt(env_, *m.mailbox, &key);
  if (!r.positive()) return error(r);
  auto it = std::find(env_.recipients.begin(), env_.recipients.end(), key);
  std::size_t idx = static_cast<std::size_t>(it - env_.recipients.begin());
  if (it == env_.recipients.end()) env_.recipients.push_back(key);  // duplicates: spooled once
  rcpt_slots_.push_back(idx);
  reply(r);
}

DataLimits ServerSession::data_limits() const {
  const SessionLimits& l = opt_.limits;
  return DataLimits{l.max_message_size, l.max_text_line,     l.max_received,
                    l.max_header_size,  l.max_header_fields, l.max_header_field_size};
}

bool ServerSession::start_message() {
  try {
    txn_ = backend_.begin(env_);
  } catch (const std::exception&) {
    txn_.reset();
  }
  if (!txn_) return false;
  ++txn_count_;
  txn_->append(received_header());
  return true;
}

void ServerSession::do_data() {
  if (!in_mail_) return error(Reply(503, "5.5.1", "Need MAIL before DATA"));
  if (bdat_used_) return error(Reply(503, "5.5.1", "DATA after BDAT"));
  if (env_.recipients.empty()) return error(Reply(554, "5.5.1", "No valid recipients"));
  if (!start_message()) {
    error(Reply(451, "4.3.0", "Local error: cannot store the message now"));
    reset_transaction();
    return;
  }
  DataLimits lim = data_limits();
  reader_ = std::make_unique<DataReader>(DataReader::Mode::dot, lim);
  phase_ = Phase::data;
  reply(Reply(354, "", "End data with <CR><LF>.<CR><LF>"));
}

std::size_t ServerSession::feed_data(std::string_view in) {
  std::size_t n = reader_->feed(in, content_);
  if (!content_.empty()) {
    txn_->append(content_);
    content_.clear();
  }
  if (reader_->done()) end_message();
  return n;
}

void ServerSession::end_message() {
  phase_ = Phase::command;
  DataProblem p = reader_->problem();
  if (p == DataProblem::none) {
    committing_ = true;  // the driver commits, then calls committed()
    return;
  }
  Reply r = problem_reply(p, opt_.limits.max_message_size);
  std::size_t n = opt_.lmtp ? rcpt_slots_.size() : 1;
  reset_transaction();
  for (std::size_t i = 0; i + 1 < n; ++i) reply(r);
  error(r);
}

void ServerSession::committed(std::vector<Reply> replies) {
  if (!committing_) return;
  if (replies.size() != env_.recipients.size() || replies.empty())
    replies.assign(std::max<std::size_t>(env_.recipients.size(), 1),
                   Reply(451, "4.3.0", "Local error: cannot store the message now"));
  if (opt_.lmtp) {
    for (auto slot : rcpt_slots_) reply(replies[slot]);
  } else {
    Reply r = replies.front();
    for (auto& x : replies)
      if (!x.positive()) {
        r = x;
        break;
      }
    reply(r);
  }
  committing_ = false;
  reset_transaction();
}

void ServerSession::commit_failed(const std::string& why) {
  committed(std::vector<Reply>(env_.recipients.size(), Reply(451, "4.3.0", "Local error: " + why)));
}

void ServerSession::do_bdat(const std::string& arg) {
  if (!env_.esmtp) return error(Reply(502, "5.5.1", "CHUNKING needs EHLO"));
  auto sp = arg.find(' ');
  std::string num = arg.substr(0, sp);
  std::string rest = sp == std::string::npos ? std::string() : upper(arg.substr(sp + 1));
  auto n = parse_size(num);
  if (!n || (!rest.empty() && rest != "LAST")) {
    // The chunk cannot be framed: no way to find the next command.
    reply(Reply(501, "5.5.4", "Syntax: BDAT size [LAST]; closing"));
    closing_ = true;
    reset_transaction();
    return;
  }
  if (*n > opt_.limits.max_message_size) {
    reply(Reply(552, "5.3.4", "Chunk exceeds fixed maximum message size; closing"));
    closing_ = true;
    reset_transaction();
    return;
  }
  bdat_left_ = *n;
  bdat_last_ = rest == "LAST";
  bdat_error_.reset();
  if (!in_mail_)
    bdat_error_ = Reply(503, "5.5.1", "Need MAIL before BDAT");
  else if (env_.recipients.empty())
    bdat_error_ = Reply(554, "5.5.1", "No valid recipients");
  else if (!bdat_used_) {
    if (!start_message()) {
      bdat_error_ = Reply(451, "4.3.0", "Local error: cannot store the message now");
    } else {
      DataLimits lim = data_limits();
      reader_ = std::make_unique<DataReader>(DataReader::Mode::chunked, lim);
      bdat_used_ = true;
    }
  }
  phase_ = Phase::bdat;
  if (bdat_left_ == 0) bdat_chunk_done();
}

std::size_t ServerSession::feed_bdat(std::string_view in) {
  auto n = static_cast<std::size_t>(std::min<std::uint64_t>(in.size(), bdat_left_));
  if (!bdat_error_ && reader_) {
    reader_->feed(in.substr(0, n), content_);
    if (!content_.empty()) {
      txn_->append(content_);
      content_.clear();
    }
  }
  bdat_left_ -= n;
  if (bdat_left_ == 0) bdat_chunk_done();
  return n;
}

void ServerSession::bdat_chunk_done() {
  phase_ = Phase::command;
  if (bdat_error_) {
    Reply r = *bdat_error_;
    bdat_error_.reset();
    if (bdat_used_ || r.transient()) reset_transaction();
    return error(r);
  }
  if (!bdat_last_) return reply(Reply(250, "2.0.0", "Chunk received, " + std::to_string(reader_->size()) + " octets"));
  reader_->finish(content_);
  if (!content_.empty()) {
    txn_->append(content_);
    content_.clear();
  }
  end_message();
}

void ServerSession::tls_started() {
  starttls_ = false;
  opt_.tls_active = true;
  helo_done_ = false;  // RFC 3207 §4.2: forget everything learnt before the handshake
  env_ = Envelope{};
  env_.client_ip = opt_.client_ip;
  env_.lmtp = opt_.lmtp;
  env_.tls = true;
  reset_transaction();
}

void ServerSession::shutdown(const Reply& why) {
  reply(why);
  closing_ = true;
  reset_transaction();
}

void ServerSession::eof() {
  closing_ = true;
  reset_transaction();
}

std::string ServerSession::received_header() const {
  std::string proto = opt_.lmtp ? "LMTP" : (env_.esmtp ? "ESMTP" : "SMTP");
  if (opt_.tls_active && proto != "SMTP") proto += "S";
  if (env_.smtputf8) proto = "UTF8" + proto;
  std::time_t t = opt_.now();
  std::tm tm{};
  ::gmtime_r(&t, &tm);
  char date[64];
  std::strftime(date, sizeof date, "%a, %d %b %Y %H:%M:%S +0000", &tm);
  std::string h = "Received: from " + env_.helo + " ([" + opt_.client_ip + "])\r\n\tby " + opt_.hostname +
                  " (listd) with " + proto + " id " + opt_.session_id + "." + std::to_string(txn_count_);
  if (env_.recipients.size() == 1) h += "\r\n\tfor <" + env_.recipients.front() + ">";
  h += "; " + std::string(date) + "\r\n";
  return h;
}

}  // namespace smtp
