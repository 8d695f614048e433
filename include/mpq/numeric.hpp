// All element types: FP8/FP6/FP4 minifloats, the MX integers, E8M0, UE4M3, BF16 and FP16.
#pragma once

#include <mpq/numeric/e8m0.hpp>
#include <mpq/numeric/fp4.hpp>
#include <mpq/numeric/fp6.hpp>
#include <mpq/numeric/fp8.hpp>
#include <mpq/numeric/half.hpp>
#include <mpq/numeric/integer.hpp>
#include <mpq/numeric/minifloat.hpp>
#include <mpq/numeric/rounding.hpp>
