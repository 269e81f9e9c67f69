// session.hpp - the POP3 server state machine (RFC 1939, CAPA RFC 2449, STLS RFC 2595,
// AUTH PLAIN RFC 5034) over a read-only maildrop with per-person deletions.
//
// Pure: bytes in (input), bytes out; the maildrop is reached through pop3::Maildrop (listd
// implements it over the archive; tests in memory). The I/O layer asks closing(),
// want_stls() and delay_ms() after each call, exactly as for imap::Session. Commands are
// lines of at most SessionLimits::max_line bytes (RFC 2449 says 255 for the command); longer
// lines, too many bad commands and too many failed logins end the session with -ERR.
// A slow login (Maildrop::begin_login says slow) stops the session until the I/O layer calls
// verify() (login_pending()). The maildrop listing is an immutable DropList the maildrop may
// share between sessions; a session keeps only its pointer and its own deletion marks.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace pop3 {

struct DropMessage {
  std::int64_t key = 0;
  std::uint64_t size = 0;  // octets with CRLF line ends, before dot-stuffing
};

using DropList = std::vector<DropMessage>;
using DropListPtr = std::shared_ptr<const DropList>;

class Maildrop {
 public:
  virtual ~Maildrop() = default;
  virtual bool login(const std::string& user, const std::string& password) = 0;
  // start_login / finish_login - as imap::Backend's begin_login/finish_login: `slow` defers the
  // check to verify(). (Another name than IMAP's, as listd implements both interfaces at once.)
  enum class LoginStep { ok, fail, slow };
  virtual LoginStep start_login(const std::string& user, const std::string& password) {
    return login(user, password) ? LoginStep::ok : LoginStep::fail;
  }
  virtual bool finish_login() { return false; }
  // list - the maildrop at login (messages this person has not deleted before); never null.
  virtual DropListPtr list() = 0;
  virtual std::optional<std::string> message(std::int64_t key) = 0;  // CRLF line ends
  // uidl - the message's unique id: stable, 1-70 printable characters (RFC 1939 §7).
  virtual std::string uidl(std::int64_t key) = 0;
  // remove - hide these for this person (UPDATE state, at QUIT).
  virtual void remove(const std::vector<std::int64_t>& keys) = 0;
};

struct SessionLimits {
  std::size_t max_line = 512;
  unsigned max_bad_commands = 20;
  unsigned max_unauth_commands = 30;
  unsigned max_failed_logins = 3;
  unsigned failed_login_delay_ms = 1000;
};

struct SessionOptions {
  bool tls_available = false, tls_active = false, plaintext_allowed = false;
  std::string server_name = "listd";
  SessionLimits limits;
};

// parse_command - "RETR 1" -> ("RETR", {"1"}); the name upper-cased; false on an empty line.
bool parse_command(std::string_view line, std::string& name, std::vector<std::string>& args);
// dot_stuff - CRLF text -> POP3 multi-line body: leading '.' doubled, ends with CRLF.
std::string dot_stuff(std::string_view text);

class Session {
 public:
  Session(Maildrop& drop, SessionOptions options);
  std::string greeting();
  std::string input(std::string_view bytes);
  std::string timeout();
  bool closing() const { return closing_; }
  bool want_stls() const { return want_stls_; }
  void tls_started() {
    want_stls_ = false;
    tls_active_ = true;
  }
  unsigned delay_ms() {
    unsigned d = delay_ms_;
    delay_ms_ = 0;
    return d;
  }
  bool login_pending() const { return login_pending_; }
  std::string verify();  // the slow half of a pending login, then the lines that followed it

 private:
  enum class State { authorization, transaction, update };
  void line(const std::string& l, std::string& out);
  void process(std::string& out);
  void login(const std::string& user, const std::string& pass, std::string& out);
  void end_login(bool ok, std::string& out);
  const DropList& msgs() const { return *msgs_; }
  void err(const std::string& text, std::string& out);
  bool auth_allowed() const { return options_.plaintext_allowed || tls_active_; }
  // msg_arg - the message a number argument names (1-based, not deleted); nullptr + -ERR text.
  const DropMessage* msg_arg(const std::string& a, std::string& why, std::size_t* index = nullptr);

  Maildrop& drop_;
  SessionOptions options_;
  State state_ = State::authorization;
  std::string buf_;
  std::string user_;
  bool closing_ = false, want_stls_ = false, tls_active_ = false, auth_pending_ = false;
  unsigned bad_ = 0, unauth_ = 0, failed_ = 0, delay_ms_ = 0;
  bool login_pending_ = false;
  DropListPtr msgs_ = std::make_shared<const DropList>();  // maybe shared: never written
  std::vector<bool> deleted_;
};

}  // namespace pop3
