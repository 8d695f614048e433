// The tensor readers against files written here, corrupted copies of them, and the shipped
// stories260K model in its two formats.
#include "io/writers.hpp"

#include <mpq/io.hpp>
#include <mpq/io/any.hpp>
#include <mpq/io/safetensors.hpp>

#include <catch2/catch.hpp>

#include <bit>
#include <functional>
#include <string>

using namespace mpq_test;
using mpq::io::bad_file;

namespace {

using reader = std::function<void(std::span<const unsigned char>)>;

/// Every proper prefix of a valid file must be rejected with bad_file.
void check_every_prefix_rejected(const bytes& file, const reader& read) {
    for (std::size_t n = 0; n < file.size(); ++n) {
        const bytes prefix(file.begin(), file.begin() + static_cast<std::ptrdiff_t>(n));
        INFO("prefix length " << n << " of " << file.size());
        CHECK_THROWS_AS(read(prefix), bad_file);
    }
}

/// Overwrites each byte of the first `header_bytes` with several values: the reader must
/// either accept the file or throw bad_file — nothing else, and (under the sanitizers) never
/// read out of bounds.
void check_header_corruption_handled(const bytes& file, std::size_t header_bytes, const reader& read) {
    std::size_t rejected = 0;
    for (std::size_t i = 0; i < header_bytes && i < file.size(); ++i) {
        for (unsigned char v : {0x00, 0xFF, 0x7F, 0x80, 0x01}) {
            bytes bad = file;
            if (bad[i] == v) continue;
            bad[i] = v;
            try {
                read(bad);
            } catch (const bad_file&) {
                ++rejected;
            } catch (const std::exception& e) {
                FAIL("byte " << i << " = " << int(v) << " gave a non-bad_file exception: " << e.what());
            }
        }
    }
    CHECK(rejected > 0);
}

std::vector<float> iota_floats(std::size_t n, float step = 0.25f) {
    std::vector<float> v(n);
    for (std::size_t i = 0; i < n; ++i) v[i] = static_cast<float>(i) * step - 1.0f;
    return v;
}

bytes stories(const std::string& name) {
    return mpq::io::detail::read_file(std::string(MPQ_SOURCE_DIR) + "/examples/data/" + name);
}

/// The llama2.c name of a GGUF Llama tensor, or "" for tensors llama2.c does not have.
std::string llama2c_name(const std::string& gguf) {
    if (gguf == "token_embd.weight") return "tok_embeddings";
    if (gguf == "output_norm.weight") return "norm";
    if (gguf == "output.weight") return "output";
    if (!gguf.starts_with("blk.")) return "";
    const auto dot = gguf.find('.', 4);
    const std::string layer = gguf.substr(4, dot - 4), rest = gguf.substr(dot + 1);
    const std::pair<const char*, const char*> map[] = {
        {"attn_q.weight", "attention.wq"},      {"attn_k.weight", "attention.wk"},
        {"attn_v.weight", "attention.wv"},      {"attn_output.weight", "attention.wo"},
        {"ffn_gate.weight", "feed_forward.w1"}, {"ffn_down.weight", "feed_forward.w2"},
        {"ffn_up.weight", "feed_forward.w3"},   {"attn_norm.weight", "attention_norm"},
        {"ffn_norm.weight", "ffn_norm"}};
    for (auto [from, to] : map)
        if (rest == from) return "layers." + layer + "." + to;
    return "";
}

} // namespace

