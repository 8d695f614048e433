// SIMD quantize / dequantize / fake-quantize kernels (xsimd), bit-identical to the scalar
// reference of every block format. The public operations in mpq/format/operations.hpp forward
// here; include this header directly for the strided, parallel and arch-selecting variants.
// Runtime ISA dispatch is an opt-in: see mpq/kernel/dispatch.hpp and cmake/mpqDispatch.cmake.
#pragma once

#include <mpq/kernel/api.hpp>
#include <mpq/kernel/compat.hpp>
#include <mpq/kernel/parallel.hpp>
