// imap_service.cpp - the [imap] service: imap::Session over listd's archive (ArchiveView),
// on the listeners of archive_net. make_imap_service() binds [imap] listen/tls_listen.
#include "listd/imap_service.hpp"

#include "imap/session.hpp"
#include "listd/archive_net.hpp"
#include "listd/archive_search.hpp"
#include "listd/archive_view.hpp"
#include "listd/db.hpp"
#include "listd/log.hpp"

namespace listd {
namespace {

class ImapAdapter : public ProtocolSession {
 public:
  ImapAdapter(const Config& cfg, const SessionFlags& f, const ArchiveRuntime& rt)
      : auth_(rt.auth),
        view_(cfg.db_path(), cfg.archive_dir(), rt.mailboxes, auth_.get(), rt.connections),
        session_(view_, imap::SessionOptions{f.tls_available, f.tls_active, f.plaintext_allowed, cfg.hostname, {}}) {}
  std::string greeting() override { return session_.greeting(); }
  std::string input(std::string_view b) override { return session_.input(b); }
  std::string timeout() override { return session_.timeout(); }
  bool closing() const override { return session_.closing(); }
  bool want_tls() const override { return session_.want_starttls(); }
  void tls_started() override { session_.tls_started(); }
  unsigned delay_ms() override { return session_.delay_ms(); }
  bool login_pending() const override { return session_.login_pending(); }
  std::string verify() override { return session_.verify(); }
  bool more() const override { return session_.more(); }
  std::string resume() override { return session_.resume(); }
  bool idling() const override { return session_.idling(); }
  std::string poll() override { return session_.poll(); }
  std::string failure() override { return "* BYE internal error, try again later\r\n"; }

 private:
  std::shared_ptr<AuthCache> auth_;  // outlives view_
  ArchiveView view_;
  imap::Session session_;
};

}  // namespace

std::unique_ptr<Service> make_imap_service(ServiceContext& ctx) {
  const Config& cfg = ctx.cfg;
  NetServiceOptions o{};
  o.name = "imap";
  o.listener = &cfg.imap;
  o.runtime = archive_runtime(ctx);  // one pool, login queue and caches for IMAP and POP3
  o.make_session = [&cfg, rt = o.runtime.get()](const SessionFlags& f) {
    return std::make_unique<ImapAdapter>(cfg, f, *rt);  // on the pool: rt outlives it (see ArchiveRuntime)
  };
  // Posts archived before archive access existed get their IMAP facts and FTS rows now.
  o.on_start = [&cfg] {
    auto db = db_open(cfg.db_path(), true);
    if (auto n = archive_backfill(*db, cfg.archive_dir()); n > 0)
      log_event(LogLevel::info, "archive-backfilled", {{"posts", std::to_string(n)}});
  };
  return make_net_service(ctx, std::move(o));
}

}  // namespace listd
