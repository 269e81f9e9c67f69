// fsutil.cpp - see fsutil.hpp.
#include "listd/fsutil.hpp"

#include <fcntl.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <stdexcept>
#include <system_error>

namespace listd {
namespace {

[[noreturn]] void throw_errno(const std::string& what, const std::filesystem::path& p) {
  throw std::system_error(errno, std::generic_category(), what + " " + p.string());
}

void write_all(int fd, std::string_view data, const std::filesystem::path& p) {
  while (!data.empty()) {
    ssize_t n = ::write(fd, data.data(), data.size());
    if (n < 0) {
      if (errno == EINTR) continue;
      throw_errno("write", p);
    }
    data.remove_prefix(static_cast<std::size_t>(n));
  }
}

}  // namespace

void make_private_dir(const std::filesystem::path& dir) {
  std::error_code ec;
  if (std::filesystem::is_directory(dir, ec)) return;
  if (dir.has_parent_path() && dir.parent_path() != dir) make_private_dir(dir.parent_path());
  if (::mkdir(dir.c_str(), 0700) != 0 && errno != EEXIST) throw_errno("mkdir", dir);
}

void fsync_dir(const std::filesystem::path& dir) {
  int fd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0) throw_errno("open dir", dir);
  if (::fsync(fd) != 0) {
    int e = errno;
    ::close(fd);
    errno = e;
    throw_errno("fsync dir", dir);
  }
  ::close(fd);
}

namespace {
thread_local SyncBatch* t_batch = nullptr;
}  // namespace

SyncBatch::SyncBatch() {
  if (t_batch != nullptr) throw std::logic_error("SyncBatch: one per thread");
  t_batch = this;
}

SyncBatch::~SyncBatch() {
  for (auto& f : fs_) ::close(f.second);
  t_batch = nullptr;
}

SyncBatch* SyncBatch::active() {
  return t_batch;
}

void SyncBatch::note(const std::filesystem::path& dir) {
  struct stat st {};
  if (::stat(dir.c_str(), &st) != 0) throw_errno("stat", dir);
  for (auto& f : fs_)
    if (f.first == st.st_dev) return;
  int fd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0) throw_errno("open dir", dir);
  fs_.emplace_back(st.st_dev, fd);
}

void SyncBatch::sync() {
  for (auto& f : fs_)
    if (::syncfs(f.second) != 0) throw std::system_error(errno, std::generic_category(), "syncfs");
}

void write_durable(const std::filesystem::path& tmp_dir, const std::filesystem::path& final_dir,
                   const std::string& name, const std::vector<std::string_view>& parts) {
  auto tmp = tmp_dir / (name + ".tmp" + random_hex(4));
  int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
  if (fd < 0) throw_errno("create", tmp);
  SyncBatch* batch = SyncBatch::active();
  try {
    for (auto part : parts) write_all(fd, part, tmp);
    if (batch == nullptr && ::fsync(fd) != 0) throw_errno("fsync", tmp);
    if (::close(fd) != 0) {
      fd = -1;
      throw_errno("close", tmp);
    }
    fd = -1;
    auto dest = final_dir / name;
    if (::rename(tmp.c_str(), dest.c_str()) != 0) throw_errno("rename to", dest);
    if (batch != nullptr)
      batch->note(final_dir);
    else
      fsync_dir(final_dir);
  } catch (...) {
    if (fd >= 0) ::close(fd);
    ::unlink(tmp.c_str());
    throw;
  }
}

std::string read_file(const std::filesystem::path& p) {
  int fd = ::open(p.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) throw_errno("open", p);
  std::string out;
  struct stat st {};
  if (::fstat(fd, &st) == 0 && st.st_size > 0) out.reserve(static_cast<std::size_t>(st.st_size));
  char buf[65536];
  for (;;) {
    ssize_t n = ::read(fd, buf, sizeof buf);
    if (n < 0) {
      if (errno == EINTR) continue;
      int e = errno;
      ::close(fd);
      errno = e;
      throw_errno("read", p);
    }
    if (n == 0) break;
    out.append(buf, static_cast<std::size_t>(n));
  }
  ::close(fd);
  return out;
}

void unlink_durable(const std::filesystem::path& p) {
  if (::unlink(p.c_str()) != 0 && errno != ENOENT) throw_errno("unlink", p);
  if (auto* batch = SyncBatch::active())
    batch->note(p.parent_path());
  else
    fsync_dir(p.parent_path());
}

std::string random_hex(std::size_t bytes) {
  std::string raw(bytes, '\0');
  std::size_t got = 0;
  while (got < bytes) {
    ssize_t n = ::getrandom(raw.data() + got, bytes - got, 0);
    if (n < 0) {
      if (errno == EINTR) continue;
      throw std::system_error(errno, std::generic_category(), "getrandom");
    }
    got += static_cast<std::size_t>(n);
  }
  static const char* hex = "0123456789abcdef";
  std::string out;
  out.reserve(bytes * 2);
  for (unsigned char c : raw) {
    out.push_back(hex[c >> 4]);
    out.push_back(hex[c & 15]);
  }
  return out;
}

std::string check_data_dir(const std::filesystem::path& dir) {
  struct stat st {};
  if (::stat(dir.c_str(), &st) != 0) {
    if (errno == ENOENT) return {};
    return "cannot stat data dir " + dir.string() + ": " + std::system_category().message(errno);
  }
  if (!S_ISDIR(st.st_mode)) return "data dir " + dir.string() + " is not a directory";
  if (st.st_mode & (S_IWGRP | S_IWOTH))
    return "data dir " + dir.string() + " is group- or world-writable (mode " + std::to_string((st.st_mode >> 6) & 7) +
           std::to_string((st.st_mode >> 3) & 7) + std::to_string(st.st_mode & 7) + "); run: chmod 700 " + dir.string();
  if (::access(dir.c_str(), R_OK | W_OK | X_OK) != 0)
    return "data dir " + dir.string() + " is not readable and writable by this user";
  return {};
}

}  // namespace listd
