// Reading llama2.c checkpoints and tokenizers: layout, and clear errors on bad files.
#include "llama/checkpoint.hpp"
#include "llama/tokenizer.hpp"

#include <catch2/catch.hpp>

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <string>
#include <vector>

using namespace mpq::llama;

namespace {

struct byte_writer {
    std::vector<std::byte> bytes;
    void i32(std::int32_t v) { put(&v, sizeof v); }
    void f32(float v) { put(&v, sizeof v); }
    void text(const std::string& s) { put(s.data(), s.size()); }
    void put(const void* p, std::size_t n) {
        const auto* b = static_cast<const std::byte*>(p);
        bytes.insert(bytes.end(), b, b + n);
    }
};

// A tiny checkpoint whose every float is its own index in the file's float array, so the
// test can tell where each tensor was read from.
std::vector<std::byte> tiny_checkpoint(std::int32_t vocab, std::size_t extra_floats = 0) {
    const std::int32_t dim = 4, hidden = 6, layers = 2, heads = 2, kv_heads = 1, seq = 3;
    byte_writer w;
    for (std::int32_t v : {dim, hidden, layers, heads, kv_heads, vocab, seq}) w.i32(v);
    const std::size_t V = static_cast<std::size_t>(vocab < 0 ? -vocab : vocab);
    const std::size_t kv = 2, head = 2;
    std::size_t n = V * dim + layers * (dim + dim * dim + 2 * kv * dim + dim * dim + dim +
                                        3 * hidden * dim) +
                    dim + 2 * seq * head / 2;
    if (vocab < 0) n += V * dim;
    for (std::size_t i = 0; i < n + extra_floats; ++i) w.f32(static_cast<float>(i));
    return w.bytes;
}

} // namespace

TEST_CASE("a llama2.c checkpoint is read tensor by tensor in llama2.c's order", "[llama][io]") {
    const auto bytes = tiny_checkpoint(5);
    const checkpoint ck = parse_checkpoint(bytes);
    CHECK(ck.cfg.dim == 4);
    CHECK(ck.cfg.kv_dim() == 2);
    CHECK(ck.cfg.shared_classifier);
    REQUIRE(ck.layers.size() == 2);
    CHECK(ck.token_embedding.front() == 0.0f);
    CHECK(ck.token_embedding.back() == 19.0f);
    CHECK(ck.layers[0].attention_norm.front() == 20.0f); // both layers' norms come first
    CHECK(ck.layers[1].attention_norm.front() == 24.0f);
    CHECK(ck.layers[0].wq.front() == 28.0f);
    CHECK(ck.layers[1].wq.front() == 44.0f);
    CHECK(ck.layers[0].wk.front() == 60.0f);
    CHECK(ck.layers[0].w3.size() == 24);
    CHECK(ck.final_norm.size() == 4);
    CHECK(ck.classifier.empty());
    CHECK(ck.classifier_weights().data() == ck.token_embedding.data());

    // A negative vocab size means a separate classifier after the RoPE tables.
    const checkpoint separate = parse_checkpoint(tiny_checkpoint(-5));
    CHECK_FALSE(separate.cfg.shared_classifier);
    CHECK(separate.cfg.vocab_size == 5);
    REQUIRE(separate.classifier.size() == 20);
    CHECK(separate.classifier.front() == separate.final_norm.back() + 1 + 6);
}

TEST_CASE("truncated, padded or malformed checkpoints are rejected with a message", "[llama][io]") {
    const auto bytes = tiny_checkpoint(5);
    for (std::size_t cut = 0; cut < bytes.size(); cut += 3)
        CHECK_THROWS_AS(parse_checkpoint(std::span(bytes).first(cut)), std::invalid_argument);
    CHECK_THROWS_WITH(parse_checkpoint(std::span(bytes).first(bytes.size() - 4)),
                      Catch::Contains("truncated"));
    CHECK_THROWS_WITH(parse_checkpoint(tiny_checkpoint(5, 1)), Catch::Contains("trailing"));

    auto with_header = [&](int field, std::int32_t value) {
        auto b = bytes;
        std::memcpy(b.data() + 4 * field, &value, 4);
        return b;
    };
    CHECK_THROWS_WITH(parse_checkpoint(with_header(0, 0)), Catch::Contains("dim"));
    CHECK_THROWS_WITH(parse_checkpoint(with_header(3, 3)), Catch::Contains("n_heads 3"));
    CHECK_THROWS_WITH(parse_checkpoint(with_header(4, 3)), Catch::Contains("n_kv_heads 3"));
    CHECK_THROWS_WITH(parse_checkpoint(with_header(5, 0)), Catch::Contains("vocab_size"));
    CHECK_THROWS_WITH(parse_checkpoint(with_header(2, -1)), Catch::Contains("n_layers"));
    // A huge but positive size must fail on its bound, not by allocating.
    CHECK_THROWS_AS(parse_checkpoint(with_header(1, 0x7fffffff)), std::invalid_argument);
    CHECK_THROWS_AS(load_checkpoint("/nonexistent/model.bin"), std::invalid_argument);
}

