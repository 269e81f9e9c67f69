// server.cpp - see server.hpp.
#include "smtp/asio_prelude.hpp"

// Boost 1.74 recognises C++20 coroutines only under g++; clang (clang-tidy parses this file
// with it) has them as well. g++ builds are unaffected.
#if defined(__clang__) && defined(__cpp_impl_coroutine) && !defined(BOOST_ASIO_HAS_CO_AWAIT)
#define BOOST_ASIO_HAS_CO_AWAIT 1
#define BOOST_ASIO_HAS_STD_COROUTINE 1
#endif

#include "web-admin/server.hpp"

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/redirect_error.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/thread_pool.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/http/span_body.hpp>
#include <set>
#include <thread>
#include <vector>

#include "listd/log.hpp"
#include "web-admin/app.hpp"

namespace listd {

namespace {

namespace asio = boost::asio;
namespace http = boost::beast::http;
namespace ssl = boost::asio::ssl;
using asio::awaitable;
using asio::use_awaitable;
using tcp = asio::ip::tcp;

class HttpService : public Service {
  // A web loop: an io_context run by one thread, with the connections it serves.
  struct Loop {
    asio::io_context ioc{1};
    asio::executor_work_guard<asio::io_context::executor_type> guard = asio::make_work_guard(ioc);
    std::set<tcp::socket*> idle;  // waiting for a request; touched on this loop's thread only
    std::thread thread;
  };

 public:
  explicit HttpService(ServiceContext& ctx)
      : ctx_(ctx),
        acceptor_(ctx.ioc),
        tls_acceptor_(ctx.ioc),
        pool_(web::kWebWorkers),
        loops_(web::kWebIoThreads),
        app_(ctx.cfg, ctx.templates, ctx.wake_processing, ctx.wake_delivery) {
    const Listener& l = ctx.cfg.http;
    bind(acceptor_, l.listen, "listen");
    if (!l.tls_listen.empty()) {
      if (l.tls_cert.empty() || l.tls_key.empty())
        throw std::runtime_error("[http] tls_listen " + l.tls_listen.str() +
                                 " needs tls_cert and tls_key (in [http] or [tls])");
      tls_ = std::make_unique<ssl::context>(ssl::context::tls_server);
      tls_->set_options(ssl::context::default_workarounds | ssl::context::no_sslv2 | ssl::context::no_sslv3 |
                        ssl::context::no_tlsv1 | ssl::context::no_tlsv1_1 | ssl::context::single_dh_use);
      try {
        tls_->use_certificate_chain_file(l.tls_cert);
        tls_->use_private_key_file(l.tls_key, ssl::context::pem);
      } catch (const std::exception& e) {
        throw std::runtime_error("[http] cannot load TLS certificate " + l.tls_cert + " / key " + l.tls_key + ": " +
                                 e.what());
      }
      bind(tls_acceptor_, l.tls_listen, "tls_listen");
    }
    app_.set_connection_counter([this] { return open_.load(); });
    for (auto& l : loops_) {
      l = std::make_unique<Loop>();
      auto* lp = l.get();
      lp->thread = std::thread([lp] { lp->ioc.run(); });
    }
  }
  ~HttpService() override {
    // stop() cancelled the idle connections; requests in flight finish, then each loop runs out
    // of work and its thread ends.
    for (auto& l : loops_) l->guard.reset();
    for (auto& l : loops_) l->thread.join();
    pool_.join();
  }

  const char* name() const override { return "http"; }

  void start() override {
    asio::co_spawn(ctx_.ioc, accept_loop(acceptor_, false), asio::detached);
    log_event(LogLevel::info, "http-listening", {{"listen", ctx_.cfg.http.listen.str()}});
    if (tls_) {
      asio::co_spawn(ctx_.ioc, accept_loop(tls_acceptor_, true), asio::detached);
      log_event(LogLevel::info, "http-listening", {{"listen", ctx_.cfg.http.tls_listen.str()}, {"tls", "implicit"}});
    }
  }

