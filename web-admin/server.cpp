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
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/redirect_error.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/thread_pool.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/http.hpp>
#include <set>

#include "listd/log.hpp"
#include "web-admin/app.hpp"

namespace listd {

namespace {

namespace asio = boost::asio;
namespace http = boost::beast::http;
using asio::awaitable;
using asio::use_awaitable;
using tcp = asio::ip::tcp;

class HttpService : public Service {
 public:
  explicit HttpService(ServiceContext& ctx)
      : ctx_(ctx),
        acceptor_(ctx.ioc),
        pool_(web::kWebWorkers),
        app_(ctx.cfg, ctx.templates, ctx.wake_processing, ctx.wake_delivery) {
    auto& ep = ctx.cfg.http.listen;
    boost::system::error_code ec;
    tcp::endpoint endpoint(asio::ip::make_address(ep.host, ec), ep.port);
    if (ec) throw std::system_error(ec, "[http] listen " + ep.str());
    acceptor_.open(endpoint.protocol());
    acceptor_.set_option(asio::socket_base::reuse_address(true));
    acceptor_.bind(endpoint, ec);
    if (ec) throw std::system_error(ec, "[http] cannot listen on " + ep.str());
    acceptor_.listen();
    app_.set_connection_counter([this] { return open_.load(); });
  }
  ~HttpService() override { pool_.join(); }

  const char* name() const override { return "http"; }

  void start() override {
    asio::co_spawn(ctx_.ioc, accept_loop(), asio::detached);
    log_event(LogLevel::info, "http-listening", {{"listen", ctx_.cfg.http.listen.str()}});
  }

  void stop() override {
    stopping_ = true;
    boost::system::error_code ec;
    acceptor_.close(ec);
    for (auto* s : idle_) s->cancel(ec);
  }

 private:
  awaitable<void> accept_loop() {
    while (!stopping_) {
      boost::system::error_code ec;
      tcp::socket sock = co_await acceptor_.async_accept(asio::redirect_error(use_awaitable, ec));
      if (ec) {
        if (stopping_ || ec == asio::error::operation_aborted) break;
        continue;
      }
      if (open_.load() >= static_cast<long>(web::kMaxConnections)) {
        sock.close(ec);
        continue;
      }
      asio::co_spawn(ctx_.ioc, session(std::move(sock)), asio::detached);
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

  awaitable<void> write(tcp::socket& sock, const web::Response& res, bool keep_alive, bool head) {
    http::response<http::string_body> msg{static_cast<http::status>(res.status), 11};
    msg.set(http::field::server, "listd");
    if (!res.content_type.empty()) msg.set(http::field::content_type, res.content_type);
    for (auto& [k, v] : res.headers) msg.insert(k, v);
    msg.keep_alive(keep_alive);
    msg.body() = res.body;
    msg.prepare_payload();
    if (head) msg.body().clear();  // Content-Length stays that of the GET answer
    asio::steady_timer timer(sock.get_executor());
    timer.expires_after(web::kWriteTimeout);
    timer.async_wait([&sock](boost::system::error_code ec) {
      if (!ec) sock.cancel(ec);
    });
    boost::system::error_code ec;
    if (head) {
      http::response_serializer<http::string_body> sr{msg};
      co_await http::async_write_header(sock, sr, asio::redirect_error(use_awaitable, ec));
    } else {
      co_await http::async_write(sock, msg, asio::redirect_error(use_awaitable, ec));
    }
    timer.cancel();
    if (ec) throw boost::system::system_error(ec);
  }

  awaitable<void> session(tcp::socket sock) {
    ++open_;
    boost::system::error_code ec;
    auto remote = sock.remote_endpoint(ec);
    std::string peer = ec ? std::string() : remote.address().to_string();
    boost::beast::flat_buffer buf;
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
        idle_.insert(&sock);
        ec = {};
        co_await http::async_read_header(sock, buf, parser, asio::redirect_error(use_awaitable, ec));
        idle_.erase(&sock);
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
            co_await http::async_read(sock, buf, parser, asio::redirect_error(use_awaitable, ec));
          }
        }
        timer.cancel();
        if (ec) {
          if (ec == http::error::end_of_stream || ec == asio::error::eof || ec == asio::error::connection_reset) break;
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
          web::Response r = plain(status, text);
          co_await write(sock, r, false, false);
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
          co_await write(sock, plain(400, "bad request target"), false, false);
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
        bool keep = msg.keep_alive() && !stopping_ && n + 1 < web::kMaxRequestsPerConnection;
        bool head = msg.method() == http::verb::head;
        co_await run_app(job);
        co_await write(sock, job->res, keep, head);
        if (!keep) break;
      }
    } catch (const std::exception& e) {
      log_event(LogLevel::debug, "http-session-ended", {{"peer", peer}, {"error", e.what()}});
    }
    idle_.erase(&sock);
    sock.shutdown(tcp::socket::shutdown_both, ec);
    sock.close(ec);
    --open_;
  }

  ServiceContext& ctx_;
  tcp::acceptor acceptor_;
  asio::thread_pool pool_;
  web::App app_;
  std::atomic<bool> stopping_{false};
  std::atomic<long> open_{0};
  std::set<tcp::socket*> idle_;  // touched on the event loop thread only
};

}  // namespace

std::unique_ptr<Service> make_http_service(ServiceContext& ctx) {
  return std::make_unique<HttpService>(ctx);
}

}  // namespace listd