TEST_CASE("gguf: versions 1-3 with F32, F16 and BF16 tensors", "[io][gguf]") {
    const auto f32 = iota_floats(6);
    // F16 and BF16 codes of exactly representable values.
    const std::vector<std::uint16_t> f16 = {0x3C00, 0xC000, 0x3800, 0x0000}; // 1, -2, 0.5, 0
    const std::vector<std::uint16_t> b16 = {0x3F80, 0x4040, 0xBF00};         // 1, 3, -0.5
    for (std::uint32_t version : {1u, 2u, 3u}) {
        for (std::uint32_t alignment : {32u, 64u}) {
            const bytes file = make_gguf(version, {{"a", {3, 2}, 0, as_bytes(f32)},
                                                   {"b", {4}, 1, as_bytes(f16)},
                                                   {"c", {1, 3}, 30, as_bytes(b16)}},
                                         alignment);
            const auto g = mpq::io::read_gguf(file);
            CHECK(g.version == version);
            CHECK(g.metadata.at("general.name") == "test model");
            CHECK(g.metadata.at("tokenizer.ggml.scores") == "[type 6 x 3]");
            REQUIRE(g.tensors.tensors.size() == 3);
            const auto& a = g.tensors.at("a");
            CHECK(a.shape == std::vector<std::size_t>{2, 3}); // outermost first
            CHECK(a.values == f32);
            CHECK(g.tensors.at("b").values == std::vector<float>{1.0f, -2.0f, 0.5f, 0.0f});
            CHECK(g.tensors.at("c").shape == std::vector<std::size_t>{3, 1});
            CHECK(g.tensors.at("c").values == std::vector<float>{1.0f, 3.0f, -0.5f});
            CHECK(mpq::io::detect_format(file) == mpq::io::file_format::gguf);
            check_every_prefix_rejected(file, [](auto b) { (void)mpq::io::read_gguf(b); });
            check_header_corruption_handled(file, file.size() - 2 * alignment,
                                            [](auto b) { (void)mpq::io::read_gguf(b); });
        }
    }
}

TEST_CASE("gguf: bad files get clear errors", "[io][gguf]") {
    const auto f32 = iota_floats(4);
    const bytes good = make_gguf(3, {{"w", {4}, 0, as_bytes(f32)}});
    auto message = [](const bytes& b) {
        try {
            (void)mpq::io::read_gguf(b);
        } catch (const bad_file& e) {
            return std::string(e.what());
        }
        return std::string("accepted");
    };
    bytes bad = good;
    bad[0] = 'X';
    CHECK_THAT(message(bad), Catch::Contains("wrong magic"));
    bad = good;
    bad[4] = 4;
    CHECK_THAT(message(bad), Catch::Contains("unsupported version 4"));
    bad = good;
    bad[8] = 0xFF; // tensor count low byte: 255 tensors cannot fit
    CHECK_THAT(message(bad), Catch::Contains("tensor count 255"));
    bad = good;
    bad[16 + 7] = 0x10; // metadata count high byte: absurd
    CHECK_THAT(message(bad), Catch::Contains("metadata count"));
    // An unsupported tensor type: Q4_0 (2).
    const bytes q4 = make_gguf(3, {{"q", {32}, 2, bytes(18, 0)}});
    CHECK_THAT(message(q4), Catch::Contains("ggml type 2"));
    // A header claiming more elements than the file holds.
    const bytes big = make_gguf(3, {{"w", {4000}, 0, as_bytes(f32)}});
    CHECK_THAT(message(big), Catch::Contains("runs past the end"));
    // Five dimensions.
    const bytes five = make_gguf(3, {{"w", {1, 1, 1, 2, 2}, 0, as_bytes(f32)}});
    CHECK_THAT(message(five), Catch::Contains("5 dimensions"));
}

