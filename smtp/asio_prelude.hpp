// asio_prelude.hpp - include before any Asio or Beast header.
// Boost 1.74's <boost/asio/awaitable.hpp> uses std::exchange without including
// <utility>; g++ 12 needs it included first.
#pragma once
#include <utility>
