// page_cache.hpp - rendered pages kept for anonymous GETs of the public pages (list page,
// archive index, month and message pages), so a busy archive is served without SQLite queries
// or template work. Filled and read by web-admin/app.cpp only.
//
// An entry is the page as rendered for an anonymous visitor, with every occurrence of the
// anonymous CSRF token cut out (`holes`): each visitor gets their own token put back in
// (materialize). Entries carry the database generation they were rendered at and an
// expiry; get() with another generation or after the expiry drops the entry (the caller
// bumps the generation whenever the database changes). Bounded by kMaxBytes of bodies,
// least recently used first out. Thread-safe (one mutex); no errors: a miss is nullptr.
#pragma once

#include <chrono>
#include <cstdint>
#include <list>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

namespace listd::web {

struct CachedPage {
  std::string body;                // the page with the token cut out
  std::vector<std::size_t> holes;  // offsets in `body` where the visitor's token goes, ascending
  std::string content_type;
  std::string etag_base;         // a hash of `body`: equal pages, equal tags
  bool needs_token = false;      // the page asked for a token (the visitor gets a cookie)
  std::uint64_t generation = 0;  // database generation when rendered
  std::chrono::steady_clock::time_point expires = std::chrono::steady_clock::time_point::max();

  // cut - a page from BODY with every MARKER taken out and remembered as a hole.
  static std::shared_ptr<CachedPage> cut(const std::string& body, std::string_view marker);
  // materialize - the body with TOKEN in every hole.
  std::string materialize(std::string_view token) const;
  // etag - the entity tag for a visitor holding TOKEN (quoted; the token part only when the
  // page has holes).
  std::string etag(std::string_view token) const;
};

class PageCache {
 public:
  explicit PageCache(std::size_t max_bytes) : max_bytes_(max_bytes) {}
  PageCache(const PageCache&) = delete;
  PageCache& operator=(const PageCache&) = delete;

  // get - the entry for KEY if it was rendered at GENERATION and has not expired, else
  // nullptr (dropping a stale entry).
  std::shared_ptr<const CachedPage> get(const std::string& key, std::uint64_t generation);
  // put - store PAGE under KEY (replacing), then evict least recently used entries down to
  // max_bytes. A page bigger than a quarter of max_bytes is not kept.
  void put(const std::string& key, std::shared_ptr<const CachedPage> page);
  void clear();

  struct Stats {
    std::uint64_t hits = 0, misses = 0, stores = 0, evictions = 0;
    std::size_t entries = 0, bytes = 0;
  };
  Stats stats() const;

 private:
  struct Slot {
    std::shared_ptr<const CachedPage> page;
    std::list<std::string>::iterator lru;  // position in lru_ (front = most recent)
  };
  static std::size_t cost(const std::string& key, const CachedPage& p) {
    return key.size() + p.body.size() + p.holes.size() * sizeof(std::size_t) + 256;
  }
  void erase_locked(std::unordered_map<std::string, Slot>::iterator it);

  const std::size_t max_bytes_;
  mutable std::mutex mu_;
  std::unordered_map<std::string, Slot> map_;
  std::list<std::string> lru_;
  std::size_t bytes_ = 0;
  Stats stats_;
};

}  // namespace listd::web
