// archive_net.hpp - the network side shared by the IMAP and POP3 services: listeners (plain
// and implicit TLS), one connection object per client, STARTTLS/STLS, timeouts, and the
// hand-off of every session step to the archive worker pool (sessions touch SQLite and files,
// so they never run on the event loop thread).
// The pool is the services' own (ArchiveRuntime, `[imap] workers` threads), not the daemon's
// spool pool, so logins and FETCHes never hold up spool processing. A session whose login
// needs a password hash check waits in one FIFO queue (on the event loop, holding no thread)
// until fewer than `[imap] max_logins` checks run; then its verify() step runs on the pool.
//
// Called by imap_service.cpp and pop3_service.cpp, which supply a ProtocolSession factory.
// Bind errors throw std::system_error from the factory (before privileges are dropped).
// Limits: kMaxConnections per service, the idle timeout, the session's own limits.
#pragma once

#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <string>
#include <string_view>

#include "listd/service.hpp"

namespace listd {

class AuthCache;
class ConnectionPool;
class MailboxCache;

// ArchiveRuntime - what the IMAP and POP3 services of one daemon share. The pool is joined
// when the last service holding it is destroyed. verifying/waiting: event loop thread only.
struct ArchiveRuntime {
  explicit ArchiveRuntime(const Config& cfg);
  ~ArchiveRuntime();
  boost::asio::thread_pool pool;
  unsigned max_logins;
  unsigned verifying = 0;
  std::deque<std::function<void()>> waiting;
  std::shared_ptr<AuthCache> auth;
  std::shared_ptr<MailboxCache> mailboxes;
  std::shared_ptr<ConnectionPool> connections;  // SQLite connections lent to sessions per step
};

// archive_runtime - the runtime of ctx's daemon (made by the first service that asks).
std::shared_ptr<ArchiveRuntime> archive_runtime(ServiceContext& ctx);

// ProtocolSession - what the connection drives; adapters wrap imap::Session / pop3::Session.
class ProtocolSession {
 public:
  virtual ~ProtocolSession() = default;
  virtual std::string greeting() = 0;
  virtual std::string input(std::string_view bytes) = 0;
  virtual std::string timeout() = 0;
  virtual bool closing() const = 0;
  virtual bool want_tls() const = 0;
  virtual void tls_started() = 0;
  virtual unsigned delay_ms() = 0;
  virtual bool more() const { return false; }
  virtual std::string resume() { return {}; }
  virtual bool idling() const { return false; }
  virtual std::string poll() { return {}; }
  virtual bool login_pending() const { return false; }
  virtual std::string verify() { return {}; }  // runs holding one of the max_logins slots
  virtual std::string failure() = 0;           // the reply when a step threw (database trouble)
};

struct SessionFlags {
  bool tls_available = false, tls_active = false, plaintext_allowed = false;
};

struct NetServiceOptions {
  const char* name = "";  // "imap" | "pop3"
  const Listener* listener = nullptr;
  std::function<std::unique_ptr<ProtocolSession>(const SessionFlags&)> make_session;  // runs on the pool
  unsigned idle_timeout_s = 30 * 60;  // RFC 3501 §5.4: at least 30 minutes
  unsigned poll_ms = 1000;            // how often an IDLE session looks for new posts
  unsigned max_connections = 500;
  std::function<void()> on_start;           // runs once on the daemon's pool after start() (e.g. index backfill)
  std::shared_ptr<ArchiveRuntime> runtime;  // null: archive_runtime(ctx)
};

std::unique_ptr<Service> make_net_service(ServiceContext& ctx, NetServiceOptions options);

}  // namespace listd
