// spool.hpp - the durable incoming spool (data_dir/spool/{tmp,new,bad}).
//
// Every intake path (listctl inject/pipe, SMTP, LMTP) writes an entry through SpoolWriter and
// acknowledges only after commit() returned: the file was written in tmp/, fsynced, closed,
// renamed into new/ and new/ was fsynced (SECURITY P1, STYLE item 11). The daemon reads
// entries from new/ (inotify tells it), processes each idempotently and removes it only after
// its effects are committed. A file that fails its framing check (header, declared size,
// end marker) is corrupt and is set aside in bad/, never delivered.
//
// Entry format (LF line ends, message bytes stored as received but with CRLF -> LF):
//   LISTD-SPOOL 1\n
//   id: ID\n  received: UNIX\n  via: inject|pipe|smtp|lmtp\n
//   sender: ADDR (may be empty: null sender)\n  recipient: ADDR\n
//   size: 20-DIGIT-ZERO-PADDED\n
//   \n
//   <size bytes of message>
//   \nLISTD-END\n
#pragma once

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

namespace listd {

struct SpoolCorrupt : std::runtime_error {
  using std::runtime_error::runtime_error;
};

struct SpoolEnvelope {
  std::string id;  // set by SpoolWriter
  std::int64_t received = 0;
  std::string via;
  std::string sender;
  std::string recipient;
};

struct SpoolEntry {
  SpoolEnvelope env;
  std::string message;  // LF line ends
};

class Spool {
 public:
  // Creates the folders (0700) when missing.
  explicit Spool(std::filesystem::path dir);

  const std::filesystem::path& dir() const { return dir_; }
  std::filesystem::path new_dir() const { return dir_ / "new"; }

  // pending - entry ids in new/, oldest first.
  std::vector<std::string> pending() const;
  // read - parse and check an entry; throws SpoolCorrupt or std::system_error.
  SpoolEntry read(const std::string& id) const;
  // remove - unlink new/ID and fsync new/.
  void remove(const std::string& id) const;
  // remove_deferred - unlink new/ID only; sync_new_dir() later makes a group of removals
  // durable with one fsync (a removal lost to a crash is harmless: the entry is in
  // `processed` and a later pass just removes it again).
  void remove_deferred(const std::string& id) const;
  void sync_new_dir() const;
  // set_aside - move new/ID to bad/ID and write bad/ID.reason.
  void set_aside(const std::string& id, const std::string& reason) const;

  // remove_stale_tmp - unlink files in tmp/ last modified more than `age` ago: what a writer
  // killed before commit left behind (kill -9 of listd or of `listctl pipe`). A writer still
  // at work is younger. Returns how many were removed; errors are ignored.
  std::size_t remove_stale_tmp(std::chrono::seconds age) const;

  // commit - convenience: write a whole message at once. Returns the id.
  std::string commit(SpoolEnvelope env, std::string_view message) const;

 private:
  std::filesystem::path dir_;
};

// SpoolWriter - streams one message into spool/tmp, so intake memory stays flat.
// append() converts CRLF to LF (a CR at a chunk's end is held back until the next chunk).
// commit() makes it durable and returns the id; abort() (or the destructor) removes tmp.
class SpoolWriter {
 public:
  SpoolWriter(const Spool& spool, SpoolEnvelope env);
  ~SpoolWriter();
  SpoolWriter(const SpoolWriter&) = delete;
  SpoolWriter& operator=(const SpoolWriter&) = delete;

  void append(std::string_view bytes);
  std::uint64_t size() const { return size_; }
  // commit(false) leaves the fsync of new/ to the caller, who must do it before acknowledging
  // (the SMTP intake shares one directory fsync among concurrent sessions: group commit).
  std::string commit(bool sync_dir = true);
  void abort();

 private:
  void write_raw(std::string_view bytes);
  const Spool& spool_;
  SpoolEnvelope env_;
  std::filesystem::path tmp_;
  int fd_ = -1;
  std::uint64_t size_ = 0;
  std::uint64_t size_offset_ = 0;
  bool pending_cr_ = false;
  std::string buf_;
};

// spool_entry_bytes - a whole spool entry in memory (what SpoolWriter writes to a file) for a
// message received as `raw` (CRLF line ends, converted to LF); assigns env.id (and
// env.received when 0). Used by the intake journal (intake_journal.hpp).
std::string spool_entry_bytes(SpoolEnvelope& env, std::string_view raw);
// spool_entry_id - the id of an entry's bytes ("" when the header is not a spool header or the
// id is not a safe file name).
std::string spool_entry_id(std::string_view entry);

// spool_new_id - unique, sortable by time, safe as a file name.
std::string spool_new_id();

}  // namespace listd
