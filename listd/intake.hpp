// intake.hpp - the engine side of the SMTP/LMTP receiver: which recipients we accept and
// where an accepted message goes (smtp::Backend / smtp::Transaction for listd).
//
// Used by smtp_service.cpp. RCPT is accepted only when route_address() finds a list address
// (never an open relay, DESIGN.md): an unknown address at one of our hosts gets 550 5.1.1, any
// other domain 550 5.7.1 (relaying denied). The message is streamed into one SpoolWriter per
// distinct list recipient (one spool entry per list, as listctl pipe makes); commit() makes
// every entry durable (fsync, rename, fsync dir) before it returns 250, then wakes the spool
// processor. Group commit: concurrent sessions share the fsync of spool/new (DirSync). Disk errors become 451 4.3.0 and
// leave nothing partial in spool/new. check_rcpt/begin run on the event loop (one SQLite read per RCPT); commit on a
// worker thread.
#pragma once

#include <functional>
#include <memory>
#include <string>

#include "listd/config.hpp"
#include "smtp/server_session.hpp"

namespace SQLite {
class Database;
}

namespace listd {

class Spool;
class DirSync;

class IntakeBackend : public smtp::Backend {
 public:
  // via: "smtp" or "lmtp" (recorded in the spool entry).
  IntakeBackend(const Config& cfg, std::string via, std::function<void()> wake_processing);
  ~IntakeBackend() override;

  smtp::Reply check_rcpt(const smtp::Envelope& env, const smtp::Mailbox& rcpt, std::string* key) override;
  std::unique_ptr<smtp::Transaction> begin(const smtp::Envelope& env) override;

 private:
  const Config& cfg_;
  std::string via_;
  std::function<void()> wake_;
  std::unique_ptr<Spool> spool_;
  std::unique_ptr<DirSync> dir_sync_;     // group commit of spool/new (intake.cpp)
  std::unique_ptr<SQLite::Database> db_;  // opened lazily (after privileges dropped)
};

struct ServiceContext;
class Service;
// The [smtp] and [lmtp] listeners (smtp_service.cpp), for Daemon::bind() in main_listd.cpp.
std::unique_ptr<Service> make_smtp_service(ServiceContext& ctx);
std::unique_ptr<Service> make_lmtp_service(ServiceContext& ctx);

}  // namespace listd
