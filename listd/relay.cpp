// relay.cpp - see relay.hpp.
#include "smtp/asio_prelude.hpp"

#include "listd/relay.hpp"

#include <algorithm>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/redirect_error.hpp>
#include <boost/asio/ssl/context.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <cctype>
#include <chrono>
#include <deque>
#include <map>

#include "listd/log.hpp"
#include "listd/relay_mx.hpp"
#include "listd/relay_personalize.hpp"
#include "smtp/client.hpp"
#include "smtp/wire.hpp"

namespace listd {

namespace asio = boost::asio;
using asio::awaitable;
using asio::ip::tcp;
using Clock = std::chrono::steady_clock;

namespace {

std::string domain_of(const std::string& addr) {
  auto at = addr.rfind('@');
  std::string d = at == std::string::npos ? std::string() : addr.substr(at + 1);
  std::transform(d.begin(), d.end(), d.begin(), [](unsigned char c) { return std::tolower(c); });
  return d;
}

bool non_ascii(const std::string& s) {
  return std::any_of(s.begin(), s.end(), [](char c) { return static_cast<unsigned char>(c) >= 0x80; });
}

// How long an idle pooled connection may wait for the next wave before we drop it instead
// of reusing it (servers close idle clients; Postfix's smtpd after 300 s by default).
constexpr auto kIdleReuse = std::chrono::seconds(20);

}  // namespace

std::string verp_sender(const std::string& envelope_from, const std::string& rcpt) {
  auto at = envelope_from.rfind('@');
  auto rat = rcpt.rfind('@');
  if (at == std::string::npos || rat == std::string::npos) return envelope_from;
  return envelope_from.substr(0, at) + "+" + rcpt.substr(0, rat) + "=" + rcpt.substr(rat + 1) +
         envelope_from.substr(at);
}

std::vector<PlannedTransaction> plan_transactions(const std::vector<JobRecipient>& wave,
                                                  const std::string& envelope_from, unsigned max_rcpts, bool by_domain,
                                                  bool verp) {
  std::vector<PlannedTransaction> out;
  if (max_rcpts == 0) max_rcpts = 1;
  if (verp) {
    for (std::size_t i = 0; i < wave.size(); ++i)
      out.push_back(
          {by_domain ? domain_of(wave[i].address) : std::string(), verp_sender(envelope_from, wave[i].address), {i}});
    return out;
  }
  std::map<std::string, std::size_t> open;  // domain -> index of its transaction being filled
  for (std::size_t i = 0; i < wave.size(); ++i) {
    std::string d = by_domain ? domain_of(wave[i].address) : std::string();
    auto it = open.find(d);
    if (it == open.end() || out[it->second].rcpts.size() >= max_rcpts) {
      out.push_back({d, envelope_from, {}});
      open[d] = out.size() - 1;
      it = open.find(d);
    }
    out[it->second].rcpts.push_back(i);
  }
  return out;
}

struct SmtpTransport::Impl {
  struct Target {
    tcp::endpoint ep;
    std::string name;
  };
  struct Dest {
    std::vector<Target> targets;
    std::deque<std::size_t> pending;  // transaction indexes
    unsigned active = 0;
    bool down = false;
  };
  struct Idle {
    std::shared_ptr<smtp::Connection> conn;
    Clock::time_point since;
  };

  const Config& cfg;
  asio::io_context ioc;
  asio::ssl::context tls{asio::ssl::context::tls_client};
  MxResolver mx;
  std::map<std::string, std::vector<Idle>> idle;  // by destination key, kept across waves
  std::size_t open_count = 0;
  std::int64_t body_job = -1;
  smtp::Body body;
  std::unique_ptr<PersonalMessage> personal;  // the job's per-member template (personalize = footer|full)
  std::vector<Target> smarthost;
  Clock::time_point smarthost_expires{};

  // Destinations found unreachable recently: later waves defer their recipients at once
  // instead of waiting for the same connect timeouts again.
  struct Down {
    Clock::time_point until;
    std::string reply;
    bool permanent;
  };
  std::map<std::string, Down> down;

  // Per wave.
  const std::vector<JobRecipient>* wave = nullptr;
  std::vector<PlannedTransaction> plan;
  std::map<std::string, Dest> dests;
  std::vector<RecipientOutcome> outcomes;
  // Group commit with a duplicate budget (DESIGN "rules that never bend", SECURITY P4): the
  // outcomes of finished transactions collect in `commit_pending`; before a transaction starts,
  // if the recipients that a crash now would send again (finished but not yet committed, plus
  // those in flight, plus the new ones) would exceed connections x max_recipients, everything
  // pending is committed first (Transport::CommitFn, a synchronous fsynced SQLite commit).
  // Regular delivery so commits about once per transaction; VERP/personalized delivery (one
  // recipient each) once per few hundred, instead of one fsync per recipient.
  const Transport::CommitFn* commit_fn = nullptr;
  std::vector<std::size_t> commit_pending;
  std::size_t in_flight = 0;   // recipients of transactions started and not yet finished
  bool commit_failed = false;  // SECURITY O-18: progress cannot be saved - start nothing new

