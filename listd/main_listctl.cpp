// main_listctl.cpp - the admin CLI (`listctl`) and the Mailman-2-style `newlist` front,
// chosen by argv[0]. Works while listd runs (SQLite WAL, busy timeout).
//
// Exit codes follow sysexits(3), as Postfix's pipe(8) expects from `listctl pipe`:
//   0 ok, 64 usage, 65 bad data, 67 unknown list/user, 75 temporary trouble (retry),
//   78 config error. Any message for Postfix is one line on stderr, starting with an
//   enhanced status code where one fits ("5.1.1 ...").
#include <SQLiteCpp/Statement.h>
#include <SQLiteCpp/Transaction.h>
#include <sys/stat.h>
#include <termios.h>
#include <unistd.h>
#include <CLI/CLI.hpp>

#include <cstdio>
#include <cstring>
#include <ctime>
#include <fstream>
#include <iostream>
#include <sstream>

#include "listd/archive_mbox.hpp"
#include "listd/bounce.hpp"
#include "listd/config.hpp"
#include "listd/db.hpp"
#include "listd/delivery.hpp"
#include "listd/digest.hpp"
#include "listd/fsutil.hpp"
#include "listd/message.hpp"
#include "listd/password.hpp"
#include "listd/router.hpp"
#include "listd/spool.hpp"
#include "listd/store.hpp"
#include "listd/subscription.hpp"
#include "listd/templates.hpp"
#include "smtp/address.hpp"
#include "web-admin/auth.hpp"

using namespace listd;

