// password.hpp - argon2id password hashes (libargon2) and random secrets.
// hash_password returns the PHC string ("$argon2id$v=19$m=...,t=...,p=...$salt$hash");
// verify_password compares in constant time (argon2's own verify). Salts come from getrandom.
#pragma once

#include <string>

namespace listd {

constexpr unsigned kArgon2TimeCost = 2;
constexpr unsigned kArgon2MemoryKiB = 19 * 1024;  // OWASP's argon2id minimum
constexpr unsigned kArgon2Parallelism = 1;

std::string hash_password(const std::string& password);
bool verify_password(const std::string& password, const std::string& encoded);
// random_password - 16 characters from an unambiguous alphabet (about 90 bits).
std::string random_password();

}  // namespace listd
