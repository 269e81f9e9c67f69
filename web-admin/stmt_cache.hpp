// stmt_cache.hpp - prepared SQLite statements kept for reuse on one connection: the web
// pages run the same few queries thousands of times a second, and preparing them (parsing
// SQL, resolving the schema) cost more than running them.
//
// A StmtCache belongs to one SQLite::Database and one thread (web-admin/app.cpp keeps one
// beside each worker thread's connection, and destroys it before the connection). get(sql)
// lends the cached statement; the lease resets it and clears its bindings when it ends, so
// no statement keeps a read transaction open between requests. A statement already lent
// (the same SQL used twice at once) is prepared afresh for the second user. Errors:
// SQLite::Exception from preparing, as SQLite::Statement.
#pragma once

#include <SQLiteCpp/Database.h>
#include <SQLiteCpp/Statement.h>

#include <map>
#include <memory>
#include <string>

namespace listd::web {

class StmtCache {
 public:
  explicit StmtCache(SQLite::Database& db) : db_(db) {}
  StmtCache(const StmtCache&) = delete;
  StmtCache& operator=(const StmtCache&) = delete;

  class Lease {
   public:
    Lease(SQLite::Statement* st, std::unique_ptr<SQLite::Statement> own, bool* busy)
        : st_(st), own_(std::move(own)), busy_(busy) {}
    Lease(Lease&& o) noexcept : st_(o.st_), own_(std::move(o.own_)), busy_(o.busy_) {
      o.st_ = nullptr;
      o.busy_ = nullptr;
    }
    Lease(const Lease&) = delete;
    Lease& operator=(const Lease&) = delete;
    Lease& operator=(Lease&&) = delete;
    ~Lease() {
      if (!st_ || own_) return;
      try {
        st_->reset();  // may report the last step's error again: it was already thrown
        st_->clearBindings();
      } catch (...) {
      }
      *busy_ = false;
    }
    SQLite::Statement& operator*() { return *st_; }
    SQLite::Statement* operator->() { return st_; }

   private:
    SQLite::Statement* st_;
    std::unique_ptr<SQLite::Statement> own_;  // set: a statement of its own (nested use, no cache)
    bool* busy_;
  };

  // fresh - a statement prepared for this use only (no cache at hand).
  static Lease fresh(SQLite::Database& db, const std::string& sql) {
    auto own = std::make_unique<SQLite::Statement>(db, sql);
    auto* p = own.get();
    return Lease(p, std::move(own), nullptr);
  }

  Lease get(const std::string& sql) {
    auto& e = cache_[sql];
    if (!e.st) e.st = std::make_unique<SQLite::Statement>(db_, sql);
    if (e.busy) return fresh(db_, sql);
    e.busy = true;
    return Lease(e.st.get(), nullptr, &e.busy);
  }

 private:
  struct Entry {
    std::unique_ptr<SQLite::Statement> st;
    bool busy = false;
  };
  SQLite::Database& db_;
  std::map<std::string, Entry> cache_;
};

// lease - from CACHE when there is one, else a fresh statement on DB.
inline StmtCache::Lease lease(StmtCache* cache, SQLite::Database& db, const std::string& sql) {
  return cache ? cache->get(sql) : StmtCache::fresh(db, sql);
}

}  // namespace listd::web
