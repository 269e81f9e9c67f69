// config.hpp - the listd INI configuration (DESIGN.md "Config"): one file, every key has a
// default, unknown keys and bad values are errors that name the file, line and key.
//
// Syntax: `[section]` headers, `key = value` lines, comments start with `;` or `#` at the
// start of a line or after whitespace. Keys before any section are global. Relative paths
// (data_dir, tls files, templates_dir) are resolved against the config file's folder.
// Callers: every executable (listd, listctl, newlist) through load_config().
#pragma once

#include <cstdint>
#include <filesystem>
#include <optional>
#include <stdexcept>
#include <string>
#include <vector>

namespace listd {

struct ConfigError : std::runtime_error {
  using std::runtime_error::runtime_error;
};

struct Endpoint {
  std::string host;  // "127.0.0.1", "::1", "0.0.0.0"
  std::uint16_t port = 0;
  bool empty() const { return host.empty(); }
  std::string str() const;
};

struct Listener {
  Endpoint listen;
  Endpoint tls_listen;            // implicit TLS; empty = off
  std::string tls_cert, tls_key;  // resolved: own value, else [tls]
};

enum class RelayMode { smarthost, mx, maildir };
enum class RelayTls { none, opportunistic, required, verify };
enum class PlaintextAuth { no, loopback, yes };

struct Config {
  std::filesystem::path file;  // where it was loaded from (empty = defaults only)
  std::filesystem::path data_dir = "/var/lib/listd";
  std::string hostname = "lists.mired.org";
  std::string base_url = "http://lists.mired.org:8080";
  std::string user = "listd";           // user to drop to when started as root
  std::filesystem::path templates_dir;  // empty = built-in templates only
  std::string log_level = "info";       // error | warn | info | debug | trace

  Listener smtp{{"127.0.0.1", 2525}, {}, {}, {}};
  std::uint64_t smtp_max_message_size = 10485760;
  Listener lmtp{{"127.0.0.1", 8024}, {}, {}, {}};
  std::uint64_t lmtp_max_message_size = 0;  // [lmtp] max_message_size; 0 = not set: [smtp]'s
  Listener http{{"127.0.0.1", 8080}, {}, {}, {}};
  // [http] hsts_max_age: Strict-Transport-Security max-age (seconds) sent on HTTPS answers
  // (tls_listen); 0 = not sent. Browsers then refuse plain HTTP to the host on every port.
  std::uint64_t http_hsts_max_age = 0;
  Listener imap{{"127.0.0.1", 1143}, {}, {}, {}};
  Listener pop3{{"127.0.0.1", 1110}, {}, {}, {}};

  struct Relay {
    RelayMode mode = RelayMode::maildir;
    Endpoint host{"127.0.0.1", 25};
    unsigned connections = 8;
    unsigned max_recipients = 100;
    unsigned retry_initial = 300;
    unsigned retry_max = 3600;
    unsigned max_queue_age = 432000;
    RelayTls tls = RelayTls::opportunistic;
    // The SMTP relay (listd/relay.hpp, docs/relay.md).
    unsigned per_destination = 4;          // MX mode: connections to one domain (a smarthost gets all)
    std::string auth_user, auth_password;  // AUTH PLAIN/LOGIN to the smarthost; empty = none
    Endpoint resolver;                     // MX mode: DNS server to ask; empty = /etc/resolv.conf
    std::uint16_t mx_port = 25;            // MX mode: port of the MX hosts (tests use a free port)
    unsigned command_timeout = 300;        // caps every RFC 5321 4.5.3.2 step timeout (seconds)
    // Seconds the delivered-recipient rows of a finished job are kept (for `listctl queue
    // --all` / who-got-what questions); then they are deleted, so the database does not grow
    // by one row per member and post. Failed rows are kept (the bounce history).
    unsigned keep_delivered = 86400;
  } relay;