namespace {

constexpr int EX_OK_ = 0, EX_USAGE_ = 64, EX_DATAERR_ = 65, EX_NOINPUT_ = 66, EX_NOUSER_ = 67, EX_TEMPFAIL_ = 75,
              EX_CONFIG_ = 78;

struct Failure {
  int code;
  std::string message;
};

Config load(const std::string& flag) {
  try {
    return load_config(config_path(flag));
  } catch (const ConfigError& e) {
    throw Failure{EX_CONFIG_, e.what()};
  }
}

std::unique_ptr<SQLite::Database> open_db(const Config& cfg, bool create = false) {
  if (create) {
    if (auto why = check_data_dir(cfg.data_dir); !why.empty()) throw Failure{EX_CONFIG_, why};
    ::umask(077);
    make_private_dir(cfg.data_dir);
  }
  try {
    return db_open(cfg.db_path(), create);
  } catch (const std::exception& e) {
    throw Failure{EX_TEMPFAIL_, std::string("database: ") + e.what()};
  }
}

// address_from_line - "addr", "Name <addr>" or "addr (Name)"; blank and '#' lines -> "".
std::string address_from_line(std::string line) {
  auto b = line.find_first_not_of(" \t\r");
  if (b == std::string::npos || line[b] == '#') return {};
  line = line.substr(b);
  line.erase(line.find_last_not_of(" \t\r") + 1);
  auto lt = line.rfind('<');
  auto gt = line.rfind('>');
  if (lt != std::string::npos && gt != std::string::npos && gt > lt) return line.substr(lt + 1, gt - lt - 1);
  return line.substr(0, line.find_first_of(" \t"));
}

std::vector<std::string> addresses_from(const std::vector<std::string>& args, const std::string& file) {
  std::vector<std::string> out;
  for (auto& a : args) out.push_back(a);
  if (!file.empty()) {
    std::ifstream f;
    std::istream* in = &std::cin;
    if (file != "-") {
      f.open(file);
      if (!f) throw Failure{EX_DATAERR_, "cannot read " + file};
      in = &f;
    }
    std::string line;
    while (std::getline(*in, line)) {
      auto a = address_from_line(line);
      if (!a.empty()) out.push_back(a);
    }
  }
  return out;
}

std::string read_password_tty(const std::string& prompt) {
  if (!::isatty(0)) {
    std::string line;
    std::getline(std::cin, line);
    if (!line.empty() && line.back() == '\r') line.pop_back();
    return line;
  }
  std::cerr << prompt;
  termios old{};
  ::tcgetattr(0, &old);
  termios quiet = old;
  quiet.c_lflag &= ~static_cast<tcflag_t>(ECHO);
  ::tcsetattr(0, TCSANOW, &quiet);
  std::string line;
  std::getline(std::cin, line);
  ::tcsetattr(0, TCSANOW, &old);
  std::cerr << "\n";
  return line;
}

std::string format_time(std::int64_t t) {
  if (t == 0) return "-";
  std::time_t tt = static_cast<std::time_t>(t);
  std::tm tm{};
  gmtime_r(&tt, &tm);
  char buf[32];
  std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", &tm);
  return buf;
}

void print_postfix_lines(const Config& cfg, const ListRow& l) {
  std::cout << "Postfix: hand mail for " << l.host << " to listd. In main.cf:\n"
            << "    relay_domains = " << l.host << "\n"
            << "    transport_maps = hash:/etc/postfix/transport\n"
            << "In /etc/postfix/transport (then run: postmap /etc/postfix/transport):\n"
            << "    " << l.host << "    listd:\n"
            << "In master.cf:\n"
            << "    listd unix - n n - - pipe\n"
            << "      flags=Rq user=listd argv=/usr/local/bin/listctl --config " << cfg.file.string()
            << " pipe ${nexthop} ${user} --sender ${sender}\n"
            << "Or, over LMTP instead of the pipe, in /etc/postfix/transport:\n"
            << "    " << l.host << "    lmtp:inet:" << cfg.lmtp.listen.str() << "\n";
}

std::string newlist_notice(const Config& cfg, const ListRow& l, const std::string& owner) {
  Templates t(cfg.templates_dir, cfg.data_dir / "templates");
  TemplateVars vars{{"list_name", l.name},         {"list_host", l.host},
                    {"list_address", l.address()}, {"owner", owner},
                    {"base_url", cfg.base_url},    {"list_url", cfg.base_url + "/lists/" + l.address()}};
  std::string body = t.render("mail/newlist.txt", vars);
  return compose_notice(l, "owner", owner, "Your new mailing list: " + l.name, body);
}

int do_newlist(const Config& cfg, const std::string& address, const std::string& owner, const std::string& password,
               bool quiet) {
  auto db = open_db(cfg, true);
  Store store(*db);
  ListRow l;
  try {
    auto [name, host] = split_list_address(address);
    l = store.create_list(name, host, owner);
    if (!password.empty()) store.set_password_hash(*store.find_person(owner), hash_password(password));
  } catch (const StoreError& e) {
    throw Failure{EX_DATAERR_, e.what()};
  }
  std::cout << "Created list " << l.address() << " (owner " << *smtp::normalize_address(owner) << ")\n";
  print_postfix_lines(cfg, l);
  if (!quiet) {
    queue_notice(cfg, *db, l, *smtp::normalize_address(owner), newlist_notice(cfg, l, owner));
    wake_delivery(cfg);
  }
  return EX_OK_;
}

ListRow get_list(Store& store, const std::string& address) {
  try {
    return store.get_list(address);
  } catch (const StoreError& e) {
    throw Failure{EX_NOUSER_, e.what()};
  }
}

// intake - the common path of `inject` and `pipe`: read stdin, check, spool durably.
int intake(const Config& cfg, const std::string& recipient, const std::string& sender, const std::string& via) {
  std::unique_ptr<SQLite::Database> db;
  try {
    db = db_open(cfg.db_path());
  } catch (const std::exception& e) {
    throw Failure{EX_TEMPFAIL_, std::string("4.3.0 listd database unavailable: ") + e.what()};
  }
  Store store(*db);
  auto route = route_address(
      recipient, [&](const std::string& n, const std::string& h) { return store.find_list(n, h).has_value(); });
  if (!route) throw Failure{EX_NOUSER_, "5.1.1 <" + recipient + ">: no such list"};
  if (!sender.empty() && !smtp::normalize_address(sender, true))
    throw Failure{EX_DATAERR_, "5.1.7 invalid sender address <" + sender + ">"};
  // Read stdin in bounded chunks straight into the spool writer.
  Spool spool(cfg.spool_dir());
  SpoolEnvelope env;
  env.via = via;
  env.sender = sender;
  env.recipient = recipient;
  std::string head;  // the first bytes, to check there is a header block
  try {
    SpoolWriter w(spool, env);
    char buf[65536];
    std::size_t total = 0;
    for (;;) {
      std::size_t n = std::fread(buf, 1, sizeof buf, stdin);
      if (n == 0) break;
      total += n;
      if (total > cfg.smtp_max_message_size)
        throw Failure{EX_DATAERR_,
                      "5.3.4 message too big (limit " + std::to_string(cfg.smtp_max_message_size) + " bytes)"};
      // As SMTP's DATA (554 5.6.0): a NUL byte is refused, so no later consumer (decoration,
      // archive, IMAP literals, relay) ever sees one.
      if (std::memchr(buf, '\0', n) != nullptr) throw Failure{EX_DATAERR_, "5.6.0 message contains a NUL byte"};
      if (head.size() < 65536) head.append(buf, std::min(n, 65536 - head.size()));
      w.append(std::string_view(buf, n));
    }
    if (std::ferror(stdin)) throw Failure{EX_TEMPFAIL_, "4.3.0 error reading the message"};
    if (total == 0) throw Failure{EX_DATAERR_, "5.6.0 empty message"};
    // A message must start with a header field ("Name:"), RFC 5322 §2.2.
    auto colon = head.find(':');
    auto nl = head.find('\n');
    bool header_first = colon != std::string::npos && colon > 0 && (nl == std::string::npos || colon < nl) &&
                        head.find_first_of(" \t\r\n") > colon - 1;
    if (!header_first) throw Failure{EX_DATAERR_, "5.6.0 message has no header block"};
    std::string id = w.commit();
    std::cout << id << "\n";
  } catch (const Failure&) {
    throw;
  } catch (const std::exception& e) {
    throw Failure{EX_TEMPFAIL_, std::string("4.3.0 cannot spool message: ") + e.what()};
  }
  return EX_OK_;
}

int run_listctl(int argc, char** argv) {
  CLI::App app{"listctl - administer listd mailing lists"};
  app.require_subcommand(1);
  std::string config_flag;
  app.add_option("--config", config_flag, "config file (default $LISTD_CONFIG, else /etc/listd/listd.conf)");

  // newlist
  std::string nl_addr, nl_owner, nl_password;
  bool nl_quiet = false;
  auto* newlist = app.add_subcommand("newlist", "create a list");
  newlist->add_option("LIST@HOST", nl_addr)->required();
  newlist->add_option("--owner", nl_owner, "owner email")->required();
  newlist->add_option("--password", nl_password, "set the owner's password");
  newlist->add_flag("--quiet,-q", nl_quiet, "do not mail the owner");

  std::string rm_addr;
  bool rm_archives = false;
  auto* rmlist = app.add_subcommand("rmlist", "delete a list");
  rmlist->add_option("LIST@HOST", rm_addr)->required();
  rmlist->add_flag("--archives", rm_archives, "also delete the archive");

  auto* lists = app.add_subcommand("lists", "show all lists");

  std::string m_addr, m_action, m_file, m_role = "member";
  std::vector<std::string> m_emails;
  auto* members = app.add_subcommand("members", "list, add or remove members");
  members->add_option("LIST@HOST", m_addr)->required();
  members->add_option("ACTION", m_action)
      ->required()
      ->check(CLI::IsMember({"list", "add", "remove", "invite", "subscribe"}));
  members->add_option("EMAIL", m_emails);
  members->add_option("--file", m_file, "one address a line ('-' for stdin)");
  std::string m_delivery;
  members->add_option("--delivery", m_delivery, "with add: regular, digest_mime or digest_plain")
      ->check(CLI::IsMember({"regular", "digest_mime", "digest_plain"}));
  members->add_option("--role", m_role, "member (default), owner or moderator")
      ->check(CLI::IsMember({"member", "owner", "moderator"}));

  std::string in_addr, in_sender;
  auto* inject = app.add_subcommand("inject", "post a message (stdin) to a list");
  inject->add_option("LIST@HOST", in_addr)->required();
  inject->add_option("--sender", in_sender, "envelope sender");

  std::string p_nexthop, p_user, p_sender;
  auto* pipe = app.add_subcommand("pipe", "Postfix pipe(8) intake: message on stdin");
  pipe->add_option("NEXTHOP", p_nexthop)->required();
  pipe->add_option("USER", p_user)->required();
  pipe->add_option("--sender", p_sender, "envelope sender (${sender})");

  std::string a_email, a_password;
  auto* admin = app.add_subcommand("admin", "site administrators");
  auto* admin_add = admin->add_subcommand("add", "add a site administrator");
  admin->require_subcommand(1);
  admin_add->add_option("EMAIL", a_email)->required();
  admin_add->add_option("--password", a_password)->required();

  std::string pw_email, pw_password;
  auto* passwd = app.add_subcommand("passwd", "set a person's password");
  passwd->add_option("EMAIL", pw_email)->required();
  auto* pw_opt = passwd->add_option("--password", pw_password);

  bool q_all = false;
  auto* queue = app.add_subcommand("queue", "show delivery jobs");
  queue->add_flag("--all", q_all, "include finished jobs");

  std::string h_addr;
  auto* held = app.add_subcommand("held", "show held posts of a list");
  held->add_option("LIST@HOST", h_addr)->required();

  std::string t_email;
  auto* token = app.add_subcommand("token", "REST API bearer tokens");
  auto* token_create = token->add_subcommand("create", "print a new bearer token for EMAIL (only its hash is kept)");
  token->require_subcommand(1);
  token_create->add_option("EMAIL", t_email)->required();

  std::string s_addr, s_key, s_value;
  auto* settings = app.add_subcommand("settings", "show or change a list's settings");
  settings->add_option("LIST@HOST", s_addr)->required();
  settings->add_option("KEY", s_key);
  auto* s_value_opt = settings->add_option("VALUE", s_value);

  std::string d_addr;
  bool d_send = false;
  auto* digest = app.add_subcommand("digest", "show or send a list's collected digest");
  digest->add_option("LIST@HOST", d_addr)->required();
  digest->add_flag("--send", d_send, "send the digest now");

  std::string bc_verp;
  auto* bounce_check = app.add_subcommand("bounce-check", "is the message on stdin a bounce? which addresses?");
  bounce_check->add_option("--verp", bc_verp, "the VERP-decoded recipient, if the bounce came to NAME-bounces+x=y@");
  // import-mbox / export-mbox (archive access, issue 5)
  std::string im_addr, im_file, ex_addr;
  auto* import_mbox = app.add_subcommand("import-mbox", "add the posts of an mbox(rd) file to a list's archive");
  import_mbox->add_option("LIST@HOST", im_addr)->required();
  import_mbox->add_option("FILE", im_file, "mbox file ('-' for stdin)")->required();
  auto* export_mbox = app.add_subcommand("export-mbox", "write a list's archive to stdout as mboxrd");
  export_mbox->add_option("LIST@HOST", ex_addr)->required();

  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    int rc = app.exit(e);
    return rc == 0 ? 0 : EX_USAGE_;
  }

