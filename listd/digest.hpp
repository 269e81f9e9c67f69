// digest.hpp - digests: posts collected per list and sent as one message per period or size
// threshold, in two flavours, to members whose delivery is digest_mime or digest_plain.
//
//   MIME  (RFC 2046 §5.1.5): multipart/mixed = [text/plain table of contents,
//          multipart/digest of message/rfc822 parts (the posts as archived), footer]
//   plain (RFC 1153): one text/plain body with "Today's Topics", each post's Date/From/
//          Subject and text separated by 30 dashes, and the "End of ... Digest" trailer.
// Both carry "NAME Digest, Vol V, Issue N" (issue numbers count up; the volume goes up when
// the calendar year changes). Collected posts live in SQLite (digest_items) until sent, in the
// same transaction that accepts the post, so none is lost or sent twice.
// Called by the pipeline (digest_add, then digest_send_due for the size threshold) and by
// the daemon's periodic maintenance and `listctl digest --send` (digest_send_due/digest_send).
#pragma once

#include <SQLiteCpp/Database.h>

#include <string>
#include <string_view>
#include <vector>

#include "listd/config.hpp"
#include "listd/message.hpp"
#include "listd/store.hpp"
#include "listd/templates.hpp"

namespace listd {

// digest_add - keep an accepted post (decorated headers, no footer) for the next digest.
void digest_add(SQLite::Database& db, const ListRow& list, const std::string& spool_id, const MessageInfo& info,
                std::string_view message);

// digest_send - build and queue the digests of `list` now (if anything is collected); returns
// the number of posts sent. Inside its own (nestable) transaction.
std::size_t digest_send(const Config& cfg, SQLite::Database& db, const Templates& templates, const ListRow& list);

// digest_send_due - for every list (or one), send when the collected size passed the
// list's digest_size_threshold (KiB) or its digest_period elapsed. Returns posts sent.
std::size_t digest_send_due(const Config& cfg, SQLite::Database& db, const Templates& templates,
                            const ListRow* only = nullptr);

struct DigestItem {
  std::string subject, from, date;
  std::string text;     // decoded first text part (plain digest)
  std::string message;  // the post as archived (MIME digest)
};

// Pure builders (tested directly).
// `header` and `footer` are the rendered mail/digest-header.txt and mail/digest-footer.txt.
std::string digest_build_mime(const ListRow& list, int volume, int issue, const std::vector<DigestItem>& items,
                              const std::string& header, const std::string& footer, const std::string& boundary_seed);
std::string digest_build_plain(const ListRow& list, int volume, int issue, const std::vector<DigestItem>& items,
                               const std::string& header, const std::string& footer);

}  // namespace listd
