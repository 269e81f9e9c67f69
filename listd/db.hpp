// db.hpp - the SQLite database: open with listd's pragmas, numbered schema migrations.
//
// Every process (daemon threads, listctl) opens its own connection. WAL journal, FULL
// synchronous (a commit is on disk before we acknowledge anything, SECURITY P1), foreign
// keys on, a busy timeout so the CLI works while the daemon runs.
// Migrations live in db.cpp as an ordered list; PRAGMA user_version records the last one.
#pragma once

#include <SQLiteCpp/Database.h>

#include <filesystem>
#include <memory>
#include <string>

namespace listd {

// db_open - open (creating if `create`) and migrate to the newest schema. Throws
// SQLite::Exception or std::runtime_error with the path in the message.
std::unique_ptr<SQLite::Database> db_open(const std::filesystem::path& path, bool create = false);

// db_schema_version - the newest migration number this build knows.
int db_schema_version();

// WriteTx - a write transaction that nests: at top level BEGIN IMMEDIATE (take the write lock
// up front, so WAL readers never fail to upgrade), inside another transaction a SAVEPOINT.
// Rolls back in the destructor unless commit() was called.
class WriteTx {
 public:
  explicit WriteTx(SQLite::Database& db);
  ~WriteTx();
  WriteTx(const WriteTx&) = delete;
  WriteTx& operator=(const WriteTx&) = delete;
  void commit();

 private:
  SQLite::Database& db_;
  bool nested_ = false;
  bool done_ = false;
  std::string name_;
};

}  // namespace listd
