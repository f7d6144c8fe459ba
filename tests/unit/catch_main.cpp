// The test runner's main() for Catch2 version 2; version 3 links Catch2::Catch2WithMain.
#define CATCH_CONFIG_MAIN
#include <catch2/catch.hpp>