  if (*bounce_check) {
    // The same parser the daemon runs on mail to NAME-bounces@; needs no config.
    std::ostringstream ss;
    ss << std::cin.rdbuf();
    auto r = bounce_parse(ss.str(), bc_verp);
    std::cout << "bounce: " << (r.is_bounce ? "yes" : "no");
    if (r.is_bounce) std::cout << " (" << r.format << ")";
    std::cout << "\n";
    for (auto& a : r.addresses)
      std::cout << a.address << "\t" << (a.permanent ? "permanent" : "temporary")
                << (a.status.empty() ? "" : "\t" + a.status) << "\n";
    return EX_OK_;
  }

  Config cfg = load(config_flag);

  if (*newlist) return do_newlist(cfg, nl_addr, nl_owner, nl_password, nl_quiet);

  if (*rmlist) {
    auto db = open_db(cfg);
    Store store(*db);
    auto l = get_list(store, rm_addr);
    store.delete_list(l);
    if (rm_archives) {
      std::error_code ec;
      std::filesystem::remove_all(cfg.archive_dir() / l.address(), ec);
    }
    std::cout << "Removed list " << l.address() << (rm_archives ? " and its archive" : "") << "\n";
    return EX_OK_;
  }

  if (*lists) {
    auto db = open_db(cfg);
    Store store(*db);
    auto all = store.all_lists();
    for (auto& l : all)
      std::cout << l.address() << "\tmembers=" << store.count_members(l)
                << "\towners=" << store.count_members(l, "owner")
                << (l.settings.description.empty() ? "" : "\t" + l.settings.description) << "\n";
    if (all.empty()) std::cerr << "no lists\n";
    return EX_OK_;
  }

