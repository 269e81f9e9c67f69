// archive_mbox.cpp - see archive_mbox.hpp.
#include "listd/archive_mbox.hpp"

#include <SQLiteCpp/Statement.h>
#include <SQLiteCpp/Transaction.h>
#include <fcntl.h>
#include <malloc.h>
#include <unistd.h>

#include <condition_variable>
#include <cstdio>
#include <cstdlib>
#include <ctime>
#include <deque>
#include <exception>
#include <fstream>
#include <mutex>
#include <system_error>
#include <thread>
#include <unordered_set>
#include <vector>

#include "listd/archive.hpp"
#include "listd/archive_search.hpp"
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

std::uint64_t fnv(std::string_view s) {
  std::uint64_t h = 1469598103934665603ULL;
  for (unsigned char c : s) {
    h ^= c;
    h *= 1099511628211ULL;
  }
  return h;
}

std::string hex64(std::uint64_t h) {
  char buf[17];
  std::snprintf(buf, sizeof buf, "%016llx", static_cast<unsigned long long>(h));
  return buf;
}

void sync_filesystem(const std::filesystem::path& dir) {
  int fd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0) throw std::system_error(errno, std::generic_category(), dir.string());
  int rc = ::syncfs(fd);
  int err = errno;
  ::close(fd);
  if (rc != 0) throw std::system_error(err, std::generic_category(), "syncfs " + dir.string());
}

// write_plain - the file's bytes, without fsync: the batch's syncfs makes them durable.
void write_plain(const std::filesystem::path& path, std::string_view data) {
  int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
  if (fd < 0) throw std::system_error(errno, std::generic_category(), "create " + path.string());
  while (!data.empty()) {
    auto n = ::write(fd, data.data(), data.size());
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) {
      int err = errno;
      ::close(fd);
      throw std::system_error(err, std::generic_category(), "write " + path.string());
    }
    data.remove_prefix(static_cast<std::size_t>(n));
  }
  if (::close(fd) != 0) throw std::system_error(errno, std::generic_category(), "close " + path.string());
}

// One parsed post, its file already in cur/ (not yet durable), ready to be indexed.
struct Prepared {
  std::string spool_id, name, rel;
  std::string text;  // until the writer thread has put it in the Maildir
  std::int64_t received = 0;
  MessageInfo info;
  AccessFacts facts;
};

struct Batch {
  std::vector<Prepared> posts;
  std::size_t already = 0, too_big = 0, bytes = 0;
};

constexpr std::size_t kMaxBatchBytes = 64 * 1024 * 1024;  // parsed facts held per batch
constexpr std::size_t kQueuedBatches = 2;                 // parsed batches waiting for SQLite

// Parsing and file writing run on a second thread while this one writes SQLite: the two take
// about the same CPU time, so on two cores the import takes about half as long.
class BatchQueue {
 public:
  // push - false when the consumer has given up (then the producer stops).
  bool push(Batch b) {
    std::unique_lock lock(m_);
    room_.wait(lock, [&] { return q_.size() < kQueuedBatches || stop_; });
    if (stop_) return false;
    q_.push_back(std::move(b));
    ready_.notify_one();
    return true;
  }
  void finish(std::exception_ptr e = nullptr) {
    std::lock_guard lock(m_);
    done_ = true;
    error_ = e;
    ready_.notify_one();
  }
  void stop() {
    std::lock_guard lock(m_);
    stop_ = true;
    room_.notify_all();
  }
  // pop - false at the end of the input; rethrows the producer's error.
  bool pop(Batch& out) {
    std::unique_lock lock(m_);
    ready_.wait(lock, [&] { return !q_.empty() || done_; });
    if (q_.empty()) {
      if (error_) std::rethrow_exception(error_);
      return false;
    }
    out = std::move(q_.front());
    q_.pop_front();
    room_.notify_one();
    return true;
  }

 private:
  std::mutex m_;
  std::condition_variable ready_, room_;
  std::deque<Batch> q_;
  bool done_ = false, stop_ = false;
  std::exception_ptr error_;
};

// split_mbox - calls add(text, received) for every message of an mboxrd stream.
template <typename Add>
void split_mbox(std::istream& in, Add&& add) {
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
      if (in_message && !add(text, received)) return;
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
}

// The SQLite side: statements prepared once, one transaction per batch.
class BatchIndexer {
 public:
  BatchIndexer(SQLite::Database& db, const ListRow& list)
      : db_(db),
        list_(list),
        next_uid_(db, "SELECT next_uid FROM lists WHERE id = ?"),
        set_uid_(db, "UPDATE lists SET next_uid = ? WHERE id = ?"),
        archive_(db,
                 "INSERT INTO archive(list_id, uid, spool_id, message_id, date, received, from_addr, from_name, "
                 "subject, in_reply_to, refs, size, path) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?) "
                 "ON CONFLICT(list_id, spool_id) DO NOTHING"),
        access_(db, kInsertAccessSql),
        fts_(db, kInsertFtsSql) {}

