// Precompiled for every test executable: Catch2 and the whole library (the heavy, stable part).
#pragma once
#include <catch2/catch.hpp>
#ifndef CROWDLINE_TEST_SINGLE_HEADER
#include <crowdline/crowdline.hpp>
#endif
