// archive_net.cpp - see archive_net.hpp.
#include "listd/archive_net.hpp"

#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/write.hpp>
#include <chrono>
#include <list>
#include <mutex>

#include "listd/archive_view.hpp"
#include "listd/auth_cache.hpp"
#include "listd/log.hpp"

namespace listd {
namespace {

namespace asio = boost::asio;
namespace ssl = boost::asio::ssl;
using tcp = asio::ip::tcp;

// pump - start queued password checks while fewer than max_logins run (event loop thread).
void pump(ArchiveRuntime& rt) {
  while (rt.verifying < rt.max_logins && !rt.waiting.empty()) {
    auto next = std::move(rt.waiting.front());
    rt.waiting.pop_front();
    next();
  }
}

struct Shared {
  Shared(ServiceContext& c, NetServiceOptions o) : ctx(c), opt(std::move(o)), rt(opt.runtime.get()) {}
  ServiceContext& ctx;
  NetServiceOptions opt;
  ArchiveRuntime* rt;                 // owned by NetService (never by a connection: the pool must not join itself)
  std::unique_ptr<ssl::context> tls;  // null: no certificate configured
  std::size_t connections = 0;
  std::atomic<bool> stopping{false};
};

class Connection : public std::enable_shared_from_this<Connection> {
 public:
  Connection(std::shared_ptr<Shared> sh, tcp::socket sock, ssl::context& ctx, bool implicit_tls)
      : sh_(std::move(sh)), stream_(std::move(sock), ctx), tick_(sh_->ctx.ioc), implicit_tls_(implicit_tls) {}

  void start() {
    ++sh_->connections;
    boost::system::error_code ec;
    auto ep = stream_.next_layer().remote_endpoint(ec);
    peer_ = ec ? "?" : ep.address().to_string();
    flags_.tls_available = sh_->tls != nullptr;
    flags_.tls_active = implicit_tls_;
    auto mode = sh_->ctx.cfg.plaintext_auth;
    flags_.plaintext_allowed =
        mode == PlaintextAuth::yes || (mode == PlaintextAuth::loopback && !ec && ep.address().is_loopback());
    last_ = std::chrono::steady_clock::now();
    arm_tick();
    if (implicit_tls_) {
      tls_ = true;
      stream_.async_handshake(ssl::stream_base::server, [self = shared_from_this()](auto ec) {
        if (ec) return self->close();
        self->first_step();
      });
    } else {
      first_step();
    }
  }

  void shutdown() { close(); }

 private:
  void first_step() {
    auto flags = flags_;
    auto sh = sh_;
    step([flags, sh](Connection& c) {
      c.session_ = sh->opt.make_session(flags);
      return c.session_->greeting();
    });
  }

  // step - run fn on the pool (one at a time per connection), then write its output here.
  // login_slot: fn holds one of the max_logins slots, given back when it is done.
  void step(std::function<std::string(Connection&)> fn, bool login_slot = false) {
    busy_ = true;
    asio::post(sh_->rt->pool, [self = shared_from_this(), fn = std::move(fn), login_slot] {
      std::string out;
      unsigned delay = 0;
      bool closing = true, want_tls = false, more = false, login = false;
      try {
        out = fn(*self);
        if (self->session_) {
          delay = self->session_->delay_ms();
          closing = self->session_->closing();
          want_tls = self->session_->want_tls();
          more = self->session_->more();
          login = self->session_->login_pending();
        }
      } catch (const std::exception& e) {
        log_event(LogLevel::error, "archive-session-error", {{"service", self->sh_->opt.name}, {"error", e.what()}});
        out += self->session_ ? self->session_->failure() : std::string();
        closing = true;
      }
      asio::post(self->sh_->ctx.ioc,
                 [self, out = std::move(out), delay, closing, want_tls, more, login, login_slot]() mutable {
                   if (login_slot) {
                     --self->sh_->rt->verifying;
                     pump(*self->sh_->rt);
                   }
                   self->after_step(std::move(out), delay, closing, want_tls, more, login);
                 });
    });
  }

  void after_step(std::string out, unsigned delay, bool closing, bool want_tls, bool more, bool login) {
    if (closed_) return;
    if (delay > 0) {
      auto t = std::make_shared<asio::steady_timer>(sh_->ctx.ioc, std::chrono::milliseconds(delay));
      t->async_wait([self = shared_from_this(), t, out = std::move(out), closing, want_tls, more, login](auto) mutable {
        self->after_step(std::move(out), 0, closing, want_tls, more, login);
      });
      return;
    }
    out_ = std::move(out);
    auto done = [self = shared_from_this(), closing, want_tls, more, login](boost::system::error_code ec, std::size_t) {
      if (ec) return self->close();
      self->out_.clear();
      if (closing) return self->close();
      if (want_tls) return self->start_tls();
      if (login) return self->queue_login();
      if (more) return self->step([](Connection& c) { return c.session_->resume(); });
      self->busy_ = false;
      self->next();
    };
    if (out_.empty()) return done({}, 0);
    if (tls_)
      asio::async_write(stream_, asio::buffer(out_), done);
    else
      asio::async_write(stream_.next_layer(), asio::buffer(out_), done);
  }

