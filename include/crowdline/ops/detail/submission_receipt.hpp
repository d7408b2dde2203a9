#pragma once
/// The idempotent submit's receipt: a page sends a key with its submission (`data.key`); the pipeline saves
/// `{key, token, reply}` as `state.receipt` with the answer, so a resend whose reply was lost (even across
/// a restart) gets the first reply again and writes nothing. Here: checking a key, making a receipt,
/// answering a resend from a saved one. The pipeline does the store reads and writes.

#include <algorithm>
#include <optional>
#include <string>

#include <nlohmann/json.hpp>

#include <crowdline/architect/architect.hpp>
#include <crowdline/errors.hpp>
#include <crowdline/model/ids.hpp>
#include <crowdline/model/token.hpp>
#include <crowdline/store/detail/messages.hpp>

namespace crowdline::detail {

/// Where in an agent's saved state the receipt is kept (bookkeeping: results and exports leave it out).
inline constexpr char const* receipt_field = "receipt";

/// The page's idempotency key for a submission (`data.key`), when it sent one: 16 to 128 letters,
/// digits, '-' or '_' (the worker page sends 32 hex digits made once per answer).
[[nodiscard]] inline std::optional<std::string> submission_key(nlohmann::json const& data) {
    if (!data.is_object()) return std::nullopt;
    auto const it = data.find("key");
    if (it == data.end() || it->is_null()) return std::nullopt;
    auto const wanted = std::string("submit: \"key\" must be a string of 16 to 128 letters, digits, '-' or '_'");
    if (!it->is_string()) throw invalid_argument(wanted + ", got " + std::string(detail::json_kind(*it)));
    auto key = it->template get<std::string>();
    bool const fits = key.size() >= 16 && key.size() <= 128 && std::ranges::all_of(key, [](char c) {
        return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '-' || c == '_';
    });
    if (!fits) throw invalid_argument(wanted + " (got " + std::to_string(key.size()) + " characters)");
    return key;
}

/// The receipt saved with the answer (`state.receipt`), so a resend with this key is acknowledged even
/// after a restart.
[[nodiscard]] inline nlohmann::json make_receipt(std::string const& key, std::string const& token,
                                                 nlohmann::json const& reply) {
    return nlohmann::json{{"key", key}, {"token", token}, {"reply", reply}};
}

/// The receipt in an agent's saved state, or nullptr when it has none (no key was sent, or it never
/// submitted).
[[nodiscard]] inline nlohmann::json const* saved_receipt(nlohmann::json const& state) {
    if (!state.is_object()) return nullptr;
    auto const it = state.find(receipt_field);
    return it == state.end() ? nullptr : &*it;
}

/// The answer to a submit naming an agent that is no longer live, whose submission was saved with
/// `receipt`: the page never heard the reply (lost, a reload, a restart). The same token and key get the
/// first reply again; another token is `not_your_unit`, another key a `conflict`.
[[nodiscard]] inline packet answer_resend(agent_id id, nlohmann::json const& receipt, nlohmann::json const& data,
                                          std::string const& key) {
    auto const token = data.contains("token") && data["token"].is_string() ? data["token"].template get<std::string>()
                                                                         : std::string{};
    if (!crowdline::same_token(token, receipt.value("token", std::string{})))
        return packet::error("not_your_unit", detail::describe(id) + ": the token does not match");
    if (!crowdline::same_token(key, receipt.value("key", std::string{})))
        return packet::error(std::string(packet_errors::conflict),
                             detail::describe(id) + " already submitted its unit, with another submission key");
    return packet{"submitted", id, receipt.value("reply", nlohmann::json::object())};
}

}  // namespace crowdline::detail
