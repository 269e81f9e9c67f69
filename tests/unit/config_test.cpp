// config_test.cpp - the INI loader: defaults, every section, and errors naming file:line:key.
#include <gtest/gtest.h>

#include "listd/config.hpp"

using namespace listd;

TEST(Config, DefaultsWhenEmpty) {
  Config c = parse_config("", "/etc/listd/listd.conf");
  EXPECT_EQ(c.data_dir, "/var/lib/listd");
  EXPECT_EQ(c.hostname, "lists.mired.org");
  EXPECT_EQ(c.smtp.listen.str(), "127.0.0.1:2525");
  EXPECT_EQ(c.lmtp.listen.port, 8024);
  EXPECT_EQ(c.http.listen.port, 8080);
  EXPECT_EQ(c.imap.listen.port, 1143);
  EXPECT_EQ(c.pop3.listen.port, 1110);
  EXPECT_EQ(c.relay.connections, 8u);
  EXPECT_EQ(c.relay.max_recipients, 100u);
  EXPECT_EQ(c.relay.retry_initial, 300u);
  EXPECT_EQ(c.relay.max_queue_age, 432000u);
  EXPECT_EQ(c.smtp_max_message_size, 10485760u);
  EXPECT_EQ(c.plaintext_auth, PlaintextAuth::loopback);
}

TEST(Config, DesignExampleParses) {
  const char* text = R"(data_dir = /srv/listd
hostname = lists.mired.org          ; default list host
base_url = http://lists.mired.org:8080/
[smtp]
listen = 127.0.0.1:2526
max_message_size = 2048000
tls_listen = [::1]:4650
[relay]
mode = smarthost   # comment
host = 127.0.0.1:25
connections = 4
max_recipients = 50
retry_initial = 60
retry_max = 600
max_queue_age = 86400
[auth]
plaintext = no
[tls]
tls_cert = certs/c.pem
tls_key = /abs/k.pem
[imap]
tls_cert = own.pem
)";
  Config c = parse_config(text, "/etc/listd/listd.conf");
  EXPECT_EQ(c.data_dir, "/srv/listd");
  EXPECT_EQ(c.base_url, "http://lists.mired.org:8080");
  EXPECT_EQ(c.smtp.listen.port, 2526);
  EXPECT_EQ(c.smtp.tls_listen.host, "::1");
  EXPECT_EQ(c.smtp.tls_listen.str(), "[::1]:4650");
  EXPECT_EQ(c.smtp_max_message_size, 2048000u);
  EXPECT_EQ(c.relay.mode, RelayMode::smarthost);
  EXPECT_EQ(c.relay.connections, 4u);
  EXPECT_EQ(c.plaintext_auth, PlaintextAuth::no);
  EXPECT_EQ(c.tls_cert, "/etc/listd/certs/c.pem");
  EXPECT_EQ(c.smtp.tls_cert, "/etc/listd/certs/c.pem");  // inherited from [tls]
  EXPECT_EQ(c.imap.tls_cert, "/etc/listd/own.pem");      // own value wins
  EXPECT_EQ(c.imap.tls_key, "/abs/k.pem");
}

TEST(Config, RelativeDataDirIsAnchoredAtTheConfigFile) {
  Config c = parse_config("data_dir = data\n", "/home/ana/demo/listd.conf");
  EXPECT_EQ(c.data_dir, "/home/ana/demo/data");
}

struct BadConfig {
  const char* name;
  const char* text;
  const char* expect;  // substring of the error
};

class ConfigErrors : public ::testing::TestWithParam<BadConfig> {};

TEST_P(ConfigErrors, NameFileLineAndKey) {
  try {
    parse_config(GetParam().text, "/etc/listd/listd.conf");
    FAIL() << "no error for " << GetParam().name;
  } catch (const ConfigError& e) {
    EXPECT_NE(std::string(e.what()).find(GetParam().expect), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find("/etc/listd/listd.conf:"), std::string::npos) << e.what();
  }
}

INSTANTIATE_TEST_SUITE_P(
    Rows, ConfigErrors,
    ::testing::Values(
        BadConfig{"unknown_key", "hostname = a.b\nfoo = 1\n", "listd.conf:2: key 'foo': unknown key"},
        BadConfig{"unknown_key_in_section", "[smtp]\nlisten = 127.0.0.1:1\nbogus = 2\n",
                  ":3: key 'smtp.bogus': unknown key"},
        BadConfig{"unknown_section", "[nope]\n", ":1: key '[nope]': unknown section"},
        BadConfig{"bad_port", "[smtp]\nlisten = 127.0.0.1:99999\n", ":2: key 'smtp.listen': value 99999 out of range"},
        BadConfig{"no_port", "[http]\nlisten = localhost\n", "key 'http.listen': expected HOST:PORT"},
        BadConfig{"bad_mode", "[relay]\nmode = pigeon\n", "key 'relay.mode': expected smarthost | mx | maildir"},
        BadConfig{"negative", "[relay]\nconnections = -1\n", "key 'relay.connections': expected a whole number"},
        BadConfig{"zero_connections", "[relay]\nconnections = 0\n", "out of range"},
        BadConfig{"huge_number", "[relay]\nmax_recipients = 99999999999999999999999\n", "expected a whole number"},
        BadConfig{"no_equals", "hostname\n", ":1: key 'hostname': expected key = value"},
        BadConfig{"twice", "hostname = a.b\nhostname = c.d\n", ":2: key 'hostname': set twice"},
        BadConfig{"bad_base_url", "base_url = ftp://x\n", "key 'base_url': must start with http"},
        BadConfig{"bad_plaintext", "[auth]\nplaintext = maybe\n", "key 'auth.plaintext'"},
        BadConfig{"unclosed_section", "[smtp\n", "malformed section header"},
        BadConfig{"retry_order", "[relay]\nretry_initial = 900\nretry_max = 60\n", "relay.retry_initial"}),
    [](const auto& info) { return std::string(info.param.name); });

TEST(Config, UnreadableFile) {
  EXPECT_THROW(load_config("/nonexistent/listd.conf"), ConfigError);
}

// Issue 8: the archive pool, the login queue and the login cache.
TEST(Config, ArchiveAccessKeys) {
  Config d = parse_config("", "/etc/listd/listd.conf");
  EXPECT_EQ(d.archive.workers, 2u);
  EXPECT_EQ(d.archive.max_logins, 1u);
  EXPECT_EQ(d.archive.auth_cache_ttl, 300u);
  Config c = parse_config("[imap]\nworkers = 4\nmax_logins = 2\n[auth]\ncache_ttl = 0\n", "/etc/listd/listd.conf");
  EXPECT_EQ(c.archive.workers, 4u);
  EXPECT_EQ(c.archive.max_logins, 2u);
  EXPECT_EQ(c.archive.auth_cache_ttl, 0u);
  EXPECT_THROW(parse_config("[imap]\nworkers = 0\n", "x.conf"), ConfigError);
  EXPECT_THROW(parse_config("[imap]\nmax_logins = 0\n", "x.conf"), ConfigError);
  EXPECT_THROW(parse_config("[auth]\ncache_ttl = 86401\n", "x.conf"), ConfigError);
  EXPECT_THROW(parse_config("[pop3]\nworkers = 2\n", "x.conf"), ConfigError);  // one key, in [imap]
}
