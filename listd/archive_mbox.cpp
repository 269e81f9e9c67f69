// archive_mbox.cpp - see archive_mbox.hpp.
#include "listd/archive_mbox.hpp"

#include <SQLiteCpp/Statement.h>
#include <SQLiteCpp/Transaction.h>
#include <fcntl.h>
#include <malloc.h>
#include <unistd.h>

#include <cstdio>
#include <ctime>
#include <fstream>
#include <system_error>
#include <vector>

#include "listd/archive.hpp"
#include "listd/fsutil.hpp"
#include "listd/message.hpp"

namespace listd {
namespace {

bool is_from_line(std::string_view line) {
  return line.substr(0, 5) == "From ";
}

// mboxrd: ">From ", ">>From " ... lose one '>' on the way in and gain one on the way out.
bool quoted_from(std::string_view line) {
  std::size_t i = 0;
  while (i < line.size() && line[i] == '>') ++i;
  return line.substr(i, 5) == "From ";
}

// from_line_time - the asctime date at the end of "From sender Mon Feb  2 10:00:00 2026".
std::int64_t from_line_time(const std::string& line) {
  static const char* months[] = {"Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};
  // Find "Www Mmm dd hh:mm:ss yyyy" by scanning for a month name followed by a day and a time.
  for (std::size_t p = 5; p + 20 <= line.size(); ++p) {
    for (int m = 0; m < 12; ++m) {
      if (line.compare(p, 3, months[m]) != 0 || line[p + 3] != ' ') continue;
      int day = 0, hh = 0, mm = 0, ss = 0, year = 0;
      if (std::sscanf(line.c_str() + p + 4, "%d %d:%d:%d %d", &day, &hh, &mm, &ss, &year) != 5) continue;
      std::tm tm{};
      tm.tm_year = year - 1900;
      tm.tm_mon = m;
      tm.tm_mday = day;
      tm.tm_hour = hh;
      tm.tm_min = mm;
      tm.tm_sec = ss;
      auto t = ::timegm(&tm);
      return t > 0 ? t : 0;
    }
  }
  return 0;
}

std::string fnv_hex(std::string_view s) {
  std::uint64_t h = 1469598103934665603ULL;
  for (unsigned char c : s) {
    h ^= c;
    h *= 1099511628211ULL;
  }
  char buf[17];
  std::snprintf(buf, sizeof buf, "%016llx", static_cast<unsigned long long>(h));
  return buf;
}

struct Pending {
  std::string spool_id, rel, text;
  std::int64_t received;
};

void sync_filesystem(const std::filesystem::path& dir) {
  int fd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0) throw std::system_error(errno, std::generic_category(), dir.string());
  int rc = ::syncfs(fd);
  int err = errno;
  ::close(fd);
  if (rc != 0) throw std::system_error(err, std::generic_category(), "syncfs " + dir.string());
}

}  // namespace

ImportResult archive_import_mbox(SQLite::Database& db, const std::filesystem::path& archive_dir, const ListRow& list,
                                 const std::string& hostname, std::istream& in) {
  ImportResult r;
  // Parsing churns through big short-lived buffers; without this glibc returns the heap top to
  // the kernel and takes it back thousands of times (a profile showed brk as the top syscall).
  ::mallopt(M_TRIM_THRESHOLD, 128 * 1024 * 1024);
  ::mallopt(M_TOP_PAD, 16 * 1024 * 1024);
  ::mallopt(M_MMAP_THRESHOLD, 32 * 1024 * 1024);
  auto dir = archive_maildir(archive_dir, list);
  std::vector<Pending> batch;
  std::int64_t fallback = now_unix();

  auto flush = [&] {
    if (batch.empty()) return;
    sync_filesystem(dir);  // every file of the batch is on disk before it is indexed
    SQLite::Transaction tx(db, SQLite::TransactionBehavior::IMMEDIATE);
    for (auto& p : batch) {
      MessageInfo info = message_info(p.text);
      archive_index(db, list, p.spool_id, p.rel, info, p.received, p.text);
      ++r.imported;
    }
    tx.commit();
    batch.clear();
  };

  auto add = [&](std::string& text, std::int64_t received) {
    if (text.empty()) return;
    if (text.size() > kMaxImportMessage) {
      ++r.too_big;
      return;
    }
    std::string spool_id = "mbox-" + fnv_hex(text);
    {
      SQLite::Statement q(db, "SELECT 1 FROM archive WHERE list_id = ? AND spool_id = ?");
      q.bind(1, list.id);
      q.bind(2, spool_id);
      if (q.executeStep()) {
        ++r.already;
        return;
      }
    }
    for (auto& p : batch)
      if (p.spool_id == spool_id) {
        ++r.already;
        return;
      }
    if (received == 0) {
      auto info = message_info(std::string_view(text).substr(0, std::min<std::size_t>(text.size(), 64 * 1024)));
      received = info.date > 0 ? info.date : fallback;
    }
    std::string name =
        std::to_string(received) + ".M" + spool_id + "." + hostname + ",S=" + std::to_string(text.size()) + ":2,";
    auto tmp = dir / "tmp" / name;
    {
      std::ofstream f(tmp, std::ios::binary | std::ios::trunc);
      f.write(text.data(), static_cast<std::streamsize>(text.size()));
      f.close();
      if (!f) throw std::runtime_error("cannot write " + tmp.string());
    }
    std::filesystem::rename(tmp, dir / "cur" / name);
    batch.push_back({spool_id, list.address() + "/cur/" + name, std::move(text), received});
    if (batch.size() >= kImportBatch) flush();
  };

  std::string line, text;
  std::int64_t received = 0;
  bool in_message = false, prev_blank = true;
  while (std::getline(in, line)) {
    if (!line.empty() && line.back() == '\r') line.pop_back();
    if (is_from_line(line) && (prev_blank || !in_message)) {
      // The blank line before "From " belongs to the separator, not the message.
      if (in_message && !text.empty() && text.size() >= 2 && text[text.size() - 1] == '\n' &&
          text[text.size() - 2] == '\n')
        text.pop_back();
      add(text, received);
      text.clear();
      received = from_line_time(line);
      in_message = true;
      prev_blank = false;
      continue;
    }
    if (!in_message) {
      if (line.empty()) continue;
      throw std::runtime_error("not an mbox file: the first line does not start with \"From \"");
    }
    if (quoted_from(line) && line[0] == '>') line.erase(0, 1);
    text += line;
    text += '\n';
    prev_blank = line.empty();
  }
  if (in_message) {
    if (text.size() >= 2 && text[text.size() - 1] == '\n' && text[text.size() - 2] == '\n') text.pop_back();
    add(text, received);
  }
  flush();
  return r;
}

std::size_t archive_export_mbox(SQLite::Database& db, const std::filesystem::path& archive_dir, const ListRow& list,
                                std::ostream& out) {
  SQLite::Statement q(db, "SELECT path, from_addr, received FROM archive WHERE list_id = ? ORDER BY uid");
  q.bind(1, list.id);
  std::size_t n = 0;
  while (q.executeStep()) {
    std::string text = to_lf(read_file(archive_dir / q.getColumn(0).getString()));
    std::string from = q.getColumn(1).getString();
    if (from.empty() || from.find_first_of(" \t") != std::string::npos) from = "MAILER-DAEMON";
    std::time_t t = static_cast<std::time_t>(q.getColumn(2).getInt64());
    std::tm tm{};
    gmtime_r(&t, &tm);
    char date[64];
    std::strftime(date, sizeof date, "%a %b %e %H:%M:%S %Y", &tm);
    out << "From " << from << " " << date << "\n";
    std::size_t pos = 0;
    while (pos < text.size()) {
      auto nl = text.find('\n', pos);
      std::string_view l(text.data() + pos, (nl == std::string::npos ? text.size() : nl) - pos);
      if (quoted_from(l)) out << '>';
      out << l << "\n";
      pos = nl == std::string::npos ? text.size() : nl + 1;
    }
    out << "\n";
    ++n;
  }
  return n;
}

}  // namespace listd
