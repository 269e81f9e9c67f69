// session.hpp - the IMAP4rev1 server state machine (RFC 3501) for read-only archives.
//
// Bytes in (input), bytes out (returned strings); no socket, timer or database here. The
// archive is reached through imap::Backend, which listd implements over SQLite and the
// Maildir (listd/archive_view.hpp) and tests implement in memory. The I/O layer
// (listd/archive_net.cpp) also asks: closing() after a write, want_starttls() (do the TLS
// handshake now, then tls_started()), idling() (call poll() on a timer), delay_ms() (hold the
// next reply back after a failed login), more()/resume() (a long FETCH is produced in chunks),
// login_pending()/verify() (a slow password check waits for its turn outside the session).
// A mailbox's message list is an immutable MessageList the backend may share between sessions;
// each session keeps only its pointer and its \Seen bits, and moves to a newer list on
// NOOP/CHECK/IDLE, telling the client (EXPUNGE, EXISTS) as RFC 3501 §7.3.1 and §7.4.1 ask.
// Limits are SessionLimits fields; breaking one gives BAD/NO, or BYE and close.
#pragma once

#include <cstddef>
#include <cstdint>
#include <iterator>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "imap/parser.hpp"

namespace imap {

struct MessageMeta {
  std::uint32_t uid = 0;
  std::int64_t key = 0;           // the backend's id for the message (listd: archive.id)
  std::uint64_t size = 0;         // RFC822.SIZE (CRLF octets)
  std::int64_t internaldate = 0;  // unix time the archive received it
  std::int64_t sent = 0;          // Date: header as unix time (0 = unknown)
};

// MessageList - a mailbox's messages in ascending UID order. Never changed once shared, so one
// list may serve every session that has the mailbox open (listd: listd/archive_view.hpp).
// Stored in chunks of kChunk entries: appended() makes the next version sharing every full
// chunk with this one, so sessions that still hold older versions cost little.
class MessageList {
 public:
  static constexpr std::size_t kChunk = 1024;
  std::size_t size() const { return size_; }
  bool empty() const { return size_ == 0; }
  const MessageMeta& operator[](std::size_t i) const { return (*chunks_[i / kChunk])[i % kChunk]; }
  const MessageMeta& back() const { return (*this)[size_ - 1]; }
  // push_back - while building, before the list is shared.
  void push_back(const MessageMeta& m);
  // appended - a new list: this one's entries then `more`; full chunks are shared, not copied.
  MessageList appended(const std::vector<MessageMeta>& more) const;
  std::size_t chunks() const { return chunks_.size(); }
  bool shares_chunk_with(const MessageList& o, std::size_t chunk) const {
    return chunk < chunks_.size() && chunk < o.chunks_.size() && chunks_[chunk] == o.chunks_[chunk];
  }

  class const_iterator {
   public:
    using iterator_category = std::forward_iterator_tag;
    using value_type = MessageMeta;
    using difference_type = std::ptrdiff_t;
    using pointer = const MessageMeta*;
    using reference = const MessageMeta&;
    const_iterator(const MessageList* l, std::size_t i) : l_(l), i_(i) {}
    reference operator*() const { return (*l_)[i_]; }
    pointer operator->() const { return &(*l_)[i_]; }
    const_iterator& operator++() {
      ++i_;
      return *this;
    }
    const_iterator operator++(int) {
      auto t = *this;
      ++i_;
      return t;
    }
    bool operator==(const const_iterator& o) const { return i_ == o.i_; }
    bool operator!=(const const_iterator& o) const { return i_ != o.i_; }

   private:
    const MessageList* l_;
    std::size_t i_;
  };
  const_iterator begin() const { return {this, 0}; }
  const_iterator end() const { return {this, size_}; }

