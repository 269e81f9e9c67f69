// client.cpp - see client.hpp.
#include "smtp/client.hpp"

#include <boost/asio/connect.hpp>
#include <boost/asio/read.hpp>
#include <boost/asio/ssl/host_name_verification.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>
#include <vector>

namespace smtp {

namespace asio = boost::asio;
using asio::awaitable;
using asio::use_awaitable;
using std::chrono::seconds;

// RFC 5321 4.5.3.2 suggested minimum timeouts.
constexpr seconds kConnect{30}, kGreeting{300}, kMail{300}, kRcpt{300}, kDataBlock{180}, kDataTerm{600}, kOther{300};

Connection::Connection(asio::any_io_executor ex, asio::ssl::context& tls, ClientOptions opts)
    : stream_(ex, tls), deadline_(ex), opts_(std::move(opts)), rbuf_(16384) {}

void Connection::arm(seconds limit) {
  deadline_.expires_after(limit);
  deadline_.async_wait([self = weak_from_this()](boost::system::error_code ec) {
    if (ec) return;  // re-armed or cancelled
    if (auto s = self.lock()) s->close();
  });
}

void Connection::close() {
  alive_ = false;
  boost::system::error_code ec;
  stream_.next_layer().close(ec);
}

awaitable<ParsedReply> Connection::read_reply(seconds limit) {
  while (true) {
    if (auto r = parser_.next()) co_return std::move(*r);
    arm(cap(limit));
    std::size_t n = tls_ ? co_await stream_.async_read_some(asio::buffer(rbuf_), use_awaitable)
                         : co_await stream_.next_layer().async_read_some(asio::buffer(rbuf_), use_awaitable);
    parser_.feed(std::string_view(rbuf_.data(), n));
  }
}

template <class Buffers>
awaitable<void> Connection::write(const Buffers& b, seconds limit) {
  arm(cap(limit));
  if (tls_)
    co_await asio::async_write(stream_, b, use_awaitable);
  else
    co_await asio::async_write(stream_.next_layer(), b, use_awaitable);
}

awaitable<ParsedReply> Connection::command(const std::string& line, seconds limit) {
  co_await write(asio::buffer(line), limit);
  co_return co_await read_reply(limit);
}

awaitable<OpenResult> Connection::open(std::vector<asio::ip::tcp::endpoint> addrs) {
  OpenResult res{false, false, "451 4.4.1 no address to connect to"};
  auto& sock = stream_.next_layer();
  bool connected = false;
  for (auto& ep : addrs) {
    try {
      boost::system::error_code ec;
      if (sock.is_open()) sock.close(ec);
      arm(cap(kConnect));
      co_await sock.async_connect(ep, use_awaitable);
      connected = true;
      break;
    } catch (const boost::system::system_error& e) {
      res.reply = "451 4.4.1 connect to " + ep.address().to_string() + ":" + std::to_string(ep.port()) +
                  " failed: " + e.code().message();
    }
  }
  if (!connected) co_return res;
  alive_ = true;
  boost::system::error_code nd;
  sock.set_option(asio::ip::tcp::no_delay(true), nd);  // RFC 2920 groups must not wait for Nagle
  try {
    res = co_await hello();
  } catch (const boost::system::system_error& e) {
    res = {false, false, "451 4.4.2 connection lost during the greeting: " + e.code().message()};
  }
  if (!res.ok) close();
  deadline_.cancel();
  co_return res;
}

awaitable<OpenResult> Connection::hello() {
  ParsedReply g = co_await read_reply(kGreeting);
  if (g.malformed || g.klass() != 2) co_return OpenResult{false, g.klass() == 5, g.text()};
  ParsedReply r = co_await command("EHLO " + opts_.helo_name + "\r\n", kOther);
  if (r.malformed) co_return OpenResult{false, false, "451 4.5.0 malformed EHLO reply"};
  if (r.klass() == 2) {
    ext_ = parse_ehlo(r);
  } else {  // RFC 5321 3.2: fall back to HELO
    if (r.code == 421) co_return OpenResult{false, false, r.text()};
    ParsedReply h = co_await command("HELO " + opts_.helo_name + "\r\n", kOther);
    if (h.klass() != 2) co_return OpenResult{false, h.klass() == 5, h.text()};
    ext_ = Extensions{};
  }
  if (opts_.tls != TlsPolicy::none) {
    if (ext_.starttls) {
      ParsedReply s = co_await command("STARTTLS\r\n", kOther);
      if (s.code == 220) {
        boost::system::error_code is_ip;
        asio::ip::make_address(opts_.tls_server_name, is_ip);
        if (!opts_.tls_server_name.empty() && is_ip)  // SNI carries host names only (RFC 6066 3)
          SSL_set_tlsext_host_name(stream_.native_handle(), opts_.tls_server_name.c_str());
        if (opts_.tls == TlsPolicy::verify) {
          stream_.set_verify_mode(asio::ssl::verify_peer);
          stream_.set_verify_callback(asio::ssl::host_name_verification(opts_.tls_server_name));
        } else {
          stream_.set_verify_mode(asio::ssl::verify_none);
        }
        arm(cap(kOther));
        try {
          co_await stream_.async_handshake(asio::ssl::stream_base::client, use_awaitable);
        } catch (const boost::system::system_error& e) {
          co_return OpenResult{false, false, "454 4.7.0 TLS handshake failed: " + e.code().message(), true};
        }
        tls_ = true;
        // RFC 3207 4.2: forget what was said before TLS, ask again.
        ParsedReply e2 = co_await command("EHLO " + opts_.helo_name + "\r\n", kOther);
        if (e2.klass() != 2) co_return OpenResult{false, e2.klass() == 5, e2.text()};
        ext_ = parse_ehlo(e2);
      } else if (opts_.tls != TlsPolicy::opportunistic) {
        co_return OpenResult{false, false, "454 4.7.0 STARTTLS refused: " + s.text()};
      }
    }
    if (!tls_ && opts_.tls != TlsPolicy::opportunistic)
      co_return OpenResult{false, false, "454 4.7.0 relay.tls requires STARTTLS, the server did not offer it"};
  }
  if (!opts_.auth_user.empty()) {
    ParsedReply a;
    if (ext_.auth.count("PLAIN")) {  // RFC 4616
      std::string cred;
      cred += '\0';
      cred += opts_.auth_user;
      cred += '\0';
      cred += opts_.auth_password;
      a = co_await command("AUTH PLAIN " + base64_encode(cred) + "\r\n", kOther);
    } else if (ext_.auth.count("LOGIN")) {
      a = co_await command("AUTH LOGIN\r\n", kOther);
      if (a.code == 334) a = co_await command(base64_encode(opts_.auth_user) + "\r\n", kOther);
      if (a.code == 334) a = co_await command(base64_encode(opts_.auth_password) + "\r\n", kOther);
    } else {
      co_return OpenResult{false, false, "451 4.7.0 relay.auth_user is set but the server offers no AUTH PLAIN/LOGIN"};
    }
    if (a.code != 235) co_return OpenResult{false, a.klass() == 5, "AUTH: " + a.text()};
  }
  co_return OpenResult{true, false, ""};
}

awaitable<void> Connection::transact(ClientTransaction& t, const Body& body) {
  BodySegments seg;
  seg.data.push_back(body.data);
  seg.bdat.push_back(body.bdat);
  co_await transact(t, seg);
}

awaitable<void> Connection::transact(ClientTransaction& t, const BodySegments& body) {
  ++transactions_;
  try {
    auto step = t.start();
    bool body_sent = false;
    while (step != ClientTransaction::Step::done) {
      if (step == ClientTransaction::Step::write_commands) {
        if (t.body_with_commands()) {  // BDAT: commands and chunk in one gathered write
          std::vector<asio::const_buffer> bufs;
          bufs.reserve(body.bdat.size() + 1);
          bufs.push_back(asio::buffer(t.commands()));
          for (auto piece : body.bdat) bufs.push_back(asio::buffer(piece.data(), piece.size()));
          co_await write(bufs, kDataBlock);
          body_sent = true;
        } else {
          co_await write(asio::buffer(t.commands()), kMail);
        }
      } else if (step == ClientTransaction::Step::send_body) {
        std::vector<asio::const_buffer> bufs;
        bufs.reserve(body.data.size());
        for (auto piece : body.data) bufs.push_back(asio::buffer(piece.data(), piece.size()));
        co_await write(bufs, kDataBlock);
        body_sent = true;
      }
      ParsedReply r = co_await read_reply(body_sent ? kDataTerm : kRcpt);
      step = t.on_reply(r);
    }
    if (!t.connection_usable()) {
      close();
    } else if (t.rset_needed()) {
      ParsedReply r = co_await command("RSET\r\n", kOther);
      if (r.klass() != 2) close();
    }
  } catch (const boost::system::system_error& e) {
    t.fail_all("451 4.4.2 connection lost mid-transaction: " + e.code().message());
    close();
  }
  if (alive_) deadline_.cancel();
  co_return;
}

awaitable<void> Connection::quit() {
  if (!alive_) co_return;
  try {
    co_await command("QUIT\r\n", seconds(5));
  } catch (const boost::system::system_error&) {
  }
  close();
  deadline_.cancel();
}

}  // namespace smtp
