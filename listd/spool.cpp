// spool.cpp - see spool.hpp.
#include "listd/spool.hpp"

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <charconv>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <system_error>

#include "listd/fsutil.hpp"

namespace listd {
namespace {

constexpr std::string_view kMagic = "LISTD-SPOOL 1\n";
constexpr std::string_view kEnd = "\nLISTD-END\n";
constexpr std::size_t kBufSize = 1 << 16;

[[noreturn]] void throw_errno(const std::string& what, const std::filesystem::path& p) {
  throw std::system_error(errno, std::generic_category(), what + " " + p.string());
}

bool safe_id(const std::string& id) {
  if (id.empty() || id.size() > 128) return false;
  return std::all_of(id.begin(), id.end(), [](char c) {
    return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '.' || c == '-' ||
           c == '_';
  });
}

std::string header_value(std::string_view s) {
  // Envelope values never hold line breaks (addresses were validated); make sure anyway.
  std::string out(s);
  out.erase(std::remove_if(out.begin(), out.end(), [](char c) { return c == '\n' || c == '\r'; }), out.end());
  return out;
}

// entry_header - the header of an entry for env with a zero size field; *size_offset is where
// the 20 size digits start.
std::string entry_header(const SpoolEnvelope& env, std::size_t* size_offset) {
  std::string hdr(kMagic);
  hdr += "id: " + env.id + "\n";
  hdr += "received: " + std::to_string(env.received) + "\n";
  hdr += "via: " + header_value(env.via) + "\n";
  hdr += "sender: " + header_value(env.sender) + "\n";
  hdr += "recipient: " + header_value(env.recipient) + "\n";
  hdr += "size: ";
  *size_offset = hdr.size();
  hdr += "00000000000000000000\n\n";
  return hdr;
}

// append_lf - append `in` to out with CRLF turned into LF; a CR at the end of `in` is held in
// *pending_cr until the next call decides. Returns how many bytes were appended.
std::size_t append_lf(std::string& out, std::string_view in, bool* pending_cr) {
  std::size_t before = out.size();
  for (char c : in) {
    if (*pending_cr) {
      *pending_cr = false;
      if (c != '\n') out.push_back('\r');
    }
    if (c == '\r') {
      *pending_cr = true;
      continue;
    }
    out.push_back(c);
  }
  return out.size() - before;
}

void set_size_digits(char* at, std::uint64_t size) {
  char digits[32];
  std::snprintf(digits, sizeof digits, "%020llu", static_cast<unsigned long long>(size));
  std::memcpy(at, digits, 20);
}

void fill_envelope(SpoolEnvelope& env) {
  if (env.id.empty()) env.id = spool_new_id();
  if (env.received == 0)
    env.received =
        std::chrono::duration_cast<std::chrono::seconds>(std::chrono::system_clock::now().time_since_epoch()).count();
}

}  // namespace

std::string spool_entry_bytes(SpoolEnvelope& env, std::string_view raw) {
  fill_envelope(env);
  std::size_t size_offset = 0;
  std::string out = entry_header(env, &size_offset);
  out.reserve(out.size() + raw.size() + kEnd.size() + 1);
  bool cr = false;
  std::size_t body = out.size();
  append_lf(out, raw, &cr);
  if (cr) out.push_back('\r');
  set_size_digits(out.data() + size_offset, out.size() - body);
  out += kEnd;
  return out;
}

std::string spool_entry_id(std::string_view entry) {
  constexpr std::string_view kId = "id: ";
  if (entry.substr(0, kMagic.size()) != kMagic) return {};
  entry.remove_prefix(kMagic.size());
  if (entry.substr(0, kId.size()) != kId) return {};
  entry.remove_prefix(kId.size());
  auto nl = entry.find('\n');
  if (nl == std::string_view::npos) return {};
  std::string id(entry.substr(0, nl));
  return safe_id(id) ? id : std::string();
}

std::string spool_new_id() {
  static std::atomic<unsigned> counter{0};
  auto now = std::chrono::system_clock::now().time_since_epoch();
  auto us = std::chrono::duration_cast<std::chrono::microseconds>(now).count();
  char buf[64];
  std::snprintf(buf, sizeof buf, "%016llx.%x.%04x.", static_cast<unsigned long long>(us),
                static_cast<unsigned>(::getpid()), counter.fetch_add(1) & 0xffff);
  return buf + random_hex(4);
}

Spool::Spool(std::filesystem::path dir) : dir_(std::move(dir)) {
  make_private_dir(dir_);
  make_private_dir(dir_ / "tmp");
  make_private_dir(dir_ / "new");
  make_private_dir(dir_ / "bad");
}

std::vector<std::string> Spool::pending() const {
  std::vector<std::string> ids;
  for (auto& e : std::filesystem::directory_iterator(new_dir())) {
    auto name = e.path().filename().string();
    if (safe_id(name)) ids.push_back(name);
  }
  std::sort(ids.begin(), ids.end());
  return ids;
}

SpoolEntry Spool::read(const std::string& id) const {
  if (!safe_id(id)) throw SpoolCorrupt("bad spool id");
  std::string data = read_file(new_dir() / id);
  if (data.compare(0, kMagic.size(), kMagic) != 0) throw SpoolCorrupt("missing spool header");
  auto hdr_end = data.find("\n\n", kMagic.size() - 1);
  if (hdr_end == std::string::npos) throw SpoolCorrupt("unterminated spool header");
  SpoolEntry e;
  std::uint64_t size = 0;
  bool have_size = false;
  std::size_t pos = kMagic.size();
  while (pos < hdr_end + 1) {
    auto nl = data.find('\n', pos);
    std::string_view line(data.data() + pos, nl - pos);
    pos = nl + 1;
    auto colon = line.find(": ");
    if (colon == std::string_view::npos) {
      if (line.size() >= 1 && line.back() == ':')
        colon = line.size() - 1;  // "sender:" with empty value
      else
        throw SpoolCorrupt("malformed spool header line");
    }
    auto key = line.substr(0, colon);
    auto value = colon + 2 <= line.size() ? line.substr(colon + 2) : std::string_view{};
    if (key == "id")
      e.env.id = value;
    else if (key == "received")
      std::from_chars(value.data(), value.data() + value.size(), e.env.received);
    else if (key == "via")
      e.env.via = value;
    else if (key == "sender")
      e.env.sender = value;
    else if (key == "recipient")
      e.env.recipient = value;
    else if (key == "size") {
      auto [p, ec] = std::from_chars(value.data(), value.data() + value.size(), size);
      have_size = ec == std::errc() && p == value.data() + value.size();
    }
  }
  if (!have_size) throw SpoolCorrupt("missing size");
  std::size_t body = hdr_end + 2;
  if (data.size() != body + size + kEnd.size() || data.compare(body + size, kEnd.size(), kEnd) != 0)
    throw SpoolCorrupt("size or end marker mismatch (truncated entry)");
  if (e.env.id != id) throw SpoolCorrupt("id mismatch");
  e.message = data.substr(body, size);
  return e;
}

void Spool::remove(const std::string& id) const {
  if (!safe_id(id)) return;
  unlink_durable(new_dir() / id);
}

void Spool::remove_deferred(const std::string& id) const {
  if (!safe_id(id)) return;
  if (::unlink((new_dir() / id).c_str()) != 0 && errno != ENOENT) throw_errno("unlink", new_dir() / id);
}

void Spool::sync_new_dir() const {
  fsync_dir(new_dir());
}

void Spool::set_aside(const std::string& id, const std::string& reason) const {
  if (!safe_id(id)) return;
  auto bad = dir_ / "bad";
  write_durable(dir_ / "tmp", bad, id + ".reason", {reason, "\n"});
  if (::rename((new_dir() / id).c_str(), (bad / id).c_str()) != 0 && errno != ENOENT) throw_errno("rename", bad / id);
  fsync_dir(bad);
  fsync_dir(new_dir());
}

std::size_t Spool::remove_stale_tmp(std::chrono::seconds age) const {
  std::size_t n = 0;
  std::error_code ec;
  auto cutoff = std::filesystem::file_time_type::clock::now() - age;
  for (auto it = std::filesystem::directory_iterator(dir_ / "tmp", ec); !ec && it != std::filesystem::end(it);
       it.increment(ec)) {
    std::error_code e2;
    if (!it->is_regular_file(e2) || it->last_write_time(e2) > cutoff || e2) continue;
    if (std::filesystem::remove(it->path(), e2)) ++n;
  }
  return n;
}

std::string Spool::commit(SpoolEnvelope env, std::string_view message) const {
  SpoolWriter w(*this, std::move(env));
  w.append(message);
  return w.commit();
}

SpoolWriter::SpoolWriter(const Spool& spool, SpoolEnvelope env) : spool_(spool), env_(std::move(env)) {
  env_.id.clear();
  fill_envelope(env_);
  tmp_ = spool_.dir() / "tmp" / env_.id;
  fd_ = ::open(tmp_.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
  if (fd_ < 0) throw_errno("create", tmp_);
  std::size_t size_offset = 0;
  std::string hdr = entry_header(env_, &size_offset);
  size_offset_ = size_offset;
  buf_.reserve(kBufSize);
  try {
    write_raw(hdr);
  } catch (...) {
    abort();  // no destructor runs for a constructor that throws: remove tmp here (disk full)
    throw;
  }
}

SpoolWriter::~SpoolWriter() {
  abort();
}

void SpoolWriter::write_raw(std::string_view bytes) {
  while (!bytes.empty()) {
    ssize_t n = ::write(fd_, bytes.data(), bytes.size());
    if (n < 0) {
      if (errno == EINTR) continue;
      throw_errno("write", tmp_);
    }
    bytes.remove_prefix(static_cast<std::size_t>(n));
  }
}

void SpoolWriter::append(std::string_view bytes) {
  if (fd_ < 0) throw std::logic_error("SpoolWriter used after commit/abort");
  while (!bytes.empty()) {
    auto chunk = bytes.substr(0, kBufSize);
    bytes.remove_prefix(chunk.size());
    size_ += append_lf(buf_, chunk, &pending_cr_);
    if (buf_.size() >= kBufSize) {
      write_raw(buf_);
      buf_.clear();
    }
  }
}

std::string SpoolWriter::commit(bool sync_dir) {
  if (fd_ < 0) throw std::logic_error("SpoolWriter used after commit/abort");
  if (pending_cr_) {
    buf_.push_back('\r');
    ++size_;
    pending_cr_ = false;
  }
  write_raw(buf_);
  buf_.clear();
  write_raw(kEnd);
  char digits[20];
  set_size_digits(digits, size_);
  if (::pwrite(fd_, digits, 20, static_cast<off_t>(size_offset_)) != 20) throw_errno("pwrite", tmp_);
  if (::fsync(fd_) != 0) throw_errno("fsync", tmp_);
  int fd = fd_;
  fd_ = -1;
  if (::close(fd) != 0) {
    ::unlink(tmp_.c_str());
    throw_errno("close", tmp_);
  }
  auto dest = spool_.new_dir() / env_.id;
  if (::rename(tmp_.c_str(), dest.c_str()) != 0) {
    ::unlink(tmp_.c_str());
    throw_errno("rename", dest);
  }
  if (sync_dir) fsync_dir(spool_.new_dir());
  return env_.id;
}

void SpoolWriter::abort() {
  if (fd_ < 0) return;
  ::close(fd_);
  fd_ = -1;
  ::unlink(tmp_.c_str());
}

}  // namespace listd
