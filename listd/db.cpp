// db.cpp - see db.hpp. Migrations are append-only: never edit a released step.
#include "listd/db.hpp"

#include <SQLiteCpp/Transaction.h>
#include <sys/stat.h>

#include <sqlite3.h>

#include <atomic>
#include <stdexcept>
#include <vector>

namespace listd {
namespace {

const std::vector<const char*> kMigrations = {
    // 1: the core engine schema.
    R"SQL(
CREATE TABLE domains (
  id INTEGER PRIMARY KEY,
  name TEXT NOT NULL UNIQUE,
  created INTEGER NOT NULL
);
CREATE TABLE lists (
  id INTEGER PRIMARY KEY,
  domain_id INTEGER NOT NULL REFERENCES domains(id),
  name TEXT NOT NULL,
  created INTEGER NOT NULL,
  uidvalidity INTEGER NOT NULL,
  next_uid INTEGER NOT NULL DEFAULT 1,
  UNIQUE (domain_id, name)
);
CREATE TABLE list_settings (
  list_id INTEGER NOT NULL REFERENCES lists(id) ON DELETE CASCADE,
  key TEXT NOT NULL,
  value TEXT NOT NULL,
  PRIMARY KEY (list_id, key)
) WITHOUT ROWID;
CREATE TABLE people (
  id INTEGER PRIMARY KEY,
  email TEXT NOT NULL UNIQUE,
  display_name TEXT NOT NULL DEFAULT '',
  password_hash TEXT,
  is_admin INTEGER NOT NULL DEFAULT 0,
  created INTEGER NOT NULL
);
CREATE TABLE memberships (
  list_id INTEGER NOT NULL REFERENCES lists(id) ON DELETE CASCADE,
  person_id INTEGER NOT NULL REFERENCES people(id) ON DELETE CASCADE,
  role TEXT NOT NULL CHECK (role IN ('owner', 'moderator', 'member')),
  delivery TEXT NOT NULL DEFAULT 'regular' CHECK (delivery IN ('regular', 'digest_plain', 'digest_mime')),
  moderated INTEGER NOT NULL DEFAULT 0,
  nomail INTEGER NOT NULL DEFAULT 0,
  disabled INTEGER NOT NULL DEFAULT 0,
  receive_own INTEGER NOT NULL DEFAULT 1,
  created INTEGER NOT NULL,
  PRIMARY KEY (list_id, person_id, role)
);
CREATE INDEX memberships_person ON memberships(person_id);
CREATE TABLE bans (
  id INTEGER PRIMARY KEY,
  list_id INTEGER REFERENCES lists(id) ON DELETE CASCADE,  -- NULL: every list
  pattern TEXT NOT NULL,                                  -- exact address or ^regex
  created INTEGER NOT NULL,
  UNIQUE (list_id, pattern)
);
CREATE TABLE held_messages (
  id INTEGER PRIMARY KEY,
  list_id INTEGER NOT NULL REFERENCES lists(id) ON DELETE CASCADE,
  spool_id TEXT NOT NULL UNIQUE,
  sender TEXT NOT NULL,
  subject TEXT NOT NULL DEFAULT '',
  message_id TEXT NOT NULL DEFAULT '',
  reason TEXT NOT NULL,
  path TEXT NOT NULL,
  size INTEGER NOT NULL,
  received INTEGER NOT NULL
);
CREATE TABLE pending_tokens (
  token_hash TEXT PRIMARY KEY,
  action TEXT NOT NULL,
  list_id INTEGER REFERENCES lists(id) ON DELETE CASCADE,
  address TEXT NOT NULL,
  payload TEXT NOT NULL DEFAULT '',
  created INTEGER NOT NULL,
  expires INTEGER NOT NULL
);
CREATE TABLE delivery_jobs (
  id INTEGER PRIMARY KEY,
  list_id INTEGER REFERENCES lists(id) ON DELETE SET NULL,
  kind TEXT NOT NULL,                 -- post | owner | notice
  spool_id TEXT NOT NULL,
  message_path TEXT NOT NULL,         -- data_dir/queue/<file>, LF line ends
  envelope_from TEXT NOT NULL,
  created INTEGER NOT NULL,
  total INTEGER NOT NULL DEFAULT 0,
  delivered INTEGER NOT NULL DEFAULT 0,
  deferred INTEGER NOT NULL DEFAULT 0,
  failed INTEGER NOT NULL DEFAULT 0,
  done INTEGER NOT NULL DEFAULT 0,
  UNIQUE (spool_id, kind)
);
CREATE TABLE delivery_recipients (
  id INTEGER PRIMARY KEY,
  job_id INTEGER NOT NULL REFERENCES delivery_jobs(id) ON DELETE CASCADE,
  address TEXT NOT NULL,
  state TEXT NOT NULL DEFAULT 'pending' CHECK (state IN ('pending', 'delivered', 'deferred', 'failed')),
  attempts INTEGER NOT NULL DEFAULT 0,
  next_attempt INTEGER NOT NULL DEFAULT 0,
  last_reply TEXT NOT NULL DEFAULT ''
);
CREATE INDEX delivery_recipients_todo ON delivery_recipients(job_id, state, next_attempt);
CREATE TABLE archive (
  id INTEGER PRIMARY KEY,
  list_id INTEGER NOT NULL REFERENCES lists(id) ON DELETE CASCADE,
  uid INTEGER NOT NULL,
  spool_id TEXT NOT NULL,
  message_id TEXT NOT NULL DEFAULT '',
  date INTEGER NOT NULL,
  received INTEGER NOT NULL,
  from_addr TEXT NOT NULL DEFAULT '',
  from_name TEXT NOT NULL DEFAULT '',
  subject TEXT NOT NULL DEFAULT '',
  in_reply_to TEXT NOT NULL DEFAULT '',
  refs TEXT NOT NULL DEFAULT '',
  size INTEGER NOT NULL,
  path TEXT NOT NULL,
  UNIQUE (list_id, uid),
  UNIQUE (list_id, spool_id)
);
CREATE INDEX archive_msgid ON archive(message_id);
CREATE TABLE role_queue (
  id INTEGER PRIMARY KEY,
  list_id INTEGER REFERENCES lists(id) ON DELETE CASCADE,
  role TEXT NOT NULL,
  detail TEXT NOT NULL DEFAULT '',
  spool_id TEXT NOT NULL UNIQUE,
  sender TEXT NOT NULL,
  path TEXT NOT NULL,
  received INTEGER NOT NULL,
  state TEXT NOT NULL DEFAULT 'new'
);
CREATE TABLE processed (
  spool_id TEXT PRIMARY KEY,
  outcome TEXT NOT NULL,
  detail TEXT NOT NULL DEFAULT '',
  processed_at INTEGER NOT NULL
);
CREATE TABLE spool_attempts (
  spool_id TEXT PRIMARY KEY,
  attempts INTEGER NOT NULL
);
)SQL",
    // 2: subscription requests awaiting an owner, the log of automatic mails (rate limits),
    //    bounce scores, digests.
    R"SQL(
CREATE TABLE subscription_requests (
  id INTEGER PRIMARY KEY,
  list_id INTEGER NOT NULL REFERENCES lists(id) ON DELETE CASCADE,
  action TEXT NOT NULL,
  address TEXT NOT NULL,
  via TEXT NOT NULL DEFAULT '',
  created INTEGER NOT NULL,
  UNIQUE (list_id, action, address)
);
CREATE TABLE autoreply_log (
  id INTEGER PRIMARY KEY,
  list_id INTEGER REFERENCES lists(id) ON DELETE CASCADE,
  address TEXT NOT NULL,
  kind TEXT NOT NULL,
  sent_at INTEGER NOT NULL
);
CREATE INDEX autoreply_log_addr ON autoreply_log(address, kind, sent_at);
CREATE INDEX pending_tokens_expires ON pending_tokens(expires);
CREATE TABLE bounce_scores (
  list_id INTEGER NOT NULL REFERENCES lists(id) ON DELETE CASCADE,
  person_id INTEGER NOT NULL REFERENCES people(id) ON DELETE CASCADE,
  score REAL NOT NULL,
  last_day INTEGER NOT NULL,          -- unix day of the last counted bounce
  last_status TEXT NOT NULL DEFAULT '',
  warnings_sent INTEGER NOT NULL DEFAULT 0,
  next_warning INTEGER NOT NULL DEFAULT 0,
  PRIMARY KEY (list_id, person_id)
);
CREATE TABLE digest_items (
  id INTEGER PRIMARY KEY,
  list_id INTEGER NOT NULL REFERENCES lists(id) ON DELETE CASCADE,
  spool_id TEXT NOT NULL,
  subject TEXT NOT NULL,
  from_text TEXT NOT NULL,
  date TEXT NOT NULL,
  text TEXT NOT NULL,
  message BLOB NOT NULL,
  size INTEGER NOT NULL,
  added INTEGER NOT NULL,
  UNIQUE (list_id, spool_id)
);
CREATE TABLE digest_state (
  list_id INTEGER PRIMARY KEY REFERENCES lists(id) ON DELETE CASCADE,
  volume INTEGER NOT NULL,
  issue INTEGER NOT NULL,
  last_sent INTEGER NOT NULL
);
)SQL",
    // 3: the SMTP relay: progress times for `listctl queue` rates, an index for keyset
    // paging of a job's recipients, and the hook the bounce logic reads.
    R"SQL(
ALTER TABLE delivery_jobs ADD COLUMN first_attempt_ms INTEGER NOT NULL DEFAULT 0;
ALTER TABLE delivery_jobs ADD COLUMN last_progress_ms INTEGER NOT NULL DEFAULT 0;
CREATE INDEX delivery_recipients_job ON delivery_recipients(job_id, id);
-- Member jobs are filled in chunks (delivery.cpp job_fill_more): fill_cursor is the last
-- person id copied into delivery_recipients, -1 once every member is there.
ALTER TABLE delivery_jobs ADD COLUMN fill_cursor INTEGER NOT NULL DEFAULT -1;
ALTER TABLE delivery_jobs ADD COLUMN poster TEXT NOT NULL DEFAULT '';
-- Every recipient whose delivery failed for good (5xx, or 4xx past relay.max_queue_age),
-- with the reply: the bounce scoring (subscriptions issue) reads this.
CREATE VIEW delivery_failures AS
  SELECT r.id AS recipient_id, j.id AS job_id, j.list_id, j.kind, r.address, r.attempts, r.last_reply
  FROM delivery_recipients r JOIN delivery_jobs j ON j.id = r.job_id WHERE r.state = 'failed';
)SQL",
    // 4 (archive access, issue 5): IMAP/POP3 facts per archived post, FTS5, per-person state.
    R"SQL(
