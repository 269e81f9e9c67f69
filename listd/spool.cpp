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

}  // namespace

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
  env_.id = spool_new_id();
  if (env_.received == 0)
    env_.received =
        std::chrono::duration_cast<std::chrono::seconds>(std::chrono::system_clock::now().time_since_epoch()).count();
  tmp_ = spool_.dir() / "tmp" / env_.id;
  fd_ = ::open(tmp_.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
  if (fd_ < 0) throw_errno("create", tmp_);
  std::string hdr(kMagic);
  hdr += "id: " + env_.id + "\n";
  hdr += "received: " + std::to_string(env_.received) + "\n";
  hdr += "via: " + header_value(env_.via) + "\n";
  hdr += "sender: " + header_value(env_.sender) + "\n";
  hdr += "recipient: " + header_value(env_.recipient) + "\n";
  hdr += "size: ";
  size_offset_ = hdr.size();
  hdr += "00000000000000000000\n\n";
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
  for (char c : bytes) {
    if (pending_cr_) {
      pending_cr_ = false;
      if (c != '\n') {
        buf_.push_back('\r');
        ++size_;
      }
    }
    if (c == '\r') {
      pending_cr_ = true;
      continue;
    }
    buf_.push_back(c);
    ++size_;
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
  char digits[32];
  std::snprintf(digits, sizeof digits, "%020llu", static_cast<unsigned long long>(size_));
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
