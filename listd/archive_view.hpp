// archive_view.hpp - the read side of the archive for one logged-in person: which lists they
// may read, the merged INBOX, per-person \Seen and POP3 deletions, FTS5 search.
//
// One ArchiveView per IMAP or POP3 connection, with its own SQLite connection; the network
// layer calls it from the worker pool only, one call at a time. Who may read what:
// members, moderators and owners read their lists; `anonymous` (any password) reads lists
// whose setting archive_public is on. Login takes the email or, when it names exactly one
// person, the local part. UIDs: a list mailbox uses archive.uid and lists.uidvalidity; INBOX
// uses archive_imap.uid (AUTOINCREMENT, never reused) and a per-person UIDVALIDITY that is
// raised whenever the set of merged lists changes (RFC 3501 §2.3.1.1).
// Errors: SQLite::Exception propagates (the session then fails the command, see archive_net).
#pragma once

#include <SQLiteCpp/Database.h>

#include <filesystem>
#include <map>
#include <memory>
#include <set>
#include <string>
#include <vector>

#include "imap/session.hpp"
#include "pop3/session.hpp"

namespace listd {

class ArchiveView : public imap::Backend, public pop3::Maildrop {
 public:
  ArchiveView(const std::filesystem::path& db_path, const std::filesystem::path& archive_dir);
  ~ArchiveView() override;

  bool login(const std::string& user, const std::string& password) override;
  std::vector<std::string> mailboxes() override;
  bool open(const std::string& mailbox, std::uint32_t& uidvalidity, std::vector<imap::MessageMeta>& out) override;
  std::vector<imap::MessageMeta> newer(const std::string& mailbox, std::uint32_t after_uid) override;
  std::optional<std::string> message(std::int64_t key) override;
  std::vector<imap::MessageFacts> facts(const std::vector<std::int64_t>& keys) override;
  std::vector<std::int64_t> search(const std::string& mailbox, imap::SearchField field, const std::string& header,
                                   const std::string& value) override;
  void set_seen(const std::vector<std::int64_t>& keys, bool seen) override;
  // POP3
  std::vector<pop3::DropMessage> list() override;
  void remove(const std::vector<std::int64_t>& keys) override;

  const std::string& person() const { return email_; }

 private:
  std::string list_clause(const std::string& mailbox, std::vector<std::int64_t>& ids);
  std::vector<imap::MessageMeta> query(const std::string& mailbox, std::uint32_t after_uid);
  std::uint32_t inbox_uidvalidity();

  std::unique_ptr<SQLite::Database> db_;
  std::filesystem::path archive_dir_;
  std::int64_t person_id_ = -1;  // 0 = anonymous
  std::string email_;
  std::map<std::string, std::int64_t> lists_;  // address -> list id, readable lists
  std::set<std::int64_t> anon_seen_;           // anonymous: \Seen for this session only
};

}  // namespace listd