  explicit Impl(const Config& c) : cfg(c), mx(c.relay.resolver.host, c.relay.resolver.port) {
    if (cfg.relay.tls == RelayTls::verify) tls.set_default_verify_paths();
  }

  // How long an unreachable destination is skipped: a little less than the first retry delay
  // (so the retry itself finds it expired), at most a minute.
  std::chrono::seconds down_for() const {
    unsigned s = std::min<unsigned>(cfg.relay.retry_initial, 60);
    return std::chrono::seconds(s > 2 ? s - 2 : 0);
  }

  // The smarthost is the only destination: it may use every connection.
  unsigned per_destination() const {
    return cfg.relay.mode == RelayMode::smarthost ? cfg.relay.connections : cfg.relay.per_destination;
  }

  smtp::ClientOptions options(const std::string& server_name) const {
    smtp::ClientOptions o;
    o.helo_name = cfg.hostname;
    switch (cfg.relay.tls) {
      case RelayTls::none: o.tls = smtp::TlsPolicy::none; break;
      case RelayTls::opportunistic: o.tls = smtp::TlsPolicy::opportunistic; break;
      case RelayTls::required: o.tls = smtp::TlsPolicy::required; break;
      case RelayTls::verify: o.tls = smtp::TlsPolicy::verify; break;
    }
    o.tls_server_name = server_name;
    if (cfg.relay.mode == RelayMode::smarthost) {
      o.auth_user = cfg.relay.auth_user;
      o.auth_password = cfg.relay.auth_password;
    }
    o.max_step = std::chrono::seconds(cfg.relay.command_timeout);
    return o;
  }

  // targets_for - where a destination's mail goes; empty plus `why` when it cannot go now.
  std::vector<Target> targets_for(const std::string& domain, std::string& why, bool& permanent) {
    permanent = false;
    if (cfg.relay.mode == RelayMode::smarthost) {
      if (smarthost.empty() || Clock::now() > smarthost_expires) {
        smarthost.clear();
        boost::system::error_code ec;
        tcp::resolver r(ioc);
        auto res = r.resolve(cfg.relay.host.host, std::to_string(cfg.relay.host.port), ec);
        if (ec) {
          why = "451 4.4.3 cannot resolve relay.host " + cfg.relay.host.host + ": " + ec.message();
          return {};
        }
        for (auto& e : res) smarthost.push_back({e.endpoint(), cfg.relay.host.host});
        smarthost_expires = Clock::now() + std::chrono::seconds(60);
      }
      return smarthost;
    }
    auto a = mx.resolve(domain);
    if (a.status != MxAnswer::Status::ok) {
      why = a.error;
      permanent = a.status == MxAnswer::Status::permanent;
      return {};
    }
    std::vector<Target> t;
    for (auto& m : a.targets) {
      boost::system::error_code ec;
      auto addr = asio::ip::make_address(m.address, ec);
      if (!ec) t.push_back({tcp::endpoint(addr, cfg.relay.mx_port), m.host});
    }
    return t;
  }

  // (Outside the coroutines: g++ 12 miscompiles initializer lists inside them.)
  static void log_connect_failed(const Target& t, const std::string& reply) {
    log_event(
        LogLevel::warn, "relay-connect-failed",
        {{"host", t.name}, {"addr", t.ep.address().to_string() + ":" + std::to_string(t.ep.port())}, {"reply", reply}});
  }

  // quit_and_release - QUIT in the background; the coroutine frame owns the connection
  // until the exchange is over (the pool may drop its own reference at once).
  static awaitable<void> quit_and_release(std::shared_ptr<smtp::Connection> c) { co_await c->quit(); }

  void settle(std::size_t ti, RecipientResult r, const std::string& reply) {
    for (auto i : plan[ti].rcpts) outcomes[i] = {r, reply};
  }

  void flush_commits() {
    if (commit_pending.empty() || commit_fn == nullptr || !*commit_fn) return;
    auto which = std::move(commit_pending);
    commit_pending.clear();
    try {
      (*commit_fn)(which, outcomes);
    } catch (const std::exception& e) {
      // Not committed (disk full, database locked): no new transaction starts in this wave;
      // the runner tries to commit what was done when deliver() returns, and the rest stays
      // due for a later pass (a duplicate is possible, a loss is not).
      commit_failed = true;
      log_event(LogLevel::error, "delivery-commit-failed", {{"error", e.what()}});
    }
  }

