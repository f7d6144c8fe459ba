// Includes Catch2's test macros from version 3 or, failing that, version 2 (Debian 12's).
#pragma once

#if __has_include(<catch2/catch_test_macros.hpp>)
#include <catch2/catch_test_macros.hpp>
#else
#include <catch2/catch.hpp>
#endif