  // [smtp] and [lmtp] receiver limits (listd/smtp_service.cpp, smtp/server.hpp); the same keys
  // in both sections, each section with its own values. Times in seconds.
  struct ReceiverLimits {
    unsigned max_recipients = 100;         // per transaction: 452 4.5.3 past it
    unsigned max_command_line = 512;       // octets with CRLF (RFC 5321 minimum): 500 5.5.2
    unsigned max_text_line = 1000;         // octets with CRLF in the message: 554 5.6.0
    unsigned command_timeout = 300;        // deadline for one command line: 421 4.4.2
    unsigned data_timeout = 600;           // deadline for a whole DATA/BDAT transfer: 421 4.4.2
    unsigned max_connections = 100;        // overall: 421 4.7.0 at the greeting
    unsigned max_connections_per_ip = 20;  // per client IP: 421 4.7.0
    unsigned max_errors = 20;              // error replies before 421 and close
    unsigned max_received = 100;           // Received: fields before 554 5.4.6 (loop)
    unsigned commit_threads = 8;           // concurrent durable commits (fsync)
    // Message header caps (SECURITY S-05): past any of them 552 5.3.4 after the data, nothing
    // is spooled.
    unsigned max_header_size = 65536;        // octets of the whole header (with CRLFs)
    unsigned max_header_fields = 1000;       // header fields (a folded field counts once)
    unsigned max_header_field_size = 32768;  // octets of one field, folded lines included
    unsigned greet_pause_ms = 0;             // S-13: wait this long before the 220; bytes seen by then: 554
  };
  ReceiverLimits smtp_limits, lmtp_limits;

  PlaintextAuth plaintext_auth = PlaintextAuth::loopback;
  std::string tls_cert, tls_key;  // [tls] defaults

  std::uint64_t tokens_ttl = 3 * 86400;  // seconds a confirmation token lives

  struct Spool {
    unsigned workers = 2;       // worker threads for spool processing and delivery
    unsigned max_attempts = 3;  // recoveries before a message is set aside (SECURITY P5)
    // defer_during_intake - ms a spool pass may wait for an SMTP/LMTP burst to end (0 = never
    // wait); see IntakePriority in listd/intake.hpp.
    unsigned defer_during_intake = 1000;
    // journal - SMTP/LMTP intake through the group-commit journal (listd/intake_journal.hpp):
    // several messages per fdatasync. `no`: one fsync'd file per message (as listctl pipe).
    bool journal = true;
    std::uint64_t journal_segment_size = 16ull << 20;  // bytes per journal segment file
  } spool;

  // IMAP and POP3 sessions (listd/archive_net.hpp): their own worker pool, shared by both
  // services ([imap] workers), at most max_logins password checks at once ([imap] max_logins;
  // more logins wait in order without holding a worker), and the login cache ([auth] cache_ttl
  // seconds a successful check is remembered; 0 = off).
  struct Archive {
    unsigned workers = 2;
    unsigned max_logins = 1;
    unsigned auth_cache_ttl = 300;
  } archive;

  // Paths derived from data_dir.
  std::filesystem::path db_path() const { return data_dir / "listd.db"; }
  std::filesystem::path spool_dir() const { return data_dir / "spool"; }
  std::filesystem::path archive_dir() const { return data_dir / "archive"; }
  std::filesystem::path outbox_dir() const { return data_dir / "outbox"; }
  std::filesystem::path queue_dir() const { return data_dir / "queue"; }
  std::filesystem::path held_dir() const { return data_dir / "held"; }
};

// parse_config - parse INI text; `origin` names the file in errors and anchors relative paths.
// Throws ConfigError("FILE:LINE: key 'x': reason").
Config parse_config(const std::string& text, const std::filesystem::path& origin);

// load_config - read and parse FILE. Throws ConfigError (also for an unreadable file).
Config load_config(const std::filesystem::path& file);

// config_path - --config value, else $LISTD_CONFIG, else /etc/listd/listd.conf.
std::filesystem::path config_path(const std::string& flag_value);

}  // namespace listd
