#pragma once
/// `providers::detail::hook_signature`: the signature Prolific puts on a hook (`X-Prolific-Request-Signature`):
/// base64 of HMAC-SHA256 over the timestamp header followed by the body, keyed with the hook's secret;
/// and a comparison that takes the same time wherever the strings differ.

#include <string>
#include <string_view>

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>

namespace crowdline::providers::detail {

/// base64(HMAC-SHA256(secret, timestamp + body)).
[[nodiscard]] inline std::string hook_signature(std::string_view secret, std::string_view timestamp, std::string_view body) {
    std::string message;
    message.reserve(timestamp.size() + body.size());
    message.append(timestamp).append(body);
    unsigned char digest[EVP_MAX_MD_SIZE];
    unsigned int length = 0;
    if (HMAC(EVP_sha256(), secret.data(), static_cast<int>(secret.size()),
             reinterpret_cast<unsigned char const*>(message.data()), message.size(), digest, &length) == nullptr)
        return {};
    std::string out(4 * ((length + 2) / 3) + 1, '\0');
    int n = EVP_EncodeBlock(reinterpret_cast<unsigned char*>(out.data()), digest, static_cast<int>(length));
    out.resize(static_cast<std::size_t>(n));
    return out;
}

/// Whether `given` is the signature of `timestamp` + `body`; compared in constant time.
[[nodiscard]] inline bool hook_signature_matches(std::string_view secret, std::string_view timestamp,
                                                 std::string_view body, std::string_view given) {
    auto expected = hook_signature(secret, timestamp, body);
    return !expected.empty() && expected.size() == given.size() &&
           CRYPTO_memcmp(expected.data(), given.data(), expected.size()) == 0;
}

}  // namespace crowdline::providers::detail