  // queue_login - wait (holding no thread) for a password check slot, in arrival order.
  void queue_login() {
    sh_->rt->waiting.push_back([self = shared_from_this()] {
      if (self->closed_) return;  // gone while waiting: its turn passes to the next
      ++self->sh_->rt->verifying;
      self->step([](Connection& c) { return c.session_->verify(); }, true);
    });
    pump(*sh_->rt);
  }

  void start_tls() {
    in_.clear();
    stream_.async_handshake(ssl::stream_base::server, [self = shared_from_this()](auto ec) {
      if (ec) return self->close();
      self->tls_ = true;
      self->step([](Connection& c) {
        c.session_->tls_started();
        return std::string();
      });
    });
  }

  // next - feed what arrived meanwhile, else read more.
  void next() {
    if (closed_ || busy_) return;
    if (!in_.empty()) {
      std::string data = std::move(in_);
      in_.clear();
      return step([data = std::move(data)](Connection& c) { return c.session_->input(data); });
    }
    read();
  }

  void read() {
    if (reading_ || closed_) return;
    reading_ = true;
    auto handler = [self = shared_from_this()](boost::system::error_code ec, std::size_t n) {
      self->reading_ = false;
      if (ec) return self->close();
      self->last_ = std::chrono::steady_clock::now();
      self->in_.append(self->buf_.data(), n);
      if (self->in_.size() > 1024 * 1024) return self->close();  // a client that never waits for replies
      self->next();
    };
    if (tls_)
      stream_.async_read_some(asio::buffer(buf_), handler);
    else
      stream_.next_layer().async_read_some(asio::buffer(buf_), handler);
  }

  void arm_tick() {
    tick_.expires_after(std::chrono::milliseconds(sh_->opt.poll_ms));
    tick_.async_wait([self = shared_from_this()](boost::system::error_code ec) {
      if (ec || self->closed_) return;
      auto idle = std::chrono::steady_clock::now() - self->last_;
      if (self->sh_->stopping) return self->close();
      if (!self->busy_ && self->session_) {
        if (idle > std::chrono::seconds(self->sh_->opt.idle_timeout_s)) {
          self->step([](Connection& c) { return c.session_->timeout(); });
        } else if (self->session_->idling()) {
          self->step([](Connection& c) { return c.session_->poll(); });
        }
      }
      self->arm_tick();
    });
  }

  void close() {
    if (closed_) return;
    closed_ = true;
    --sh_->connections;
    boost::system::error_code ec;
    tick_.cancel();
    stream_.next_layer().shutdown(tcp::socket::shutdown_both, ec);
    stream_.next_layer().close(ec);
  }

  std::shared_ptr<Shared> sh_;
  ssl::stream<tcp::socket> stream_;
  asio::steady_timer tick_;
  bool implicit_tls_;
  bool tls_ = false, busy_ = false, reading_ = false, closed_ = false;
  SessionFlags flags_;
  std::string peer_;
  std::unique_ptr<ProtocolSession> session_;  // touched only inside step() on the pool
  std::array<char, 16384> buf_{};
  std::string in_, out_;
  std::chrono::steady_clock::time_point last_;
};

class NetService : public Service {
 public:
  NetService(ServiceContext& ctx, NetServiceOptions opt)
      : runtime_(opt.runtime ? opt.runtime : archive_runtime(ctx)), sh_(make_shared(ctx, std::move(opt), runtime_)) {
    const Listener& l = *sh_->opt.listener;
    if (!l.tls_cert.empty() && !l.tls_key.empty()) {
      sh_->tls = std::make_unique<ssl::context>(ssl::context::tls_server);
      sh_->tls->set_options(ssl::context::default_workarounds | ssl::context::no_sslv2 | ssl::context::no_sslv3 |
                            ssl::context::no_tlsv1 | ssl::context::no_tlsv1_1);
      sh_->tls->use_certificate_chain_file(l.tls_cert);
      sh_->tls->use_private_key_file(l.tls_key, ssl::context::pem);
    }
    plain_ctx_ = std::make_unique<ssl::context>(ssl::context::tls_server);
    if (!l.listen.empty()) bind(l.listen, false);
    if (!l.tls_listen.empty()) {
      if (!sh_->tls) throw std::runtime_error(std::string(sh_->opt.name) + ": tls_listen needs tls_cert and tls_key");
      bind(l.tls_listen, true);
    }
  }
  const char* name() const override { return sh_->opt.name; }
  void start() override {
    for (auto& a : acceptors_) accept(a);
    if (sh_->opt.on_start)
      asio::post(sh_->ctx.pool, [sh = sh_] {
        try {
          sh->opt.on_start();
        } catch (const std::exception& e) {
          log_event(LogLevel::error, "archive-start-task-failed", {{"service", sh->opt.name}, {"error", e.what()}});
        }
      });
  }
  void stop() override {
    sh_->stopping = true;
    for (auto& a : acceptors_) {
      boost::system::error_code ec;
      a.acceptor.close(ec);
    }
    for (auto& w : conns_)
      if (auto c = w.lock()) c->shutdown();
    conns_.clear();
  }

