// All block formats: MX at any block size, NVFP4, per-tensor and per-vector scaled INT/FP4,
// their packed storage and the quantize / dequantize / fake-quantize operations.
#pragma once

#include <mpq/format/geometry.hpp>
#include <mpq/format/interop.hpp>
#include <mpq/format/mx.hpp>
#include <mpq/format/nvfp4.hpp>
#include <mpq/format/operations.hpp>
#include <mpq/format/packing.hpp>
#include <mpq/format/quantized.hpp>
#include <mpq/format/registry.hpp>
#include <mpq/format/scale_rule.hpp>
#include <mpq/format/scaled.hpp>
