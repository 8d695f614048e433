// Mixed-precision GEMM: precision maps, the packed mixed_matrix, gemm / matvec / matmul and
// their double-precision reference.
#pragma once

#include <mpq/gemm/mixed_matrix.hpp>
#include <mpq/gemm/matmul.hpp>
#include <mpq/gemm/precision_map.hpp>
#include <mpq/gemm/reference.hpp>
#include <mpq/gemm/weight_format.hpp>
