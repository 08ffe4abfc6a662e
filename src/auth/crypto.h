// The few cryptographic primitives identity needs, on OpenSSL's libcrypto: random bytes from the
// operating system's generator, SHA-256, and a comparison whose time does not depend on where
// two strings differ.
#pragma once

#include <string>
#include <string_view>

#include "sawmill/status.h"

namespace sawmill::auth {

// "n" bytes from a cryptographically secure generator. Errors: Internal when it fails.
Result<std::string> RandomBytes(size_t n);

// Lower-case hex of "bytes".
std::string Hex(std::string_view bytes);

// Lower-case hex SHA-256 of "data" (64 characters).
std::string Sha256Hex(std::string_view data);

// True when a == b; the time taken depends only on the lengths.
bool ConstantTimeEqual(std::string_view a, std::string_view b);

}  // namespace sawmill::auth