 private:
  std::vector<std::shared_ptr<std::vector<MessageMeta>>> chunks_;  // full ones are never written
  std::size_t size_ = 0;
};
using MessageListPtr = std::shared_ptr<const MessageList>;

// Precomputed per message (listd keeps them in the index so FETCH ENVELOPE never opens files).
struct MessageFacts {
  std::string envelope, body, bodystructure;
};

enum class SearchField { from, to, cc, bcc, subject, body, text, header };

class Backend {
 public:
  virtual ~Backend() = default;
  // login - `user` as typed (email, unambiguous local part, or "anonymous").
  virtual bool login(const std::string& user, const std::string& password) = 0;
  // begin_login / finish_login - the same check in two halves, for backends whose check is
  // slow (a password hash): begin_login answers at once (ok / fail) or says `slow`; the
  // session then waits until the I/O layer calls Session::verify(), which calls finish_login.
  enum class LoginStep { ok, fail, slow };
  virtual LoginStep begin_login(const std::string& user, const std::string& password) {
    return login(user, password) ? LoginStep::ok : LoginStep::fail;
  }
  virtual bool finish_login() { return false; }
  // mailboxes - names the user may read; "INBOX" first.
  virtual std::vector<std::string> mailboxes() = 0;
  // open - the messages of a mailbox; false if it does not exist for this user.
  virtual bool open(const std::string& mailbox, std::uint32_t& uidvalidity, MessageListPtr& out) = 0;
  // current - the mailbox's list now (NOOP, IDLE): the same pointer if nothing changed.
  virtual MessageListPtr current(const std::string& mailbox) = 0;
  // seen_keys - keys of the mailbox's messages with UID > after_uid this user marked \Seen.
  virtual std::vector<std::int64_t> seen_keys(const std::string& mailbox, std::uint32_t after_uid) = 0;
  // message - the raw message with CRLF line ends; empty optional if it is gone.
  virtual std::optional<std::string> message(std::int64_t key) = 0;
  // facts - ENVELOPE/BODY/BODYSTRUCTURE for each key, in order (empty strings if unknown).
  virtual std::vector<MessageFacts> facts(const std::vector<std::int64_t>& keys) = 0;
  // search - keys of messages in `mailbox` whose field contains `value` (case-insensitive).
  virtual std::vector<std::int64_t> search(const std::string& mailbox, SearchField field, const std::string& header,
                                           const std::string& value) = 0;
  virtual void set_seen(const std::vector<std::int64_t>& keys, bool seen) = 0;
};

struct SessionLimits {
  ParserLimits parser;
  unsigned max_bad_commands = 20;     // BAD replies before BYE
  unsigned max_unauth_commands = 30;  // commands before a successful login
  unsigned max_failed_logins = 3;     // then BYE
  unsigned failed_login_delay_ms = 1000;
  std::size_t fetch_chunk = 256 * 1024;  // output bytes produced per resume()
};

struct SessionOptions {
  bool tls_available = false;      // STARTTLS may be offered
  bool tls_active = false;         // implicit TLS port
  bool plaintext_allowed = false;  // LOGIN / AUTHENTICATE PLAIN without TLS
  std::string server_name = "listd";
  SessionLimits limits;
};

class Session {
 public:
  Session(Backend& backend, SessionOptions options);
  ~Session();
  std::string greeting();
  std::string input(std::string_view bytes);
  std::string poll();     // while idling: untagged EXISTS for new messages
  std::string timeout();  // the autologout BYE
  bool closing() const { return closing_; }
  bool want_starttls() const { return want_starttls_; }
  void tls_started();
  bool idling() const { return idle_tag_.has_value(); }
  bool login_pending() const { return pending_login_.has_value(); }
  std::string verify();  // run the slow half of a pending login, then whatever followed it
  bool more() const;
  std::string resume();
  unsigned delay_ms() {
    unsigned d = delay_ms_;
    delay_ms_ = 0;
    return d;
  }

 private:
  enum class State { not_authenticated, authenticated, selected, logout };
  struct FetchJob;
  void run(std::string& out);
  void dispatch(const Command& c, std::string& out);
  void bad(const std::string& tag, const std::string& text, std::string& out);
  void do_login(const std::string& tag, const std::string& user, const std::string& pass, std::string& out);
  void end_login(const std::string& tag, bool ok, std::string& out);
  const MessageList& list() const;
  void set_list(MessageListPtr list);
  void do_list(const Command& c, bool lsub, std::string& out);
  void do_status(const Command& c, std::string& out);
  void do_select(const Command& c, bool examine, std::string& out);
  void do_fetch(const Command& c, std::size_t first, bool uid, std::string& out);
  void do_store(const Command& c, std::size_t first, bool uid, std::string& out);
  void do_search(const Command& c, std::size_t first, bool uid, std::string& out);
  void do_authenticate(const Command& c, std::string& out);
  void finish_authenticate(const std::string& line, std::string& out);
  void continue_fetch(std::string& out);
  void refresh(std::string& out);
  bool auth_allowed() const { return options_.plaintext_allowed || tls_active_; }

  Backend& backend_;
  SessionOptions options_;
  CommandParser parser_;
  State state_ = State::not_authenticated;
  bool closing_ = false, want_starttls_ = false, tls_active_ = false, read_only_ = false;
  unsigned bad_count_ = 0, unauth_count_ = 0, failed_logins_ = 0, delay_ms_ = 0;
  std::optional<std::string> idle_tag_;
  std::optional<std::string> auth_tag_;  // AUTHENTICATE waiting for the client's response
  std::string mailbox_;
  std::uint32_t uidvalidity_ = 0;
  std::optional<std::string> pending_login_;  // tag of a LOGIN/AUTHENTICATE waiting for verify()
  MessageListPtr msgs_;                       // shared with other sessions: never written
  std::vector<bool> seen_;                    // this session's \Seen, one per msgs_ entry
  std::unique_ptr<FetchJob> job_;
};

// base64 helpers (RFC 4648), used for AUTHENTICATE PLAIN here and by POP3.
bool base64_decode(std::string_view in, std::string& out);
std::string base64_encode(std::string_view in);
// imap_date - "17-Jul-1996 02:44:25 +0000" for a unix time (UTC).
std::string imap_date(std::int64_t t);
// parse_search_date - "1-Feb-1994" -> unix day start (UTC); false on bad syntax.
bool parse_search_date(std::string_view s, std::int64_t& out);

}  // namespace imap
