// GGUF reader (versions 1, 2 and 3): the F32, F16 and BF16 tensors of a llama.cpp model file,
// plus its scalar metadata as text.
//
// Layout read: "GGUF", version u32, tensor count and key-value count (u32 in version 1, u64
// from version 2), the key-value pairs, the tensor infos (name, dimension count u32, the
// dimensions — u32 each in version 1, u64 from version 2 — ggml type u32, data offset u64),
// then the tensor data, starting at the header end rounded up to `general.alignment`
// (default 32). Strings are a length (u32 in version 1, u64 from version 2) and UTF-8 bytes.
// GGUF lists dimensions innermost first; mpq::io::tensor::shape is outermost first, so a
// ggml [ne0 = 64, ne1 = 512] token embedding becomes shape {512, 64}.
#pragma once

#include <mpq/io/detail/bytes.hpp>
#include <mpq/io/tensor.hpp>

#include <cstdint>
#include <map>
#include <string>

namespace mpq::io {

/// A GGUF file's tensors and metadata.
struct gguf_file {
    std::uint32_t version = 0;
    /// Scalar metadata as text (numbers in decimal, bools as true/false, strings verbatim);
    /// arrays as "[<element type> x <count>]".
    std::map<std::string, std::string> metadata;
    tensor_set tensors;
};

namespace detail {

class gguf_parser {
public:
    explicit gguf_parser(byte_span bytes) : in_(bytes, "gguf") {}

    gguf_file parse() {
        gguf_file file;
        const auto magic = in_.take(4, "magic");
        if (magic[0] != 'G' || magic[1] != 'G' || magic[2] != 'U' || magic[3] != 'F')
            throw bad_file("gguf: wrong magic (expected \"GGUF\")");
        version_ = in_.read<std::uint32_t>("version");
        if (version_ < 1 || version_ > 3)
            throw bad_file("gguf: unsupported version " + std::to_string(version_) +
                           " (supported: 1, 2, 3; a big-endian file also lands here)");
        file.version = version_;
        const std::uint64_t tensor_count = read_count("tensor count");
        const std::uint64_t kv_count = read_count("metadata count");
        // Each key-value pair takes at least a key length, a type and one byte of value.
        if (kv_count > in_.remaining() / (length_size() + 4 + 1))
            throw bad_file("gguf: metadata count " + std::to_string(kv_count) +
                           " cannot fit in the file");
        std::uint64_t alignment = 32;
        for (std::uint64_t i = 0; i < kv_count; ++i) {
            std::string key = read_string("metadata key");
            const auto type = in_.read<std::uint32_t>("metadata type");
            std::string text = read_value(type, key, 0);
            if (key == "general.alignment") {
                if (type != 4) throw bad_file("gguf: general.alignment is not a u32");
                alignment = std::stoull(text);
                if (alignment == 0 || (alignment & (alignment - 1)) != 0)
                    throw bad_file("gguf: general.alignment " + text + " is not a power of two");
            }
            file.metadata[std::move(key)] = std::move(text);
        }
        const std::size_t min_info = length_size() + 4 + 4 + 8;
        if (tensor_count > in_.remaining() / min_info)
            throw bad_file("gguf: tensor count " + std::to_string(tensor_count) +
                           " cannot fit in the file");
        struct info {
            std::string name;
            std::vector<std::size_t> shape;
            stored_type type;
            std::uint64_t offset, count;
        };
        std::vector<info> infos;
        infos.reserve(static_cast<std::size_t>(tensor_count));
        for (std::uint64_t i = 0; i < tensor_count; ++i) {
            info t;
            t.name = read_string("tensor name");
            const auto dims = in_.read<std::uint32_t>("dimension count");
            if (dims == 0 || dims > 4)
                throw bad_file("gguf: tensor '" + t.name + "' has " + std::to_string(dims) +
                               " dimensions (1 to 4 allowed)");
            t.shape.resize(dims);
            for (std::uint32_t d = 0; d < dims; ++d) {
                const std::uint64_t extent = version_ == 1 ? in_.read<std::uint32_t>("dimension")
                                                           : in_.read<std::uint64_t>("dimension");
                if (extent > max_elements)
                    throw bad_file("gguf: tensor '" + t.name + "' dimension " +
                                   std::to_string(extent) + " is absurd");
                t.shape[dims - 1 - d] = static_cast<std::size_t>(extent); // innermost first
            }
            const auto ggml_type = in_.read<std::uint32_t>("tensor type");
            switch (ggml_type) {
            case 0: t.type = stored_type::f32; break;
            case 1: t.type = stored_type::f16; break;
            case 30: t.type = stored_type::bf16; break;
            default:
                throw bad_file("gguf: tensor '" + t.name + "' has ggml type " +
                               std::to_string(ggml_type) +
                               ", unsupported (F32 = 0, F16 = 1 and BF16 = 30 are read)");
            }
            t.offset = in_.read<std::uint64_t>("tensor offset");
            if (t.offset % alignment != 0)
                throw bad_file("gguf: tensor '" + t.name + "' offset " + std::to_string(t.offset) +
                               " is not a multiple of the alignment " + std::to_string(alignment));
            t.count = element_count(t.shape, "gguf: tensor '" + t.name + "'");
            infos.push_back(std::move(t));
        }
        const std::uint64_t header_end = in_.position();
        const std::uint64_t data_start = (header_end + alignment - 1) / alignment * alignment;
        if (data_start > in_.bytes().size())
            throw bad_file("gguf: file truncated before the tensor data (data starts at " +
                           std::to_string(data_start) + ", file has " +
                           std::to_string(in_.bytes().size()) + " bytes)");
        const std::uint64_t data_size = in_.bytes().size() - data_start;
        file.tensors.tensors.reserve(infos.size());
        for (auto& t : infos) {
            const std::uint64_t nbytes = checked_mul(t.count, stored_size(t.type), "gguf: tensor '" + t.name + "'");
            if (t.offset > data_size || nbytes > data_size - t.offset)
                throw bad_file("gguf: tensor '" + t.name + "' data [" + std::to_string(t.offset) +
                               ", " + std::to_string(t.offset + nbytes) +
                               ") runs past the end of the data section (" +
                               std::to_string(data_size) + " bytes)");
            const byte_span raw = in_.bytes().subspan(static_cast<std::size_t>(data_start + t.offset),
                                                      static_cast<std::size_t>(nbytes));
            file.tensors.tensors.push_back({std::move(t.name), std::move(t.shape), convert(raw, t.type, t.count)});
        }
        return file;
    }

private:
    std::size_t length_size() const { return version_ == 1 ? 4 : 8; }

