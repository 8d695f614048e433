// NIST StRD acceptance: all 27 problems from both starts with default options and the
// autodiff Jacobian must give >= 6 correct digits, a mean LRE >= 9.3, and no run may claim
// success at a point with fewer than 4 correct digits.
#include <mpq/fit/nist.hpp>

#include <catch2/catch.hpp>

#include <string>

namespace {
mpq::fit::nist::problem load(std::string_view name) {
    return mpq::fit::nist::read_file(std::string(MPQ_TEST_DATA_DIR) + "/nist/" + std::string(name) + ".dat");
}
} // namespace

TEST_CASE("NIST StRD: 54 of 54 runs with >= 6 digits, mean LRE >= 9.3, no false success", "[fit][nist]") {
    int good = 0, runs = 0;
    double lre_sum = 0;
    for (auto name : mpq::fit::nist::problem_names) {
        const auto problem = load(name);
        for (int start = 1; start <= 2; ++start) {
            const auto r = mpq::fit::nist::run(problem, start);
            INFO(r.problem << " start " << start << ": LRE " << r.lre << ", " << to_string(r.solve.stop));
            CHECK(r.lre >= 6);
            if (r.solve.success()) CHECK(r.lre >= 4);
            good += r.lre >= 6;
            lre_sum += r.lre;
            ++runs;
        }
    }
    REQUIRE(runs == 54);
    CHECK(good == 54);
    CHECK(lre_sum / runs >= 9.3);
}

TEST_CASE("NIST reader parses starts, certified values and data", "[fit][nist]") {
    const auto p = load("Misra1a");
    REQUIRE(p.certified.size() == 2);
    CHECK(p.start1[0] == 500);
    CHECK(p.start2[1] == 0.0005);
    CHECK(p.certified[0] == Approx(2.3894212918E+02).epsilon(1e-12));
    CHECK(p.y.size() == 14);
    CHECK(p.x.size() == 14);
    CHECK(p.certified_rss == Approx(1.2455138894E-01).epsilon(1e-12));
    const auto nelson = load("Nelson");
    CHECK(nelson.input_count == 2);
    CHECK(nelson.x.size() == 2 * nelson.y.size());
    CHECK_THROWS_AS(mpq::fit::nist::parse("no numbers here", "junk"), std::invalid_argument);
}

TEST_CASE("NIST: the finite-difference and autodiff Jacobians reach the same answer on easy problems", "[fit][nist]") {
    mpq::fit::options fd;
    fd.jacobian = mpq::fit::jacobian_mode::finite_difference;
    for (auto name : {"Misra1a", "Chwirut2", "DanWood", "Gauss1", "Rat42"}) {
        const auto p = load(name);
        const auto r = mpq::fit::nist::run(p, 2, fd);
        INFO(name << ": LRE " << r.lre);
        CHECK(r.solve.success());
        CHECK(r.lre >= 6);
    }
}

TEST_CASE("LRE scoring", "[fit][nist]") {
    using mpq::fit::nist::log_relative_error;
    CHECK(log_relative_error(1.0, 1.0) == 11);
    CHECK(log_relative_error(1.001, 1.0) == Approx(3.0).epsilon(1e-9));
    CHECK(log_relative_error(-5, 1.0) == 0);
    CHECK(log_relative_error(std::nan(""), 1.0) == 0);
}
