// server.cpp - Asio driver of ServerSession; see server.hpp.
#include "smtp/asio_prelude.hpp"

#include "smtp/server.hpp"

#include <array>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/thread_pool.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>
#include <map>
#include <random>
#include <set>
#include <stdexcept>

namespace smtp {

namespace asio = boost::asio;
namespace ssl = boost::asio::ssl;
using asio::awaitable;
using asio::use_awaitable;
using asio::ip::tcp;

namespace {

std::string session_id() {
  static std::mt19937_64 rng{std::random_device{}()};
  static const char* hex = "0123456789ABCDEF";
  std::string s;
  auto v = rng();
  for (int i = 0; i < 12; ++i) s.push_back(hex[(v >> (i * 4)) & 15]);
  return s;
}

}  // namespace

struct Conn;

struct Server::Impl : std::enable_shared_from_this<Server::Impl> {
  Impl(asio::io_context& io, ServerOptions o, Backend& b)
      : ioc(io), opt(std::move(o)), backend(b), acceptor(io), pool(std::max(1u, opt.commit_threads)) {}
  ~Impl() { pool.join(); }

  void log(std::string_view ev, std::string_view ip, std::string_view detail) const {
    if (opt.log) opt.log(ev, ip, detail);
  }
  awaitable<void> accept_loop();

  asio::io_context& ioc;
  ServerOptions opt;
  Backend& backend;
  tcp::acceptor acceptor;
  asio::thread_pool pool;
  std::unique_ptr<ssl::context> tls;
  bool stopping = false;
  unsigned total = 0;
  std::map<std::string, unsigned> per_ip;
  std::set<std::shared_ptr<Conn>> live;
};

struct Conn : std::enable_shared_from_this<Conn> {
  Conn(std::shared_ptr<Server::Impl> s, tcp::socket so, std::string client_ip)
      : srv(std::move(s)),
        sock(std::move(so)),
        timer(srv->ioc),
        ip(std::move(client_ip)),
        session(options(), srv->backend) {}

  SessionOptions options() const {
    SessionOptions o;
    o.lmtp = srv->opt.lmtp;
    o.hostname = srv->opt.hostname;
    o.tls_available = srv->tls != nullptr && !srv->opt.implicit_tls;
    o.tls_active = srv->opt.implicit_tls;
    o.client_ip = ip;
    o.session_id = session_id();
    o.limits = srv->opt.limits;
    return o;
  }

  void arm(std::chrono::seconds d) { arm_at(std::chrono::steady_clock::now() + d); }
  void arm_at(std::chrono::steady_clock::time_point when) {
    timer.expires_at(when);
    timer.async_wait([self = shared_from_this()](boost::system::error_code ec) {
      if (ec) return;
      self->timed_out = true;
      boost::system::error_code ignored;
      self->sock.cancel(ignored);
    });
  }

  awaitable<std::size_t> read_some(asio::mutable_buffer b) {
    if (tls) co_return co_await tls->async_read_some(b, use_awaitable);
    co_return co_await sock.async_read_some(b, use_awaitable);
  }

  awaitable<void> flush() {
    std::string out = session.take_output();
    if (out.empty()) co_return;
    arm(srv->opt.command_timeout);
    if (tls)
      co_await asio::async_write(*tls, asio::buffer(out), use_awaitable);
    else
      co_await asio::async_write(sock, asio::buffer(out), use_awaitable);
    timer.cancel();
  }

  awaitable<std::vector<Reply>> commit(Transaction* t) {
    co_return co_await asio::co_spawn(
        srv->pool,
        [t]() -> awaitable<std::vector<Reply>> {
          try {
            co_return t->commit();
          } catch (const std::exception& e) {
            co_return std::vector<Reply>{};  // the session answers 451 for an empty list
          }
        },
        use_awaitable);
  }

  awaitable<void> run();