  if (*members) {
    auto db = open_db(cfg);
    Store store(*db);
    auto l = get_list(store, m_addr);
    if (m_action == "list") {
      for (auto& m : store.members(l, m_role))
        std::cout << m.email << (m.moderated ? " moderated" : "") << (m.nomail ? " nomail" : "")
                  << (m.delivery != "regular" ? " " + m.delivery : "") << "\n";
      return EX_OK_;
    }
    auto emails = addresses_from(m_emails, m_file);
    if (emails.empty()) throw Failure{EX_USAGE_, "no addresses given (EMAIL... or --file F)"};
    if (m_action == "invite" || m_action == "subscribe") {
      // The email path: invite = the owner invites (the invitee confirms); subscribe = as if
      // the person had asked (the list's policy applies: confirmation, moderation...).
      Templates t(cfg.templates_dir, cfg.data_dir / "templates");
      Subscriptions subs(cfg, *db, t);
      int bad = 0;
      for (auto& e : emails) {
        auto r = m_action == "invite" ? subs.invite(l, e) : subs.request_subscribe(l, e, "cli");
        std::cout << e << ": " << to_string(r.status) << "\n";
        bad += r.status == SubStatus::invalid_address ? 1 : 0;
      }
      wake_delivery(cfg);
      return bad ? EX_DATAERR_ : EX_OK_;
    }
    if (m_action == "add") {
      auto r = store.add_members(l, emails, m_role);
      if (!r.bad.empty()) {
        for (auto& [a, why] : r.bad) std::cerr << "listctl: '" << a << "': " << why << "\n";
        throw Failure{EX_DATAERR_, std::to_string(r.bad.size()) + " invalid address(es); nothing was added"};
      }
      if (!m_delivery.empty()) {
        SQLite::Statement q(
            *db,
            "UPDATE memberships SET delivery = ? WHERE list_id = ? AND role = ? AND person_id = (SELECT "
            "id FROM people WHERE email = ?)");
        for (auto& e : emails) {
          q.bind(1, m_delivery);
          q.bind(2, l.id);
          q.bind(3, m_role);
          q.bind(4, smtp::normalize_address(e).value_or(e));
          q.exec();
          q.reset();
        }
      }
      std::cout << "added " << r.added << ", already " << m_role << " " << r.existing << "\n";
    } else {
      auto n = store.remove_members(l, emails, m_role);
      std::cout << "removed " << n << "\n";
    }
    return EX_OK_;
  }

