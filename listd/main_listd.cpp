// main_listd.cpp - the listd daemon: `listd --config FILE [--check]`.
//
// Runs in the foreground and logs to stderr. An Asio io_context on the main thread owns the
// signals (SIGTERM/SIGINT: graceful stop; SIGHUP: reload templates), an inotify watch on
// spool/new and a periodic tick; the disk- and CPU-heavy work (spool processing, delivery)
// runs on a worker pool, each on its own strand, so nothing blocks the event loop.
// Exit codes: 0 normal stop, 78 (EX_CONFIG) bad config or data dir, 1 other start-up errors.
#include "smtp/asio_prelude.hpp"

#include <grp.h>
#include <pwd.h>
#include <sys/inotify.h>
#include <sys/stat.h>
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <array>
#include <atomic>
#include <boost/asio/io_context.hpp>
#include <boost/asio/posix/stream_descriptor.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/signal_set.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/strand.hpp>
#include <boost/asio/thread_pool.hpp>
#include <iostream>

#include "listd/config.hpp"
#include "listd/db.hpp"
#include "listd/delivery.hpp"
#include "listd/fsutil.hpp"
#include "listd/imap_service.hpp"
#include "listd/intake.hpp"
#include "listd/intake_journal.hpp"
#include "listd/log.hpp"
#include "listd/pipeline.hpp"
#include "listd/service.hpp"
#include "listd/templates.hpp"
#include "web-admin/server.hpp"

namespace asio = boost::asio;
using namespace listd;

namespace {

constexpr auto kTick = std::chrono::seconds(30);
// Delivered-recipient rows purged per delivery pass (DeliveryRunner::purge_delivered).
constexpr std::size_t kPurgeRowsPerPass = 20000;

// drop_privileges - when started as root, become cfg.user (DESIGN.md). `user = root` keeps
// root, with a warning, for test rigs that have no listd user.
bool drop_privileges(const Config& cfg) {
  if (::geteuid() != 0) return true;
  if (cfg.user == "root") {
    log_event(LogLevel::warn, "running-as-root", {{"reason", "config sets user = root"}});
    return true;
  }
  struct passwd* pw = ::getpwnam(cfg.user.c_str());
  if (!pw) {
    std::cerr << "listd: started as root but user '" << cfg.user << "' does not exist; create it (useradd --system "
              << cfg.user << ") or set user in " << cfg.file.string() << "\n";
    return false;
  }
  if (::initgroups(pw->pw_name, pw->pw_gid) != 0 || ::setgid(pw->pw_gid) != 0 || ::setuid(pw->pw_uid) != 0) {
    std::cerr << "listd: cannot switch to user " << cfg.user << ": " << std::strerror(errno) << "\n";
    return false;
  }
  log_event(LogLevel::info, "dropped-privileges", {{"user", cfg.user}});
  return true;
}

class Daemon {
 public:
  Daemon(const Config& cfg)
      : cfg_(cfg),
        templates_(cfg.templates_dir, cfg.data_dir / "templates"),
        pool_(cfg.spool.workers),
        proc_strand_(pool_.get_executor()),
        deliv_strand_(pool_.get_executor()),
        signals_(ioc_, SIGTERM, SIGINT),
        hup_(ioc_, SIGHUP),
        tick_(ioc_),
        retry_(ioc_),
        proc_wait_(ioc_),
        inotify_(ioc_) {}

  // bind - build every network service; each binds its listeners now (maybe as root).
  void bind() {
    ServiceContext ctx{
        cfg_, ioc_, pool_, templates_, [this] { schedule_processing(); }, [this] { schedule_delivery(); }, stopping_};
    ctx_ = std::make_unique<ServiceContext>(ctx);
    // One line per service (SMTP, LMTP, IMAP, POP3, HTTP), e.g.
    //   services_.push_back(make_smtp_service(*ctx_));
    services_.push_back(make_smtp_service(*ctx_));
    services_.push_back(make_lmtp_service(*ctx_));
    services_.push_back(make_imap_service(*ctx_));
    services_.push_back(make_pop3_service(*ctx_));
    services_.push_back(make_http_service(*ctx_));
  }

