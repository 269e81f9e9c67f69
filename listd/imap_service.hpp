// imap_service.hpp - factories for the archive access services (DESIGN.md "Archive access"):
// [imap] (imap_service.cpp) and [pop3] (pop3_service.cpp). Each binds its listen and
// optional tls_listen addresses when built (throws std::system_error naming nothing more
// than Asio does; main_listd reports it), and serves sessions once start() is called.
#pragma once

#include <memory>

#include "listd/service.hpp"

namespace listd {

std::unique_ptr<Service> make_imap_service(ServiceContext& ctx);
std::unique_ptr<Service> make_pop3_service(ServiceContext& ctx);

}  // namespace listd
