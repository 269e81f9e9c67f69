// intake_journal_test.cpp - the intake's group-commit journal (listd/intake_journal.hpp):
// concurrent commits all land in spool/new byte for byte; a crash (a forked child that
// _exit()s without any destructor) followed by the loss of the materialized files is
// repaired by recovery from the records after the checkpoint; a torn record ends the replay;
// checkpointed records and the stale records of a reused segment are never replayed.
#include <gtest/gtest.h>
#include <sys/wait.h>
#include <unistd.h>

#include <fstream>
#include <map>
#include <thread>

#include "listd/fsutil.hpp"
#include "listd/intake_journal.hpp"
#include "listd/spool.hpp"
#include "test_util.hpp"

using namespace listd;

namespace {

std::string make_entry(int n, std::size_t body = 200) {
  SpoolEnvelope env;
  env.via = "smtp";
  env.sender = "ana@mired.org";
  env.recipient = "mi_lista@lists.mired.org";
  std::string raw = "Subject: post " + std::to_string(n) + "\r\n\r\n" + std::string(body, 'a' + n % 26) + "\r\n";
  return spool_entry_bytes(env, raw);
}

IntakeJournal::Options small() {
  IntakeJournal::Options o;
  o.segment_size = 1 << 20;
  o.checkpoint_interval = std::chrono::hours(1);  // only explicit checkpoints in these tests
  return o;
}

// Files in spool/new: id -> bytes.
std::map<std::string, std::string> spooled(const Spool& sp) {
  std::map<std::string, std::string> out;
  for (auto& id : sp.pending()) out[id] = read_file(sp.new_dir() / id);
  return out;
}

// crash_after - run fn in a child that then dies without running destructors (as kill -9).
template <class F>
void crash_after(F fn) {
  pid_t pid = ::fork();
  ASSERT_GE(pid, 0);
  if (pid == 0) {
    try {
      fn();
    } catch (...) {
      ::_exit(3);
    }
    ::_exit(0);
  }
  int status = 0;
  ASSERT_EQ(::waitpid(pid, &status, 0), pid);
  ASSERT_TRUE(WIFEXITED(status));
  ASSERT_EQ(WEXITSTATUS(status), 0);
}

void remove_all_new(const Spool& sp) {
  for (auto& id : sp.pending()) std::filesystem::remove(sp.new_dir() / id);
}

}  // namespace

TEST(IntakeJournal, ConcurrentCommitsAllLandInSpoolNew) {
  test::TempDir dir;
  Spool sp(dir.path() / "spool");
  std::map<std::string, std::string> expect;
  std::mutex m;
  {
    IntakeJournal j(sp, small());
    std::vector<std::thread> ts;
    for (int t = 0; t < 8; ++t)
      ts.emplace_back([&, t] {
        for (int i = 0; i < 60; ++i) {
          std::vector<std::string> entries{make_entry(t * 100 + i, 3000 + i)};
          if (i % 7 == 0) entries.push_back(make_entry(t * 100 + i + 50));
          std::vector<std::string> copy = entries;
          j.commit(entries);
          std::lock_guard g(m);
          for (auto& e : copy) expect[spool_entry_id(e)] = e;
        }
      });
    for (auto& t : ts) t.join();
    EXPECT_EQ(spooled(sp), expect);  // 8 x 60 x ~3 KB: more than one 1 MiB segment
    j.checkpoint_now();
    EXPECT_LE(j.segments(), 4u);
  }
  for (auto& [id, bytes] : expect) EXPECT_EQ(sp.read(id).env.id, id);
  EXPECT_TRUE(std::filesystem::is_empty(sp.dir() / "tmp"));
}

TEST(IntakeJournal, RecoveryRestoresWhatTheCheckpointDidNotCover) {
  test::TempDir dir;
  Spool sp(dir.path() / "spool");
  std::vector<std::string> first{make_entry(1), make_entry(2)}, second{make_entry(3), make_entry(4), make_entry(5)};
  auto first_copy = first, second_copy = second;
  crash_after([&] {
    auto& j = *new IntakeJournal(sp, small());  // never destroyed: the child dies as with kill -9
    j.commit(first);
    j.checkpoint_now();  // entries 1-2 are durable in spool/new and behind the checkpoint
    j.commit(second);    // 3-5 only in the journal when the process dies
  });
  // A power loss could take the files that were renamed but not yet synced: drop them all.
  remove_all_new(sp);
  IntakeJournal j(sp, small());
  EXPECT_EQ(j.recovered(), 3u);
  std::map<std::string, std::string> expect;
  for (auto& e : second_copy) expect[spool_entry_id(e)] = e;
  EXPECT_EQ(spooled(sp), expect);
  (void)first_copy;
}

