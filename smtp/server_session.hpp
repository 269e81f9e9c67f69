// server_session.hpp - one SMTP (RFC 5321) or LMTP (RFC 2033) server session as a pure state
// machine: bytes in, reply bytes out, no sockets, no clock of its own.
//
// Driven by smtp::Server (Asio) and by the transcript unit tests. Asks the engine through
// Backend (RCPT check, begin a message) and Transaction (append content, commit durably).
// Extensions: PIPELINING (replies queued in order; the driver writes them when the input is
// drained), ENHANCEDSTATUSCODES, 8BITMIME, SIZE, CHUNKING (BDAT, RFC 3030), SMTPUTF8
// (RFC 6531), STARTTLS (RFC 3207: the driver discards every byte buffered after the command,
// then the session forgets EHLO). Limits come from SessionLimits; every error reply counts
// towards max_errors, after which the session says 421 and closes. Protocol errors are
// replies; the only exceptions are from the backend, which the session turns into 451.
#pragma once

#include <cstdint>
#include <ctime>
#include <functional>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "smtp/address.hpp"
#include "smtp/data_reader.hpp"
#include "smtp/reply.hpp"

namespace smtp {

struct SessionLimits {
  std::uint64_t max_message_size = 10485760;  // SIZE and body (552 5.3.4)
  unsigned max_recipients = 100;              // per transaction (452 4.5.3)
  std::size_t max_command_line = 512;         // octets with CRLF (500 5.5.2)
  std::size_t max_text_line = 1000;           // octets with CRLF (554 5.6.0 after the data)
  unsigned max_errors = 20;                   // error replies before 421 and close
  unsigned max_received = 100;                // Received: fields before 554 5.4.6
  // reject_unauth_pipelining - bytes already waiting after EHLO/HELO/LHLO or DATA (sent before
  // our reply, RFC 2920 §3.1 forbids it) get 554 5.5.0 and a close (SECURITY S-13).
  bool reject_unauth_pipelining = true;
  // Header caps (SECURITY S-05): 552 5.3.4 after the data when the header is over any of them.
  std::size_t max_header_size = 65536;        // octets of the whole header, CRLFs included
  unsigned max_header_fields = 1000;          // fields (a folded field counts once)
  std::size_t max_header_field_size = 32768;  // octets of one field with its folded lines
};

struct SessionOptions {
  bool lmtp = false;
  std::string hostname = "localhost";  // ours, in the greeting and Received:
  bool tls_available = false;          // offer STARTTLS
  bool tls_active = false;             // implicit TLS, or after STARTTLS
  std::string client_ip;
  std::string session_id;            // goes into Received: "id"
  std::function<std::time_t()> now;  // for Received:; default std::time
  SessionLimits limits;
};

// Envelope - what the backend sees of the transaction.
struct Envelope {
  std::string helo;
  std::string client_ip;
  bool lmtp = false, esmtp = false, tls = false, smtputf8 = false, body_8bit = false;
  std::string sender;                   // empty = null sender
  std::vector<std::string> recipients;  // accepted, unique (as the backend normalised them)
};

class Transaction {
 public:
  virtual ~Transaction() = default;  // not committed: the backend removes what it wrote
  // append - message content with CRLF line ends. Should not throw; remember the failure and
  // report it from commit().
  virtual void append(std::string_view bytes) = 0;
  // commit - make the message durable; one reply per envelope recipient, in order. Blocking:
  // the Asio driver calls it on a worker thread. 2xx only once the message is on stable storage.
  virtual std::vector<Reply> commit() = 0;
};

class Backend {
 public:
  virtual ~Backend() = default;
  // check_rcpt - 2xx to accept; on acceptance *key is the recipient's unique key.
  virtual Reply check_rcpt(const Envelope& env, const Mailbox& rcpt, std::string* key) = 0;
  // begin - a message for env; may throw (the client gets 451 4.3.0).
  virtual std::unique_ptr<Transaction> begin(const Envelope& env) = 0;
};

class ServerSession {
 public:
  ServerSession(SessionOptions opt, Backend& backend);
  ~ServerSession();

  // greet - queue the 220 greeting (or a 421 when `refuse` is given: over a connection limit).
  void greet(const std::optional<Reply>& refuse = std::nullopt);
  // talked_early - the client sent bytes before our greeting (SECURITY S-13): instead of the
  // greeting, 554 5.5.0 and close. The driver decides (bytes waiting at greeting time).
  void talked_early();
  // feed - consume input; returns how many bytes were used. It stops early when a commit is
  // due, after STARTTLS, or when closing: the driver acts, then feeds the rest (except after
  // STARTTLS, where the rest is discarded).
  std::size_t feed(std::string_view in);
  // take_output - replies queued since the last call, ready for the wire.
  std::string take_output();

  bool closing() const { return closing_; }
  bool in_data() const { return phase_ == Phase::data || phase_ == Phase::bdat; }
  // idle - between transactions, waiting for a command: a shutdown 421 is safe now.
  bool idle() const { return phase_ == Phase::command && !txn_ && !committing_; }

  // commit_due - the end of the data was seen; the driver must call commit() (it blocks) on
  // the transaction returned by commit_target() and then committed() with the replies.
  bool commit_due() const { return committing_; }
  Transaction* commit_target() { return txn_.get(); }
  void committed(std::vector<Reply> replies);
  void commit_failed(const std::string& why);

  bool starttls_requested() const { return starttls_; }
  void tls_started();  // after the handshake: back to the greeting state

  // shutdown - listd is stopping (421 4.3.2) or a timeout hit (421 4.4.2): reply and close.
  void shutdown(const Reply& why);
  // eof - the client went away: drop any transaction (nothing partial is kept).
  void eof();

  const Envelope& envelope() const { return env_; }
  unsigned errors() const { return errors_; }

 private:
  enum class Phase { command, data, bdat };
  void reply(const Reply& r);
  void error(Reply r);
  void command(std::string_view line, bool* group_end);
  void do_helo(const std::string& verb, const std::string& arg);
  void do_mail(const std::string& arg);
  void do_rcpt(const std::string& arg);
  void do_data();
  void do_bdat(const std::string& arg);
  bool start_message();
  DataLimits data_limits() const;
  void end_message();
  void reset_transaction();
  std::string received_header() const;
  std::size_t feed_data(std::string_view in);
  std::size_t feed_bdat(std::string_view in);
  void bdat_chunk_done();

  SessionOptions opt_;
  Backend& backend_;
  std::string out_;
  Phase phase_ = Phase::command;
  bool closing_ = false, starttls_ = false, committing_ = false;
  bool helo_done_ = false, discarding_ = false;
  unsigned errors_ = 0;
  unsigned txn_count_ = 0;
  Envelope env_;
  bool in_mail_ = false;
  std::uint64_t declared_size_ = 0;
  std::set<std::string> rcpt_keys_;
  std::vector<std::size_t> rcpt_slots_;  // LMTP: one reply per 250'd RCPT -> index in recipients
  std::unique_ptr<Transaction> txn_;
  std::unique_ptr<DataReader> reader_;
  std::string content_;  // unstuffed bytes waiting to go to txn_
  // BDAT
  bool bdat_used_ = false, bdat_last_ = false;
  std::uint64_t bdat_left_ = 0;
  std::optional<Reply> bdat_error_;  // reply once the chunk is consumed
};

}  // namespace smtp
