// server.hpp - the SMTP/LMTP listener: Asio acceptor + one coroutine per connection driving a
// ServerSession, STARTTLS or implicit TLS through OpenSSL (boost::asio::ssl).
//
// Built by listd's smtp_service (bind in the constructor, before privileges drop; accept in
// start()). Runs on one io_context thread; a session's blocking commit (fsync) runs on the
// server's own small thread pool, so the event loop never waits on the disk and concurrent
// sessions' commits overlap (the file system merges their journal flushes). Limits: max
// connections overall and per client IP (421 4.7.0 at the greeting), a deadline per command
// line and per DATA/BDAT transfer (421 4.4.2; deadlines, not idle timers, so drip-feeding does
// not help); the write timeout equals the command timeout. stop()
// says 421 4.3.2 to idle sessions at once and to busy ones after their current transaction.
// Errors: bind/certificate problems throw std::runtime_error from the constructor.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>

#include "smtp/server_session.hpp"

namespace boost::asio {
class io_context;
}

namespace smtp {

struct ServerOptions {
  std::string name = "smtp";  // for logs
  std::string host = "127.0.0.1";
  std::uint16_t port = 0;  // 0 = any free port (tests)
  bool lmtp = false;
  std::string hostname = "localhost";
  SessionLimits limits;
  std::chrono::seconds command_timeout{300};  // deadline for one command line (§4.5.3.2.7: 5 minutes)
  std::chrono::seconds data_timeout{600};     // deadline for a whole DATA/BDAT transfer
  unsigned max_connections = 100;
  unsigned max_connections_per_ip = 20;
  unsigned commit_threads = 8;
  // greet_pause - SECURITY S-13 early talkers: wait this long before the 220; a client that has
  // sent anything by then (0 = only what is already buffered when we greet) gets 554 5.5.0 and
  // a close. Plain-text listeners only (with implicit TLS the handshake comes first).
  std::chrono::milliseconds greet_pause{0};
  std::string tls_cert, tls_key;  // both set: STARTTLS is offered
  bool implicit_tls = false;      // TLS from the first byte (submissions port style, RFC 8314)
  // log - optional event sink: (event, client ip, detail).
  std::function<void(std::string_view, std::string_view, std::string_view)> log;
};

class Server {
 public:
  Server(boost::asio::io_context& ioc, ServerOptions opt, Backend& backend);
  ~Server();
  Server(const Server&) = delete;
  Server& operator=(const Server&) = delete;

  void start();
  void stop();
  std::uint16_t port() const;  // the bound port

  struct Impl;

 private:
  std::shared_ptr<Impl> impl_;
};

}  // namespace smtp