TEST_CASE("npy: versions, dtypes and Fortran order", "[io][npy]") {
    const std::vector<float> v = {1, 2, 3, 4, 5, 6};
    for (int version : {1, 2, 3}) {
        const bytes file = make_npy("<f4", false, "(2, 3)", as_bytes(v), version);
        const auto t = mpq::io::read_npy(file, "x");
        CHECK(t.name == "x");
        CHECK(t.shape == std::vector<std::size_t>{2, 3});
        CHECK(t.values == v);
        check_every_prefix_rejected(file, [](auto b) { (void)mpq::io::read_npy(b); });
        check_header_corruption_handled(file, file.size() - v.size() * 4,
                                        [](auto b) { (void)mpq::io::read_npy(b); });
    }
    // Column-major storage of [[1,2,3],[4,5,6]] is 1,4,2,5,3,6.
    const std::vector<float> col = {1, 4, 2, 5, 3, 6};
    CHECK(mpq::io::read_npy(make_npy("<f4", true, "(2, 3)", as_bytes(col))).values == v);
    // A 3-d Fortran array: element (i,j,k) of shape (2,3,2) stored at i + 2j + 6k.
    std::vector<float> f3(12), c3(12);
    for (int i = 0; i < 2; ++i)
        for (int j = 0; j < 3; ++j)
            for (int k = 0; k < 2; ++k) {
                const float value = static_cast<float>(100 * i + 10 * j + k);
                f3[static_cast<std::size_t>(i + 2 * j + 6 * k)] = value;
                c3[static_cast<std::size_t>(i * 6 + j * 2 + k)] = value;
            }
    CHECK(mpq::io::read_npy(make_npy("<f4", true, "(2, 3, 2)", as_bytes(f3))).values == c3);
    const std::vector<double> d = {0.5, -1e300, 3.0};
    const auto td = mpq::io::read_npy(make_npy("<f8", false, "(3,)", as_bytes(d)));
    CHECK(td.values[0] == 0.5f);
    CHECK(td.values[1] == -std::numeric_limits<float>::infinity());
    CHECK(td.values[2] == 3.0f);
    const std::vector<std::uint16_t> h = {0x3C00, 0x7BFF}; // 1, 65504
    CHECK(mpq::io::read_npy(make_npy("<f2", false, "(2,)", as_bytes(h))).values == std::vector<float>{1.0f, 65504.0f});
    const auto scalar = mpq::io::read_npy(make_npy("<f4", false, "()", as_bytes(std::vector<float>{7.0f})));
    CHECK(scalar.shape.empty());
    CHECK(scalar.values == std::vector<float>{7.0f});
    CHECK_THROWS_WITH(mpq::io::read_npy(make_npy(">f4", false, "(2,)", bytes(8, 0))), Catch::Contains("'>f4'"));
    CHECK_THROWS_WITH(mpq::io::read_npy(make_npy("<i4", false, "(2,)", bytes(8, 0))), Catch::Contains("'<i4'"));
    CHECK_THROWS_WITH(mpq::io::read_npy(make_npy("<f4", false, "(3,)", bytes(8, 0))), Catch::Contains("imply 12"));
    CHECK_THROWS_AS(mpq::io::read_npy(make_npy("<f4", false, "(99999999999999999999,)", bytes(8, 0))), bad_file);
}