  // index - the batch's files must be durable already. Returns how many were added.
  std::size_t index(Batch& b) {
    SQLite::Transaction tx(db_, SQLite::TransactionBehavior::IMMEDIATE);
    next_uid_.reset();
    next_uid_.bind(1, list_.id);
    if (!next_uid_.executeStep()) throw std::runtime_error("list " + list_.address() + " is gone");
    std::int64_t uid = next_uid_.getColumn(0).getInt64();
    std::vector<std::int64_t> ids(b.posts.size(), 0);
    for (std::size_t k = 0; k < b.posts.size(); ++k) {
      auto& p = b.posts[k];
      std::string refs;
      for (auto& r : p.info.references) refs += (refs.empty() ? "" : " ") + r;
      archive_.reset();
      archive_.bind(1, list_.id);
      archive_.bind(2, uid);
      archive_.bind(3, p.spool_id);
      archive_.bind(4, p.info.message_id);
      archive_.bind(5, static_cast<std::int64_t>(p.info.date != 0 ? p.info.date : p.received));
      archive_.bind(6, p.received);
      archive_.bind(7, p.info.from_address);
      archive_.bind(8, p.info.from_name);
      archive_.bind(9, p.info.subject);
      archive_.bind(10, p.info.in_reply_to);
      archive_.bind(11, refs);
      archive_.bind(12, static_cast<std::int64_t>(p.info.size));
      archive_.bind(13, p.rel);
      if (archive_.exec() == 0) {  // another import added it meanwhile
        ++b.already;
        continue;
      }
      ++uid;
      ids[k] = db_.getLastInsertRowid();
      if (!insert_access_row(access_, ids[k], p.facts)) ids[k] = 0;
    }
    set_uid_.reset();
    set_uid_.bind(1, uid);
    set_uid_.bind(2, list_.id);
    set_uid_.exec();
    // Full-text rows last (see archive_search.hpp): FTS5 then builds one segment per batch.
    std::size_t added = 0;
    for (std::size_t k = 0; k < b.posts.size(); ++k) {
      if (ids[k] == 0) continue;
      insert_fts_row(fts_, ids[k], b.posts[k].facts);
      ++added;
    }
    tx.commit();
    return added;
  }

 private:
  SQLite::Database& db_;
  const ListRow& list_;
  SQLite::Statement next_uid_, set_uid_, archive_, access_, fts_;
};

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
  const std::int64_t fallback = now_unix();

  // Posts imported before (by this or an earlier run) are known by the hash in their id.
  std::unordered_set<std::uint64_t> known;
  {
    SQLite::Statement q(db, "SELECT spool_id FROM archive WHERE list_id = ? AND spool_id LIKE 'mbox-%'");
    q.bind(1, list.id);
    while (q.executeStep()) {
      std::string id = q.getColumn(0).getString();
      if (id.size() == 21) known.insert(std::strtoull(id.c_str() + 5, nullptr, 16));
    }
  }

  // Three stages on three threads, one batch at a time flowing through two bounded queues:
  // split + parse (GMime, ENVELOPE, BODYSTRUCTURE, search text), then write the files, then
  // SQLite. They take similar CPU time, so on two cores the import takes about half as long.
  BatchQueue parsed, written;
  std::thread parser([&] {
    try {
      Batch batch;
      split_mbox(in, [&](std::string& text, std::int64_t received) {
        if (text.empty()) return true;
        if (text.size() > kMaxImportMessage) {
          ++batch.too_big;
          return true;
        }
        std::uint64_t h = fnv(text);
        if (!known.insert(h).second) {
          ++batch.already;
          return true;
        }
        Prepared p;
        p.spool_id = "mbox-" + hex64(h);
        p.info = message_info(text);
        p.received = received != 0 ? received : (p.info.date > 0 ? p.info.date : fallback);
        p.name = std::to_string(p.received) + ".M" + p.spool_id + "." + hostname + ",S=" + std::to_string(text.size()) +
                 ":2,";
        p.rel = list.address() + "/cur/" + p.name;
        p.facts = access_facts(text, p.info);
        batch.bytes += 2 * text.size() + p.facts.bodystructure.size();
        p.text = std::move(text);
        text = std::string();
        batch.posts.push_back(std::move(p));
        if (batch.posts.size() >= kImportBatch || batch.bytes >= kMaxBatchBytes) {
          if (!parsed.push(std::move(batch))) return false;
          batch = Batch{};
        }
        return true;
      });
      if (!batch.posts.empty() || batch.already || batch.too_big) parsed.push(std::move(batch));
      parsed.finish();
    } catch (...) {
      parsed.finish(std::current_exception());
    }
  });
  std::thread writer([&] {
    try {
      Batch b;
      while (parsed.pop(b)) {
        for (auto& p : b.posts) {
          // Maildir: write in tmp/, rename into cur/ (a reader never sees half a file).
          auto tmp = dir / "tmp" / p.name;
          write_plain(tmp, p.text);
          if (::rename(tmp.c_str(), (dir / "cur" / p.name).c_str()) != 0)
            throw std::system_error(errno, std::generic_category(), "rename " + tmp.string());
          p.text = std::string();
        }
        if (!written.push(std::move(b))) break;
      }
      written.finish();
    } catch (...) {
      written.finish(std::current_exception());
    }
    parsed.stop();
  });
  struct Joiner {
    BatchQueue &a, &b;
    std::thread &t1, &t2;
    ~Joiner() {
      b.stop();
      a.stop();
      t2.join();
      t1.join();
    }
  } joiner{parsed, written, parser, writer};

  BatchIndexer indexer(db, list);
  Batch b;
  while (written.pop(b)) {
    // Crash safety: every file of the batch is on disk (data and directory entries: syncfs
    // flushes the whole filesystem) before the transaction that points to them commits.
    if (!b.posts.empty()) sync_filesystem(dir);
    if (!b.posts.empty()) r.imported += indexer.index(b);
    r.already += b.already;
    r.too_big += b.too_big;
  }
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
