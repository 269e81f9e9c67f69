// server.hpp - the [http] listener: an HTTP/1.1 server on Boost.Beast that feeds
// web-admin/app.hpp. Built by the daemon (listd/main_listd.cpp, Daemon::bind()).
//
// One coroutine per connection on the event loop; each request's handler runs on the web
// worker pool (kWebWorkers threads, SQLite and argon2 work never block the loop). Keep-alive
// up to kMaxRequestsPerConnection requests. Limits and their answers: request header over
// kMaxHeaderBytes -> 431; body over kMaxBodyBytes -> 413; a request not fully read within
// kHeaderTimeout (slow loris) -> 408 and close; an idle keep-alive connection is closed after
// kIdleTimeout; over kMaxConnections open connections new ones are closed at once. stop()
// closes the listener and idle connections; requests in flight finish. Plain HTTP only
// (TLS for [http] is not implemented yet: put a TLS proxy in front). RFC 9112.
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
constexpr unsigned kMaxConnections = 2048;
constexpr unsigned kWebWorkers = 2;
}  // namespace web

// make_http_service - binds cfg.http.listen now; throws std::system_error naming the
// address when it cannot.
std::unique_ptr<Service> make_http_service(ServiceContext& ctx);

}  // namespace listd