  std::size_t duplicate_budget() const {
    return std::max<std::size_t>(1, cfg.relay.connections) * std::max<std::size_t>(1, cfg.relay.max_recipients);
  }

  void evict_one_idle() {
    std::string key;
    Clock::time_point oldest = Clock::time_point::max();
    for (auto& [k, v] : idle)
      if (!v.empty() && v.front().since < oldest) {
        oldest = v.front().since;
        key = k;
      }
    if (key.empty()) return;
    auto c = idle[key].front().conn;
    idle[key].erase(idle[key].begin());
    --open_count;
    asio::co_spawn(ioc, quit_and_release(c), asio::detached);
  }

  awaitable<std::shared_ptr<smtp::Connection>> take(const std::string& key, Dest& d, std::string& why,
                                                    bool& permanent) {
    auto& pool = idle[key];
    while (!pool.empty()) {
      auto it = pool.back();
      pool.pop_back();
      if (it.conn->alive() && Clock::now() - it.since < kIdleReuse) co_return it.conn;
      --open_count;
      co_await it.conn->quit();
    }
    while (open_count >= cfg.relay.connections && !idle.empty()) {
      std::size_t before = open_count;
      evict_one_idle();
      if (open_count == before) break;
    }
    permanent = true;
    why = "451 4.4.1 no address for " + (key.empty() ? cfg.relay.host.host : key);
    for (auto& t : d.targets) {  // in MX preference order; a dead or refusing host: try the next
      auto c = std::make_shared<smtp::Connection>(ioc.get_executor(), tls, options(t.name));
      std::vector<tcp::endpoint> eps(1, t.ep);
      auto r = co_await c->open(eps);
      if (!r.ok && r.tls_failed && cfg.relay.tls == RelayTls::opportunistic) {
        // Opportunistic TLS that fails to negotiate: deliver in plaintext, as Postfix does.
        log_connect_failed(t, r.reply + " (retrying without TLS)");
        auto o = options(t.name);
        o.tls = smtp::TlsPolicy::none;
        c = std::make_shared<smtp::Connection>(ioc.get_executor(), tls, o);
        r = co_await c->open(eps);
      }
      if (r.ok) {
        ++open_count;
        co_return c;
      }
      log_connect_failed(t, r.reply);
      why = r.reply;
      permanent = permanent && r.permanent;
    }
    co_return nullptr;
  }

  awaitable<void> run_transaction(const std::string& key, Dest& d, std::size_t ti) {
    auto& pt = plan[ti];
    std::vector<std::string> rcpts;
    bool utf8 = non_ascii(pt.envelope_from);
    for (auto i : pt.rcpts) {
      rcpts.push_back((*wave)[i].address);
      utf8 = utf8 || non_ascii(rcpts.back());
    }
    // The gathered body: the job's shared rendering, or this member's copy from segments.
    smtp::BodySegments segs;
    std::string scratch;
    if (personal && !rcpts.empty()) {
      personal->render(rcpts.front(), scratch, segs.data, segs.bdat);
    } else {
      segs.data.push_back(body.data);
      segs.bdat.push_back(body.bdat);
    }
    const std::uint64_t size = smtp::BodySegments::size(segs.bdat);
    for (int attempt = 0; attempt < 2; ++attempt) {
      std::string why;
      bool permanent = false;
      auto c = co_await take(key, d, why, permanent);
      if (!c) {
        // The destination is unreachable: this and its other waiting transactions wait too.
        d.down = true;
        down[key] = {Clock::now() + down_for(), why, permanent};
        auto r = permanent ? RecipientResult::failed : RecipientResult::deferred;
        settle(ti, r, why);
        for (auto other : d.pending) settle(other, r, why);
        d.pending.clear();
        co_return;
      }
      bool reused = c->transactions() > 0;
      smtp::ClientTransaction t(c->ext(), pt.envelope_from, rcpts, size, utf8);
      co_await c->transact(t, segs);
      if (!c->alive()) --open_count;
      // A pooled connection the server had dropped while idle: retry once on a fresh one.
      if (reused && t.replies() == 0 && !c->alive()) continue;
      for (std::size_t k = 0; k < pt.rcpts.size(); ++k) {
        auto& res = t.results()[k];
        RecipientResult rr = res.outcome == smtp::Outcome::delivered ? RecipientResult::delivered
                             : res.outcome == smtp::Outcome::failed  ? RecipientResult::failed
                                                                     : RecipientResult::deferred;
        outcomes[pt.rcpts[k]] = {rr, res.reply};
      }
      if (c->alive()) idle[key].push_back({c, Clock::now()});
      commit_pending.insert(commit_pending.end(), pt.rcpts.begin(), pt.rcpts.end());
      co_return;
    }
  }

