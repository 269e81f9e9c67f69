// pop3_service.cpp - the [pop3] service: pop3::Session over listd's archive (ArchiveView:
// the maildrop is the person's merged INBOX), on the listeners of archive_net.
#include "listd/imap_service.hpp"

#include "listd/archive_net.hpp"
#include "listd/archive_view.hpp"
#include "pop3/session.hpp"

namespace listd {
namespace {

class Pop3Adapter : public ProtocolSession {
 public:
  Pop3Adapter(const Config& cfg, const SessionFlags& f, const ArchiveRuntime& rt)
      : auth_(rt.auth),
        view_(cfg.db_path(), cfg.archive_dir(), rt.mailboxes, auth_.get(), rt.connections),
        session_(view_, pop3::SessionOptions{f.tls_available, f.tls_active, f.plaintext_allowed, cfg.hostname, {}}) {}
  std::string greeting() override { return session_.greeting(); }
  std::string input(std::string_view b) override { return session_.input(b); }
  std::string timeout() override { return session_.timeout(); }
  bool closing() const override { return session_.closing(); }
  bool want_tls() const override { return session_.want_stls(); }
  void tls_started() override { session_.tls_started(); }
  unsigned delay_ms() override { return session_.delay_ms(); }
  bool login_pending() const override { return session_.login_pending(); }
  std::string verify() override { return session_.verify(); }
  std::string failure() override { return "-ERR [SYS/TEMP] internal error, try again later\r\n"; }

 private:
  std::shared_ptr<AuthCache> auth_;  // outlives view_
  ArchiveView view_;
  pop3::Session session_;
};

}  // namespace

std::unique_ptr<Service> make_pop3_service(ServiceContext& ctx) {
  const Config& cfg = ctx.cfg;
  NetServiceOptions o{};
  o.name = "pop3";
  o.listener = &cfg.pop3;
  o.runtime = archive_runtime(ctx);  // one pool, login queue and caches for IMAP and POP3
  o.make_session = [&cfg, rt = o.runtime.get()](const SessionFlags& f) {
    return std::make_unique<Pop3Adapter>(cfg, f, *rt);  // on the pool: rt outlives it (see ArchiveRuntime)
  };
  o.idle_timeout_s = 10 * 60;  // RFC 1939 §3: at least 10 minutes
  return make_net_service(ctx, std::move(o));
}

}  // namespace listd
