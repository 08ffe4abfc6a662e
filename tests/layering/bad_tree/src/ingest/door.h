// A module that breaks two rules, for the layering test's own test (tests/layering/CMakeLists.txt).
#pragma once
#include "http/router.h"