  void stop() override {
    stopping_ = true;
    boost::system::error_code ec;
    acceptor_.close(ec);
    tls_acceptor_.close(ec);
    // Each loop cancels its own idle connections (a socket is only touched on its loop).
    for (auto& l : loops_)
      asio::post(l->ioc, [lp = l.get()] {
        boost::system::error_code e;
        for (auto* s : lp->idle) s->cancel(e);
      });
  }

 private:
  static void bind(tcp::acceptor& acc, const Endpoint& ep, const char* key) {
    boost::system::error_code ec;
    tcp::endpoint endpoint(asio::ip::make_address(ep.host, ec), ep.port);
    if (ec) throw std::system_error(ec, std::string("[http] ") + key + " " + ep.str());
    acc.open(endpoint.protocol());
    acc.set_option(asio::socket_base::reuse_address(true));
    acc.bind(endpoint, ec);
    if (ec) throw std::system_error(ec, "[http] cannot listen on " + ep.str());
    acc.listen();
  }

  awaitable<void> accept_loop(tcp::acceptor& acceptor, bool tls) {
    while (!stopping_) {
      boost::system::error_code ec;
      // Connections are dealt out to the web loops in turn: each serves its own on its thread.
      Loop& loop = *loops_[next_loop_++ % loops_.size()];
      tcp::socket sock = co_await acceptor.async_accept(loop.ioc, asio::redirect_error(use_awaitable, ec));
      if (ec) {
        if (stopping_ || ec == asio::error::operation_aborted) break;
        continue;
      }
      if (open_.load() >= static_cast<long>(web::kMaxConnections)) {
        sock.close(ec);
        continue;
      }
      asio::co_spawn(loop.ioc, session(std::move(sock), tls, loop), asio::detached);
    }
  }

  // run_app - the handler on the worker pool, resuming this coroutine on the event loop. The
  // request and response live in a shared Job, so no lambda capture outlives its frame.
  struct Job {
    web::Request req;
    web::Response res;
  };
  awaitable<void> run_app(std::shared_ptr<Job> job) {
    auto ex = co_await asio::this_coro::executor;
    auto initiation = [this, ex, job](auto handler) {
      asio::post(pool_, [this, ex, job, handler = std::move(handler)]() mutable {
        std::exception_ptr ep;
        try {
          job->res = app_.handle(job->req);
        } catch (...) {
          ep = std::current_exception();
        }
        asio::post(ex, [handler = std::move(handler), ep]() mutable { handler(ep); });
      });
    };
    co_await asio::async_initiate<decltype(use_awaitable), void(std::exception_ptr)>(initiation, use_awaitable);
  }

  static web::Response plain(int status, const std::string& text) {
    web::Response r;
    r.status = status;
    r.content_type = "text/plain; charset=utf-8";
    r.body = text + "\n";
    return r;
  }

  // write - RES on STREAM: its `body`, or the bytes of a cached page it shares (`shared_body`,
  // kept alive by `owner` until written: no copy of a 150 KB month page per request).
  template <class Stream>
  awaitable<void> write(Stream& stream, tcp::socket& sock, web::Response res, bool keep_alive, bool head) {
    if (res.owner) {
      http::response<http::span_body<const char>> msg{static_cast<http::status>(res.status), 11};
      fill(msg, res, keep_alive);
      msg.body() = boost::beast::span<const char>(res.shared_body.data(), res.shared_body.size());
      msg.prepare_payload();
      co_await send(stream, sock, msg, head);
    } else {
      http::response<http::string_body> msg{static_cast<http::status>(res.status), 11};
      fill(msg, res, keep_alive);
      msg.body() = std::move(res.body);
      msg.prepare_payload();
      co_await send(stream, sock, msg, head);  // HEAD: Content-Length stays that of the GET answer
    }
  }

