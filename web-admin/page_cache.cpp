// page_cache.cpp - see page_cache.hpp.
#include "web-admin/page_cache.hpp"

#include <cstdio>
#include <functional>

namespace listd::web {

namespace {

std::string hex64(std::uint64_t v) {
  char buf[17];
  std::snprintf(buf, sizeof buf, "%016llx", static_cast<unsigned long long>(v));
  return buf;
}

}  // namespace

std::shared_ptr<CachedPage> CachedPage::cut(const std::string& body, std::string_view marker) {
  auto p = std::make_shared<CachedPage>();
  if (marker.empty()) {
    p->body = body;
  } else {
    p->body.reserve(body.size());
    std::size_t from = 0;
    for (auto at = body.find(marker); at != std::string::npos; at = body.find(marker, from)) {
      p->body.append(body, from, at - from);
      p->holes.push_back(p->body.size());
      from = at + marker.size();
    }
    p->body.append(body, from, std::string::npos);
  }
  p->etag_base = hex64(std::hash<std::string>{}(p->body));
  return p;
}

std::string CachedPage::materialize(std::string_view token) const {
  if (holes.empty()) return body;
  std::string out;
  out.reserve(body.size() + holes.size() * token.size());
  std::size_t from = 0;
  for (auto at : holes) {
    out.append(body, from, at - from).append(token);
    from = at;
  }
  out.append(body, from, std::string::npos);
  return out;
}

std::string CachedPage::etag(std::string_view token) const {
  if (holes.empty()) return "\"" + etag_base + "\"";
  return "\"" + etag_base + "-" + hex64(std::hash<std::string_view>{}(token)) + "\"";
}

void CachedPage::confirm(std::uint64_t gen) const {
  auto seen = generation.load();
  while (seen < gen && !generation.compare_exchange_weak(seen, gen)) {
  }
}

std::shared_ptr<const CachedPage> PageCache::get(const std::string& key, std::uint64_t generation,
                                                 const StillValid& still_valid) {
  std::shared_ptr<const CachedPage> page;
  {
    std::lock_guard lock(mu_);
    auto it = map_.find(key);
    if (it == map_.end()) {
      ++stats_.misses;
      return nullptr;
    }
    const CachedPage& p = *it->second.page;
    bool expired = std::chrono::steady_clock::now() >= p.expires;
    if (!expired && p.generation.load() == generation) {
      lru_.splice(lru_.begin(), lru_, it->second.lru);
      ++stats_.hits;
      return it->second.page;
    }
    if (expired || p.validator.empty() || !still_valid) {
      erase_locked(it);
      ++stats_.misses;
      return nullptr;
    }
    page = it->second.page;
  }
  // Revalidation runs queries: other threads keep using the cache meanwhile.
  Validity v = still_valid(*page);
  std::lock_guard lock(mu_);
  auto it = map_.find(key);
  if (v == Validity::no) {
    ++stats_.misses;
    return nullptr;
  }
  if (v == Validity::good) page->confirm(generation);
  if (it != map_.end() && it->second.page == page) lru_.splice(lru_.begin(), lru_, it->second.lru);
  ++stats_.hits;
  return page;
}

void PageCache::put(const std::string& key, std::shared_ptr<const CachedPage> page) {
  std::size_t c = cost(key, *page);
  std::lock_guard lock(mu_);
  if (auto it = map_.find(key); it != map_.end()) erase_locked(it);
  if (c > max_bytes_ / 4) return;
  lru_.push_front(key);
  map_.emplace(key, Slot{std::move(page), lru_.begin()});
  bytes_ += c;
  ++stats_.stores;
  while (bytes_ > max_bytes_ && !lru_.empty()) {
    erase_locked(map_.find(lru_.back()));
    ++stats_.evictions;
  }
}

void PageCache::clear() {
  std::lock_guard lock(mu_);
  map_.clear();
  lru_.clear();
  bytes_ = 0;
}

PageCache::Stats PageCache::stats() const {
  std::lock_guard lock(mu_);
  Stats s = stats_;
  s.entries = map_.size();
  s.bytes = bytes_;
  return s;
}

void PageCache::erase_locked(std::unordered_map<std::string, Slot>::iterator it) {
  bytes_ -= cost(it->first, *it->second.page);
  lru_.erase(it->second.lru);
  map_.erase(it);
}

SingleFlight::Ticket::~Ticket() {
  {
    std::lock_guard lock(owner_.mu_);
    owner_.busy_.erase(key_);
  }
  owner_.cv_.notify_all();
}

std::unique_ptr<SingleFlight::Ticket> SingleFlight::enter(const std::string& key, std::chrono::milliseconds max_wait) {
  std::unique_lock lock(mu_);
  if (!cv_.wait_for(lock, max_wait, [&] { return busy_.count(key) == 0; })) return nullptr;
  busy_.insert(key);
  return std::make_unique<Ticket>(*this, key);
}

std::size_t SingleFlight::busy() const {
  std::lock_guard lock(mu_);
  return busy_.size();
}

}  // namespace listd::web
