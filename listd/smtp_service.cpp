// smtp_service.cpp - the [smtp] and [lmtp] listeners as listd Services (service.hpp): an
// smtp::Server over an IntakeBackend, configured from Config (listen, tls_cert/tls_key,
// tls_listen for implicit TLS, max_message_size ([lmtp]'s own, else [smtp]'s) and the ReceiverLimits keys). Binds in
// the factory (maybe as root), accepts in start(), and on stop() says 421 to idle sessions.
#include "smtp/asio_prelude.hpp"

#include <boost/asio/io_context.hpp>

#include "listd/intake.hpp"
#include "listd/log.hpp"
#include "listd/service.hpp"
#include "smtp/server.hpp"

namespace listd {

namespace {

class ReceiverService : public Service {
 public:
  ReceiverService(ServiceContext& ctx, bool lmtp)
      : name_(lmtp ? "lmtp" : "smtp"), backend_(ctx.cfg, name_, ctx.wake_processing) {
    IntakePriority::Settings prio;
    prio.max_defer = std::chrono::milliseconds(ctx.cfg.spool.defer_during_intake);
    prio.slice = prio.max_defer / 4;
    intake_priority().configure(prio);
    const Listener& l = lmtp ? ctx.cfg.lmtp : ctx.cfg.smtp;
    const Config::ReceiverLimits& lim = lmtp ? ctx.cfg.lmtp_limits : ctx.cfg.smtp_limits;
    smtp::ServerOptions o;
    o.name = name_;
    o.host = l.listen.host;
    o.port = l.listen.port;
    o.lmtp = lmtp;
    o.hostname = ctx.cfg.hostname;
    o.limits.max_message_size =
        lmtp && ctx.cfg.lmtp_max_message_size != 0 ? ctx.cfg.lmtp_max_message_size : ctx.cfg.smtp_max_message_size;
    o.limits.max_header_size = lim.max_header_size;
    o.limits.max_header_fields = lim.max_header_fields;
    o.limits.max_header_field_size = lim.max_header_field_size;
    o.greet_pause = std::chrono::milliseconds(lim.greet_pause_ms);
    o.limits.max_recipients = lim.max_recipients;
    o.limits.max_command_line = lim.max_command_line;
    o.limits.max_text_line = lim.max_text_line;
    o.limits.max_errors = lim.max_errors;
    o.limits.max_received = lim.max_received;
    o.command_timeout = std::chrono::seconds(lim.command_timeout);
    o.data_timeout = std::chrono::seconds(lim.data_timeout);
    o.max_connections = lim.max_connections;
    o.max_connections_per_ip = lim.max_connections_per_ip;
    o.commit_threads = lim.commit_threads;
    o.tls_cert = l.tls_cert;
    o.tls_key = l.tls_key;
    o.log = [n = name_](std::string_view ev, std::string_view ip, std::string_view detail) {
      log_event(LogLevel::info, ev, {{"service", n}, {"client", ip}, {"detail", detail}});
    };
    server_ = std::make_unique<smtp::Server>(ctx.ioc, o, backend_);
    log_event(LogLevel::info, "listening", {{"service", name_}, {"address", l.listen.str()}});
    if (!l.tls_listen.empty()) {  // implicit TLS (e.g. 465), same limits and backend
      o.host = l.tls_listen.host;
      o.port = l.tls_listen.port;
      o.implicit_tls = true;
      tls_server_ = std::make_unique<smtp::Server>(ctx.ioc, o, backend_);
      log_event(LogLevel::info, "listening",
                {{"service", name_}, {"address", l.tls_listen.str()}, {"tls", "implicit"}});
    }
  }
  const char* name() const override { return name_.c_str(); }
  void start() override {
    server_->start();
    if (tls_server_) tls_server_->start();
  }
  void stop() override {
    server_->stop();
    if (tls_server_) tls_server_->stop();
  }

 private:
  std::string name_;
  IntakeBackend backend_;
  std::unique_ptr<smtp::Server> server_, tls_server_;
};

}  // namespace

std::unique_ptr<Service> make_smtp_service(ServiceContext& ctx) {
  return std::make_unique<ReceiverService>(ctx, false);
}

std::unique_ptr<Service> make_lmtp_service(ServiceContext& ctx) {
  return std::make_unique<ReceiverService>(ctx, true);
}

}  // namespace listd