  if (*inject) {
    auto db = open_db(cfg);
    Store store(*db);
    auto l = get_list(store, in_addr);
    db.reset();
    return intake(cfg, l.address(), in_sender, "inject");
  }

  if (*pipe) {
    // Postfix pipe(8): anything unexpected is a temporary failure so the mail is retried.
    try {
      return intake(cfg, p_user + "@" + p_nexthop, p_sender == "MAILER-DAEMON" ? "" : p_sender, "pipe");
    } catch (const Failure&) {
      throw;
    } catch (const std::exception& e) {
      throw Failure{EX_TEMPFAIL_, std::string("4.3.0 ") + e.what()};
    }
  }

  if (*admin_add) {
    auto db = open_db(cfg, true);
    Store store(*db);
    if (!smtp::normalize_address(a_email)) throw Failure{EX_DATAERR_, "invalid address '" + a_email + "'"};
    auto id = store.ensure_person(a_email);
    store.set_password_hash(id, hash_password(a_password));
    store.set_admin(id, true);
    std::cout << "site administrator " << *smtp::normalize_address(a_email) << "\n";
    return EX_OK_;
  }

  if (*import_mbox || *export_mbox) {
    auto db = open_db(cfg);
    Store store(*db);
    auto l = get_list(store, *import_mbox ? im_addr : ex_addr);
    if (*export_mbox) {
      auto n = archive_export_mbox(*db, cfg.archive_dir(), l, std::cout);
      std::cout.flush();
      if (!std::cout) throw Failure{EX_TEMPFAIL_, "cannot write to stdout"};
      std::cerr << "exported " << n << " posts of " << l.address() << "\n";
      return EX_OK_;
    }
    std::ifstream file;
    if (im_file != "-") {
      file.open(im_file, std::ios::binary);
      if (!file) throw Failure{EX_NOINPUT_, "cannot open " + im_file};
    }
    try {
      auto r = archive_import_mbox(*db, cfg.archive_dir(), l, cfg.hostname, im_file == "-" ? std::cin : file);
      std::cout << "imported " << r.imported << " posts into " << l.address() << " (" << r.already
                << " already archived, " << r.too_big << " too big)\n";
    } catch (const SQLite::Exception& e) {
      throw Failure{EX_TEMPFAIL_, std::string("database: ") + e.what()};
    } catch (const std::exception& e) {
      throw Failure{EX_DATAERR_, im_file + ": " + e.what()};
    }
    return EX_OK_;
  }

