// FP4 E2M1, the element of MXFP4 and NVFP4.
#pragma once

#include <mpq/numeric/minifloat.hpp>

namespace mpq {

/// FP4 E2M1: 1.2.1, bias 1. Codes 0x0..0x7 are 0, 0.5, 1, 1.5, 2, 3, 4, 6 and 0x8..0xF the
/// same with the sign set (0x8 is -0). Range ±6; min normal 1; min (sub)normal step 0.5.
/// No Inf or NaN: out-of-range values saturate to ±6, NaN encodes to +0.
using e2m1_layout = float_layout<2, 1, 1, special_values::none>;
using fp4_e2m1 = minifloat<e2m1_layout>;

} // namespace mpq
