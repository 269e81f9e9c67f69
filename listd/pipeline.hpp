// pipeline.hpp - processes one spool entry end to end: route -> rules -> decorate ->
// archive -> delivery job (or hold / reject / discard / queue for the command handlers).
//
// Idempotent by spool id: every effect is either a file with a name derived from the spool
// id (replaced, not duplicated, on a retry) or a row written in the one transaction that also
// inserts `processed(spool_id)`. The spool entry is removed only after that commit. A retry
// of an entry already in `processed` just removes it. An entry that failed
// Config::spool.max_attempts times is set aside (spool/bad/) so it cannot crash-loop the
// daemon (SECURITY P5), and the list's owners get a notice (templates/mail/set-aside.txt).
// Tries that failed for a resource fault (disk full, database locked) are not counted.
// Not thread-safe: one Processor per thread/strand (it owns a database connection).
#pragma once

#include <SQLiteCpp/Database.h>

#include <atomic>
#include <memory>
#include <string>
#include <vector>

#include "listd/config.hpp"
#include "listd/spool.hpp"
#include "listd/templates.hpp"

namespace listd {

struct ProcessResult {
  std::string
      outcome;  // accepted | held | rejected | discarded | queued | unroutable | corrupt | set-aside | duplicate
  std::string detail;
};

// Fresh spool entries processed in one transaction (process_pending).
constexpr std::size_t kBatchEntries = 32;

class Processor {
 public:
  Processor(const Config& cfg, const Templates& templates);
  ProcessResult process(const std::string& spool_id);
  // process_pending - every entry in spool/new, oldest first, until `stop` becomes true;
  // returns how many were processed.
  std::size_t process_pending(const std::atomic<bool>* stop = nullptr);
  // maintenance - periodic work on the same connection: bounce warnings and removals.
  std::size_t maintenance();
  const Spool& spool() const { return spool_; }

 private:
  // process_batch - the entries of `ids` from `from` on: a run of up to kBatchEntries fresh
  // ones shares one transaction, one syncfs and one spool directory fsync; an entry tried
  // before goes alone (process). Returns how many entries it took (at least 1).
  std::size_t process_batch(const std::vector<std::string>& ids, std::size_t from, const std::atomic<bool>* stop);
  // run_counted - route/rules/effects of an entry whose try is counted, its outcome in `out`; true when its
  // effects are in the (possibly enclosing) transaction and its spool file can go once that
  // commits. In a batch, a resource fault is rethrown (the batch is abandoned).
  bool run_counted(const std::string& spool_id, int attempts, bool in_batch, ProcessResult& out);
  ProcessResult process_entry(const SpoolEntry& e);
  void mark_processed(const std::string& spool_id, const ProcessResult& r);
  // notify_set_aside - tell the owners of the entry's list (rate-limited); never throws.
  void notify_set_aside(const SpoolEntry& e, const std::string& why);
  const Config& cfg_;
  const Templates& templates_;
  Spool spool_;
  std::unique_ptr<SQLite::Database> db_;
};

}  // namespace listd
