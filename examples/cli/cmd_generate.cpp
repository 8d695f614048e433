// mpq generate: text from a Llama-architecture model (llama2.c format), by default the
// embedded stories260K, with every matrix product going through the model's linear layers.
#include "cli/args.hpp"
#include "cli/command.hpp"

#include "llama/embedded.hpp"
#include "llama/fake_quant.hpp"
#include "llama/gemm_linear.hpp"
#include "llama/model.hpp"
#include "llama/sampler.hpp"

#include <mpq/mixed/plan.hpp>

#include <fmt/core.h>

#include <cctype>
#include <chrono>
#include <cstdio>
#include <fstream>
#include <string>

namespace {

/// Skips lone control bytes (other than whitespace) so raw byte tokens cannot garble a terminal.
void print_piece(const std::string& piece) {
    if (piece.size() == 1) {
        const auto c = static_cast<unsigned char>(piece[0]);
        if (!(std::isprint(c) || std::isspace(c))) return;
    }
    std::fputs(piece.c_str(), stdout);
}

int run(std::span<const std::string> args) {
    const mpq::cli::parsed_args parsed(args, {"temperature", "steps", "seed", "plan", "tokenizer"},
                                       {"emulate", "quantize-activations"});
    if (parsed.positional().size() > 1)
        throw mpq::cli::usage_error("unexpected argument '" + parsed.positional()[1] + "'");
    const double temperature = parsed.number_or("temperature", 0.0);
    if (!(temperature >= 0.0) || temperature > 100.0)
        throw mpq::cli::usage_error("--temperature " + fmt::format("{}", temperature) +
                                    " is outside [0, 100]");
    const auto seed = static_cast<std::uint64_t>(parsed.integer_or("seed", 42, 0));
    if ((parsed.flag("emulate") || parsed.flag("quantize-activations")) && !parsed.has("plan"))
        throw mpq::cli::usage_error("--emulate and --quantize-activations need --plan");

    const bool embedded = parsed.positional().empty();
    const mpq::llama::checkpoint ck = embedded ? mpq::llama::embedded_stories260K()
                                               : mpq::llama::load_checkpoint(parsed.positional()[0]);
    const mpq::llama::tokenizer vocabulary = parsed.has("tokenizer")
                                                 ? mpq::llama::tokenizer::load(*parsed.get("tokenizer"))
                                                 : mpq::llama::embedded_tok512();
    if (vocabulary.size() != ck.cfg.vocab_size)
        throw mpq::cli::usage_error(fmt::format(
            "the tokenizer has {} tokens but the model's vocabulary is {} (pass --tokenizer FILE)",
            vocabulary.size(), ck.cfg.vocab_size));
    const auto steps = static_cast<std::size_t>(
        parsed.integer_or("steps", 256, 1, static_cast<std::int64_t>(ck.cfg.seq_len)));

    // Float32 by default; under a plan, the mixed-precision GEMM (or its emulation).
    mpq::llama::linear_factory factory = mpq::llama::make_float32_linear;
    std::string path_name = "float32";
    if (auto plan_path = parsed.get("plan")) {
        std::ifstream in(*plan_path);
        if (!in) throw mpq::cli::usage_error("cannot read plan '" + *plan_path + "'");
        const auto plan = mpq::mixed::read_plan(in);
        const mpq::llama::plan_emulation_options options{parsed.flag("quantize-activations"), {}};
        factory = parsed.flag("emulate") ? mpq::llama::plan_factory(plan, options)
                                         : mpq::llama::gemm_plan_factory(plan, options);
        path_name = fmt::format("plan Qr {:.3f}, {}{}", mpq::mixed::summarize(plan).qr,
                                parsed.flag("emulate") ? "emulated" : "mixed-precision GEMM",
                                options.quantize_activations ? ", quantized activations" : "");
    }
    const mpq::llama::transformer model(ck, factory);
    mpq::llama::inference_state state(model.cfg());
    mpq::llama::sampler pick(static_cast<float>(temperature), seed);

    const auto start = std::chrono::steady_clock::now();
    const auto tokens = mpq::llama::generate(model, state, pick, steps, /*stop_at_bos=*/true,
                                             [&](int previous, int token) {
                                                 print_piece(vocabulary.decode(previous, token));
                                                 std::fflush(stdout);
                                             });
    const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    std::fputc('\n', stdout);
    std::fflush(stdout);
    fmt::print(stderr, "{} tokens in {:.3f} s: {:.0f} tokens/s ({}, one thread)\n", tokens.size(),
               seconds, static_cast<double>(tokens.size()) / seconds, path_name);
    return 0;
}

const bool registered = mpq::cli::register_command(
    {"generate",
     "generate [MODEL.bin] [--tokenizer TOK.bin] [--temperature T] [--steps N] [--seed S] "
     "[--plan PLAN [--emulate] [--quantize-activations]]",
     "generate text with a llama2.c model (default: the embedded stories260K; T = 0 is greedy)", &run});

} // namespace