TEST_CASE("the stories260K checkpoint and its tokenizer load", "[llama][io]") {
    const checkpoint ck = load_checkpoint(MPQ_SOURCE_DIR "/examples/data/stories260K.bin");
    CHECK(ck.cfg.dim == 64);
    CHECK(ck.cfg.hidden_dim == 172);
    CHECK(ck.cfg.n_layers == 5);
    CHECK(ck.cfg.n_heads == 8);
    CHECK(ck.cfg.n_kv_heads == 4);
    CHECK(ck.cfg.vocab_size == 512);
    CHECK(ck.cfg.seq_len == 512);
    CHECK(ck.cfg.shared_classifier);
    const tokenizer t = tokenizer::load(MPQ_SOURCE_DIR "/examples/data/tok512.bin");
    CHECK(t.size() == 512);
    // llama2.c's exporter wraps the control pieces in newlines: "\n<s>\n".
    CHECK(t.piece(bos_token).find("<s>") != std::string_view::npos);
    CHECK(t.piece(eos_token).find("</s>") != std::string_view::npos);
    CHECK(t.piece(13) == "<0x0A>");
    CHECK(t.decode(400, 13) == "\n");
}

TEST_CASE("tokenizer: pieces, scores, leading space after BOS and byte tokens", "[llama][io]") {
    byte_writer w;
    w.i32(8);
    const std::vector<std::string> pieces{"<unk>", "<s>", "</s>", "<0x41>", " Once", " upon", "ly", "<0xzz>"};
    for (std::size_t i = 0; i < pieces.size(); ++i) {
        w.f32(-static_cast<float>(i));
        w.i32(static_cast<std::int32_t>(pieces[i].size()));
        w.text(pieces[i]);
    }
    const tokenizer t = tokenizer::parse(w.bytes);
    CHECK(t.size() == pieces.size());
    CHECK(t.max_token_length() == 8);
    CHECK(t.score(5) == -5.0f);
    CHECK(t.decode(bos_token, 4) == "Once");  // leading space stripped after BOS
    CHECK(t.decode(4, 5) == " upon");
    CHECK(t.decode(5, 3) == "A");            // <0x41>
    CHECK(t.decode(5, 7) == "<0xzz>");       // not a byte token: kept as text
    CHECK(t.decode(std::vector<int>{4, 5, 6, 1, 4}) == "Once uponlyOnce");
    CHECK_THROWS_AS(t.decode(1, 8), std::invalid_argument);
    CHECK_THROWS_AS(t.piece(-1), std::invalid_argument);

    for (std::size_t cut = 5; cut < w.bytes.size(); ++cut) {
        // Cuts inside a record fail; cuts at a record boundary give a shorter vocabulary.
        try {
            const tokenizer partial = tokenizer::parse(std::span(w.bytes).first(cut));
            CHECK(partial.size() < pieces.size());
        } catch (const std::invalid_argument& e) {
            CHECK(std::string(e.what()).find("truncated") != std::string::npos);
        }
    }
    auto bad = w.bytes;
    const std::int32_t too_long = 9;
    std::memcpy(bad.data() + 4 + 4, &too_long, 4); // length of token 0
    CHECK_THROWS_WITH(tokenizer::parse(bad), Catch::Contains("length 9"));
    CHECK_THROWS_AS(tokenizer::parse(std::span(w.bytes).first(4)), std::invalid_argument); // no tokens
    CHECK_THROWS_AS(tokenizer::load("/nonexistent/tok.bin"), std::invalid_argument);
}
