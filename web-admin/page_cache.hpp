// page_cache.hpp - rendered pages kept for anonymous GETs of the public pages (list page,
// archive index, month and message pages), so a busy archive is served without SQLite queries
// or template work, and SingleFlight (one render of a page at a time). Filled and read by
// web-admin/app.cpp only.
//
// An entry is the page as rendered for an anonymous visitor, with every occurrence of the
// anonymous CSRF token cut out (`holes`): each visitor gets their own token put back in
// (materialize). Entries carry the database generation they were last known good at, an
// expiry and optionally a validator (what the page was rendered from, e.g. the list's settings
// and the month's newest archive row): get() with another generation asks the caller whether
// the page still holds (the caller compares validators), and a page that does not is a miss
// but stays until a new render replaces it; an entry without a validator is dropped at once
// (the caller bumps the generation whenever the database changes). Bounded by max_bytes of bodies, least recently used
// first out. Thread-safe (one mutex, not held while the caller revalidates); no errors: a miss is nullptr.
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <list>
#include <memory>
#include <mutex>
#include <set>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

namespace listd::web {

struct CachedPage {
  std::string body;                // the page with the token cut out
  std::vector<std::size_t> holes;  // offsets in `body` where the visitor's token goes, ascending
  std::string content_type;
  std::string etag_base;                           // a hash of `body`: equal pages, equal tags
  bool needs_token = false;                        // the page asked for a token (the visitor gets a cookie)
  std::string validator;                           // what the page was rendered from; empty: good at `generation` only
  std::chrono::steady_clock::time_point stored{};  // when its render ended (set by the caller)
  // The newest database generation the page is known good at (rendered or revalidated at).
  mutable std::atomic<std::uint64_t> generation{0};
  std::chrono::steady_clock::time_point expires = std::chrono::steady_clock::time_point::max();

  // cut - a page from BODY with every MARKER taken out and remembered as a hole.
  static std::shared_ptr<CachedPage> cut(const std::string& body, std::string_view marker);
  // materialize - the body with TOKEN in every hole.
  std::string materialize(std::string_view token) const;
  // etag - the entity tag for a visitor holding TOKEN (quoted; the token part only when the
  // page has holes).
  std::string etag(std::string_view token) const;
  // confirm - the page was found still good at GEN (the generation only moves forward).
  void confirm(std::uint64_t gen) const;
};

class PageCache {
 public:
  explicit PageCache(std::size_t max_bytes) : max_bytes_(max_bytes) {}
  PageCache(const PageCache&) = delete;
  PageCache& operator=(const PageCache&) = delete;

  // What STILL_VALID says of a page known good at another generation: it still holds (good:
  // confirmed at the new generation), it may answer this one request only (serve_once: the
  // caller accepts it, others still check), or not (no: a miss; the page stays, as the copy a
  // later caller may accept or a render replaces).
  enum class Validity { good, serve_once, no };
  using StillValid = std::function<Validity(const CachedPage&)>;
  // get - the entry for KEY if it has not expired and is known good at GENERATION; or, known
  // good at another generation only, if it has a validator and STILL_VALID (called without the
  // lock) accepts it. Else nullptr (an expired page, or one without a validator, is dropped).
  std::shared_ptr<const CachedPage> get(const std::string& key, std::uint64_t generation,
                                        const StillValid& still_valid = {});
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

// SingleFlight - one render of a page at a time: a request that misses the cache enters the
// flight for its key, waiting (at most MAX_WAIT) while another thread renders the same key, and
// then looks in the cache again; it renders itself only when the page still is not there. The
// ticket ends the flight when destroyed (after the page was stored). Thread-safe.
class SingleFlight {
 public:
  class Ticket {
   public:
    Ticket(SingleFlight& owner, std::string key) : owner_(owner), key_(std::move(key)) {}
    Ticket(const Ticket&) = delete;
    Ticket& operator=(const Ticket&) = delete;
    ~Ticket();

   private:
    SingleFlight& owner_;
    std::string key_;
  };
  // enter - wait until no other ticket for KEY is held (or MAX_WAIT has passed: then nullptr,
  // and the caller goes ahead without one), and take it.
  std::unique_ptr<Ticket> enter(const std::string& key, std::chrono::milliseconds max_wait);
  std::size_t busy() const;

 private:
  mutable std::mutex mu_;
  std::condition_variable cv_;
  std::set<std::string> busy_;
};

}  // namespace listd::web
