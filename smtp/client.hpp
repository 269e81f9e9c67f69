// client.hpp - one outbound SMTP connection on Asio (C++20 coroutines): connect, greeting,
// EHLO (HELO fallback), STARTTLS per policy, AUTH PLAIN/LOGIN, then any number of
// transactions (RSET between them when one ended early), QUIT.
//
// Used by the relay pool (listd/relay.cpp); include only there (it pulls in Asio). The
// protocol decisions live in client_proto.hpp; this file does the I/O: every read and write
// runs under a per-step deadline (RFC 5321 4.5.3.2, capped by Options::max_step), TCP_NODELAY
// is set, and a pipelined group plus a BDAT body leave in one gathered write. Errors: open()
// returns a reply-like text and whether it is permanent; transact() never throws - a lost
// connection defers the whole transaction (ClientTransaction::fail_all).
#pragma once

#include "smtp/asio_prelude.hpp"

#include <boost/asio/awaitable.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl/context.hpp>
#include <boost/asio/ssl/stream.hpp>
#include <boost/asio/steady_timer.hpp>
#include <chrono>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "smtp/client_proto.hpp"

namespace smtp {

enum class TlsPolicy { none, opportunistic, required, verify };

struct ClientOptions {
  std::string helo_name = "localhost";
  TlsPolicy tls = TlsPolicy::opportunistic;
  std::string tls_server_name;  // SNI and the name checked under TlsPolicy::verify
  std::string auth_user, auth_password;
  std::chrono::seconds max_step{600};  // caps every RFC 5321 4.5.3.2 timeout
};

struct OpenResult {
  bool ok = false;
  bool permanent = false;   // 5xx at greeting/EHLO/AUTH: do not retry this host soon
  std::string reply;        // why it failed ("421 ...", "451 4.4.1 connect: ...")
  bool tls_failed = false;  // the STARTTLS handshake failed (the caller may retry in plaintext)
};

// Body - a job's message in both wire forms (smtp/wire.hpp), rendered once, shared.
struct Body {
  std::string data;  // dot-stuffed, ends with ".\r\n"
  std::string bdat;  // CRLF only
};

// BodySegments - a body in pieces, all sent in one gathered write (personalized delivery:
// pieces shared by every recipient around small per-recipient ones). Concatenated, `data`
// is the DATA form (ending ".\r\n") and `bdat` the BDAT form of the same message.
struct BodySegments {
  std::vector<std::string_view> data, bdat;
  static std::size_t size(const std::vector<std::string_view>& v) {
    std::size_t n = 0;
    for (auto s : v) n += s.size();
    return n;
  }
};

class Connection : public std::enable_shared_from_this<Connection> {
 public:
  Connection(boost::asio::any_io_executor ex, boost::asio::ssl::context& tls, ClientOptions opts);
  boost::asio::awaitable<OpenResult> open(std::vector<boost::asio::ip::tcp::endpoint> addrs);
  // transact - run `t` to its end (t.results() then holds every recipient's outcome).
  boost::asio::awaitable<void> transact(ClientTransaction& t, const Body& body);
  boost::asio::awaitable<void> transact(ClientTransaction& t, const BodySegments& body);
  boost::asio::awaitable<void> quit();
  bool alive() const { return alive_; }
  bool tls_active() const { return tls_; }
  const Extensions& ext() const { return ext_; }
  std::size_t transactions() const { return transactions_; }

 private:
  boost::asio::awaitable<ParsedReply> read_reply(std::chrono::seconds limit);
  template <class Buffers>
  boost::asio::awaitable<void> write(const Buffers& b, std::chrono::seconds limit);
  boost::asio::awaitable<ParsedReply> command(const std::string& line, std::chrono::seconds limit);
  boost::asio::awaitable<OpenResult> hello();
  void arm(std::chrono::seconds limit);
  void close();
  std::chrono::seconds cap(std::chrono::seconds s) const { return s < opts_.max_step ? s : opts_.max_step; }

  boost::asio::ssl::stream<boost::asio::ip::tcp::socket> stream_;
  boost::asio::steady_timer deadline_;
  ClientOptions opts_;
  ReplyParser parser_;
  Extensions ext_;
  std::vector<char> rbuf_;
  bool tls_ = false, alive_ = false;
  std::size_t transactions_ = 0;
};

}  // namespace smtp
