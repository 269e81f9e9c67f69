// service.hpp - what the daemon hands to each network service (SMTP, LMTP, IMAP, POP3, HTTP).
//
// main_listd.cpp builds every service before it drops privileges (so a service binds its
// ports in its constructor, as root if need be), then calls start() after the switch, and
// stop() on SIGTERM. A service runs its sessions on ctx.ioc (the event loop thread) and sends
// disk- or CPU-heavy work to ctx.pool. Services never block the event loop.
// To add a service: write a factory `std::unique_ptr<Service> make_x_service(ServiceContext&)`
// and add one line to the list in main_listd.cpp.
#pragma once

#include "smtp/asio_prelude.hpp"

#include <atomic>
#include <boost/asio/io_context.hpp>
#include <boost/asio/thread_pool.hpp>
#include <functional>
#include <memory>

#include "listd/config.hpp"
#include "listd/templates.hpp"

namespace listd {

struct ServiceContext {
  const Config& cfg;
  boost::asio::io_context& ioc;
  boost::asio::thread_pool& pool;
  const Templates& templates;
  std::function<void()> wake_processing;  // a new spool entry is there: process it now
  std::function<void()> wake_delivery;    // new delivery work is there
  const std::atomic<bool>& stopping;
};

class Service {
 public:
  virtual ~Service() = default;
  virtual const char* name() const = 0;
  // start - begin accepting; called once, after privileges were dropped.
  virtual void start() = 0;
  // stop - stop accepting and ask sessions to finish (SMTP: 421 between commands).
  virtual void stop() = 0;
};

}  // namespace listd