  int run() {
    processor_ = std::make_unique<Processor>(cfg_, templates_);
    // The intake journal first: what a crash left after its checkpoints goes back into
    // spool/new before anything is processed or accepted (listd/intake_journal.hpp).
    journal_ = intake_journal(cfg_);
    runner_ = std::make_unique<DeliveryRunner>(cfg_, make_transport(cfg_));
    runner_->stop_on(&stopping_);
    int fd = ::inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
    // spool/new: new mail to process. queue/: a job file renamed in by another process
    // (listctl's notices and digests) means new delivery work.
    if (fd < 0 ||
        (spool_wd_ = ::inotify_add_watch(fd, processor_->spool().new_dir().c_str(), IN_MOVED_TO | IN_CLOSE_WRITE)) <
            0 ||
        ::inotify_add_watch(fd, cfg_.queue_dir().c_str(), IN_MOVED_TO) < 0) {
      log_event(LogLevel::warn, "inotify-unavailable", {{"error", std::strerror(errno)}, {"fallback", "1s polling"}});
      if (fd >= 0) ::close(fd);
      poll_interval_ = std::chrono::seconds(1);
    } else {
      inotify_.assign(fd);
      watch_spool();
    }
    signals_.async_wait([this](auto ec, int sig) {
      if (ec) return;
      log_event(LogLevel::info, "stopping", {{"signal", std::to_string(sig)}});
      stop();
    });
    wait_hup();
    arm_tick();
    log_event(LogLevel::info, "started",
              {{"data_dir", cfg_.data_dir.string()},
               {"hostname", cfg_.hostname},
               {"relay", cfg_.relay.mode == RelayMode::maildir ? "maildir" : "smtp"}});
    for (auto& s : services_) {
      s->start();
      log_event(LogLevel::info, "service-started", {{"service", s->name()}});
    }
    schedule_processing(true);  // whatever was spooled while we were down
    schedule_delivery();
    ioc_.run();
    pool_.join();
    log_event(LogLevel::info, "stopped", {});
    return 0;
  }

 private:
  void stop() {
    stopping_ = true;
    intake_priority().stop();
    for (auto& s : services_) s->stop();
    boost::system::error_code ec;
    tick_.cancel();
    retry_.cancel();
    proc_wait_.cancel();
    hup_.cancel(ec);
    inotify_.close(ec);
    // Work in flight finishes its current message; the pool drains before run() returns.
  }

  void watch_spool() {
    inotify_.async_read_some(asio::buffer(ibuf_), [this](auto ec, std::size_t n) {
      if (ec) return;
      bool spool = false, queue = false;
      for (std::size_t off = 0; off + sizeof(inotify_event) <= n;) {
        auto* ev = reinterpret_cast<const inotify_event*>(ibuf_.data() + off);
        (ev->wd == spool_wd_ ? spool : queue) = true;
        off += sizeof(inotify_event) + ev->len;
      }
      if (spool) schedule_processing();
      if (queue) schedule_delivery();
      watch_spool();
    });
  }

  void wait_hup() {
    hup_.async_wait([this](auto ec, int) {
      if (ec) return;
      auto n = templates_.reload();
      log_event(LogLevel::info, "templates-reloaded", {{"overrides", std::to_string(n)}});
      wait_hup();
    });
  }

  void arm_tick() {
    tick_.expires_after(poll_interval_);
    tick_.async_wait([this](auto ec) {
      if (ec || stopping_) return;
      schedule_processing(true);
      schedule_delivery();
      arm_tick();
    });
  }

  // schedule_processing - a spool pass (coalesced); with `maintenance`, also the periodic
  // bounce warnings/removals.
  void schedule_processing(bool maintenance = false) {
    if (maintenance) maintenance_due_ = true;
    if (stopping_ || proc_scheduled_.exchange(true)) return;
    asio::post(proc_strand_, [this] {
      // SMTP/LMTP bursts first (intake.hpp IntakePriority): wait until the intake is quiet.
      if (auto wait = intake_priority().delay(); wait.count() > 0 && !stopping_) {
        asio::post(ioc_, [this, wait] {
          proc_wait_.expires_after(wait);
          proc_wait_.async_wait([this](auto ec) {
            proc_scheduled_ = false;
            if (!ec) schedule_processing();
          });
        });
        return;
      }
      intake_priority().begin_pass();
      proc_scheduled_ = false;
      try {
        std::size_t work = processor_->process_pending(intake_priority().yield_flag());
        if (!stopping_ && intake_priority().yield_flag()->load()) schedule_processing();  // it yielded
        if (maintenance_due_.exchange(false)) work += processor_->maintenance();
        if (work > 0) schedule_delivery();
      } catch (const std::exception& e) {
        log_event(LogLevel::error, "spool-pass-failed", {{"error", e.what()}});
      }
    });
  }

