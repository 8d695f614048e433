// The llama2.c tokenizer file: an int32 max_token_length, then for every token a float32
// score, an int32 byte length and that many bytes of text (SentencePiece-style pieces, where
// a leading space marks a word start and "<0xXX>" stands for the raw byte XX).
#pragma once

#include "llama/checkpoint.hpp"

#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

namespace mpq::llama {

/// Token ids with a fixed meaning in llama2.c vocabularies.
inline constexpr int bos_token = 1; ///< beginning of sequence; also ends a generated story
inline constexpr int eos_token = 2;

class tokenizer {
public:
    /// Parses a tokenizer file held in memory. Throws std::invalid_argument for a truncated
    /// buffer, a negative or oversized piece length, or an empty vocabulary.
    static tokenizer parse(std::span<const std::byte> bytes) {
        mpq::llama::detail::byte_reader in(bytes, "llama tokenizer");
        tokenizer t;
        const std::int32_t max_len = in.read_int32("max_token_length");
        if (max_len <= 0)
            throw std::invalid_argument("llama tokenizer: max_token_length is " +
                                        std::to_string(max_len));
        t.max_token_length_ = static_cast<std::size_t>(max_len);
        while (in.remaining() > 0) {
            const float score = in.read_float("score");
            const std::int32_t len = in.read_int32("piece length");
            if (len < 0 || static_cast<std::size_t>(len) > t.max_token_length_)
                throw std::invalid_argument("llama tokenizer: token " +
                                            std::to_string(t.pieces_.size()) + " has length " +
                                            std::to_string(len) + ", outside [0, " +
                                            std::to_string(max_len) + "]");
            auto text = in.take(static_cast<std::size_t>(len), "piece");
            t.pieces_.emplace_back(reinterpret_cast<const char*>(text.data()), text.size());
            t.scores_.push_back(score);
        }
        if (t.pieces_.empty()) throw std::invalid_argument("llama tokenizer: no tokens");
        return t;
    }

    /// Reads a tokenizer file (errors as for parse, prefixed by the path).
    static tokenizer load(const std::string& path) {
        const auto bytes = mpq::llama::detail::read_file_bytes(path);
        try {
            return parse(bytes);
        } catch (const std::invalid_argument& e) {
            throw std::invalid_argument("'" + path + "': " + e.what());
        }
    }

    std::size_t size() const { return pieces_.size(); }
    std::size_t max_token_length() const { return max_token_length_; }
    /// The stored piece of a token, as in the file. Throws std::invalid_argument for a bad id.
    std::string_view piece(int token) const { return pieces_.at(checked(token)); }
    float score(int token) const { return scores_.at(checked(token)); }

    /// The text a token adds after `previous`: the piece, without its leading space right
    /// after BOS, and with "<0xXX>" pieces turned into the byte XX.
    std::string decode(int previous, int token) const {
        std::string_view p = piece(token);
        if (previous == bos_token && !p.empty() && p.front() == ' ') p.remove_prefix(1);
        if (auto byte = byte_value(p)) return std::string(1, static_cast<char>(*byte));
        return std::string(p);
    }

    /// The text of a token sequence that starts a story (after an implied BOS). BOS tokens
    /// themselves add no text.
    std::string decode(std::span<const int> tokens) const {
        std::string text;
        int previous = bos_token;
        for (int t : tokens) {
            if (t != bos_token) text += decode(previous, t);
            previous = t;
        }
        return text;
    }

    /// The byte of a "<0xXX>" piece (upper- or lower-case hex), or nothing.
    static std::optional<unsigned char> byte_value(std::string_view p) {
        if (p.size() != 6 || !p.starts_with("<0x") || p.back() != '>') return std::nullopt;
        int value = 0;
        for (char c : p.substr(3, 2)) {
            int digit = c >= '0' && c <= '9'   ? c - '0'
                        : c >= 'A' && c <= 'F' ? c - 'A' + 10
                        : c >= 'a' && c <= 'f' ? c - 'a' + 10
                                               : -1;
            if (digit < 0) return std::nullopt;
            value = value * 16 + digit;
        }
        return static_cast<unsigned char>(value);
    }

private:
    std::size_t checked(int token) const {
        if (token < 0 || static_cast<std::size_t>(token) >= pieces_.size())
            throw std::invalid_argument("llama tokenizer: token id " + std::to_string(token) +
                                        " is outside [0, " + std::to_string(pieces_.size()) + ")");
        return static_cast<std::size_t>(token);
    }

    std::size_t max_token_length_ = 0;
    std::vector<std::string> pieces_;
    std::vector<float> scores_;
};

} // namespace mpq::llama