  if (*passwd) {
    auto db = open_db(cfg, true);
    Store store(*db);
    if (!smtp::normalize_address(pw_email)) throw Failure{EX_DATAERR_, "invalid address '" + pw_email + "'"};
    std::string pw = pw_opt->count() ? pw_password : read_password_tty("New password for " + pw_email + ": ");
    if (pw.empty()) throw Failure{EX_DATAERR_, "empty password refused"};
    auto id = store.ensure_person(pw_email);
    store.set_password_hash(id, hash_password(pw));
    std::cout << "password set for " << *smtp::normalize_address(pw_email) << "\n";
    return EX_OK_;
  }

  if (*token_create) {
    auto db = open_db(cfg);
    Store store(*db);
    auto id = store.find_person(t_email);
    if (!id)
      throw Failure{EX_DATAERR_, "no person with address '" + t_email + "' (add them to a list or as admin first)"};
    std::cout << web::Auth(*db).create_api_token(*id) << "\n";
    return EX_OK_;
  }

  if (*queue) {
    auto db = open_db(cfg);
    auto jobs = job_status(*db, q_all);
    std::printf("%-6s %-32s %-7s %8s %9s %8s %6s %7s %9s  %-20s %s\n", "JOB", "LIST", "KIND", "TOTAL", "DELIVERED",
                "DEFERRED", "FAILED", "PENDING", "RATE/S", "CREATED", "NEXT-RETRY");
    for (auto& j : jobs)
      std::printf("%-6lld %-32s %-7s %8lld %9lld %8lld %6lld %7lld %9.0f  %-20s %s\n", static_cast<long long>(j.id),
                  j.list.c_str(), j.kind.c_str(), static_cast<long long>(j.total), static_cast<long long>(j.delivered),
                  static_cast<long long>(j.deferred), static_cast<long long>(j.failed),
                  static_cast<long long>(j.pending), j.rate, format_time(j.created).c_str(),
                  format_time(j.next_retry).c_str());
    return EX_OK_;
  }

  if (*held) {
    auto db = open_db(cfg);
    Store store(*db);
    auto l = get_list(store, h_addr);
    SQLite::Statement q(
        *db, "SELECT id, received, sender, subject, reason FROM held_messages WHERE list_id = ? ORDER BY id");
    q.bind(1, l.id);
    int n = 0;
    while (q.executeStep()) {
      ++n;
      std::cout << q.getColumn(0).getInt64() << "\t" << format_time(q.getColumn(1).getInt64()) << "\t"
                << q.getColumn(2).getString() << "\t" << q.getColumn(3).getString() << "\t"
                << q.getColumn(4).getString() << "\n";
    }
    if (n == 0) std::cerr << "no held messages\n";
    return EX_OK_;
  }

