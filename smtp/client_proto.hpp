// client_proto.hpp - the SMTP client's protocol logic without sockets: the reply parser, the
// EHLO keyword reader and the per-transaction state machine (RFC 5321, RFC 2920 PIPELINING,
// RFC 3030 CHUNKING, RFC 1870 SIZE, RFC 6152 8BITMIME, RFC 6531 SMTPUTF8).
//
// ReplyParser is a pure push parser: feed() bytes in any split, next() hands out complete
// replies; a line over kMaxReplyLine, a bad code or mixed codes in one reply give a reply with
// `malformed` set (the connection must then be dropped). ClientTransaction turns an envelope into
// the bytes to write (all commands in one write when PIPELINING is offered) and turns each
// reply into per-recipient outcomes. The Asio driver (smtp/client.cpp) and the unit tests
// (tests/unit/smtp_client_test.cpp) both drive it.
#pragma once

#include <cstdint>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <vector>

namespace smtp {

constexpr std::size_t kMaxReplyLine = 4096;  // well above RFC 5321 4.5.3.1.5's 512
constexpr std::size_t kMaxReplyLines = 200;

// ParsedReply - a reply as read from a server (the server side has its own smtp::Reply).
struct ParsedReply {
  int code = 0;                    // 200..599; 0 if malformed
  std::vector<std::string> lines;  // text after "NNN-" / "NNN ", one per line
  bool malformed = false;
  int klass() const { return code / 100; }
  // text - "250 first line" (the code and the first line, for logs and the database).
  std::string text() const;
};

class ReplyParser {
 public:
  void feed(std::string_view bytes) { buf_.append(bytes); }
  // next - the next complete reply, or nullopt if more bytes are needed.
  std::optional<ParsedReply> next();
  bool empty() const { return buf_.size() == pos_; }

 private:
  std::string buf_;
  std::size_t pos_ = 0;
  bool skipping_ = false;
  ParsedReply cur_;
};

// EHLO keywords we use (RFC 5321 4.1.1.1: keyword, then parameters).
struct Extensions {
  bool esmtp = false;  // EHLO succeeded
  bool pipelining = false, chunking = false, eightbitmime = false, smtputf8 = false, starttls = false;
  bool has_size = false;
  std::uint64_t size = 0;      // 0: no SIZE limit advertised
  std::set<std::string> auth;  // upper-case mechanisms
};
Extensions parse_ehlo(const ParsedReply& r);

enum class Outcome { delivered, deferred, failed };

struct RcptResult {
  Outcome outcome = Outcome::deferred;
  std::string reply;
};

// ClientTransaction - one MAIL FROM .. final reply exchange. Usage:
//   ClientTransaction t(ext, from, rcpts, body_size, utf8);
//   write(t.commands());                      // whole pipelined group, or one command
//   for each reply r: switch (t.on_reply(r)) { write_next: write(t.commands()); send_body: write
//   body (DATA form, or BDAT form if t.bdat()); done: results(); }
// With PIPELINING and CHUNKING the body goes in the same write as the commands (send_body is
// returned up front by start()).
class ClientTransaction {
 public:
  enum class Step { wait, write_commands, send_body, done };
  ClientTransaction(const Extensions& ext, std::string from, std::vector<std::string> rcpts, std::uint64_t body_size,
                    bool needs_utf8);
  // start - what to do first: write_commands (then maybe body too, see body_with_commands()).
  Step start();
  // commands - the command bytes to write now.
  const std::string& commands() const { return out_; }
  // body_with_commands - BDAT: the body chunk follows the commands in the same write.
  bool body_with_commands() const { return body_now_; }
  bool bdat() const { return bdat_; }
  // on_reply - feed the next reply; returns what to do.
  Step on_reply(const ParsedReply& r);
  // connection_usable - false after a malformed reply or a 421 (drop, do not RSET).
  bool connection_usable() const { return usable_; }
  // rset_needed - the transaction ended before the final reply with a live connection.
  bool rset_needed() const { return rset_needed_; }
  const std::vector<RcptResult>& results() const { return results_; }
  // replies - how many replies this transaction has received (0: the peer said nothing).
  std::size_t replies() const { return replies_; }
  // fail_all - connection lost before the final reply: every recipient not yet final is
  // deferred with `why` (a whole-transaction retry).
  void fail_all(const std::string& why);

 private:
  enum class Phase { mail, rcpt, data, body, finished };
  void queue_mail();
  void queue_rcpt(std::size_t i);
  void queue_data();
  void finish_all(Outcome o, const std::string& reply);
  Extensions ext_;
  std::string from_;
  std::vector<std::string> rcpts_;
  std::uint64_t size_;
  bool utf8_;
  bool pipelining_, bdat_, body_now_ = false;
  std::string out_;
  Phase phase_ = Phase::mail;
  std::size_t rcpt_i_ = 0;       // next RCPT reply expected (index)
  std::size_t accepted_ = 0;     // RCPTs that got 2xx
  std::vector<int> rcpt_state_;  // 0 unknown, 1 accepted, 2 final (refused)
  std::vector<RcptResult> results_;
  bool mail_ok_ = false, usable_ = true, rset_needed_ = false;
  std::size_t replies_ = 0;
};

// Result class of a reply code (4xx deferred, 5xx failed, anything else odd: deferred).
Outcome outcome_of(const ParsedReply& r);

// base64 - for AUTH PLAIN/LOGIN (RFC 4954, RFC 4648).
std::string base64_encode(std::string_view in);

}  // namespace smtp
