// fsutil.hpp - durable file writes (tmp -> write -> fsync -> rename -> fsync dir), private
// directories, and small file helpers. Every function throws std::system_error naming the
// path on failure and leaves no temporary file behind. Used by the spool, the archive, the
// delivery queue and the outbox (DESIGN.md "Rules that never bend").
#pragma once

#include <filesystem>
#include <string>
#include <string_view>
#include <vector>

namespace listd {

// make_private_dir - create `dir` (and parents) with mode 0700 if missing.
void make_private_dir(const std::filesystem::path& dir);

// fsync_dir - fsync a directory so a rename or unlink in it is durable.
void fsync_dir(const std::filesystem::path& dir);

// write_durable - write `parts` (concatenated) to tmp_dir/<name>, fsync, rename to
// final_dir/<name>, fsync final_dir. Mode 0600. An existing final file is replaced atomically.
void write_durable(const std::filesystem::path& tmp_dir, const std::filesystem::path& final_dir,
                   const std::string& name, const std::vector<std::string_view>& parts);

// read_file - whole file; throws std::system_error.
std::string read_file(const std::filesystem::path& p);

// unlink_durable - remove the file (missing is fine) and fsync its directory.
void unlink_durable(const std::filesystem::path& p);

// SyncBatch - while one is alive on the calling thread, write_durable and unlink_durable
// skip their fsyncs and note the file system instead; sync() then makes everything written
// so far durable with one syncfs(2) per file system noted (Linux >= 5.8 reports writeback
// errors there). For a group of spool entries processed in one database transaction: sync()
// before the commit, where the per-file fsyncs would have been. One per thread, not nested;
// a batch dropped without sync() has made nothing durable (its caller must not commit).
class SyncBatch {
 public:
  SyncBatch();
  ~SyncBatch();
  SyncBatch(const SyncBatch&) = delete;
  SyncBatch& operator=(const SyncBatch&) = delete;
  void sync();
  // active - the thread's batch, or nullptr (write_durable asks).
  static SyncBatch* active();
  // note - remember the file system holding `dir`.
  void note(const std::filesystem::path& dir);

 private:
  std::vector<std::pair<unsigned long long, int>> fs_;  // st_dev, an open directory on it
};

// random_hex - `bytes` bytes from the kernel CSPRNG (getrandom), hex-encoded.
std::string random_hex(std::size_t bytes);

// check_data_dir - refuse a group- or world-writable data dir (DESIGN.md); returns an
// explanation, empty when fine. A missing dir is fine (it will be created 0700).
std::string check_data_dir(const std::filesystem::path& dir);

}  // namespace listd
