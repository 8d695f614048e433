// A consumer of the packaged library: one MXFP4 round trip through the public API.
#include <mpq/mpq.hpp>

#include <cstdio>
#include <vector>

int main() {
    const std::vector<float> input{5.0f, -5.0f, 0.25f, 0.75f, 7.0f, -7.0f, 0.5f, 1.0f};
    std::vector<float> output(input.size());
    mpq::fake_quantize(mpq::mxfp4{}, input, output);
    // Block amax 7 gives scale 2^0; 5 -> 4 (tie to even), 7 saturates to 6.
    const std::vector<float> expected{4.0f, -4.0f, 0.0f, 1.0f, 6.0f, -6.0f, 0.5f, 1.0f};
    if (output != expected) {
        std::puts("mpq consumer: unexpected MXFP4 round trip");
        return 1;
    }
    std::printf("mpq %s consumer ok\n", mpq::version_string);
    return 0;
}
