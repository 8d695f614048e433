// mpq: mixed-precision quantization numerics. Including this header brings in the whole
// public API; each part also has its own header (see the README's map of the library).
#pragma once

#include <mpq/version.hpp>
#include <mpq/numeric.hpp>
#include <mpq/format.hpp>
#include <mpq/kernel.hpp>
#include <mpq/gemm.hpp>
#include <mpq/mixed.hpp>
#include <mpq/io.hpp>
#include <mpq/fit.hpp>
