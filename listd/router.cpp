// router.cpp - see router.hpp.
#include "listd/router.hpp"

#include <array>
#include <cctype>

#include "smtp/address.hpp"

namespace listd {

const char* to_string(Role r) {
  switch (r) {
    case Role::post: return "post";
    case Role::request: return "request";
    case Role::join: return "join";
    case Role::leave: return "leave";
    case Role::owner: return "owner";
    case Role::bounces: return "bounces";
    case Role::confirm: return "confirm";
  }
  return "post";
}

std::optional<std::string> verp_decode(std::string_view detail) {
  auto eq = detail.rfind('=');
  if (eq == std::string_view::npos || eq == 0 || eq + 1 == detail.size()) return std::nullopt;
  std::string addr = std::string(detail.substr(0, eq)) + "@" + std::string(detail.substr(eq + 1));
  return smtp::normalize_address(addr);
}

std::optional<Route> route_address(std::string_view address, const ListExists& exists) {
  auto norm = smtp::normalize_address(address);
  if (!norm) return std::nullopt;
  auto at = norm->rfind('@');
  std::string local = norm->substr(0, at);
  std::string host = norm->substr(at + 1);

  // Sub-address detail (+...) belongs only to -bounces and -confirm.
  std::string detail;
  if (auto plus = local.find('+'); plus != std::string::npos) {
    detail = local.substr(plus + 1);
    local = local.substr(0, plus);
  }
  struct Suffix {
    const char* text;
    Role role;
  };
  static constexpr std::array<Suffix, 9> kSuffixes{{{"-request", Role::request},
                                                    {"-subscribe", Role::join},
                                                    {"-join", Role::join},
                                                    {"-unsubscribe", Role::leave},
                                                    {"-leave", Role::leave},
                                                    {"-owner", Role::owner},
                                                    {"-bounces", Role::bounces},
                                                    {"-confirm", Role::confirm},
                                                    {"", Role::post}}};
  for (const auto& s : kSuffixes) {
    std::string_view suf(s.text);
    if (local.size() <= suf.size() || local.compare(local.size() - suf.size(), suf.size(), suf) != 0) continue;
    std::string name = local.substr(0, local.size() - suf.size());
    bool wants_detail = s.role == Role::bounces || s.role == Role::confirm;
    if (!detail.empty() && !wants_detail) return std::nullopt;
    if (s.role == Role::confirm && detail.empty()) return std::nullopt;
    if (s.role == Role::bounces && !detail.empty() && !verp_decode(detail)) return std::nullopt;
    if (!exists(name, host)) {
      if (s.role == Role::post) return std::nullopt;
      continue;  // "foo-owner" might be a list named foo-owner? refused by valid_list_name; keep looking
    }
    return Route{name, host, s.role, detail};
  }
  return std::nullopt;
}

}  // namespace listd
