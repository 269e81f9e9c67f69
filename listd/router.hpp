// router.hpp - recipient address -> (list, role), DESIGN.md "List addresses".
//
// Pure: no database. The caller asks `exists(name, host)` through a callback, so the same code
// serves the SMTP RCPT check, the pipe intake and the spool processor. Recognised forms for a
// list NAME@HOST: NAME (post), NAME-request, NAME-join / NAME-subscribe, NAME-leave /
// NAME-unsubscribe, NAME-owner, NAME-bounces, NAME-bounces+VERP (user=domain), NAME-confirm+TOKEN.
// A list whose own name ends in a suffix cannot exist (valid_list_name refuses it), so the
// longest-suffix match is unambiguous.
#pragma once

#include <functional>
#include <optional>
#include <string>
#include <string_view>

namespace listd {

enum class Role { post, request, join, leave, owner, bounces, confirm };
const char* to_string(Role r);

struct Route {
  std::string list_name;
  std::string host;
  Role role = Role::post;
  std::string detail;  // VERP-encoded recipient (bounces) or token (confirm); else empty
  std::string list_address() const { return list_name + "@" + host; }
};

using ListExists = std::function<bool(const std::string& name, const std::string& host)>;

// route_address - std::nullopt when the address is not one of ours (unknown list, not a
// list address, bad syntax). Case-insensitive.
std::optional<Route> route_address(std::string_view address, const ListExists& exists);

// verp_decode - "user=domain" -> "user@domain" (the last '=' splits); nullopt if malformed.
std::optional<std::string> verp_decode(std::string_view detail);

}  // namespace listd