  if (*digest) {
    auto db = open_db(cfg);
    Store store(*db);
    auto l = get_list(store, d_addr);
    if (d_send) {
      Templates t(cfg.templates_dir, cfg.data_dir / "templates");
      auto n = digest_send(cfg, *db, t, l);
      wake_delivery(cfg);
      std::cout << (n ? "digest queued with " + std::to_string(n) + " post(s)" : std::string("nothing collected"))
                << "\n";
    } else {
      SQLite::Statement q(*db, "SELECT count(*), coalesce(sum(size), 0) FROM digest_items WHERE list_id = ?");
      q.bind(1, l.id);
      q.executeStep();
      std::cout << q.getColumn(0).getInt64() << " post(s), " << q.getColumn(1).getInt64() << " bytes collected\n";
    }
    return EX_OK_;
  }

  if (*settings) {
    auto db = open_db(cfg);
    Store store(*db);
    auto l = get_list(store, s_addr);
    if (s_value_opt->count()) {
      try {
        settings_set(l.settings, s_key, s_value);
      } catch (const StoreError& e) {
        throw Failure{EX_DATAERR_, e.what()};
      }
      store.save_settings(l);
    }
    for (auto& [k, v] : settings_to_pairs(l.settings))
      if (s_key.empty() || s_key == k) std::cout << k << " = " << v << "\n";
    return EX_OK_;
  }
  return EX_USAGE_;
}

// newlist [-q] [--emailhost=HOST] LISTNAME [OWNER-EMAIL [PASSWORD]] (Mailman 2).
int run_newlist(int argc, char** argv) {
  CLI::App app{"newlist - create a mailing list (Mailman 2 compatible)"};
  std::string config_flag, emailhost, name, owner, password;
  bool quiet = false;
  app.add_option("--config", config_flag, "config file");
  app.add_flag("-q,--quiet", quiet, "do not mail the owner");
  app.add_option("-e,--emailhost", emailhost, "list host (default: hostname from the config)");
  app.add_option("LISTNAME", name);
  app.add_option("OWNER-EMAIL", owner);
  app.add_option("PASSWORD", password);
  // import-mbox / export-mbox (archive access, issue 5)
  std::string im_addr, im_file, ex_addr;
  auto* import_mbox = app.add_subcommand("import-mbox", "add the posts of an mbox(rd) file to a list's archive");
  import_mbox->add_option("LIST@HOST", im_addr)->required();
  import_mbox->add_option("FILE", im_file, "mbox file ('-' for stdin)")->required();
  auto* export_mbox = app.add_subcommand("export-mbox", "write a list's archive to stdout as mboxrd");
  export_mbox->add_option("LIST@HOST", ex_addr)->required();

  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    int rc = app.exit(e);
    return rc == 0 ? 0 : EX_USAGE_;
  }
  Config cfg = load(config_flag);
  bool tty = ::isatty(0);
  auto ask = [&](const std::string& prompt, std::string& out) {
    if (!out.empty()) return;
    if (!tty) throw Failure{EX_USAGE_, "missing " + prompt + " (usage: newlist [-q] LISTNAME OWNER-EMAIL [PASSWORD])"};
    std::cerr << prompt << ": ";
    std::getline(std::cin, out);
  };
  ask("Enter the name of the list", name);
  if (auto at = name.find('@'); at != std::string::npos) {
    if (emailhost.empty()) emailhost = name.substr(at + 1);
    name = name.substr(0, at);
  }
  ask("Enter the email of the person running the list", owner);
  if (password.empty() && tty) password = read_password_tty("Initial " + name + " list password: ");
  if (emailhost.empty()) emailhost = cfg.hostname;
  return do_newlist(cfg, name + "@" + emailhost, owner, password, quiet);
}

}  // namespace

int main(int argc, char** argv) {
  std::string prog = argc > 0 ? std::filesystem::path(argv[0]).filename().string() : "listctl";
  try {
    if (prog == "newlist") return run_newlist(argc, argv);
    return run_listctl(argc, argv);
  } catch (const Failure& f) {
    std::cerr << prog << ": " << f.message << "\n";
    return f.code;
  } catch (const SQLite::Exception& e) {
    std::cerr << prog << ": database: " << e.what() << "\n";
    return EX_TEMPFAIL_;
  } catch (const std::exception& e) {
    std::cerr << prog << ": " << e.what() << "\n";
    return 1;
  }
}
