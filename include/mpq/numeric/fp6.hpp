// OCP MX 6-bit floating-point elements. Neither has Inf or NaN: every code is finite, so the
// top exponent is an ordinary binade and out-of-range values always saturate.
#pragma once

#include <mpq/numeric/minifloat.hpp>

namespace mpq {

/// FP6 E3M2: 1.3.2, bias 3. Range ±28 (S.111.11); min normal 0.25; min subnormal 0.0625.
using e3m2_layout = float_layout<3, 2, 3, special_values::none>;
using fp6_e3m2 = minifloat<e3m2_layout>;

/// FP6 E2M3: 1.2.3, bias 1. Range ±7.5 (S.11.111); min normal 1; min subnormal 0.125.
using e2m3_layout = float_layout<2, 3, 1, special_values::none>;
using fp6_e2m3 = minifloat<e2m3_layout>;

} // namespace mpq
