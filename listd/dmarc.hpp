// dmarc.hpp - DMARC mitigation (RFC 7489): when the poster's domain publishes p=reject or
// p=quarantine, a list that re-sends the post would fail DMARC at the members' providers; so
// the delivered copies are rewritten per the list's dmarc_mitigation setting:
//   munge_from    From: "Ana via mi_lista" <mi_lista@lists.mired.org>, the original From added
//                 to Reply-To (replies still reach the poster);
//   wrap_message  a new message from the list carrying the post as message/rfc822;
//   none          unchanged.
// The policy comes from the TXT record at _dmarc.<domain> (else at the organizational domain,
// approximated as the last two labels, or three when the second-level label is a short
// public suffix such as co.uk), using the relay's resolver setting, cached with the record's
// TTL (negative answers 5 minutes; temporary DNS failures are not cached and count as "none").
// The archive keeps the post as written; only delivered copies change.
#pragma once

#include <string>
#include <string_view>

#include "listd/config.hpp"
#include "listd/message.hpp"
#include "listd/store.hpp"

namespace listd {

enum class DmarcPolicy { none, quarantine, reject };
const char* to_string(DmarcPolicy p);

// dmarc_parse - the p= (or, for a subdomain looked up at its organizational domain, sp=) tag
// of a "v=DMARC1; ..." record; none for anything else.
DmarcPolicy dmarc_parse(std::string_view record, bool subdomain);

// dmarc_policy - cached DNS lookup as described above. Thread-safe; blocking (worker threads).
DmarcPolicy dmarc_policy(const Config& cfg, const std::string& domain);

// dmarc_mitigate - apply the list's mitigation to a delivered copy (LF line ends) whose
// poster is `info`; returns the input unchanged when nothing applies.
std::string dmarc_mitigate(const Config& cfg, const ListRow& list, const MessageInfo& info, std::string_view message);

}  // namespace listd