 private:
  struct Acceptor {
    tcp::acceptor acceptor;
    bool tls;
  };
  void bind(const Endpoint& e, bool tls) {
    tcp::endpoint ep(asio::ip::make_address(e.host), e.port);
    tcp::acceptor a(sh_->ctx.ioc);
    a.open(ep.protocol());
    a.set_option(tcp::acceptor::reuse_address(true));
    a.bind(ep);
    a.listen();
    log_event(LogLevel::info, "listening",
              {{"service", sh_->opt.name}, {"address", e.str()}, {"tls", tls ? "implicit" : "starttls"}});
    acceptors_.push_back({std::move(a), tls});
  }
  void accept(Acceptor& a) {
    a.acceptor.async_accept([this, &a](boost::system::error_code ec, tcp::socket s) {
      if (ec == asio::error::operation_aborted || sh_->stopping) return;
      if (!ec) {
        if (sh_->connections >= sh_->opt.max_connections) {
          static const char busy_imap[] = "* BYE too many connections, try later\r\n";
          static const char busy_pop[] = "-ERR [SYS/TEMP] too many connections, try later\r\n";
          boost::system::error_code ignored;
          if (!a.tls)
            asio::write(
                s, asio::buffer(std::string(sh_->opt.name) == "imap" ? std::string(busy_imap) : std::string(busy_pop)),
                ignored);
          s.close(ignored);
        } else {
          auto c = std::make_shared<Connection>(sh_, std::move(s),
                                                a.tls ? *sh_->tls : (sh_->tls ? *sh_->tls : *plain_ctx_), a.tls);
          conns_.remove_if([](auto& w) { return w.expired(); });
          conns_.push_back(c);
          c->start();
        }
      }
      accept(a);
    });
  }
  static std::shared_ptr<Shared> make_shared(ServiceContext& ctx, NetServiceOptions opt,
                                             const std::shared_ptr<ArchiveRuntime>& rt) {
    opt.runtime = nullptr;  // the connections see only a plain pointer (see Shared::rt)
    auto sh = std::make_shared<Shared>(ctx, std::move(opt));
    sh->rt = rt.get();
    return sh;
  }
  std::shared_ptr<ArchiveRuntime> runtime_;  // first member: destroyed (pool joined) last
  std::shared_ptr<Shared> sh_;
  std::unique_ptr<ssl::context> plain_ctx_;
  std::list<Acceptor> acceptors_;
  std::list<std::weak_ptr<Connection>> conns_;
};

}  // namespace

ArchiveRuntime::ArchiveRuntime(const Config& cfg)
    : pool(cfg.archive.workers),
      max_logins(cfg.archive.max_logins),
      auth(std::make_shared<AuthCache>(cfg.archive.auth_cache_ttl)),
      mailboxes(std::make_shared<MailboxCache>()),
      connections(std::make_shared<ConnectionPool>(cfg.db_path(), cfg.archive.workers + 2)) {}

ArchiveRuntime::~ArchiveRuntime() {
  pool.join();
}

std::shared_ptr<ArchiveRuntime> archive_runtime(ServiceContext& ctx) {
  static std::mutex mu;
  static std::weak_ptr<ArchiveRuntime> current;
  static const ServiceContext* owner = nullptr;
  std::lock_guard lock(mu);
  if (auto rt = current.lock(); rt && owner == &ctx) return rt;
  auto rt = std::make_shared<ArchiveRuntime>(ctx.cfg);
  current = rt;
  owner = &ctx;
  return rt;
}

std::unique_ptr<Service> make_net_service(ServiceContext& ctx, NetServiceOptions options) {
  return std::make_unique<NetService>(ctx, std::move(options));
}

}  // namespace listd
