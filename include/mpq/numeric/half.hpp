// 16-bit floating point: IEEE binary16 and bfloat16, the high-precision formats of a mix.
#pragma once

#include <mpq/numeric/minifloat.hpp>

namespace mpq {

/// IEEE binary16: 1.5.10, bias 15. Range ±65504; min normal 2^-14; min subnormal 2^-24;
/// IEEE Inf and NaN. Conversions round to nearest-even; pass overflow::ieee for IEEE
/// overflow to Inf (the default saturates like every mpq conversion).
using fp16_layout = float_layout<5, 10, 15, special_values::ieee>;
using fp16 = minifloat<fp16_layout>;

/// bfloat16: 1.8.7, bias 127 — the top half of a binary32. Range ±3.3895e38; min normal
/// 2^-126; min subnormal 2^-133; IEEE Inf and NaN.
using bf16_layout = float_layout<8, 7, 127, special_values::ieee>;
using bf16 = minifloat<bf16_layout>;

} // namespace mpq
