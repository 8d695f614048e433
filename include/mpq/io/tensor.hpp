// The common result of every tensor reader: named float32 tensors with their shapes, and the
// one exception type that every reader throws for a file it cannot trust.
#pragma once

#include <cstddef>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

namespace mpq::io {

/// A file that cannot be read as the format it claims to be: truncated, wrong magic, a header
/// whose sizes or offsets point outside the file, an unsupported dtype or version, an absurd
/// count. The message starts with the format name ("gguf: ...") and names the bad value.
/// Derives from std::invalid_argument because the bytes given are bad input.
struct bad_file : std::invalid_argument {
    using std::invalid_argument::invalid_argument;
};

/// One named tensor, values converted to float32 and stored in C (row-major) order:
/// `shape.front()` is the slowest-varying dimension. A scalar has an empty shape and one value.
struct tensor {
    std::string name;
    std::vector<std::size_t> shape;
    std::vector<float> values;

    /// Number of elements (the product of `shape`, 1 for a scalar).
    std::size_t size() const { return values.size(); }
    /// Length of the last (fastest-varying) dimension: the "row" length blocks run along;
    /// the element count for a scalar.
    std::size_t row_length() const { return shape.empty() ? values.size() : shape.back(); }
};

/// The tensors of one file, in file order.
struct tensor_set {
    std::vector<tensor> tensors;

    /// The tensor called `name`, or nullptr.
    const tensor* find(std::string_view name) const {
        for (const auto& t : tensors)
            if (t.name == name) return &t;
        return nullptr;
    }
    /// The tensor called `name`; throws std::invalid_argument naming it if absent.
    const tensor& at(std::string_view name) const {
        if (const tensor* t = find(name)) return *t;
        throw std::invalid_argument("no tensor named '" + std::string(name) + "'");
    }
    /// Total number of values over all tensors.
    std::size_t parameter_count() const {
        std::size_t n = 0;
        for (const auto& t : tensors) n += t.size();
        return n;
    }
};

} // namespace mpq::io