  template <class Msg>
  static void fill(Msg& msg, const web::Response& res, bool keep_alive) {
    msg.set(http::field::server, "listd");
    if (!res.content_type.empty()) msg.set(http::field::content_type, res.content_type);
    for (auto& [k, v] : res.headers) msg.insert(k, v);
    msg.keep_alive(keep_alive);
  }

  template <class Stream, class Body>
  awaitable<void> send(Stream& stream, tcp::socket& sock, http::response<Body>& msg, bool head) {
    asio::steady_timer timer(sock.get_executor());
    timer.expires_after(web::kWriteTimeout);
    timer.async_wait([&sock](boost::system::error_code ec) {
      if (!ec) sock.cancel(ec);
    });
    boost::system::error_code ec;
    if (head) {
      http::response_serializer<Body> sr{msg};
      co_await http::async_write_header(stream, sr, asio::redirect_error(use_awaitable, ec));
    } else {
      co_await http::async_write(stream, msg, asio::redirect_error(use_awaitable, ec));
    }
    timer.cancel();
    if (ec) throw boost::system::system_error(ec);
  }

  // session - one connection: the TLS handshake (on the tls_listen acceptor) within
  // kHeaderTimeout, then serve(); a TLS connection ends with a close_notify bounded by
  // kTlsShutdownTimeout (a silent peer cannot hold it).
  awaitable<void> session(tcp::socket sock, bool tls, Loop& loop) {
    ++open_;
    boost::system::error_code ec;
    auto remote = sock.remote_endpoint(ec);
    std::string peer = ec ? std::string() : remote.address().to_string();
    if (!tls) {
      co_await serve(sock, sock, peer, false, loop);
    } else {
      ssl::stream<tcp::socket&> stream(sock, *tls_);
      asio::steady_timer timer(sock.get_executor());
      timer.expires_after(web::kHeaderTimeout);
      timer.async_wait([&sock](boost::system::error_code tec) {
        if (!tec) sock.cancel(tec);
      });
      ec = {};
      co_await stream.async_handshake(ssl::stream_base::server, asio::redirect_error(use_awaitable, ec));
      timer.cancel();
      if (ec) {
        log_event(LogLevel::debug, "http-tls-handshake-failed", {{"peer", peer}, {"error", ec.message()}});
      } else {
        bool clean = co_await serve(stream, sock, peer, true, loop);
        if (clean) {
          timer.expires_after(web::kTlsShutdownTimeout);
          timer.async_wait([&sock](boost::system::error_code tec) {
            if (!tec) sock.cancel(tec);
          });
          co_await stream.async_shutdown(asio::redirect_error(use_awaitable, ec));
          timer.cancel();
        }
      }
    }
    sock.shutdown(tcp::socket::shutdown_both, ec);
    sock.close(ec);
    --open_;
  }

