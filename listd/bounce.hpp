// bounce.hpp - is this message a bounce, for which addresses, permanent or not; and the
// per-member bounce score that disables and finally removes addresses that keep bouncing.
//
// bounce_parse() is pure (bytes in, result out) and is what both the daemon (mail to
// NAME-bounces@) and `listctl bounce-check` use. It understands, in order:
//   1. RFC 3464 delivery status notifications (multipart/report; report-type=delivery-status):
//      Final-Recipient / Original-Recipient, Action, Status per recipient;
//   2. a table of common non-standard formats (Postfix without DSN, Exim, qmail, old
//      Sendmail, Microsoft Exchange), each a start marker and an address section;
// The VERP address (NAME-bounces+user=domain@) names the recipient independently; the caller
// passes it as `verp_address` and it wins when the body names nobody.
// Scoring (Mailman's model): a permanent bounce adds 1.0, a temporary one 0.5, at most once
// per member per day; the score decays, halving for every `bounce_stale_days` without a
// bounce; at `bounce_threshold` delivery is disabled and the member warned; after `bounce_warnings`
// warnings `bounce_warning_interval` days apart the member is removed; owners are told.
#pragma once

#include <SQLiteCpp/Database.h>

#include <string>
#include <string_view>
#include <vector>

#include "listd/config.hpp"
#include "listd/store.hpp"
#include "listd/templates.hpp"

namespace listd {

struct BouncedAddress {
  std::string address;  // normalised
  bool permanent = true;
  std::string status;      // "5.1.1" when known
  std::string diagnostic;  // remote text when known (one line)
};

struct BounceResult {
  bool is_bounce = false;
  std::string format;  // "dsn", "postfix", "exim", "qmail", "sendmail", "exchange", "verp"
  std::vector<BouncedAddress> addresses;
};

constexpr std::size_t kMaxBouncedAddresses = 100;

BounceResult bounce_parse(std::string_view raw, const std::string& verp_address = "");

// bounce_record - score one bounce of `address` on `list` (no-op for non-members); may
// disable the member and queue the warning and owner notices. Inside the caller's transaction.
// Returns a short description for the log.
std::string bounce_record(const Config& cfg, SQLite::Database& db, const Templates& templates, const ListRow& list,
                          const BouncedAddress& b);

// bounce_maintenance - send due warnings to disabled members and remove those past the last
// warning. Called periodically by the daemon. Returns how many members it acted on.
std::size_t bounce_maintenance(const Config& cfg, SQLite::Database& db, const Templates& templates);

// bounce_feed_from_delivery - score the recipients the relay failed for good (view
// delivery_failures: a 5xx reply, or 4xx past relay.max_queue_age) on post and digest jobs,
// each once (table bounce_feed keeps the position). Returns how many it scored.
std::size_t bounce_feed_from_delivery(const Config& cfg, SQLite::Database& db, const Templates& templates);

// owner_summaries - once a day per list, owners and moderators get a summary of held posts
// and pending subscription requests (when there are any). Returns notices queued.
constexpr std::int64_t kOwnerSummaryInterval = 86400;
std::size_t owner_summaries(const Config& cfg, SQLite::Database& db, const Templates& templates);

}  // namespace listd