    std::uint64_t read_count(std::string_view what) {
        return version_ == 1 ? in_.read<std::uint32_t>(what) : in_.read<std::uint64_t>(what);
    }

    std::string read_string(std::string_view what) {
        const std::uint64_t n = read_count(what);
        const byte_span s = in_.take(n, what);
        return std::string(reinterpret_cast<const char*>(s.data()), s.size());
    }

    static std::size_t scalar_size(std::uint32_t type) {
        switch (type) {
        case 0: case 1: case 7: return 1;
        case 2: case 3: return 2;
        case 4: case 5: case 6: return 4;
        case 10: case 11: case 12: return 8;
        default: return 0;
        }
    }

    std::string read_value(std::uint32_t type, const std::string& key, int depth) {
        switch (type) {
        case 0: return std::to_string(in_.read<std::uint8_t>("u8 value"));
        case 1: return std::to_string(in_.read<std::int8_t>("i8 value"));
        case 2: return std::to_string(in_.read<std::uint16_t>("u16 value"));
        case 3: return std::to_string(in_.read<std::int16_t>("i16 value"));
        case 4: return std::to_string(in_.read<std::uint32_t>("u32 value"));
        case 5: return std::to_string(in_.read<std::int32_t>("i32 value"));
        case 6: return std::to_string(in_.read<float>("f32 value"));
        case 7: return in_.read<std::uint8_t>("bool value") ? "true" : "false";
        case 8: return read_string("string value");
        case 10: return std::to_string(in_.read<std::uint64_t>("u64 value"));
        case 11: return std::to_string(in_.read<std::int64_t>("i64 value"));
        case 12: return std::to_string(in_.read<double>("f64 value"));
        case 9: {
            if (depth >= 4) throw bad_file("gguf: metadata '" + key + "' nests arrays too deeply");
            const auto element_type = in_.read<std::uint32_t>("array type");
            const std::uint64_t count = read_count("array length");
            const std::size_t min_size = element_type == 8 ? length_size()
                                       : element_type == 9 ? 4 + length_size()
                                                           : scalar_size(element_type);
            if (min_size == 0)
                throw bad_file("gguf: metadata '" + key + "' has array element type " +
                               std::to_string(element_type) + ", unknown");
            if (count > in_.remaining() / min_size)
                throw bad_file("gguf: metadata '" + key + "' array length " +
                               std::to_string(count) + " cannot fit in the file");
            if (element_type == 8 || element_type == 9) {
                for (std::uint64_t i = 0; i < count; ++i) read_value(element_type, key, depth + 1);
            } else {
                in_.skip(count * min_size, "array data");
            }
            return "[type " + std::to_string(element_type) + " x " + std::to_string(count) + "]";
        }
        default:
            throw bad_file("gguf: metadata '" + key + "' has value type " + std::to_string(type) +
                           ", unknown");
        }
    }

    cursor in_;
    std::uint32_t version_ = 0;
};

} // namespace detail

/// Parses a GGUF file held in memory. Throws mpq::io::bad_file (wrong magic, version outside
/// 1-3, truncation, counts or offsets that cannot fit in the file, a non-power-of-two alignment,
/// a tensor type other than F32/F16/BF16, more than 4 dimensions).
inline gguf_file read_gguf(std::span<const unsigned char> bytes) {
    return detail::gguf_parser(bytes).parse();
}

/// Reads the GGUF file at `path` (see the overload above; std::invalid_argument if unreadable).
inline gguf_file read_gguf_file(const std::string& path) {
    const auto bytes = detail::read_file(path);
    return read_gguf(bytes);
}

} // namespace mpq::io