TEST(IntakeJournal, TornRecordEndsTheReplay) {
  test::TempDir dir;
  Spool sp(dir.path() / "spool");
  std::vector<std::string> entries{make_entry(1), make_entry(2), make_entry(3)};
  auto copy = entries;
  crash_after([&] {
    auto& j = *new IntakeJournal(sp, small());  // never destroyed: the child dies as with kill -9
    j.commit(entries);
  });
  remove_all_new(sp);
  // Flip one byte in the second record's payload: its crc no longer matches.
  std::filesystem::path seg;
  for (auto& f : std::filesystem::directory_iterator(sp.dir() / "journal"))
    if (std::filesystem::file_size(f.path()) > 0) {
      std::fstream io(f.path(), std::ios::in | std::ios::out | std::ios::binary);
      io.seekg(IntakeJournal::kHeaderSize + 4);
      unsigned char len[4];
      io.read(reinterpret_cast<char*>(len), 4);
      std::uint64_t first = len[0] | (len[1] << 8) | (len[2] << 16) | (static_cast<std::uint64_t>(len[3]) << 24);
      std::uint64_t second_payload =
          IntakeJournal::kHeaderSize + IntakeJournal::kRecordHeader + first + IntakeJournal::kRecordHeader;
      io.seekg(static_cast<std::streamoff>(second_payload + 30));
      char c = 0;
      io.read(&c, 1);
      if (!io) continue;  // the spare segment holds no record
      io.seekp(static_cast<std::streamoff>(second_payload + 30));
      c = static_cast<char>(c ^ 0x20);
      io.write(&c, 1);
      seg = f.path();
    }
  ASSERT_FALSE(seg.empty());
  IntakeJournal j(sp, small());
  EXPECT_EQ(j.recovered(), 1u);
  EXPECT_EQ(spooled(sp), (std::map<std::string, std::string>{{spool_entry_id(copy[0]), copy[0]}}));
}

TEST(IntakeJournal, ReusedSegmentsNeverReplayTheirOldRecords) {
  test::TempDir dir;
  Spool sp(dir.path() / "spool");
  std::string last_id;
  crash_after([&] {
    auto& j = *new IntakeJournal(sp, small());  // never destroyed: the child dies as with kill -9
    // About 3.5 MB through 1 MiB segments, checkpointing as we go: segments are reused.
    for (int i = 0; i < 140; ++i) {
      std::vector<std::string> e{make_entry(i, 25000)};
      j.commit(e);
      if (i % 10 == 9) j.checkpoint_now();
    }
    if (j.segments() > 4) ::_exit(4);
    j.checkpoint_now();
    std::vector<std::string> e{make_entry(999)};
    j.commit(e);  // the only record after the checkpoints
  });
  auto before = spooled(sp);
  EXPECT_EQ(before.size(), 141u);
  remove_all_new(sp);
  IntakeJournal j(sp, small());
  EXPECT_EQ(j.recovered(), 1u);
  auto after = spooled(sp);
  ASSERT_EQ(after.size(), 1u);
  EXPECT_NE(after.begin()->second.find("Subject: post 999\n"), std::string::npos);
  // Recovery leaves every segment empty under a new generation: a second start replays nothing.
  remove_all_new(sp);
  IntakeJournal again(sp, small());
  EXPECT_EQ(again.recovered(), 0u);
}

TEST(IntakeJournal, OversizeEntryIsRefusedBeforeAnythingIsWritten) {
  test::TempDir dir;
  Spool sp(dir.path() / "spool");
  IntakeJournal j(sp, small());
  std::vector<std::string> e{make_entry(1, 2 << 20)};
  EXPECT_THROW(j.commit(e), std::system_error);
  EXPECT_TRUE(sp.pending().empty());
}
