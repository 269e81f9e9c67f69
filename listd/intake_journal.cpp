// intake_journal.cpp - see intake_journal.hpp.
//
// Segment file spool/journal/seg-NNNNNNNN (little-endian integers):
//   header, kHeaderSize bytes: "LISTD-JOURNAL 1\n", u64 generation, u64 checkpoint offset,
//     u64 segment size, u32 crc32 of the 40 bytes before it, zeros;
//   records from kHeaderSize on: "LJR1", u32 payload length, u64 generation, u32 crc32 of
//     (length, generation, payload), u32 zero, then the payload (one spool entry).
// Replay starts at the checkpoint and stops at the first record whose magic, generation,
// length or crc does not match: a torn group write, or the old records of a reused segment
// (every reuse takes a new generation, written to the header before the segment is used).
#include "listd/intake_journal.hpp"

#include <fcntl.h>
#include <limits.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <unistd.h>
#include <zlib.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <cstring>
#include <map>
#include <system_error>

#include "listd/config.hpp"
#include "listd/fsutil.hpp"
#include "listd/log.hpp"
#include "listd/spool.hpp"

namespace listd {
namespace {

constexpr std::string_view kSegMagic = "LISTD-JOURNAL 1\n";
constexpr char kRecMagic[4] = {'L', 'J', 'R', '1'};
constexpr std::size_t kHeaderUsed = 44;

[[noreturn]] void throw_errno(const std::string& what, const std::filesystem::path& p) {
  throw std::system_error(errno, std::generic_category(), what + " " + p.string());
}

void put_u32(char* p, std::uint32_t v) {
  for (int i = 0; i < 4; ++i) p[i] = static_cast<char>((v >> (8 * i)) & 0xff);
}
void put_u64(char* p, std::uint64_t v) {
  for (int i = 0; i < 8; ++i) p[i] = static_cast<char>((v >> (8 * i)) & 0xff);
}
std::uint32_t get_u32(const char* p) {
  std::uint32_t v = 0;
  for (int i = 3; i >= 0; --i) v = (v << 8) | static_cast<unsigned char>(p[i]);
  return v;
}
std::uint64_t get_u64(const char* p) {
  std::uint64_t v = 0;
  for (int i = 7; i >= 0; --i) v = (v << 8) | static_cast<unsigned char>(p[i]);
  return v;
}

std::uint32_t crc(std::uint32_t c, const char* p, std::size_t n) {
  while (n > 0) {  // zlib takes uInt lengths
    auto chunk = static_cast<uInt>(std::min<std::size_t>(n, 1u << 30));
    c = static_cast<std::uint32_t>(::crc32(c, reinterpret_cast<const Bytef*>(p), chunk));
    p += chunk;
    n -= chunk;
  }
  return c;
}

std::uint32_t record_crc(const char* hdr, std::string_view payload) {
  std::uint32_t c = crc(0, hdr + 4, 12);  // length and generation
  return crc(c, payload.data(), payload.size());
}

void pread_all(int fd, char* p, std::size_t n, std::uint64_t off, const std::filesystem::path& path) {
  while (n > 0) {
    ssize_t r = ::pread(fd, p, n, static_cast<off_t>(off));
    if (r < 0 && errno == EINTR) continue;
    if (r < 0) throw_errno("read", path);
    if (r == 0) throw std::system_error(EIO, std::generic_category(), "short read " + path.string());
    p += r;
    n -= static_cast<std::size_t>(r);
    off += static_cast<std::uint64_t>(r);
  }
}

void pwrite_all(int fd, const char* p, std::size_t n, std::uint64_t off, const std::filesystem::path& path) {
  while (n > 0) {
    ssize_t r = ::pwrite(fd, p, n, static_cast<off_t>(off));
    if (r < 0 && errno == EINTR) continue;
    if (r < 0) throw_errno("write", path);
    p += r;
    n -= static_cast<std::size_t>(r);
    off += static_cast<std::uint64_t>(r);
  }
}

// pwritev_all - write every iovec at off, resuming after short writes, IOV_MAX at a time.
void pwritev_all(int fd, std::vector<iovec>& iov, std::uint64_t off, const std::filesystem::path& path) {
  std::size_t i = 0;
  while (i < iov.size()) {
    int n = static_cast<int>(std::min<std::size_t>(iov.size() - i, IOV_MAX));
    ssize_t r = ::pwritev(fd, iov.data() + i, n, static_cast<off_t>(off));
    if (r < 0 && errno == EINTR) continue;
    if (r < 0) throw_errno("write", path);
    off += static_cast<std::uint64_t>(r);
    auto left = static_cast<std::size_t>(r);
    while (i < iov.size() && left >= iov[i].iov_len) left -= iov[i++].iov_len;
    if (left > 0) {
      iov[i].iov_base = static_cast<char*>(iov[i].iov_base) + left;
      iov[i].iov_len -= left;
    }
  }
}

}  // namespace

struct IntakeJournal::Request {
  std::vector<std::string>* entries = nullptr;
  std::vector<Pending*> handles;
  std::exception_ptr err;
  bool done = false;
};

bool IntakeJournal::is_free(const std::unique_ptr<Segment>& s, const Segment* active) {
  return s.get() != active && s->write_off == kHeaderSize && s->pending.empty();
}

IntakeJournal::IntakeJournal(const Spool& spool, Options options)
    : spool_(spool), opt_(options), dir_(spool.dir() / "journal") {
  opt_.segment_size = std::max<std::uint64_t>(opt_.segment_size, 1ull << 20);
  make_private_dir(dir_);
  spool_fd_ = ::open(spool_.dir().c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (spool_fd_ < 0) throw_errno("open", spool_.dir());
  try {
    recover();
  } catch (...) {
    for (auto& s : segments_) ::close(s->fd);
    ::close(spool_fd_);
    throw;
  }
  if (std::none_of(segments_.begin(), segments_.end(), [&](auto& s) { return is_free(s, nullptr); })) {
    try {  // a full disk must not keep the daemon from starting: commits will fail (451) instead
      segments_.push_back(create_segment());
    } catch (const std::exception& e) {
      log_event(LogLevel::error, "journal-segment-failed", {{"error", e.what()}});
      spare_failed_at_ = std::chrono::steady_clock::now();
    }
  }
  checkpointer_ = std::thread([this] { checkpoint_loop(); });
}

IntakeJournal::~IntakeJournal() {
  {
    std::lock_guard lock(m_);
    stop_ = true;
  }
  ckpt_cv_.notify_all();
  if (checkpointer_.joinable()) checkpointer_.join();
  try {
    checkpoint_now();  // a clean stop leaves nothing to replay
  } catch (const std::exception& e) {
    log_event(LogLevel::error, "journal-checkpoint-failed", {{"error", e.what()}});
  }
  for (auto& s : segments_) ::close(s->fd);
  ::close(spool_fd_);
}

std::size_t IntakeJournal::segments() const {
  std::lock_guard lock(m_);
  return segments_.size();
}

void IntakeJournal::write_header(const Segment& s) {
  write_header(s, s.generation, s.checkpoint);
}

// write_header - the header of segment s with this generation and checkpoint, made durable;
// s itself is not changed (the caller updates it once this returned).
void IntakeJournal::write_header(const Segment& s, std::uint64_t generation, std::uint64_t checkpoint) {
  std::array<char, kHeaderUsed> h{};
  std::memcpy(h.data(), kSegMagic.data(), kSegMagic.size());
  put_u64(h.data() + 16, generation);
  put_u64(h.data() + 24, checkpoint);
  put_u64(h.data() + 32, s.size);
  put_u32(h.data() + 40, crc(0, h.data(), 40));
  pwrite_all(s.fd, h.data(), h.size(), 0, s.path);
  if (::fdatasync(s.fd) != 0) throw_errno("fdatasync", s.path);
}

// create_segment - a new segment file, every byte written (so later overwrites need no
// metadata update) and durable, under its final name only once complete.
std::unique_ptr<IntakeJournal::Segment> IntakeJournal::create_segment() {
  auto s = std::make_unique<Segment>();
  char name[32];
  {
    std::lock_guard lock(m_);
    std::snprintf(name, sizeof name, "seg-%08llu", static_cast<unsigned long long>(next_name_++));
    s->generation = next_generation_++;
  }
  s->size = opt_.segment_size;
  auto tmp = dir_ / (std::string(name) + ".new");
  s->path = dir_ / name;
  s->fd = ::open(tmp.c_str(), O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
  if (s->fd < 0) throw_errno("create", tmp);
  try {
    std::string zeros(1 << 20, '\0');
    for (std::uint64_t off = 0; off < s->size; off += zeros.size())
      pwrite_all(s->fd, zeros.data(), static_cast<std::size_t>(std::min<std::uint64_t>(zeros.size(), s->size - off)),
                 off, tmp);
    write_header(*s);
    if (::fsync(s->fd) != 0) throw_errno("fsync", tmp);
    if (::rename(tmp.c_str(), s->path.c_str()) != 0) throw_errno("rename", s->path);
    fsync_dir(dir_);
  } catch (...) {
    ::close(s->fd);
    ::unlink(tmp.c_str());
    throw;
  }
  return s;
}

// stage - write the entry to spool/tmp/ID (no fsync: the journal holds the durable copy);
// returns the id. Throws std::system_error (e.g. ENOSPC) and leaves no tmp file behind.
std::string IntakeJournal::stage(const std::string& entry) const {
  std::string id = spool_entry_id(entry);
  if (id.empty()) throw std::system_error(EINVAL, std::generic_category(), "journal entry without a valid spool id");
  auto tmp = spool_.dir() / "tmp" / id;
  int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
  if (fd < 0) throw_errno("create", tmp);
  const char* p = entry.data();
  std::size_t n = entry.size();
  int err = 0;
  while (n > 0) {
    ssize_t r = ::write(fd, p, n);
    if (r < 0 && errno == EINTR) continue;
    if (r < 0) {
      err = errno;
      break;
    }
    p += r;
    n -= static_cast<std::size_t>(r);
  }
  if (::close(fd) != 0 && err == 0) err = errno;
  if (err != 0) {
    ::unlink(tmp.c_str());
    errno = err;
    throw_errno("write", tmp);
  }
  return id;
}

// publish - rename a staged entry into spool/new (where inotify shows it to the processor).
bool IntakeJournal::publish(const std::string& id) const {
  auto tmp = spool_.dir() / "tmp" / id;
  if (::rename(tmp.c_str(), (spool_.new_dir() / id).c_str()) == 0) return true;
  log_event(LogLevel::error, "journal-materialize-failed", {{"spool", id}, {"error", std::strerror(errno)}});
  ::unlink(tmp.c_str());
  return false;
}

bool IntakeJournal::materialize(const std::string& entry) const {
  try {
    return publish(stage(entry));
  } catch (const std::exception& e) {
    log_event(LogLevel::error, "journal-materialize-failed", {{"error", e.what()}});
    return false;
  }
}

// recover - open every segment; re-materialize the records after each checkpoint; make them
// durable; then give every segment a new generation (empty, ready for reuse).
void IntakeJournal::recover() {
  std::vector<std::filesystem::path> names;
  for (auto& e : std::filesystem::directory_iterator(dir_)) {
    auto n = e.path().filename().string();
    if (n.size() > 4 && n.compare(n.size() - 4, 4, ".new") == 0) {
      std::filesystem::remove(e.path());  // a segment whose creation never finished: never used
      continue;
    }
    if (n.rfind("seg-", 0) == 0) names.push_back(e.path());
  }
  std::sort(names.begin(), names.end());
  for (auto& path : names) {
    auto s = std::make_unique<Segment>();
    s->path = path;
    s->fd = ::open(path.c_str(), O_RDWR | O_CLOEXEC);
    if (s->fd < 0) throw_errno("open", path);
    segments_.push_back(std::move(s));
    Segment& seg = *segments_.back();
    std::array<char, kHeaderUsed> h{};
    struct stat st {};
    if (::fstat(seg.fd, &st) != 0) throw_errno("stat", path);
    bool valid = static_cast<std::uint64_t>(st.st_size) >= kHeaderUsed;
    if (valid) pread_all(seg.fd, h.data(), h.size(), 0, path);
    valid = valid && std::memcmp(h.data(), kSegMagic.data(), kSegMagic.size()) == 0 &&
            get_u32(h.data() + 40) == crc(0, h.data(), 40);
    if (valid) {
      seg.generation = get_u64(h.data() + 16);
      seg.checkpoint = get_u64(h.data() + 24);
      seg.size = get_u64(h.data() + 32);
      valid = seg.size == static_cast<std::uint64_t>(st.st_size) && seg.checkpoint >= kHeaderSize &&
              seg.checkpoint <= seg.size;
    }
    if (!valid) {
      // Never written by a finished create_segment (those are renamed only when complete)
      // nor by write_header (a 44-byte write of one sector): refuse rather than guess.
      throw std::system_error(EIO, std::generic_category(), "journal segment with a corrupt header: " + path.string());
    }
    unsigned long long idx = std::strtoull(path.filename().string().c_str() + 4, nullptr, 10);
    next_name_ = std::max<std::uint64_t>(next_name_, idx + 1);
    next_generation_ = std::max(next_generation_, seg.generation + 1);
    std::uint64_t off = seg.checkpoint;
    std::size_t replayed = 0;
    bool failed = false;
    std::array<char, kRecordHeader> rh{};
    std::string payload;
    while (off + kRecordHeader <= seg.size) {
      pread_all(seg.fd, rh.data(), rh.size(), off, path);
      std::uint32_t len = get_u32(rh.data() + 4);
      if (std::memcmp(rh.data(), kRecMagic, 4) != 0 || get_u64(rh.data() + 8) != seg.generation || len == 0 ||
          off + kRecordHeader + len > seg.size)
        break;
      payload.resize(len);
      pread_all(seg.fd, payload.data(), len, off + kRecordHeader, path);
      if (record_crc(rh.data(), payload) != get_u32(rh.data() + 16)) break;
      if (!materialize(payload)) {
        failed = true;
        break;
      }
      ++replayed;
      off += kRecordHeader + len;
    }
    recovered_ += replayed;
    if (!failed) continue;
    // A record could not be written to spool/new (disk full?): keep this segment as it is,
    // out of use, for the next start (what was replayed is harmless to replay again).
    log_event(LogLevel::error, "journal-recovery-incomplete",
              {{"segment", path.string()}, {"action", "kept for the next start; free space and restart listd"}});
    ::close(seg.fd);
    segments_.pop_back();
  }
  if (recovered_ > 0) {
    if (::syncfs(spool_fd_) != 0) throw_errno("syncfs", spool_.dir());
    log_event(LogLevel::info, "journal-recovered", {{"entries", std::to_string(recovered_)}});
  }
  for (auto& s : segments_) {
    s->generation = next_generation_++;
    s->checkpoint = s->write_off = kHeaderSize;
    write_header(*s);
  }
}

IntakeJournal::Segment* IntakeJournal::next_segment() {
  for (auto& s : segments_)
    if (is_free(s, active_)) return active_ = s.get();
  return active_ = nullptr;
}

// write_batch - the leader's part of a group commit: every record of every queued request in
// as few pwritev calls as the segments allow, then one fdatasync per segment written. On a
// failure no request in the batch is acknowledged; what was placed is marked so that the
// checkpoint passes it (it may still be replayed after a crash: never acknowledged, at worst
// a duplicate of a message its client sends again) and the segment is not appended to again.
void IntakeJournal::write_batch(std::vector<Request*>& batch) {
  struct Placed {
    Request* r;
    Segment* seg;
    std::uint64_t end;
  };
  std::vector<Placed> placed;
  std::size_t records = 0;
  for (auto* r : batch) records += r->entries->size();
  std::vector<std::array<char, kRecordHeader>> headers(records);
  std::vector<iovec> iov;
  std::vector<Segment*> touched;  // in order; each at most once
  Segment* seg = nullptr;
  std::uint64_t start = 0, off = 0;

  // switch_to_next - close the current segment's part of the batch and continue in a free one
  // (made now if the checkpointer had no spare ready).
  auto switch_to_next = [&] {
    if (seg) {
      pwritev_all(seg->fd, iov, start, seg->path);
      iov.clear();
      std::lock_guard lock(m_);
      seg->write_off = off;
    }
    Segment* next = nullptr;
    {
      std::lock_guard lock(m_);
      if (!seg && active_ && active_->write_off < active_->size)
        next = active_;
      else
        next = next_segment();
    }
    if (!next) {
      auto made = create_segment();
      std::lock_guard lock(m_);
      segments_.push_back(std::move(made));
      next = active_ = segments_.back().get();
    }
    seg = next;
    touched.push_back(seg);
    std::lock_guard lock(m_);
    start = off = seg->write_off;
  };

  std::exception_ptr err;
  try {
    switch_to_next();
    std::size_t h = 0;
    for (auto* r : batch) {
      for (auto& e : *r->entries) {
        std::uint64_t need = kRecordHeader + e.size();
        if (need > seg->size - kHeaderSize)
          throw std::system_error(EFBIG, std::generic_category(), "entry larger than a journal segment");
        if (off + need > seg->size) switch_to_next();
        auto& hdr = headers[h++];
        std::memcpy(hdr.data(), kRecMagic, 4);
        put_u32(hdr.data() + 4, static_cast<std::uint32_t>(e.size()));
        put_u64(hdr.data() + 8, seg->generation);
        put_u32(hdr.data() + 16, record_crc(hdr.data(), e));
        put_u32(hdr.data() + 20, 0);
        iov.push_back({hdr.data(), hdr.size()});
        iov.push_back({e.data(), e.size()});
        off += need;
        placed.push_back({r, seg, off});
      }
    }
    pwritev_all(seg->fd, iov, start, seg->path);
  } catch (...) {
    err = std::current_exception();
  }
  if (seg) {
    std::lock_guard lock(m_);
    seg->write_off = std::max(seg->write_off, off);
  }
  if (!err) {
    for (auto* s : touched) {
      if (::fdatasync(s->fd) == 0) continue;
      try {
        throw_errno("fdatasync", s->path);
      } catch (...) {
        err = std::current_exception();
      }
      break;
    }
  }
  std::lock_guard lock(m_);
  for (auto& p : placed) {
    p.seg->pending.push_back(Pending{p.end, err != nullptr, {}});
    if (!err) p.r->handles.push_back(&p.seg->pending.back());
  }
  if (err) {
    active_ = nullptr;  // do not append after records whose write failed
    std::rethrow_exception(err);
  }
}

void IntakeJournal::commit(std::vector<std::string>& entries) {
  if (entries.empty()) return;
  for (auto& e : entries)
    if (e.size() > max_entry())
      throw std::system_error(EFBIG, std::generic_category(), "entry too large for the journal");
  // Stage first: a full disk refuses the message here (451), before anything is journaled.
  std::vector<std::string> ids;
  auto unstage = [&] {
    for (auto& id : ids) ::unlink((spool_.dir() / "tmp" / id).c_str());
  };
  try {
    for (auto& e : entries) ids.push_back(stage(e));
  } catch (...) {
    unstage();
    throw;
  }
  Request req;
  req.entries = &entries;
  std::unique_lock lock(m_);
  queue_.push_back(&req);
  while (!req.done) {
    if (writing_) {
      cv_.wait(lock);
      continue;
    }
    writing_ = true;
    std::vector<Request*> batch;
    batch.swap(queue_);
    lock.unlock();
    try {
      write_batch(batch);
    } catch (...) {
      auto err = std::current_exception();
      for (auto* r : batch)
        if (r->handles.size() != r->entries->size()) r->err = err;
    }
    lock.lock();
    writing_ = false;
    for (auto* r : batch) r->done = true;
    cv_.notify_all();
  }
  lock.unlock();
  if (req.err) {
    unstage();
    std::rethrow_exception(req.err);
  }
  // Durable in the journal: show the entries to the processor.
  for (std::size_t i = 0; i < entries.size(); ++i) {
    bool ok = publish(ids[i]);
    std::lock_guard g(m_);
    if (ok)
      req.handles[i]->materialized = true;
    else
      req.handles[i]->retry = std::move(entries[i]);
  }
}

void IntakeJournal::checkpoint_loop() {
  for (;;) {
    {
      std::unique_lock lock(m_);
      ckpt_cv_.wait_for(lock, opt_.checkpoint_interval, [this] { return stop_; });
      if (stop_) return;
    }
    try {
      checkpoint_now();
    } catch (const std::exception& e) {
      log_event(LogLevel::error, "journal-checkpoint-failed", {{"error", e.what()}});
    }
  }
}

void IntakeJournal::checkpoint_now() {
  std::lock_guard one(ckpt_m_);  // one pass at a time: it drops m_ for its disk work
  std::unique_lock lock(m_);
  checkpoint_pass(lock);
}

void IntakeJournal::checkpoint_pass(std::unique_lock<std::mutex>& lock) {
  // 1. What is materialized now (a prefix per segment) and what needs another try.
  std::vector<std::pair<Pending*, std::string>> retries;
  struct Advance {
    Segment* seg;
    std::size_t count;
    std::uint64_t to;
  };
  std::vector<Advance> adv;
  for (auto& s : segments_) {
    std::size_t n = 0;
    std::uint64_t to = s->checkpoint;
    for (auto& p : s->pending) {
      if (!p.materialized) {
        if (!p.retry.empty()) retries.emplace_back(&p, std::move(p.retry));
        break;
      }
      ++n;
      to = p.end;
    }
    if (n > 0) adv.push_back({s.get(), n, to});
  }
  lock.unlock();
  std::vector<bool> retried(retries.size());
  for (std::size_t i = 0; i < retries.size(); ++i) retried[i] = materialize(retries[i].second);
  // 2. Make those files durable, then move the checkpoints past them.
  std::exception_ptr err;
  try {
    if (!adv.empty()) {
      if (::syncfs(spool_fd_) != 0) throw_errno("syncfs", spool_.dir());
      for (auto& a : adv) write_header(*a.seg, a.seg->generation, a.to);
    }
  } catch (...) {
    err = std::current_exception();
  }
  lock.lock();
  for (std::size_t i = 0; i < retries.size(); ++i) {
    if (retried[i])
      retries[i].first->materialized = true;
    else
      retries[i].first->retry = std::move(retries[i].second);
  }
  if (err) std::rethrow_exception(err);
  for (auto& a : adv) {
    a.seg->pending.erase(a.seg->pending.begin(), a.seg->pending.begin() + static_cast<std::ptrdiff_t>(a.count));
    a.seg->checkpoint = a.to;
  }
  // 3. Reuse segments that are full (or abandoned) and wholly checkpointed: a new generation.
  for (auto& s : segments_) {
    if (s.get() == active_ || s->write_off == kHeaderSize || !s->pending.empty() || s->checkpoint != s->write_off)
      continue;
    Segment* seg = s.get();
    std::uint64_t gen = next_generation_++;
    lock.unlock();
    write_header(*seg, gen, kHeaderSize);  // throws with m_ released and nothing changed
    lock.lock();
    seg->generation = gen;
    seg->checkpoint = seg->write_off = kHeaderSize;
  }
  // 4. Keep one spare ready; drop spares beyond two (after a burst the checkpoint lagged).
  std::size_t spare = 0;
  for (auto it = segments_.begin(); it != segments_.end();) {
    if (is_free(*it, active_) && ++spare > 2) {
      ::close((*it)->fd);
      std::error_code ec;
      std::filesystem::remove((*it)->path, ec);
      it = segments_.erase(it);
      continue;
    }
    ++it;
  }
  auto now = std::chrono::steady_clock::now();
  if (spare == 0 && !stop_ && now - spare_failed_at_ >= std::chrono::seconds(10)) {
    lock.unlock();
    std::unique_ptr<Segment> s;
    try {
      s = create_segment();
    } catch (const std::exception& e) {
      log_event(LogLevel::error, "journal-segment-failed", {{"error", e.what()}});
    }
    lock.lock();
    if (s)
      segments_.push_back(std::move(s));
    else
      spare_failed_at_ = now;  // the disk is full: try again in a while, not every pass
  }
}

std::shared_ptr<IntakeJournal> intake_journal(const Config& cfg) {
  static std::mutex m;
  static std::map<std::filesystem::path, std::weak_ptr<IntakeJournal>> open;
  if (!cfg.spool.journal) return nullptr;
  std::lock_guard lock(m);
  auto& w = open[cfg.spool_dir()];
  if (auto j = w.lock()) return j;
  static std::map<std::filesystem::path, std::unique_ptr<Spool>> spools;  // outlive their journal
  auto& sp = spools[cfg.spool_dir()];
  if (!sp) sp = std::make_unique<Spool>(cfg.spool_dir());
  IntakeJournal::Options o;
  o.segment_size = cfg.spool.journal_segment_size;
  auto j = std::make_shared<IntakeJournal>(*sp, o);
  w = j;
  return j;
}

}  // namespace listd