CREATE TABLE archive_imap (
  uid INTEGER PRIMARY KEY AUTOINCREMENT,  -- UID in the merged INBOX: ascending, never reused
  archive_id INTEGER NOT NULL UNIQUE REFERENCES archive(id) ON DELETE CASCADE,
  vsize INTEGER NOT NULL,                 -- RFC822.SIZE: octets with CRLF line ends
  envelope TEXT NOT NULL,
  body TEXT NOT NULL,
  bodystructure TEXT NOT NULL
);
CREATE VIRTUAL TABLE archive_fts USING fts5(subject, sender, recipients, body, tokenize = 'trigram');
CREATE TRIGGER archive_fts_forget AFTER DELETE ON archive BEGIN
  DELETE FROM archive_fts WHERE rowid = old.id;
END;
CREATE TABLE archive_seen (
  person_id INTEGER NOT NULL REFERENCES people(id) ON DELETE CASCADE,
  archive_id INTEGER NOT NULL REFERENCES archive(id) ON DELETE CASCADE,
  PRIMARY KEY (person_id, archive_id)
) WITHOUT ROWID;
CREATE TABLE pop3_hidden (
  person_id INTEGER NOT NULL REFERENCES people(id) ON DELETE CASCADE,
  archive_id INTEGER NOT NULL REFERENCES archive(id) ON DELETE CASCADE,
  PRIMARY KEY (person_id, archive_id)
) WITHOUT ROWID;
CREATE TABLE imap_inbox (
  person_id INTEGER PRIMARY KEY,          -- 0: anonymous
  lists TEXT NOT NULL,                    -- the list ids INBOX merged when uidvalidity was set
  uidvalidity INTEGER NOT NULL
);
CREATE INDEX archive_list_id ON archive(list_id, id);
)SQL",
    // 5: web admin: sessions (SHA-256 of the cookie), REST API tokens (SHA-256), failed logins.
    R"SQL(
