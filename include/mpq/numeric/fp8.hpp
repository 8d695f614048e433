// OCP 8-bit floating point (OFP8) E4M3 and E5M2, and the unsigned E4M3 used as NVFP4's
// block scale.
#pragma once

#include <mpq/numeric/minifloat.hpp>

namespace mpq {

/// FP8 E4M3 ("fn"): 1.4.3, bias 7. Range ±448 (S.1111.110); min normal 2^-6; min subnormal
/// 2^-9. No Inf; NaN is S.1111.111 (0x7F / 0xFF). ±0 both exist. With overflow::ieee a
/// finite overflow becomes NaN.
using e4m3_layout = float_layout<4, 3, 7, special_values::nan_only>;
using fp8_e4m3 = minifloat<e4m3_layout>;

/// FP8 E5M2: 1.5.2, bias 15, IEEE-like. Range ±57344 (S.11110.11); min normal 2^-14; min
/// subnormal 2^-16. ±Inf is S.11111.00; NaN is S.11111.{01,10,11}.
using e5m2_layout = float_layout<5, 2, 15, special_values::ieee>;
using fp8_e5m2 = minifloat<e5m2_layout>;

/// Unsigned E4M3 (PTX "ue4m3"), NVFP4's block scale: 0.4.3, bias 7, codes 0x00..0x7F.
/// Range 0 .. 448 (0x7E); min normal 2^-6; min subnormal 2^-9; 0x7F is NaN. Negative
/// inputs and NaN encode to NaN (0x7F): a scale cannot be negative.
using ue4m3_layout = float_layout<4, 3, 7, special_values::nan_only, false>;
using ue4m3 = minifloat<ue4m3_layout>;

} // namespace mpq
