// store.hpp - lists, people, memberships and list settings on top of the SQLite schema.
//
// Thin functions over one open connection; each either completes or throws (SQLite::Exception
// for database trouble, StoreError for a user mistake such as an unknown list, with a message
// fit to show the user). SQL uses bound parameters only. Addresses are stored normalised
// (smtp::normalize_address). Callers: listctl, the daemon's pipeline, later the web admin.
#pragma once

#include <SQLiteCpp/Database.h>

#include <cstdint>
#include <functional>
#include <optional>
#include <stdexcept>
#include <string>
#include <vector>

namespace listd {

struct StoreError : std::runtime_error {
  using std::runtime_error::runtime_error;
};

enum class NonmemberAction { hold, accept, reject, discard };
const char* to_string(NonmemberAction a);

// Per-list settings, stored as key/value rows in list_settings; defaults live here.
struct ListSettings {
  std::string description;
  std::string subject_prefix;     // default "[NAME]" (set by newlist)
  std::string reply_to = "none";  // none | list | address
  std::string reply_to_address;
  bool member_only = true;  // only members may post without moderation
  NonmemberAction nonmember_action = NonmemberAction::hold;
  bool emergency = false;              // hold every post
  std::uint64_t max_message_size = 0;  // KiB; 0 = no limit (the receiver's limit still applies)
  bool archive = true;
  bool archive_public = true;
  bool advertised = true;
  std::string footer;                           // mustache template text; empty = built-in footer
  bool administrivia = true;                    // hold posts that look like commands
  std::string subscribe_policy = "confirm";     // open | confirm | moderate | confirm_then_moderate
  std::string unsubscribe_policy = "confirm";   // open | confirm
  std::string roster = "nobody";                // who may get the member list by email: nobody | members | anyone
  double bounce_threshold = 5.0;                // score at which delivery is disabled
  int bounce_stale_days = 7;                    // half-life of a bounce score, in days
  int bounce_warnings = 3;                      // warnings to a disabled member before removal
  int bounce_warning_interval = 7;              // days between warnings
  std::string digest_period = "daily";          // daily | weekly | monthly
  std::string dmarc_mitigation = "munge_from";  // munge_from | wrap_message | none
  std::uint64_t digest_size_threshold = 30;     // KiB collected that trigger a digest early; 0 = period only
  bool verp = false;                            // one SMTP transaction per member, sender NAME-bounces+user=domain@HOST
  std::string personalize = "none";             // none | footer | full: per-member footer/headers (docs/relay.md)
};

// settings_get/set as text, for the CLI and web admin; throws StoreError for unknown keys or bad values.
std::vector<std::pair<std::string, std::string>> settings_to_pairs(const ListSettings& s);
void settings_set(ListSettings& s, const std::string& key, const std::string& value);

struct ListRow {
  std::int64_t id = 0;
  std::string name, host;
  std::int64_t created = 0;
  std::int64_t uidvalidity = 0;
  ListSettings settings;
  std::string address() const { return name + "@" + host; }
};

struct MemberRow {
  std::int64_t person_id = 0;
  std::string email;
  std::string role;      // owner | moderator | member
  std::string delivery;  // regular | digest_plain | digest_mime
  bool moderated = false, nomail = false, disabled = false, receive_own = true;
};

// valid_list_name - lower-case letters, digits, '.', '_', '-' (not first); 1..64 chars; and
// not ending in a reserved suffix (-request, -owner, -bounces, -join, -leave, -confirm...).
bool valid_list_name(const std::string& name, std::string* why = nullptr);

// split_list_address - "name@host" -> (name, host) validated; throws StoreError.
std::pair<std::string, std::string> split_list_address(const std::string& address);

class Store {
 public:
  explicit Store(SQLite::Database& db) : db_(db) {}

  std::optional<ListRow> find_list(const std::string& name, const std::string& host);
  ListRow get_list(const std::string& address);  // throws StoreError("no such list: ...")
  std::vector<ListRow> all_lists();
  // create_list - the list, its domain row if new, the owner as person + owner membership.
  ListRow create_list(const std::string& name, const std::string& host, const std::string& owner_email);
  // delete_list - the rows (memberships, settings, archive index ...) cascade.
  void delete_list(const ListRow& list);
  void save_settings(const ListRow& list);

  std::int64_t ensure_person(const std::string& email);  // normalised email; returns id
  std::optional<std::int64_t> find_person(const std::string& email);
  void set_password_hash(std::int64_t person_id, const std::string& hash);
  std::optional<std::string> password_hash(const std::string& email);
  void set_admin(std::int64_t person_id, bool admin);

  // add_members - one transaction for all; returns how many were new. Invalid addresses are
  // reported through `bad` (address, reason) and skipped; nothing is written if `bad` is
  // non-empty and `all_or_nothing` is set.
  struct AddResult {
    std::size_t added = 0, existing = 0;
    std::vector<std::pair<std::string, std::string>> bad;
  };
  AddResult add_members(const ListRow& list, const std::vector<std::string>& emails, const std::string& role = "member",
                        bool all_or_nothing = true);
  std::size_t remove_members(const ListRow& list, const std::vector<std::string>& emails,
                             const std::string& role = "member");
  std::vector<MemberRow> members(const ListRow& list, const std::string& role = "");
  std::optional<MemberRow> membership(const ListRow& list, const std::string& email,
                                      const std::string& role = "member");
  std::size_t count_members(const ListRow& list, const std::string& role = "member");

  // for_each_recipient - members of `list` with regular delivery, not nomail, not disabled,
  // streamed in address order (never all held in memory).
  void for_each_recipient(const ListRow& list, const std::function<void(const std::string&)>& fn);

  // is_banned - exact address or ^regex pattern, list-specific or global.
  bool is_banned(const ListRow& list, const std::string& email);
  void add_ban(const ListRow* list, const std::string& pattern);

 private:
  ListSettings load_settings(std::int64_t list_id);
  ListRow row_from(SQLite::Statement& q);
  SQLite::Database& db_;
};

std::int64_t now_unix();

}  // namespace listd
