// The evaluation harness (cross-entropy, KL divergence to float32) and the emulated
// quantization of the model's linear layers through mpq formats and precision plans.
#include "llama/eval.hpp"
#include "llama/fake_quant.hpp"

#include <mpq/mixed/format_cost.hpp>

#include <catch2/catch.hpp>

#include <cmath>
#include <string>
#include <vector>

using namespace mpq::llama;

namespace {

const checkpoint& stories() {
    static const checkpoint ck = load_checkpoint(MPQ_SOURCE_DIR "/examples/data/stories260K.bin");
    return ck;
}

evaluation_options small_options(std::size_t threads = 2) {
    evaluation_options o;
    o.sequences = 4;
    o.length = 24;
    o.seed = 11;
    o.threads = threads;
    return o;
}

bool same(const evaluation_result& a, const evaluation_result& b) {
    return a.cross_entropy == b.cross_entropy && a.kl_divergence == b.kl_divergence &&
           a.top1_agreement == b.top1_agreement && a.predictions == b.predictions;
}

} // namespace

TEST_CASE("evaluation sequences are sampled reproducibly, whatever the thread count", "[llama][eval]") {
    const transformer model(stories());
    const auto a = sample_sequences(model, small_options(1));
    const auto b = sample_sequences(model, small_options(2));
    CHECK(a == b);
    REQUIRE(a.size() == 4);
    for (const auto& s : a) {
        REQUIRE(s.size() == 25);
        CHECK(s.front() == bos_token);
        for (int t : s) CHECK((t >= 0 && t < 512));
    }
    CHECK(a[0] != a[1]); // each sequence has its own generator
    auto other = small_options();
    other.seed = 12;
    CHECK(sample_sequences(model, other) != a);

    auto bad = small_options();
    bad.length = 513;
    CHECK_THROWS_AS(sample_sequences(model, bad), std::invalid_argument);
    bad.length = 0;
    CHECK_THROWS_AS(sample_sequences(model, bad), std::invalid_argument);
}

TEST_CASE("the float32 model scores zero degradation against itself", "[llama][eval]") {
    const transformer model(stories());
    const evaluator eval(model, small_options());
    const auto r = eval.evaluate(model);
    CHECK(r.predictions == 4 * 24);
    CHECK(r.delta == 0.0);
    CHECK(r.kl_divergence == 0.0);
    CHECK(r.top1_agreement == 1.0);
    CHECK(r.cross_entropy == eval.reference_cross_entropy());
    CHECK(r.cross_entropy > 0.1);
    CHECK(r.cross_entropy < 5.0);

    // The cross-entropy by hand: −log softmax(logits)[next], averaged.
    double total = 0;
    inference_state state(model.cfg(), 24);
    for (const auto& s : eval.sequences()) {
        state.reset();
        for (std::size_t t = 0; t < 24; ++t) {
            const auto logits = forward(model, state, s[t]);
            double z = 0;
            for (float l : logits) z += std::exp(double(l));
            total -= double(logits[static_cast<std::size_t>(s[t + 1])]) - std::log(z);
        }
    }
    CHECK(r.cross_entropy == Approx(total / 96).epsilon(1e-9));

    // Same numbers without the cache and on one thread.
    auto uncached = small_options(1);
    uncached.cache_reference = false;
    const evaluator eval2(model, uncached);
    CHECK(same(eval2.evaluate(model), r));
}

TEST_CASE("coarser formats degrade the model more", "[llama][eval][fake_quant]") {
    const transformer reference(stories());
    const evaluator eval(reference, small_options());
    const transformer int8(stories(), uniform_factory(mpq::make_format("mxint8"), std::nullopt));
    const transformer int4(stories(), uniform_factory(mpq::make_format("mxint4"), std::nullopt));
    const transformer int4_wa(stories(), uniform_factory(mpq::make_format("mxint4"), mpq::make_format("mxint4")));
    const auto r8 = eval.evaluate(int8), r4 = eval.evaluate(int4), r4wa = eval.evaluate(int4_wa);
    CHECK(r8.kl_divergence > 0.0);
    CHECK(r8.kl_divergence < r4.kl_divergence);
    CHECK(r4.kl_divergence < r4wa.kl_divergence);
    CHECK(r4.delta > 0.0);
    CHECK(r4wa.delta > r8.delta);
    CHECK(r8.top1_agreement >= r4wa.top1_agreement);
    CHECK(r8.kl_divergence < 0.01);

    // The weights really are the format's values: fake quantizing them again changes nothing.
    const auto& wq = dynamic_cast<const fake_quantized_linear&>(*int4.layers()[0].wq);
    std::vector<float> again(wq.weights().size());
    weight_quantizer(mpq::make_format("mxint4"))(wq.weights(), again, wq.rows(), wq.cols());
    CHECK(std::equal(again.begin(), again.end(), wq.weights().begin()));
    // The classifier stays float32 unless asked for.
    CHECK(dynamic_cast<const float32_linear*>(&int4.classifier()) != nullptr);
}

