// Tensor readers without third-party dependencies: GGUF, llama2.c checkpoints, .npy and raw
// float32. The safetensors reader (mpq/io/safetensors.hpp) and the format-detecting
// mpq/io/any.hpp need nlohmann-json and are included separately.
#pragma once

#include <mpq/io/gguf.hpp>
#include <mpq/io/llama2c.hpp>
#include <mpq/io/npy.hpp>
#include <mpq/io/raw.hpp>
#include <mpq/io/tensor.hpp>