CREATE TABLE web_sessions (
  id_hash TEXT PRIMARY KEY,
  person_id INTEGER NOT NULL REFERENCES people(id) ON DELETE CASCADE,
  csrf TEXT NOT NULL,
  created INTEGER NOT NULL,
  expires INTEGER NOT NULL
);
CREATE TABLE api_tokens (
  token_hash TEXT PRIMARY KEY,
  person_id INTEGER NOT NULL REFERENCES people(id) ON DELETE CASCADE,
  created INTEGER NOT NULL
);
CREATE TABLE login_failures (
  key TEXT NOT NULL,
  at INTEGER NOT NULL
);
CREATE INDEX login_failures_key ON login_failures(key, at);
-- archive month pages read one list's month by date.
CREATE INDEX archive_web_list_date ON archive(list_id, date);
)SQL",
    // 6: how far the bounce scoring has read the relay's permanent failures.
    R"SQL(
CREATE TABLE bounce_feed (
  id INTEGER PRIMARY KEY CHECK (id = 1),
  last_recipient_id INTEGER NOT NULL
);
INSERT INTO bounce_feed(id, last_recipient_id) VALUES (1, 0);
)SQL",
    // 7 (relay): personalized delivery. A post job of a list with personalize = footer|full
    // records the mode and the footer rendered with per-member placeholders (the queued
    // message then has no footer: the relay adds each member's own, listd/relay_personalize.hpp).
    R"SQL(
