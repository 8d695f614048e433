// A model as mixed-precision allocation sees it: named layers made of named matmuls, each
// split into blocks with their parameter counts. A precision plan assigns a format to every
// component at one granularity — whole layers, whole matmuls or single blocks.
#pragma once

#include <cstddef>
#include <cstdint>
#include <limits>
#include <set>
#include <stdexcept>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace mpq::mixed {

/// How finely a plan assigns formats.
enum class granularity : std::uint8_t {
    layer,  ///< every matmul of a layer shares one format (the paper's layer-wise mixing)
    matmul, ///< every matmul has its own format (the paper's matmul-wise mixing)
    block,  ///< every block of a matmul has its own format
};

inline std::string_view to_string(granularity g) {
    switch (g) {
    case granularity::layer: return "layer";
    case granularity::matmul: return "matmul";
    case granularity::block: return "block";
    }
    return "?";
}

/// "layer", "matmul" or "block"; std::invalid_argument naming anything else.
inline granularity parse_granularity(std::string_view text) {
    if (text == "layer") return granularity::layer;
    if (text == "matmul") return granularity::matmul;
    if (text == "block") return granularity::block;
    throw std::invalid_argument("unknown granularity '" + std::string(text) +
                                "' (expected layer, matmul or block)");
}

struct matmul_desc {
    std::string name;
    std::vector<std::size_t> block_parameters; ///< parameter count of each block, in order

    std::size_t parameters() const {
        std::size_t n = 0;
        for (std::size_t b : block_parameters) n += b;
        return n;
    }
};

struct layer_desc {
    std::string name;
    std::vector<matmul_desc> matmuls;

    std::size_t parameters() const {
        std::size_t n = 0;
        for (const auto& m : matmuls) n += m.parameters();
        return n;
    }
};

/// Names must be non-empty, free of whitespace and '#' (they appear in plan files), and
/// unique among layers and among the matmuls of a layer.
struct model_desc {
    std::vector<layer_desc> layers;

    std::size_t parameters() const {
        std::size_t n = 0;
        for (const auto& l : layers) n += l.parameters();
        return n;
    }

    /// Throws std::invalid_argument naming the first bad name, duplicate, empty layer or
    /// matmul, or zero-parameter block.
    void validate() const {
        auto check_name = [](const std::string& name, std::string_view what) {
            if (name.empty()) throw std::invalid_argument("mixed: a " + std::string(what) + " has an empty name");
            for (char c : name)
                if (c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '#')
                    throw std::invalid_argument("mixed: " + std::string(what) + " name '" + name +
                                                "' contains whitespace or '#'");
        };
        if (layers.empty()) throw std::invalid_argument("mixed: the model has no layers");
        std::set<std::string> layer_names;
        for (const auto& l : layers) {
            check_name(l.name, "layer");
            if (!layer_names.insert(l.name).second)
                throw std::invalid_argument("mixed: duplicate layer name '" + l.name + "'");
            if (l.matmuls.empty()) throw std::invalid_argument("mixed: layer '" + l.name + "' has no matmuls");
            std::set<std::string> names;
            for (const auto& m : l.matmuls) {
                check_name(m.name, "matmul");
                if (!names.insert(m.name).second)
                    throw std::invalid_argument("mixed: duplicate matmul '" + m.name + "' in layer '" + l.name + "'");
                if (m.block_parameters.empty())
                    throw std::invalid_argument("mixed: matmul '" + l.name + "/" + m.name + "' has no blocks");
                for (std::size_t b : m.block_parameters)
                    if (b == 0)
                        throw std::invalid_argument("mixed: matmul '" + l.name + "/" + m.name +
                                                    "' has a block of 0 parameters");
            }
        }
    }
};

/// A matmul of `parameters` parameters split into blocks of `block_parameters` (the last one
/// shorter if it does not divide); 0 means one block. std::invalid_argument for 0 parameters.
inline matmul_desc make_matmul(std::string name, std::size_t parameters, std::size_t block_parameters = 0) {
    if (parameters == 0) throw std::invalid_argument("mixed: matmul '" + name + "' has 0 parameters");
    matmul_desc m{std::move(name), {}};
    if (block_parameters == 0 || block_parameters >= parameters) {
        m.block_parameters.push_back(parameters);
        return m;
    }
    for (std::size_t done = 0; done < parameters; done += block_parameters)
        m.block_parameters.push_back(std::min(block_parameters, parameters - done));
    return m;
}

/// Groups named matmuls into layers by name: "layers.N.rest" and "blk.N.rest" go to layer
/// "layers.N" / "blk.N" as matmul "rest"; any other name is a layer of its own with one matmul
/// of the same name. Layers keep the order of their first matmul. Blocks as in make_matmul.
inline model_desc group_into_layers(const std::vector<std::pair<std::string, std::size_t>>& matmuls,
                                    std::size_t block_parameters = 0) {
    model_desc model;
    for (const auto& [name, count] : matmuls) {
        std::string layer = name, rest = name;
        for (std::string_view prefix : {"layers.", "blk."}) {
            if (name.starts_with(prefix)) {
                const auto dot = name.find('.', prefix.size());
                if (dot != std::string::npos && dot + 1 < name.size()) {
                    layer = name.substr(0, dot);
                    rest = name.substr(dot + 1);
                }
            }
        }
        layer_desc* target = nullptr;
        for (auto& l : model.layers)
            if (l.name == layer) target = &l;
        if (!target) {
            model.layers.push_back({layer, {}});
            target = &model.layers.back();
        }
        target->matmuls.push_back(make_matmul(rest, count, block_parameters));
    }
    return model;
}

/// One unit of allocation at a granularity.
struct component {
    static constexpr std::size_t whole = std::numeric_limits<std::size_t>::max();
    std::string layer;
    std::string matmul;        ///< empty for a layer-wise component
    std::size_t block = whole; ///< block index within the matmul, or `whole`
    std::size_t parameters = 0;

    /// "layer", "layer/matmul" or "layer/matmul#block".
    std::string name() const {
        std::string n = layer;
        if (!matmul.empty()) n += "/" + matmul;
        if (block != whole) n += "#" + std::to_string(block);
        return n;
    }
};

/// The components of `model` at granularity `g`, in model order. Validates the model first.
inline std::vector<component> components(const model_desc& model, granularity g) {
    model.validate();
    std::vector<component> out;
    for (const auto& l : model.layers) {
        if (g == granularity::layer) {
            out.push_back({l.name, "", component::whole, l.parameters()});
            continue;
        }
        for (const auto& m : l.matmuls) {
            if (g == granularity::matmul) {
                out.push_back({l.name, m.name, component::whole, m.parameters()});
                continue;
            }
            for (std::size_t b = 0; b < m.block_parameters.size(); ++b)
                out.push_back({l.name, m.name, b, m.block_parameters[b]});
        }
    }
    return out;
}

} // namespace mpq::mixed
