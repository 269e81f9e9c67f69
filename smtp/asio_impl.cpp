// asio_impl.cpp - the one translation unit that compiles Asio's and Beast's
// implementation (BOOST_ASIO_SEPARATE_COMPILATION / BOOST_BEAST_SEPARATE_COMPILATION),
// so the rest of the project only parses their declarations.
#include "smtp/asio_prelude.hpp"

#include <boost/asio/impl/src.hpp>
#include <boost/asio/ssl/impl/src.hpp>
#include <boost/beast/src.hpp>