  awaitable<void> worker() {
    while (!commit_failed) {
      std::string key;
      Dest* d = nullptr;
      for (auto& [k, v] : dests)
        if (!v.down && !v.pending.empty() && v.active < per_destination()) {
          // Prefer a destination with an idle connection ready.
          if (!d || (!idle[k].empty() && idle[key].empty())) {
            d = &v;
            key = k;
          }
        }
      if (!d) co_return;
      std::size_t ti = d->pending.front();
      d->pending.pop_front();
      std::size_t n = plan[ti].rcpts.size();
      if (commit_pending.size() + in_flight + n > duplicate_budget()) flush_commits();
      if (commit_failed) {
        d->pending.push_front(ti);
        co_return;
      }
      ++d->active;
      in_flight += n;
      co_await run_transaction(key, *d, ti);
      in_flight -= n;
      --d->active;
    }
  }

  std::vector<RecipientOutcome> deliver(const JobInfo& job, const std::string& message,
                                        const std::vector<JobRecipient>& batch, const Transport::CommitFn& commit) {
    if (body_job != job.id) {
      auto mode = personalize_from(job.personalize);
      personal.reset();
      body = {};
      if (mode != Personalize::none) {
        personal = std::make_unique<PersonalMessage>(message,
                                                     PersonalContext{mode, job.footer, job.list_address, cfg.base_url});
      } else {
        body.data = smtp::render_data(message);
        body.bdat = smtp::render_bdat(message);
      }
      body_job = job.id;
    }
    commit_fn = &commit;
    commit_failed = false;
    commit_pending.clear();  // indices of this wave only: the runner commits the rest of the last one
    in_flight = 0;
    wave = &batch;
    outcomes.assign(batch.size(), {RecipientResult::deferred, "451 4.3.0 not attempted"});
    plan = plan_transactions(batch, job.envelope_from, cfg.relay.max_recipients, cfg.relay.mode == RelayMode::mx,
                             job.verp || personal != nullptr);
    dests.clear();
    for (std::size_t ti = 0; ti < plan.size(); ++ti) {
      auto [it, fresh] = dests.try_emplace(plan[ti].domain);
      if (fresh) {
        std::string why;
        bool permanent = false;
        if (auto dn = down.find(plan[ti].domain); dn != down.end() && dn->second.until > Clock::now()) {
          why = dn->second.reply;
          permanent = dn->second.permanent;
        } else {
          it->second.targets = targets_for(plan[ti].domain, why, permanent);
        }
        if (it->second.targets.empty()) {
          it->second.down = true;
          log_event(LogLevel::warn, "relay-no-route", {{"domain", plan[ti].domain}, {"reply", why}});
          for (std::size_t tj = ti; tj < plan.size(); ++tj)
            if (plan[tj].domain == plan[ti].domain)
              settle(tj, permanent ? RecipientResult::failed : RecipientResult::deferred, why);
        }
      }
      if (!it->second.down) it->second.pending.push_back(ti);
    }
    std::size_t workers = std::min<std::size_t>(cfg.relay.connections, plan.size());
    for (std::size_t w = 0; w < workers; ++w) asio::co_spawn(ioc, worker(), asio::detached);
    ioc.restart();
    ioc.run();
    wave = nullptr;
    commit_fn = nullptr;
    commit_pending.clear();  // not committed here: the runner commits every outcome it did not see
    return std::move(outcomes);
  }

  // close_idle - QUIT every pooled connection (end of a pass, shutdown).
  void close_idle() {
    for (auto& [k, v] : idle)
      for (auto& i : v) asio::co_spawn(ioc, quit_and_release(i.conn), asio::detached);
    idle.clear();
    open_count = 0;
    ioc.restart();
    ioc.run_for(std::chrono::seconds(5));
  }

  ~Impl() { close_idle(); }
};

SmtpTransport::SmtpTransport(const Config& cfg) : impl_(std::make_unique<Impl>(cfg)) {}
SmtpTransport::~SmtpTransport() = default;

std::size_t SmtpTransport::batch_limit() const {
  return static_cast<std::size_t>(impl_->cfg.relay.connections) * impl_->cfg.relay.max_recipients;
}

void SmtpTransport::pass_done() {
  impl_->close_idle();
}

std::vector<RecipientOutcome> SmtpTransport::deliver(const JobInfo& job, const std::string& message,
                                                     const std::vector<JobRecipient>& batch) {
  return impl_->deliver(job, message, batch, commit_);
}

}  // namespace listd
