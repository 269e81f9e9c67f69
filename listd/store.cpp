// store.cpp - see store.hpp.
#include "listd/store.hpp"
#include "listd/db.hpp"

#include <SQLiteCpp/Statement.h>
#include <SQLiteCpp/Transaction.h>

#include <charconv>
#include <chrono>
#include <cstdlib>
#include <random>
#include <regex>

#include "smtp/address.hpp"

namespace listd {

std::int64_t now_unix() {
  return std::chrono::duration_cast<std::chrono::seconds>(std::chrono::system_clock::now().time_since_epoch()).count();
}

const char* to_string(NonmemberAction a) {
  switch (a) {
    case NonmemberAction::hold: return "hold";
    case NonmemberAction::accept: return "accept";
    case NonmemberAction::reject: return "reject";
    case NonmemberAction::discard: return "discard";
  }
  return "hold";
}

namespace {

const char* const kReservedSuffixes[] = {"-request",   "-owner",       "-bounces", "-join", "-leave",
                                         "-subscribe", "-unsubscribe", "-confirm", "-admin"};

bool parse_bool_text(const std::string& v, bool& out) {
  if (v == "yes" || v == "true" || v == "on" || v == "1") return out = true, true;
  if (v == "no" || v == "false" || v == "off" || v == "0") return out = false, true;
  return false;
}

std::string bool_text(bool b) {
  return b ? "yes" : "no";
}

}  // namespace

std::vector<std::pair<std::string, std::string>> settings_to_pairs(const ListSettings& s) {
  return {
      {"description", s.description},
      {"subject_prefix", s.subject_prefix},
      {"reply_to", s.reply_to},
      {"reply_to_address", s.reply_to_address},
      {"member_only", bool_text(s.member_only)},
      {"nonmember_action", to_string(s.nonmember_action)},
      {"emergency", bool_text(s.emergency)},
      {"max_message_size", std::to_string(s.max_message_size)},
      {"archive", bool_text(s.archive)},
      {"archive_public", bool_text(s.archive_public)},
      {"advertised", bool_text(s.advertised)},
      {"footer", s.footer},
      {"administrivia", bool_text(s.administrivia)},
      {"subscribe_policy", s.subscribe_policy},
      {"unsubscribe_policy", s.unsubscribe_policy},
      {"roster", s.roster},
      {"bounce_threshold",
       std::to_string(s.bounce_threshold).substr(0, std::to_string(s.bounce_threshold).find('.') + 2)},
      {"bounce_stale_days", std::to_string(s.bounce_stale_days)},
      {"bounce_warnings", std::to_string(s.bounce_warnings)},
      {"bounce_warning_interval", std::to_string(s.bounce_warning_interval)},
      {"digest_period", s.digest_period},
      {"dmarc_mitigation", s.dmarc_mitigation},
      {"digest_size_threshold", std::to_string(s.digest_size_threshold)},
      {"verp", bool_text(s.verp)},
      {"personalize", s.personalize},
  };
}

void settings_set(ListSettings& s, const std::string& key, const std::string& value) {
  auto boolean = [&](bool& field) {
    if (!parse_bool_text(value, field))
      throw StoreError("setting '" + key + "': expected yes or no, got '" + value + "'");
  };
  if (key == "description") {
    s.description = value;
  } else if (key == "subject_prefix") {
    s.subject_prefix = value;
  } else if (key == "reply_to") {
    if (value != "none" && value != "list" && value != "address")
      throw StoreError("setting 'reply_to': expected none, list or address, got '" + value + "'");
    s.reply_to = value;
  } else if (key == "reply_to_address") {
    if (!value.empty() && !smtp::normalize_address(value))
      throw StoreError("setting 'reply_to_address': not a valid address: '" + value + "'");
    s.reply_to_address = value;
  } else if (key == "member_only") {
    boolean(s.member_only);
  } else if (key == "nonmember_action") {
    if (value == "hold")
      s.nonmember_action = NonmemberAction::hold;
    else if (value == "accept")
      s.nonmember_action = NonmemberAction::accept;
    else if (value == "reject")
      s.nonmember_action = NonmemberAction::reject;
    else if (value == "discard")
      s.nonmember_action = NonmemberAction::discard;
    else
      throw StoreError("setting 'nonmember_action': expected hold, accept, reject or discard, got '" + value + "'");
  } else if (key == "verp") {
    boolean(s.verp);
  } else if (key == "personalize") {
    if (value != "none" && value != "footer" && value != "full")
      throw StoreError("setting 'personalize': expected none, footer or full, got '" + value + "'");
    s.personalize = value;
  } else if (key == "emergency") {
    boolean(s.emergency);
  } else if (key == "max_message_size") {
    std::uint64_t n = 0;
    auto [p, ec] = std::from_chars(value.data(), value.data() + value.size(), n);
    if (value.empty() || ec != std::errc() || p != value.data() + value.size())
      throw StoreError("setting 'max_message_size': expected a number of KiB, got '" + value + "'");
    s.max_message_size = n;
  } else if (key == "archive") {
    boolean(s.archive);
  } else if (key == "archive_public") {
    boolean(s.archive_public);
  } else if (key == "advertised") {
    boolean(s.advertised);
  } else if (key == "footer") {
    s.footer = value;
  } else if (key == "administrivia") {
    boolean(s.administrivia);
  } else if (key == "subscribe_policy") {
    if (value != "open" && value != "confirm" && value != "moderate" && value != "confirm_then_moderate")
      throw StoreError("setting 'subscribe_policy': expected open, confirm, moderate or confirm_then_moderate, got '" +
                       value + "'");
    s.subscribe_policy = value;
  } else if (key == "unsubscribe_policy") {
    if (value != "open" && value != "confirm")
      throw StoreError("setting 'unsubscribe_policy': expected open or confirm, got '" + value + "'");
    s.unsubscribe_policy = value;
  } else if (key == "roster") {
    if (value != "nobody" && value != "members" && value != "anyone")
      throw StoreError("setting 'roster': expected nobody, members or anyone, got '" + value + "'");
    s.roster = value;
  } else if (key == "dmarc_mitigation") {
    if (value != "munge_from" && value != "wrap_message" && value != "none")
      throw StoreError("setting 'dmarc_mitigation': expected munge_from, wrap_message or none, got '" + value + "'");
    s.dmarc_mitigation = value;
  } else if (key == "digest_period") {
    if (value != "daily" && value != "weekly" && value != "monthly")
      throw StoreError("setting 'digest_period': expected daily, weekly or monthly, got '" + value + "'");
    s.digest_period = value;
  } else if (key == "digest_size_threshold") {
    std::uint64_t n = 0;
    auto [p, ec] = std::from_chars(value.data(), value.data() + value.size(), n);
    if (value.empty() || ec != std::errc() || p != value.data() + value.size() || n > 100000)
      throw StoreError("setting 'digest_size_threshold': expected KiB from 0 to 100000, got '" + value + "'");
    s.digest_size_threshold = n;
  } else if (key == "bounce_threshold") {
    char* end = nullptr;
    double d = std::strtod(value.c_str(), &end);
    if (value.empty() || *end != '\0' || !(d >= 0.5 && d <= 100))
      throw StoreError("setting 'bounce_threshold': expected a number from 0.5 to 100, got '" + value + "'");
    s.bounce_threshold = d;
  } else if (key == "bounce_stale_days" || key == "bounce_warnings" || key == "bounce_warning_interval") {
    int n = 0;
    auto [p, ec] = std::from_chars(value.data(), value.data() + value.size(), n);
    if (value.empty() || ec != std::errc() || p != value.data() + value.size() || n < 0 || n > 365)
      throw StoreError("setting '" + key + "': expected a whole number from 0 to 365, got '" + value + "'");
    (key == "bounce_stale_days" ? s.bounce_stale_days
     : key == "bounce_warnings" ? s.bounce_warnings
                                : s.bounce_warning_interval) = n;
  } else {
    throw StoreError("unknown list setting '" + key + "'");
  }
}

bool valid_list_name(const std::string& name, std::string* why) {
  auto fail = [&](const char* w) {
    if (why) *why = w;
    return false;
  };
  if (name.empty() || name.size() > 64) return fail("must be 1 to 64 characters");
  for (char c : name) {
    bool ok = (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '.' || c == '_' || c == '-';
    if (c >= 'A' && c <= 'Z') return fail("must be lower case");
    if (!ok) return fail("may only hold a-z, 0-9, '.', '_' and '-'");
  }
  if (name.front() == '-' || name.front() == '.' || name.back() == '.' || name.find("..") != std::string::npos)
    return fail("must not start with '-' or '.', end with '.', or hold '..'");
  for (const char* suffix : kReservedSuffixes) {
    std::string s(suffix);
    if (name.size() > s.size() && name.compare(name.size() - s.size(), s.size(), s) == 0)
      return fail("must not end in a reserved suffix such as -request or -owner");
  }
  if (name.find('+') != std::string::npos) return fail("must not contain '+'");
  return true;
}

std::pair<std::string, std::string> split_list_address(const std::string& address) {
  auto at = address.rfind('@');
  if (at == std::string::npos) throw StoreError("invalid list address '" + address + "': expected LIST@HOST");
  std::string name = address.substr(0, at);
  std::string host = address.substr(at + 1);
  std::string why;
  if (!valid_list_name(name, &why)) throw StoreError("invalid list name '" + name + "': " + why);
  for (auto& c : host) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  if (!smtp::valid_domain(host)) throw StoreError("invalid list host '" + host + "'");
  return {name, host};
}

ListSettings Store::load_settings(std::int64_t list_id) {
  ListSettings s;
  SQLite::Statement q(db_, "SELECT key, value FROM list_settings WHERE list_id = ?");
  q.bind(1, list_id);
  while (q.executeStep()) {
    try {
      settings_set(s, q.getColumn(0).getString(), q.getColumn(1).getString());
    } catch (const StoreError&) {
      // A key from a newer build or a hand edit: keep the default, never fail a lookup.
    }
  }
  return s;
}

ListRow Store::row_from(SQLite::Statement& q) {
  ListRow r;
  r.id = q.getColumn(0).getInt64();
  r.name = q.getColumn(1).getString();
  r.host = q.getColumn(2).getString();
  r.created = q.getColumn(3).getInt64();
  r.uidvalidity = q.getColumn(4).getInt64();
  r.settings = load_settings(r.id);
  return r;
}

std::optional<ListRow> Store::find_list(const std::string& name, const std::string& host) {
  SQLite::Statement q(db_,
                      "SELECT l.id, l.name, d.name, l.created, l.uidvalidity FROM lists l JOIN domains d ON d.id = "
                      "l.domain_id WHERE l.name = ? AND d.name = ?");
  q.bind(1, name);
  q.bind(2, host);
  if (!q.executeStep()) return std::nullopt;
  return row_from(q);
}

ListRow Store::get_list(const std::string& address) {
  auto [name, host] = split_list_address(address);
  auto l = find_list(name, host);
  if (!l) throw StoreError("no such list: " + name + "@" + host);
  return *l;
}

std::vector<ListRow> Store::all_lists() {
  SQLite::Statement q(db_,
                      "SELECT l.id, l.name, d.name, l.created, l.uidvalidity FROM lists l JOIN domains d ON d.id = "
                      "l.domain_id ORDER BY d.name, l.name");
  std::vector<ListRow> out;
  while (q.executeStep()) out.push_back(row_from(q));
  return out;
}

ListRow Store::create_list(const std::string& name, const std::string& host, const std::string& owner_email) {
  std::string why;
  if (!valid_list_name(name, &why)) throw StoreError("invalid list name '" + name + "': " + why);
  if (!smtp::valid_domain(host)) throw StoreError("invalid list host '" + host + "'");
  auto owner = smtp::normalize_address(owner_email);
  if (!owner) throw StoreError("invalid owner address '" + owner_email + "'");
  WriteTx tx(db_);
  if (find_list(name, host)) throw StoreError("list already exists: " + name + "@" + host);
  auto now = now_unix();
  {
    SQLite::Statement q(db_, "INSERT OR IGNORE INTO domains(name, created) VALUES (?, ?)");
    q.bind(1, host);
    q.bind(2, now);
    q.exec();
  }
  std::int64_t domain_id = 0;
  {
    SQLite::Statement q(db_, "SELECT id FROM domains WHERE name = ?");
    q.bind(1, host);
    q.executeStep();
    domain_id = q.getColumn(0).getInt64();
  }
  // UIDVALIDITY (RFC 3501 §2.3.1.1): must change if a list of the same name is re-created.
  std::random_device rd;
  std::int64_t uidvalidity = (now & 0x7fffffff) ^ (rd() & 0xffff);
  if (uidvalidity == 0) uidvalidity = 1;
  {
    SQLite::Statement q(db_, "INSERT INTO lists(domain_id, name, created, uidvalidity) VALUES (?, ?, ?, ?)");
    q.bind(1, domain_id);
    q.bind(2, name);
    q.bind(3, now);
    q.bind(4, uidvalidity);
    q.exec();
  }
  ListRow row;
  row.id = db_.getLastInsertRowid();
  row.name = name;
  row.host = host;
  row.created = now;
  row.uidvalidity = uidvalidity;
  row.settings.subject_prefix = "[" + name + "]";
  save_settings(row);
  auto pid = ensure_person(*owner);
  SQLite::Statement q(db_, "INSERT INTO memberships(list_id, person_id, role, created) VALUES (?, ?, 'owner', ?)");
  q.bind(1, row.id);
  q.bind(2, pid);
  q.bind(3, now);
  q.exec();
  tx.commit();
  return row;
}

void Store::delete_list(const ListRow& list) {
  WriteTx tx(db_);
  SQLite::Statement q(db_, "DELETE FROM lists WHERE id = ?");
  q.bind(1, list.id);
  q.exec();
  tx.commit();
}

void Store::save_settings(const ListRow& list) {
  SQLite::Statement q(db_, "INSERT OR REPLACE INTO list_settings(list_id, key, value) VALUES (?, ?, ?)");
  for (auto& [k, v] : settings_to_pairs(list.settings)) {
    q.bind(1, list.id);
    q.bind(2, k);
    q.bind(3, v);
    q.exec();
    q.reset();
  }
}

std::optional<std::int64_t> Store::find_person(const std::string& email) {
  auto norm = smtp::normalize_address(email);
  if (!norm) return std::nullopt;
  SQLite::Statement q(db_, "SELECT id FROM people WHERE email = ?");
  q.bind(1, *norm);
  if (!q.executeStep()) return std::nullopt;
  return q.getColumn(0).getInt64();
}

std::int64_t Store::ensure_person(const std::string& email) {
  auto norm = smtp::normalize_address(email);
  if (!norm) throw StoreError("invalid address '" + email + "'");
  SQLite::Statement ins(db_, "INSERT OR IGNORE INTO people(email, created) VALUES (?, ?)");
  ins.bind(1, *norm);
  ins.bind(2, now_unix());
  ins.exec();
  return *find_person(*norm);
}

void Store::set_password_hash(std::int64_t person_id, const std::string& hash) {
  SQLite::Statement q(db_, "UPDATE people SET password_hash = ? WHERE id = ?");
  q.bind(1, hash);
  q.bind(2, person_id);
  q.exec();
}

std::optional<std::string> Store::password_hash(const std::string& email) {
  auto norm = smtp::normalize_address(email);
  if (!norm) return std::nullopt;
  SQLite::Statement q(db_, "SELECT password_hash FROM people WHERE email = ?");
  q.bind(1, *norm);
  if (!q.executeStep() || q.getColumn(0).isNull()) return std::nullopt;
  return q.getColumn(0).getString();
}

void Store::set_admin(std::int64_t person_id, bool admin) {
  SQLite::Statement q(db_, "UPDATE people SET is_admin = ? WHERE id = ?");
  q.bind(1, admin ? 1 : 0);
  q.bind(2, person_id);
  q.exec();
}

Store::AddResult Store::add_members(const ListRow& list, const std::vector<std::string>& emails,
                                    const std::string& role, bool all_or_nothing) {
  AddResult r;
  std::vector<std::string> good;
  good.reserve(emails.size());
  for (auto& e : emails) {
    auto norm = smtp::normalize_address(e);
    if (!norm) {
      auto parsed = smtp::parse_mailbox(e);
      r.bad.emplace_back(e, smtp::to_string(parsed.error));
    } else {
      good.push_back(std::move(*norm));
    }
  }
  if (!r.bad.empty() && all_or_nothing) return r;
  auto now = now_unix();
  WriteTx tx(db_);
  SQLite::Statement person(db_,
                           "INSERT INTO people(email, created) VALUES (?1, ?2) ON CONFLICT(email) DO UPDATE SET email "
                           "= excluded.email RETURNING id");
  SQLite::Statement member(db_,
                           "INSERT OR IGNORE INTO memberships(list_id, person_id, role, created) VALUES (?, ?, ?, ?)");
  for (auto& e : good) {
    person.bind(1, e);
    person.bind(2, now);
    person.executeStep();
    auto pid = person.getColumn(0).getInt64();
    person.reset();
    member.bind(1, list.id);
    member.bind(2, pid);
    member.bind(3, role);
    member.bind(4, now);
    if (member.exec() > 0)
      ++r.added;
    else
      ++r.existing;
    member.reset();
  }
  tx.commit();
  return r;
}

std::size_t Store::remove_members(const ListRow& list, const std::vector<std::string>& emails,
                                  const std::string& role) {
  std::size_t n = 0;
  WriteTx tx(db_);
  SQLite::Statement q(db_,
                      "DELETE FROM memberships WHERE list_id = ? AND role = ? AND person_id = (SELECT id FROM "
                      "people WHERE email = ?)");
  for (auto& e : emails) {
    auto norm = smtp::normalize_address(e);
    if (!norm) continue;
    q.bind(1, list.id);
    q.bind(2, role);
    q.bind(3, *norm);
    n += static_cast<std::size_t>(q.exec());
    q.reset();
  }
  tx.commit();
  return n;
}

namespace {
const char* kMemberCols =
    "SELECT p.id, p.email, m.role, m.delivery, m.moderated, m.nomail, m.disabled, m.receive_own FROM memberships m "
    "JOIN people p ON p.id = m.person_id ";

MemberRow member_from(SQLite::Statement& q) {
  MemberRow m;
  m.person_id = q.getColumn(0).getInt64();
  m.email = q.getColumn(1).getString();
  m.role = q.getColumn(2).getString();
  m.delivery = q.getColumn(3).getString();
  m.moderated = q.getColumn(4).getInt() != 0;
  m.nomail = q.getColumn(5).getInt() != 0;
  m.disabled = q.getColumn(6).getInt() != 0;
  m.receive_own = q.getColumn(7).getInt() != 0;
  return m;
}

// The "m.role != 'member'" term lets SQLite use the partial index memberships_staff: owners
// and moderators of a 1,000,000-member list are found without reading its members.
std::string role_filter(const std::string& role) {
  if (role.empty()) return "";
  return role == "member" ? " AND m.role = ?2" : " AND m.role = ?2 AND m.role != 'member'";
}
}  // namespace

std::vector<MemberRow> Store::members(const ListRow& list, const std::string& role) {
  SQLite::Statement q(
      db_, std::string(kMemberCols) + "WHERE m.list_id = ?1" + role_filter(role) + " ORDER BY p.email, m.role");
  q.bind(1, list.id);
  if (!role.empty()) q.bind(2, role);
  std::vector<MemberRow> out;
  while (q.executeStep()) out.push_back(member_from(q));
  return out;
}

std::optional<MemberRow> Store::membership(const ListRow& list, const std::string& email, const std::string& role) {
  auto norm = smtp::normalize_address(email);
  if (!norm) return std::nullopt;
  SQLite::Statement q(db_, std::string(kMemberCols) + "WHERE m.list_id = ? AND p.email = ? AND m.role = ?");
  q.bind(1, list.id);
  q.bind(2, *norm);
  q.bind(3, role);
  if (!q.executeStep()) return std::nullopt;
  return member_from(q);
}

std::size_t Store::count_members(const ListRow& list, const std::string& role) {
  SQLite::Statement q(db_, "SELECT count(*) FROM memberships m WHERE m.list_id = ?1" + role_filter(role));
  q.bind(1, list.id);
  if (!role.empty()) q.bind(2, role);
  q.executeStep();
  return static_cast<std::size_t>(q.getColumn(0).getInt64());
}

void Store::for_each_recipient(const ListRow& list, const std::function<void(const std::string&)>& fn) {
  SQLite::Statement q(
      db_,
      "SELECT p.email FROM memberships m JOIN people p ON p.id = m.person_id WHERE m.list_id = ? AND "
      "m.role = 'member' AND m.delivery = 'regular' AND m.nomail = 0 AND m.disabled = 0 ORDER BY p.email");
  q.bind(1, list.id);
  while (q.executeStep()) fn(q.getColumn(0).getString());
}

bool Store::is_banned(const ListRow& list, const std::string& email) {
  auto norm = smtp::normalize_address(email).value_or(email);
  SQLite::Statement q(db_, "SELECT pattern FROM bans WHERE list_id IS NULL OR list_id = ?");
  q.bind(1, list.id);
  while (q.executeStep()) {
    std::string p = q.getColumn(0).getString();
    if (!p.empty() && p.front() == '^') {
      try {
        if (std::regex_search(norm, std::regex(p, std::regex::icase | std::regex::ECMAScript))) return true;
      } catch (const std::regex_error&) {
        // An invalid pattern matches nothing; add_ban refuses them, so this is a hand edit.
      }
    } else if (p == norm) {
      return true;
    }
  }
  return false;
}

void Store::add_ban(const ListRow* list, const std::string& pattern) {
  std::string p = pattern;
  if (!p.empty() && p.front() == '^') {
    try {
      std::regex test(p, std::regex::icase | std::regex::ECMAScript);
    } catch (const std::regex_error& e) {
      throw StoreError("invalid ban pattern '" + pattern + "': " + e.what());
    }
  } else {
    auto norm = smtp::normalize_address(p);
    if (!norm) throw StoreError("invalid ban address '" + pattern + "'");
    p = *norm;
  }
  SQLite::Statement q(db_, "INSERT OR IGNORE INTO bans(list_id, pattern, created) VALUES (?, ?, ?)");
  if (list)
    q.bind(1, list->id);
  else
    q.bind(1);
  q.bind(2, p);
  q.bind(3, now_unix());
  q.exec();
}

}  // namespace listd