  void schedule_delivery() {
    if (stopping_ || deliv_scheduled_.exchange(true)) return;
    asio::post(deliv_strand_, [this] {
      deliv_scheduled_ = false;
      try {
        runner_->run_due();
        // Wake up for the earliest deferred recipient instead of waiting for the tick.
        if (auto next = runner_->next_due(); next > 0) asio::post(ioc_, [this, next] { arm_retry(next); });
        // Old delivered-recipient rows, a bounded amount per pass; more left: another pass.
        if (runner_->purge_delivered(kPurgeRowsPerPass) >= kPurgeRowsPerPass) schedule_delivery();
      } catch (const std::exception& e) {
        log_event(LogLevel::error, "delivery-pass-failed", {{"error", e.what()}});
      }
    });
  }

  // arm_retry - on the event loop: run a delivery pass at unix time `when`.
  void arm_retry(std::int64_t when) {
    if (stopping_) return;
    // At least 1 s: a recipient still due right after a pass was not advanced by it (its job's
    // message file is gone, the data dir vanished...); waiting 0 s would spin the event loop.
    auto delay = std::chrono::seconds(std::max<std::int64_t>(1, when - now_unix()));
    retry_.expires_after(delay);
    retry_.async_wait([this](auto ec) {
      if (!ec) schedule_delivery();
    });
  }

  const Config& cfg_;
  Templates templates_;
  asio::io_context ioc_;
  asio::thread_pool pool_;
  asio::strand<asio::thread_pool::executor_type> proc_strand_, deliv_strand_;
  asio::signal_set signals_, hup_;
  asio::steady_timer tick_;
  asio::steady_timer retry_;      // the next deferred recipient's retry time
  asio::steady_timer proc_wait_;  // a spool pass waiting for the SMTP/LMTP intake to go quiet
  asio::posix::stream_descriptor inotify_;
  alignas(inotify_event) std::array<char, 4096> ibuf_{};
  int spool_wd_ = -1;
  std::chrono::steady_clock::duration poll_interval_ = kTick;
  std::atomic<bool> stopping_{false}, proc_scheduled_{false}, deliv_scheduled_{false}, maintenance_due_{false};
  std::unique_ptr<Processor> processor_;
  std::shared_ptr<IntakeJournal> journal_;
  std::unique_ptr<DeliveryRunner> runner_;
  std::unique_ptr<ServiceContext> ctx_;
  std::vector<std::unique_ptr<Service>> services_;
};

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"listd - mailing list manager daemon"};
  std::string config_flag;
  bool check = false;
  app.add_option("--config", config_flag, "config file (default $LISTD_CONFIG, else /etc/listd/listd.conf)");
  app.add_flag("--check", check, "validate the config file and exit");
  app.set_version_flag("--version", "listd 0.1.0");
  CLI11_PARSE(app, argc, argv);

  Config cfg;
  auto path = config_path(config_flag);
  try {
    cfg = load_config(path);
  } catch (const ConfigError& e) {
    std::cerr << "listd: " << e.what() << "\n";
    return 78;
  }
  log_set_level(cfg.log_level);
  if (check) {
    std::cout << "listd: " << path.string() << ": configuration OK (data_dir " << cfg.data_dir.string() << ")\n";
    return 0;
  }
  // Bind every listener first (ports below 1024 need root), then drop privileges, then
  // touch the data dir as the unprivileged user.
  try {
    Daemon d(cfg);
    d.bind();
    if (!drop_privileges(cfg)) return 78;
    if (auto why = check_data_dir(cfg.data_dir); !why.empty()) {
      std::cerr << "listd: refusing to start: " << why << "\n";
      return 78;
    }
    ::umask(077);
    make_private_dir(cfg.data_dir);
    db_open(cfg.db_path(), true);
    return d.run();
  } catch (const std::exception& e) {
    std::cerr << "listd: " << e.what() << "\n";
    return 1;
  }
}