  std::shared_ptr<Server::Impl> srv;
  tcp::socket sock;
  asio::steady_timer timer;
  std::string ip;
  ServerSession session;
  std::unique_ptr<ssl::stream<tcp::socket&>> tls;
  bool timed_out = false;
  bool in_data = false;
  std::chrono::steady_clock::time_point command_deadline, data_deadline;
  bool reading_idle = false;  // blocked in a read between transactions: stop() may interrupt
  bool stop_requested = false;
  bool counted = false;
};

awaitable<void> Conn::run() {
  auto self = shared_from_this();
  std::string inbuf;
  std::array<char, 16384> buf;
  try {
    std::optional<Reply> refuse;
    if (srv->stopping)
      refuse = Reply(421, "4.3.2", srv->opt.hostname + " Service shutting down");
    else if (srv->total >= srv->opt.max_connections)
      refuse = Reply(421, "4.7.0", srv->opt.hostname + " Too many connections, try again later");
    else if (srv->per_ip[ip] >= srv->opt.max_connections_per_ip)
      refuse = Reply(421, "4.7.0", srv->opt.hostname + " Too many connections from your address");
    if (refuse) {
      srv->log("smtp-refused", ip, refuse->first_line());
    } else {
      counted = true;
      ++srv->total;
      ++srv->per_ip[ip];
    }
    if (srv->opt.implicit_tls && !refuse) {
      tls = std::make_unique<ssl::stream<tcp::socket&>>(sock, *srv->tls);
      arm(srv->opt.command_timeout);
      co_await tls->async_handshake(ssl::stream_base::server, use_awaitable);
      timer.cancel();
    }
    bool early = false;
    if (!refuse && !tls) {
      if (srv->opt.greet_pause.count() > 0) {
        asio::steady_timer pause(srv->ioc, srv->opt.greet_pause);
        co_await pause.async_wait(use_awaitable);
      }
      boost::system::error_code aec;
      early = sock.available(aec) > 0 && !aec;
    }
    if (early) {
      srv->log("smtp-early-talker", ip, "sent data before the greeting");
      session.talked_early();
    } else {
      session.greet(refuse);
    }
    for (;;) {
      while (!inbuf.empty() && !session.closing()) {
        std::size_t n = session.feed(inbuf);
        inbuf.erase(0, n);
        if (session.commit_due()) {
          auto replies = co_await commit(session.commit_target());
          session.committed(std::move(replies));
          continue;
        }
        if (session.starttls_requested()) {
          co_await flush();
          inbuf.clear();  // RFC 3207 §4.2 / SECURITY S-03: nothing pipelined survives
          tls = std::make_unique<ssl::stream<tcp::socket&>>(sock, *srv->tls);
          arm(srv->opt.command_timeout);
          co_await tls->async_handshake(ssl::stream_base::server, use_awaitable);
          timer.cancel();
          session.tls_started();
          continue;
        }
        if (n == 0) break;
      }
      co_await flush();
      if (session.closing()) break;
      if (srv->stopping && session.idle() && inbuf.empty()) {
        session.shutdown(Reply(421, "4.3.2", srv->opt.hostname + " Service shutting down"));
        co_await flush();
        break;
      }
      timed_out = false;
      reading_idle = session.idle() && inbuf.empty();
      // Deadlines, not idle timers (SECURITY S-16): a command line must be complete within
      // command_timeout of its first byte, a whole DATA/BDAT transfer within data_timeout,
      // so drip-feeding a byte at a time does not keep a session alive.
      auto now = std::chrono::steady_clock::now();
      if (session.in_data()) {
        if (!in_data) data_deadline = now + srv->opt.data_timeout;
        in_data = true;
        arm_at(data_deadline);
      } else {
        in_data = false;
        if (inbuf.empty()) command_deadline = now + srv->opt.command_timeout;
        arm_at(command_deadline);
      }
      boost::system::error_code ec;
      std::size_t n = 0;
      try {
        n = co_await read_some(asio::buffer(buf));
      } catch (const boost::system::system_error& e) {
        ec = e.code();
      }
      reading_idle = false;
      timer.cancel();
      if (ec) {
        if (timed_out) {
          srv->log("smtp-timeout", ip, session.in_data() ? "data" : "command");
          session.shutdown(Reply(421, "4.4.2", srv->opt.hostname + " Timeout, closing connection"));
          co_await flush();
        } else if (stop_requested) {
          session.shutdown(Reply(421, "4.3.2", srv->opt.hostname + " Service shutting down"));
          co_await flush();
        } else {
          session.eof();
        }
        break;
      }
      inbuf.append(buf.data(), n);
    }
  } catch (const std::exception& e) {
    srv->log("smtp-connection-error", ip, e.what());
    session.eof();
  }
  timer.cancel();
  boost::system::error_code ignored;
  if (tls && !timed_out) {
    // Best effort close_notify is skipped: a shutdown could wait on a silent peer.
  }
  sock.shutdown(tcp::socket::shutdown_both, ignored);
  sock.close(ignored);
  if (counted) {
    --srv->total;
    if (--srv->per_ip[ip] == 0) srv->per_ip.erase(ip);
  }
  srv->live.erase(self);
}

awaitable<void> Server::Impl::accept_loop() {
  auto self = shared_from_this();
  while (!stopping) {
    boost::system::error_code ec;
    tcp::socket sock(ioc);
    bool failed = false;
    try {
      sock = co_await acceptor.async_accept(use_awaitable);
    } catch (const boost::system::system_error& e) {
      if (stopping || e.code() == asio::error::operation_aborted) break;
      log("smtp-accept-error", "", e.what());
      failed = true;
    }
    if (failed) {
      // EMFILE/ENFILE and friends: back off instead of spinning; retry when fds free up.
      asio::steady_timer pause(ioc, std::chrono::milliseconds(200));
      co_await pause.async_wait(use_awaitable);
      continue;
    }
    std::string ip = sock.remote_endpoint(ec).address().to_string();
    if (ec) continue;
    auto c = std::make_shared<Conn>(self, std::move(sock), ip);
    live.insert(c);
    asio::co_spawn(ioc, c->run(), asio::detached);
  }
}

Server::Server(asio::io_context& ioc, ServerOptions opt, Backend& backend)
    : impl_(std::make_shared<Impl>(ioc, std::move(opt), backend)) {
  auto& o = impl_->opt;
  if (o.implicit_tls && (o.tls_cert.empty() || o.tls_key.empty()))
    throw std::runtime_error(o.name + ": implicit TLS needs tls_cert and tls_key");
  if (!o.tls_cert.empty() && !o.tls_key.empty()) {
    auto ctx = std::make_unique<ssl::context>(ssl::context::tls_server);
    ctx->set_options(ssl::context::default_workarounds | ssl::context::no_sslv2 | ssl::context::no_sslv3 |
                     ssl::context::no_tlsv1 | ssl::context::no_tlsv1_1 | ssl::context::single_dh_use);
    try {
      ctx->use_certificate_chain_file(o.tls_cert);
      ctx->use_private_key_file(o.tls_key, ssl::context::pem);
    } catch (const std::exception& e) {
      throw std::runtime_error(o.name + ": cannot load TLS certificate " + o.tls_cert + " / key " + o.tls_key + ": " +
                               e.what());
    }
    impl_->tls = std::move(ctx);
  }
  try {
    tcp::endpoint ep(asio::ip::make_address(o.host), o.port);
    impl_->acceptor.open(ep.protocol());
    impl_->acceptor.set_option(tcp::acceptor::reuse_address(true));
    impl_->acceptor.bind(ep);
    impl_->acceptor.listen(asio::socket_base::max_listen_connections);
  } catch (const std::exception& e) {
    throw std::runtime_error(o.name + ": cannot listen on " + o.host + ":" + std::to_string(o.port) + ": " + e.what());
  }
}

Server::~Server() {
  if (impl_) {
    boost::system::error_code ec;
    impl_->stopping = true;
    impl_->acceptor.close(ec);
  }
}

void Server::start() {
  asio::co_spawn(impl_->ioc, impl_->accept_loop(), asio::detached);
}

void Server::stop() {
  auto impl = impl_;
  asio::post(impl->ioc, [impl] {
    impl->stopping = true;
    boost::system::error_code ec;
    impl->acceptor.close(ec);
    for (auto& c : impl->live) {
      c->stop_requested = true;
      if (c->reading_idle) c->sock.cancel(ec);  // its read ends; it says 421 and closes
    }
  });
}

std::uint16_t Server::port() const {
  return impl_->acceptor.local_endpoint().port();
}

}  // namespace smtp
