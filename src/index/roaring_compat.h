// CRoaring 0.2.66 (Debian 12) declares its C++ class as ::Roaring; newer releases spell it
// roaring::Roaring, which is what the contract headers use. Include this instead of
// <roaring/roaring.hh> so that the contract's spelling compiles here.
#pragma once

#include <roaring/roaring.hh>

namespace roaring {
using Roaring = ::Roaring;
}  // namespace roaring
