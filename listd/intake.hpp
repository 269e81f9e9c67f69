// intake.hpp - the engine side of the SMTP/LMTP receiver: which recipients we accept and
// where an accepted message goes (smtp::Backend / smtp::Transaction for listd).
//
// Used by smtp_service.cpp. RCPT is accepted only when route_address() finds a list address
// (never an open relay, DESIGN.md): an unknown address at one of our hosts gets 550 5.1.1, any
// other domain 550 5.7.1 (relaying denied). One spool entry per distinct list recipient (as
// listctl pipe makes); commit() makes every entry durable before it returns 250, then wakes the
// spool processor: through the group-commit journal (intake_journal.hpp; the message is
// buffered, at most 256 KiB) or, for larger messages or `[spool] journal = no`, streamed into
// one SpoolWriter per entry (fsync, rename, then an fsync of spool/new shared by concurrent
// sessions: DirSync). Disk errors become 451 4.3.0 and
// leave nothing partial in spool/new. check_rcpt/begin run on the event loop: RCPT reads an
// in-memory set of list addresses that a background thread keeps fresh (at most 0.5 s stale,
// see ListAddresses in intake.cpp); commit runs on a worker thread.
#pragma once

#include <atomic>
#include <chrono>
#include <functional>
#include <memory>
#include <mutex>
#include <string>

#include "listd/config.hpp"
#include "smtp/server_session.hpp"

namespace listd {

class Spool;
class DirSync;
class ListAddresses;
class IntakeJournal;

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
  std::unique_ptr<DirSync> dir_sync_;         // group commit of spool/new (intake.cpp)
  std::shared_ptr<IntakeJournal> journal_;    // group commit of whole entries (intake_journal.hpp)
  std::unique_ptr<ListAddresses> addresses_;  // RCPT cache (intake.cpp), loaded lazily (after privileges dropped)
};

// IntakePriority - during a burst of SMTP/LMTP commits, spool processing (archive, SQLite,
// outbox copies: about five fsyncs per message on the same disk) waits, so the intake's own
// fsyncs are not queued behind them (measured: with processing running alongside, the 8-client
// intake rate fell from ~1,900 to ~500-900 msg/s on the 2-core test machine). The intake calls
// note_commit() for every durable commit; the daemon's processing loop asks delay() before a
// pass and passes yield_flag() to process_pending(), which stops between entries once set.
// Starvation is bounded: after `max_defer` of waiting, a pass runs for at least `slice` no
// matter how busy the intake is, so under a sustained flood processing still gets about
// slice / (max_defer + slice) of the time. A lone commit (none in the `quiet` before it) neither
// defers nor interrupts processing: a single post goes out at once. One process-wide instance:
// intake_priority().
class IntakePriority {
 public:
  using clock = std::chrono::steady_clock;
  struct Settings {
    std::chrono::milliseconds quiet{20};        // intake idle this long: process
    std::chrono::milliseconds max_defer{1000};  // never wait longer than this
    std::chrono::milliseconds slice{250};       // a forced pass is not interrupted for this long
  };
  void configure(Settings s);
  // note_commit - the intake made a message durable (asks a running pass to yield).
  void note_commit();
  // delay - how long the next processing pass should wait (zero: run now). Called on the
  // processing side whenever a pass is due; the first deferral starts the max_defer clock.
  clock::duration delay();
  // begin_pass - the pass starts now: clears the yield flag (and keeps it clear for `slice`
  // when the pass was forced by max_defer).
  void begin_pass();
  // yield_flag - set by note_commit() (outside a forced slice) and by stop().
  const std::atomic<bool>* yield_flag() const { return &yield_; }
  void stop() { stopping_ = yield_ = true; }

 private:
  std::mutex m_;
  Settings s_;
  std::atomic<bool> yield_{false}, stopping_{false}, enabled_{true};
  std::atomic<clock::rep> last_commit_{0};
  std::atomic<clock::rep> quiet_rep_{
      std::chrono::duration_cast<clock::duration>(std::chrono::milliseconds(20)).count()};
  std::atomic<bool> burst_{false};  // the last commit came within `quiet` of the one before
  std::atomic<clock::rep> forced_until_{0};
  clock::time_point deferred_since_{};
  bool deferring_ = false, forced_ = false;
};
IntakePriority& intake_priority();

struct ServiceContext;
class Service;
// The [smtp] and [lmtp] listeners (smtp_service.cpp), for Daemon::bind() in main_listd.cpp.
std::unique_ptr<Service> make_smtp_service(ServiceContext& ctx);
std::unique_ptr<Service> make_lmtp_service(ServiceContext& ctx);

}  // namespace listd