TEST_CASE("safetensors: F32, F16, BF16 and lying headers", "[io][safetensors]") {
    bytes data = as_bytes(std::vector<float>{1, 2, 3, 4});
    for (std::uint16_t h : {0x3C00, 0x4000}) put(data, h);          // F16 1, 2
    for (std::uint16_t h : {0x3F80, 0xC080}) put(data, h);          // BF16 1, -4
    const std::string json =
        R"({"__metadata__": {"format": "pt"}, "w": {"dtype": "F32", "shape": [2, 2], "data_offsets": [0, 16]},)"
        R"( "h": {"dtype": "F16", "shape": [2], "data_offsets": [16, 20]},)"
        R"( "b": {"dtype": "BF16", "shape": [1, 2], "data_offsets": [20, 24]}})";
    const bytes file = make_safetensors(json, data);
    const auto s = mpq::io::read_safetensors(file);
    CHECK(s.metadata.at("format") == "pt");
    REQUIRE(s.tensors.tensors.size() == 3);
    CHECK(s.tensors.tensors[0].name == "w"); // data-offset order
    CHECK(s.tensors.at("w").values == std::vector<float>{1, 2, 3, 4});
    CHECK(s.tensors.at("w").shape == std::vector<std::size_t>{2, 2});
    CHECK(s.tensors.at("h").values == std::vector<float>{1, 2});
    CHECK(s.tensors.at("b").values == std::vector<float>{1, -4});
    CHECK(mpq::io::detect_format(file) == mpq::io::file_format::safetensors);
    check_every_prefix_rejected(file, [](auto b) { (void)mpq::io::read_safetensors(b); });
    check_header_corruption_handled(file, file.size() - data.size(),
                                    [](auto b) { (void)mpq::io::read_safetensors(b); });

    auto with = [&](const std::string& j) { return make_safetensors(j, data); };
    CHECK_THROWS_WITH(mpq::io::read_safetensors(with(R"({"w": {"dtype": "I8", "shape": [4], "data_offsets": [0, 4]}})")),
                      Catch::Contains("dtype I8"));
    CHECK_THROWS_WITH(mpq::io::read_safetensors(with(R"({"w": {"dtype": "F32", "shape": [5], "data_offsets": [0, 16]}})")),
                      Catch::Contains("imply 20"));
    CHECK_THROWS_WITH(mpq::io::read_safetensors(with(R"({"w": {"dtype": "F32", "shape": [8], "data_offsets": [0, 32]}})")),
                      Catch::Contains("outside the data section"));
    CHECK_THROWS_WITH(mpq::io::read_safetensors(with(R"({"w": {"dtype": "F32", "shape": [1], "data_offsets": [8, 4]}})")),
                      Catch::Contains("outside"));
    CHECK_THROWS_WITH(mpq::io::read_safetensors(with(
                          R"({"a": {"dtype": "F32", "shape": [2], "data_offsets": [0, 8]}, "b": {"dtype": "F32", "shape": [2], "data_offsets": [4, 12]}})")),
                      Catch::Contains("overlap"));
    CHECK_THROWS_WITH(mpq::io::read_safetensors(with(R"({"w": {"dtype": "F32", "shape": [-1], "data_offsets": [0, 4]}})")),
                      Catch::Contains("shape entry"));
    CHECK_THROWS_WITH(mpq::io::read_safetensors(with("{not json")), Catch::Contains("not a JSON object"));
    bytes huge = file;
    huge[7] = 0x01; // header length 2^56
    CHECK_THROWS_WITH(mpq::io::read_safetensors(huge), Catch::Contains("exceeds 100 MB"));
}

TEST_CASE("llama2.c: shared and unshared classifiers", "[io][llama2c]") {
    for (bool shared : {true, false}) {
        const bytes file = make_llama2c(8, 12, 2, 4, 2, 10, 6, shared);
        const auto m = mpq::io::read_llama2c(file);
        CHECK(m.config.shared_classifier == shared);
        CHECK(m.config.vocab_size == 10);
        const auto& t = m.tensors;
        CHECK(t.tensors.size() == 1 + 2 * 9 + 1 + (shared ? 0 : 1));
        CHECK(t.at("tok_embeddings").shape == std::vector<std::size_t>{10, 8});
        CHECK(t.at("layers.1.attention.wk").shape == std::vector<std::size_t>{4, 8}); // kv_dim 4
        CHECK(t.at("layers.0.feed_forward.w2").shape == std::vector<std::size_t>{8, 12});
        // Order: tok 80, attention_norm 16, wq 128, wk 64 → layers.1.wk starts at float 80+16+128+32.
        CHECK(t.at("layers.1.attention.wk").values[0] == static_cast<float>(80 + 16 + 128 + 32) * 0.001f);
        if (!shared) {
            // output follows norm (8) and the RoPE tables (6 x 2 each).
            const std::size_t before = 80 + 2 * (8 + 64 + 32 + 32 + 64 + 8 + 96 * 3) + 8 + 6 * 2;
            CHECK(t.at("output").values[0] == static_cast<float>(before) * 0.001f);
        }
        const auto with_rope = mpq::io::read_llama2c(file, true);
        CHECK(with_rope.tensors.at("freq_cis_imag").shape == std::vector<std::size_t>{6, 1});
        CHECK(mpq::io::detect_format(file) == mpq::io::file_format::llama2c);
        check_every_prefix_rejected(file, [](auto b) { (void)mpq::io::read_llama2c(b); });
        check_header_corruption_handled(file, 28, [](auto b) { (void)mpq::io::read_llama2c(b); });
    }
    bytes bad = make_llama2c(8, 12, 2, 4, 2, 10, 6, true);
    bad.push_back(0);
    CHECK_THROWS_WITH(mpq::io::read_llama2c(bad), Catch::Contains("header implies"));
    bytes odd = make_llama2c(8, 12, 2, 3, 1, 10, 6, true);
    CHECK_THROWS_WITH(mpq::io::read_llama2c(odd), Catch::Contains("not a multiple of n_heads"));
    bytes absurd = make_llama2c(8, 12, 2, 4, 2, 10, 6, true);
    for (int i = 0; i < 3; ++i) std::memcpy(absurd.data() + 4 * i, "\x00\x00\x10\x00", 4); // 2^20
    CHECK_THROWS_WITH(mpq::io::read_llama2c(absurd), Catch::Contains("absurd"));
}

