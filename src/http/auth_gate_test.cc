#include "http/auth_gate.h"

#include <gtest/gtest.h>

namespace sawmill::http {
namespace {

// The token a request carries: "Bearer TOKEN", or the password of "Basic base64(USER:TOKEN)"
// for shippers that only speak basic auth (docs/security.md).
TEST(AuthGate, TheTokenIsTheBearerTextOrTheBasicPassword) {
  EXPECT_EQ(TokenFromAuthorization("Bearer smk_abc"), "smk_abc");
  EXPECT_EQ(TokenFromAuthorization("bearer \tsmk_abc "), "smk_abc");
  // "reader:smk_0123...cdef", a token longer than the decoder's bit buffer holds.
  EXPECT_EQ(TokenFromAuthorization("Basic cmVhZGVyOnNta18wMTIzNDU2Nzg5YWJjZGVmMDEyMzQ1Njc4OWFiY2R"
                                   "lZjAxMjM0NTY3ODlhYmNkZWY="),
            "smk_0123456789abcdef0123456789abcdef0123456789abcdef");
  EXPECT_EQ(TokenFromAuthorization("BASIC Z3JhZmFuYTp0b2stZW5fLys="), "tok-en_/+");
  // No colon, a byte outside base64, another scheme, nothing after the scheme: no token.
  EXPECT_EQ(TokenFromAuthorization("Basic dXNlcg=="), "");
  EXPECT_EQ(TokenFromAuthorization("Basic dXN*cg=="), "");
  EXPECT_EQ(TokenFromAuthorization("Digest smk_abc"), "");
  EXPECT_EQ(TokenFromAuthorization("Bearer "), "");
  EXPECT_EQ(TokenFromAuthorization(""), "");
}

}  // namespace
}  // namespace sawmill::http