ALTER TABLE delivery_jobs ADD COLUMN personalize TEXT NOT NULL DEFAULT 'none';
ALTER TABLE delivery_jobs ADD COLUMN footer TEXT NOT NULL DEFAULT '';
)SQL",
    // 8 (scale): the open jobs, the deferred recipients and a list's digest members by index
    // (whole-table scans on every pass or post before), and the purge of delivered-recipient
    // rows of finished jobs after relay.keep_delivered (delivery.hpp purge_delivered).
    R"SQL(
CREATE INDEX delivery_jobs_open ON delivery_jobs(id) WHERE done = 0;
CREATE INDEX delivery_recipients_deferred ON delivery_recipients(next_attempt) WHERE state = 'deferred';
ALTER TABLE delivery_jobs ADD COLUMN done_at INTEGER NOT NULL DEFAULT 0;
ALTER TABLE delivery_jobs ADD COLUMN purged INTEGER NOT NULL DEFAULT 0;
CREATE INDEX delivery_jobs_unpurged ON delivery_jobs(done_at) WHERE done = 1 AND purged = 0;
-- digest_add asks "any digest member?" for every post: without this it read every membership
-- of the list (200 ms at 1,000,000 members, before the post's first delivery).
CREATE INDEX memberships_digest ON memberships(list_id) WHERE role = 'member' AND delivery != 'regular';
-- Owners and moderators of a list (notices, moderation) without reading its members
-- (store.cpp role_filter).
CREATE INDEX memberships_staff ON memberships(list_id, role) WHERE role != 'member';
-- The maintenance pass (startup, every tick): the relay's new failures for the bounce
-- scoring, and the bounce warnings due (each read every delivered row / every membership).
CREATE INDEX delivery_recipients_failed ON delivery_recipients(id) WHERE state = 'failed';
CREATE INDEX bounce_scores_due ON bounce_scores(next_warning) WHERE next_warning > 0;
)SQL",
};

}  // namespace

int db_schema_version() {
  return static_cast<int>(kMigrations.size());
}

std::unique_ptr<SQLite::Database> db_open(const std::filesystem::path& path, bool create) {
  int flags = SQLite::OPEN_READWRITE | SQLite::OPEN_FULLMUTEX;
  if (create) flags |= SQLite::OPEN_CREATE;
  if (!create && !std::filesystem::exists(path))
    throw std::runtime_error(path.string() + ": database not found (has the data dir been created?)");
  mode_t old = ::umask(077);
  std::unique_ptr<SQLite::Database> db;
  try {
    db = std::make_unique<SQLite::Database>(path.string(), flags, 10000);
  } catch (...) {
    ::umask(old);
    throw;
  }
  ::umask(old);
  db->exec("PRAGMA journal_mode=WAL");
  db->exec("PRAGMA synchronous=FULL");
  db->exec("PRAGMA foreign_keys=ON");
  int version = db->execAndGet("PRAGMA user_version").getInt();
  if (version > db_schema_version())
    throw std::runtime_error(path.string() + ": schema version " + std::to_string(version) +
                             " is newer than this build knows (" + std::to_string(db_schema_version()) + ")");
  while (version < db_schema_version()) {
    SQLite::Transaction tx(*db, SQLite::TransactionBehavior::IMMEDIATE);
    // Re-read under the write lock: another process may have migrated meanwhile.
    version = db->execAndGet("PRAGMA user_version").getInt();
    if (version >= db_schema_version()) break;
    db->exec(kMigrations[static_cast<std::size_t>(version)]);
    db->exec("PRAGMA user_version=" + std::to_string(version + 1));
    tx.commit();
    ++version;
  }
  return db;
}

WriteTx::WriteTx(SQLite::Database& db) : db_(db) {
  static std::atomic<unsigned> counter{0};
  nested_ = sqlite3_get_autocommit(db_.getHandle()) == 0;
  if (nested_) {
    name_ = "sp" + std::to_string(counter.fetch_add(1));
    db_.exec("SAVEPOINT " + name_);
  } else {
    db_.exec("BEGIN IMMEDIATE");
  }
}

WriteTx::~WriteTx() {
  if (done_) return;
  try {
    if (nested_) {
      db_.exec("ROLLBACK TO " + name_);
      db_.exec("RELEASE " + name_);
    } else {
      db_.exec("ROLLBACK");
    }
  } catch (...) {
    // Rolling back after an error can fail (the error may have ended the transaction); the
    // outer code reports the original error.
  }
}

void WriteTx::commit() {
  db_.exec(nested_ ? "RELEASE " + name_ : std::string("COMMIT"));
  done_ = true;
}

}  // namespace listd
