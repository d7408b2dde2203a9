// Precompiled for every test executable: Catch2 and the whole library (the heavy, stable part), the SQLite
// store too, which the umbrella leaves out. A test still includes what it uses (store/sqlite.hpp through
// tests/unit/store/backends.hpp, …): the precompiled header only saves time.
#pragma once
#include <catch2/catch.hpp>
#ifndef CROWDLINE_TEST_SINGLE_HEADER
#include <crowdline/crowdline.hpp>
#include <crowdline/store/sqlite.hpp>
#endif