TEST_CASE("raw float32 and format detection", "[io][raw]") {
    const std::vector<float> v = {1.5f, -2.0f, 3.25f, 0.0f};
    const auto t = mpq::io::read_raw_f32(as_bytes(v), "r", {2, 2});
    CHECK(t.shape == std::vector<std::size_t>{2, 2});
    CHECK(t.values == v);
    CHECK(mpq::io::read_raw_f32(as_bytes(v)).shape == std::vector<std::size_t>{4});
    CHECK_THROWS_WITH(mpq::io::read_raw_f32(bytes(7, 0)), Catch::Contains("multiple of 4"));
    CHECK_THROWS_WITH(mpq::io::read_raw_f32(as_bytes(v), "r", {3}), Catch::Contains("asks for 3"));
    CHECK(mpq::io::detect_format(as_bytes(v), "w.f32") == mpq::io::file_format::raw_f32);
    CHECK_THROWS_WITH(mpq::io::detect_format(as_bytes(v), "w.dat"), Catch::Contains("unrecognised"));
    CHECK(mpq::io::read_tensors(as_bytes(v), "w.raw", "w").at("w").values == v);
}

TEST_CASE("stories260K: the GGUF v1 file and the llama2.c checkpoint hold identical weights",
          "[io][stories260K]") {
    const auto g = mpq::io::read_gguf(stories("stories260K-f32.gguf"));
    const auto m = mpq::io::read_llama2c(stories("stories260K.bin"));
    CHECK(g.version == 1);
    CHECK(g.metadata.at("general.architecture") == "llama");
    CHECK(m.config.dim == 64);
    CHECK(m.config.hidden_dim == 172);
    CHECK(m.config.n_layers == 5);
    CHECK(m.config.n_kv_heads == 4);
    CHECK(m.config.vocab_size == 512);
    CHECK(m.config.shared_classifier);
    // 260,032 parameters without the tied classifier (the model's documented size).
    CHECK(m.tensors.parameter_count() == 260032);
    CHECK(g.tensors.tensors.size() == 48);
    std::size_t compared = 0;
    for (const auto& t : g.tensors.tensors) {
        const std::string name = llama2c_name(t.name);
        INFO(t.name << " -> " << name);
        REQUIRE(!name.empty());
        // The GGUF stores the tied classifier separately; it equals the token embedding.
        const auto& other = m.tensors.at(name == "output" ? "tok_embeddings" : name);
        CHECK(t.shape == other.shape);
        CHECK(t.values == other.values);
        ++compared;
    }
    CHECK(compared == 48);
}
