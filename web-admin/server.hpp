// server.hpp - the [http] listener: an HTTP/1.1 server on Boost.Beast that feeds
// web-admin/app.hpp. Built by the daemon (listd/main_listd.cpp, Daemon::bind()).
//
// The daemon's event loop accepts; each connection is one coroutine on one of kWebIoThreads
// web loops (their own threads); handlers run on the web worker pool (kWebWorkers threads,
// SQLite and argon2 work never block a loop), but for page cache hits, answered on the loop.
// Keep-alive up to kMaxRequestsPerConnection requests. Limits and their answers: request header over
// kMaxHeaderBytes -> 431; body over kMaxBodyBytes -> 413; a request not fully read within
// kHeaderTimeout (slow loris) -> 408 and close; an idle keep-alive connection is closed after
// kIdleTimeout; over kMaxConnections open connections new ones are closed at once. stop()
// closes the listeners and idle connections; requests in flight finish. `[http] listen` is
// plain HTTP; `[http] tls_listen` (optional) is HTTPS with tls_cert/tls_key (OpenSSL, TLS 1.2+,
// handshake within kHeaderTimeout), and its requests are marked tls (Secure cookies, HSTS,
// password logins). RFC 9112, RFC 9110 §4.2.2, RFC 6797.
#pragma once

#include <chrono>
#include <memory>

#include "listd/service.hpp"

namespace listd {

namespace web {
constexpr std::size_t kMaxHeaderBytes = std::size_t{16} * 1024;
constexpr std::size_t kMaxBodyBytes = std::size_t{8} * 1024 * 1024;  // bulk member lists fit
constexpr unsigned kMaxRequestsPerConnection = 1000;
constexpr auto kHeaderTimeout = std::chrono::seconds(10);
constexpr auto kBodyTimeout = std::chrono::seconds(60);
constexpr auto kIdleTimeout = std::chrono::seconds(30);
constexpr auto kWriteTimeout = std::chrono::seconds(60);
constexpr auto kTlsShutdownTimeout = std::chrono::seconds(2);  // wait for the peer's close_notify
constexpr unsigned kMaxConnections = 2048;
constexpr unsigned kWebWorkers = 2;
constexpr unsigned kWebIoThreads = 2;  // web loops: Beast I/O and page cache hits
}  // namespace web

// make_http_service - binds cfg.http.listen (and tls_listen) now; throws std::system_error
// naming the address when it cannot bind, std::runtime_error naming the files when the TLS
// certificate or key is missing or cannot be loaded.
std::unique_ptr<Service> make_http_service(ServiceContext& ctx);

}  // namespace listd