TEST_CASE("precision plans are emulated component by component", "[llama][eval][fake_quant]") {
    namespace mixed = mpq::mixed;
    const transformer reference(stories());
    const evaluator eval(reference, small_options());
    const std::vector<mixed::format_choice> formats{mixed::plain_float_choice("f32"),
                                                    mixed::format_choice_of("mxint4", 32, true)};

    // Describe: 5 layers of 7 matmuls, no classifier, 260032 − 512·64 − norms parameters.
    const auto desc = describe(reference);
    REQUIRE(desc.layers.size() == 5);
    CHECK(desc.layers[0].matmuls.size() == 7);
    CHECK(desc.parameters() == 5 * (2 * 64 * 64 + 2 * 32 * 64 + 3 * 172 * 64));

    // All high: the float32 model. All low, per matmul: the uniform factory, bit for bit.
    const transformer high(stories(), plan_factory(mixed::uniform_plan(desc, mixed::granularity::matmul, formats, 0)));
    CHECK(eval.evaluate(high).kl_divergence == 0.0);
    const auto all_low = mixed::uniform_plan(desc, mixed::granularity::matmul, formats, 1);
    const transformer low(stories(), plan_factory(all_low, {.quantize_activations = true, .quantize = {}}));
    const transformer uniform(stories(), uniform_factory(mpq::make_format("mxint4"), mpq::make_format("mxint4")));
    const auto r_low = eval.evaluate(low);
    CHECK(same(r_low, eval.evaluate(uniform)));
    // Layer granularity, all low, is the same model.
    const transformer layer_low(stories(), plan_factory(mixed::uniform_plan(desc, mixed::granularity::layer, formats, 1),
                                                        {.quantize_activations = true, .quantize = {}}));
    CHECK(same(eval.evaluate(layer_low), r_low));

    // Blocks of whole rows (4 rows of 64 weights; w2's rows are 172): half of them low.
    const auto blocks = describe(reference, 4 * 64);
    auto half = mixed::uniform_plan(blocks, mixed::granularity::block, formats, 0);
    for (std::size_t i = 0; i < half.assignment.size(); i += 2) half.assignment[i] = 1;
    const transformer mixed_model(stories(), plan_factory(half));
    const auto r_half = eval.evaluate(mixed_model);
    const transformer weights_low(stories(), plan_factory(all_low));
    const auto r_weights = eval.evaluate(weights_low);
    CHECK(r_half.kl_divergence > 0.0);
    CHECK(r_half.kl_divergence < r_weights.kl_divergence);
    // The low blocks hold MXINT4 values, the high ones the original weights.
    const auto& wq = dynamic_cast<const fake_quantized_linear&>(*mixed_model.layers()[0].wq);
    const auto& original = stories().layers[0].wq;
    CHECK(std::equal(wq.weights().begin() + 256, wq.weights().begin() + 512, original.begin() + 256));
    CHECK_FALSE(std::equal(wq.weights().begin(), wq.weights().begin() + 256, original.begin()));

    // Bad plans fail when the model is built.
    auto wrong = all_low;
    wrong.components[0].parameters += 1;
    CHECK_THROWS_AS(transformer(stories(), plan_factory(wrong)), std::invalid_argument);
    auto unknown = all_low;
    unknown.formats[1].name = "mxint3";
    CHECK_THROWS_AS(plan_factory(unknown), std::invalid_argument);
    CHECK(quantizer_for("mxfp4@16").block_format.has_value());
    CHECK_FALSE(quantizer_for("bf16").block_format.has_value());
    CHECK_THROWS_AS(quantizer_for("mxint4@x"), std::invalid_argument);
}

#include "llama/plan_loss.hpp"

TEST_CASE("plan losses drive mpq's random and guided searches", "[llama][eval][search]") {
    namespace mixed = mpq::mixed;
    const transformer reference(stories());
    const evaluator eval(reference, small_options(1));
    const auto high = mixed::plain_float_choice("bf16");
    const auto low = mixed::format_choice_of("mxint4", 32, true);
    const auto loss = plan_loss(stories(), eval);

    // Loss of the all-high and all-low plans bracket a half-low plan found by the search.
    const auto desc = describe(reference);
    const double all_high = loss(mixed::uniform_plan(desc, mixed::granularity::layer, {high, low}, 0));
    const double all_low = loss(mixed::uniform_plan(desc, mixed::granularity::layer, {high, low}, 1));
    CHECK(all_high == Approx(eval.reference_cross_entropy()).epsilon(1e-3));
    CHECK(all_low > all_high);

    mixed::search_options options;
    options.target_qr = 0.4;
    options.trials = 4;
    options.seed = 3;
    options.threads = 2;
    const auto found = mixed::random_search(desc, mixed::granularity::layer, high, low, loss, options);
    CHECK(found.achieved_qr == Approx(0.4).margin(0.11));
    CHECK(found.best_loss > all_high);
    CHECK(found.best_loss < all_low);
    for (const auto& t : found.trials) CHECK(found.best_loss <= t.loss);

    mixed::guided_options guided;
    guided.target_qr = 0.4;
    guided.budget = 8; // 5 layers: 6 sensitivity evaluations, then refinement
    const auto g = mixed::guided_search(desc, mixed::granularity::layer, high, low, loss, guided);
    CHECK(g.sensitivity.size() == 5);
    CHECK(g.search.best_loss < all_low);

    // The same plan on the GEMM gives nearly the same loss.
    const auto on_gemm = plan_loss(stories(), eval, {.emulation = {}, .use_gemm = true, .kl_divergence = false});
    CHECK(on_gemm(found.best) == Approx(found.best_loss).epsilon(2e-3));
}
