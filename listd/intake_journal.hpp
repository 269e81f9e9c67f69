// intake_journal.hpp - group commit for the SMTP/LMTP intake: many messages per fdatasync.
//
// The daemon's intake appends each accepted spool entry (the exact bytes of a spool file, see
// spool.hpp) as a record to a preallocated journal segment in spool/journal/; concurrent
// sessions share one pwritev + fdatasync (the first waiting session writes the whole group).
// Overwriting blocks that are already allocated and written changes no file-system metadata,
// so that fdatasync is one data write and a cache flush, not the inode, directory and bitmap
// writes a new file costs per message. Each entry is first staged as spool/tmp/ID (no fsync;
// a full disk fails here, before anything is journaled); only after the journal's fdatasync
// returned is it renamed into spool/new for the processor, and the caller answers 250
// (SECURITY P1: the message is on stable storage, in the journal).
// A checkpointer thread makes the materialized files durable (one syncfs of the spool's file
// system for everything materialized since the last one) and then moves each segment's
// checkpoint past those records; a segment whose records are all checkpointed is reused under
// a new generation. Recovery (the constructor) re-materializes every record after a checkpoint
// (the processor removes ids it already processed: the `processed` table), so a crash loses no
// acknowledged message and delivers none twice. One journal per spool, in the daemon only
// (listctl pipe/inject keep the per-file path). Errors: commit() throws std::system_error and
// nothing of that group may be acknowledged.
#pragma once

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <filesystem>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

namespace listd {

class Spool;
struct Config;

class IntakeJournal {
 public:
  struct Options {
    std::uint64_t segment_size = 16ull << 20;  // bytes per segment file, header included
    std::chrono::milliseconds checkpoint_interval{500};
  };
  static constexpr std::uint64_t kHeaderSize = 4096;
  static constexpr std::uint64_t kRecordHeader = 24;

  // Opens (creates) spool/journal, recovers what a previous run left after the checkpoints
  // (re-materializing those entries into spool/new), prepares a segment and starts the
  // checkpointer. Throws std::system_error when the journal cannot be read or written.
  IntakeJournal(const Spool& spool, Options options);
  ~IntakeJournal();
  IntakeJournal(const IntakeJournal&) = delete;
  IntakeJournal& operator=(const IntakeJournal&) = delete;

  // commit - make the entries (complete spool files with distinct ids, each at most
  // max_entry() bytes) durable in one group commit, then materialize them in spool/new.
  // Returns when they are durable (a failed materialization is retried by the checkpointer).
  void commit(std::vector<std::string>& entries);
  std::uint64_t max_entry() const { return opt_.segment_size - kHeaderSize - kRecordHeader; }

  // How many records recovery re-materialized when this journal was opened.
  std::size_t recovered() const { return recovered_; }
  // checkpoint_now - run one checkpoint pass synchronously (tests, shutdown).
  void checkpoint_now();
  // Segment files in spool/journal (tests).
  std::size_t segments() const;

 private:
  struct Pending {
    std::uint64_t end = 0;  // offset just past the record
    bool materialized = false;
    std::string retry;  // the entry, when materializing it failed
  };
  struct Segment {
    int fd = -1;
    std::filesystem::path path;
    std::uint64_t size = 0, generation = 0, checkpoint = kHeaderSize, write_off = kHeaderSize;
    std::deque<Pending> pending;
  };
  struct Request;
  static bool is_free(const std::unique_ptr<Segment>& s, const Segment* active);

  void recover();
  std::unique_ptr<Segment> create_segment();
  void write_header(const Segment& s);
  void write_header(const Segment& s, std::uint64_t generation, std::uint64_t checkpoint);
  Segment* next_segment();  // under m_
  void write_batch(std::vector<Request*>& batch);
  std::string stage(const std::string& entry) const;
  bool publish(const std::string& id) const;
  bool materialize(const std::string& entry) const;  // stage + publish, never throws
  void checkpoint_loop();
  void checkpoint_pass(std::unique_lock<std::mutex>& lock);

  const Spool& spool_;
  Options opt_;
  std::filesystem::path dir_;
  int spool_fd_ = -1;  // for syncfs
  mutable std::mutex m_;
  std::mutex ckpt_m_;  // held for a whole checkpoint pass (taken before m_)
  std::condition_variable cv_, ckpt_cv_;
  std::vector<std::unique_ptr<Segment>> segments_;  // every open segment
  Segment* active_ = nullptr;
  std::vector<Request*> queue_;
  bool writing_ = false, stop_ = false, dirty_ = false;
  std::uint64_t next_generation_ = 1, next_name_ = 1;
  std::size_t recovered_ = 0;
  std::chrono::steady_clock::time_point spare_failed_at_{};
  std::thread checkpointer_;
};

// intake_journal - the daemon's journal for cfg's spool, shared by the SMTP and LMTP services
// (created on first use; null when `[spool] journal = no`). Throws like the constructor.
std::shared_ptr<IntakeJournal> intake_journal(const Config& cfg);

}  // namespace listd