  // serve - read requests from STREAM (the socket itself, or TLS over it) and answer them.
  // Returns whether the connection is still sound (worth a TLS close_notify).
  template <class Stream>
  awaitable<bool> serve(Stream& stream, tcp::socket& sock, const std::string& peer, bool tls, Loop& loop) {
    boost::system::error_code ec;
    boost::beast::flat_buffer buf;
    bool clean = true;
    try {
      for (unsigned n = 0; n < web::kMaxRequestsPerConnection && !stopping_; ++n) {
        http::request_parser<http::string_body> parser;
        parser.header_limit(static_cast<std::uint32_t>(web::kMaxHeaderBytes));
        parser.body_limit(web::kMaxBodyBytes);
        bool timed_out = false;
        asio::steady_timer timer(sock.get_executor());
        // The first request must arrive whole within kHeaderTimeout; between keep-alive
        // requests the connection may idle kIdleTimeout, then the header deadline applies.
        timer.expires_after(n == 0 ? web::kHeaderTimeout : web::kIdleTimeout);
        timer.async_wait([&](boost::system::error_code tec) {
          if (!tec) {
            timed_out = true;
            sock.cancel(tec);
          }
        });
        loop.idle.insert(&sock);
        ec = {};
        co_await http::async_read_header(stream, buf, parser, asio::redirect_error(use_awaitable, ec));
        loop.idle.erase(&sock);
        if (!ec && !parser.is_done()) {
          timer.expires_after(web::kBodyTimeout);
          timer.async_wait([&](boost::system::error_code tec) {
            if (!tec) {
              timed_out = true;
              sock.cancel(tec);
            }
          });
          if (parser.content_length() && *parser.content_length() > web::kMaxBodyBytes) {
            ec = http::error::body_limit;
          } else {
            co_await http::async_read(stream, buf, parser, asio::redirect_error(use_awaitable, ec));
          }
        }
        timer.cancel();
        if (ec) {
          if (ec == http::error::end_of_stream || ec == asio::error::eof || ec == asio::error::connection_reset ||
              ec == ssl::error::stream_truncated)
            break;
          if (stopping_ && !timed_out) break;
          int status = 400;
          std::string text = "malformed request";
          if (timed_out) {
            if (buf.size() == 0 && !parser.got_some()) break;  // idle keep-alive: just close
            status = 408, text = "request not received in time";
          } else if (ec == http::error::header_limit) {
            status = 431, text = "request header fields too large";
          } else if (ec == http::error::body_limit) {
            status = 413, text = "request body too large";
          } else if (ec == asio::error::operation_aborted) {
            break;
          }
          if (ec != http::error::header_limit && ec != http::error::body_limit) clean = false;
          web::Response r = plain(status, text);
          co_await write(stream, sock, r, false, false);
          break;
        }
        auto& msg = parser.get();
        auto job = std::make_shared<Job>();
        web::Request& req = job->req;
        req.method = std::string(msg.method_string());
        req.target = std::string(msg.target());
        auto q = req.target.find('?');
        auto decoded = web::percent_decode(req.target.substr(0, q));
        if (!decoded || req.target.empty() || req.target[0] != '/') {
          co_await write(stream, sock, plain(400, "bad request target"), false, false);
          break;
        }
        req.path = *decoded;
        if (q != std::string::npos) req.query = req.target.substr(q + 1);
        for (auto& f : msg) {
          std::string name(f.name_string());
          for (auto& ch : name) ch = static_cast<char>(std::tolower(static_cast<unsigned char>(ch)));
          auto& slot = req.headers[name];
          slot += (slot.empty() ? "" : (name == "cookie" ? "; " : ", ")) + std::string(f.value());
        }
        req.body = std::move(msg.body());
        req.peer = peer;
        req.loopback = web::is_loopback_address(peer);
        req.tls = tls;
        req.received = std::chrono::steady_clock::now();
        bool keep = msg.keep_alive() && !stopping_ && n + 1 < web::kMaxRequestsPerConnection;
        bool head = msg.method() == http::verb::head;
        // A page the cache holds is answered here on the event loop (no hop to a worker and
        // back); everything else runs on the workers.
        if (auto hit = app_.cached(job->req))
          job->res = std::move(*hit);
        else
          co_await run_app(job);
        co_await write(stream, sock, std::move(job->res), keep, head);
        if (!keep) break;
      }
    } catch (const std::exception& e) {
      log_event(LogLevel::debug, "http-session-ended", {{"peer", peer}, {"error", e.what()}});
      clean = false;
    }
    loop.idle.erase(&sock);
    co_return clean;
  }

  ServiceContext& ctx_;
  tcp::acceptor acceptor_, tls_acceptor_;
  std::unique_ptr<ssl::context> tls_;  // null: no tls_listen
  asio::thread_pool pool_;
  std::vector<std::unique_ptr<Loop>> loops_;
  unsigned next_loop_ = 0;  // accept loops run on the daemon's event loop thread
  web::App app_;
  std::atomic<bool> stopping_{false};
  std::atomic<long> open_{0};
};

}  // namespace

std::unique_ptr<Service> make_http_service(ServiceContext& ctx) {
  return std::make_unique<HttpService>(ctx);
}

}  // namespace listd
