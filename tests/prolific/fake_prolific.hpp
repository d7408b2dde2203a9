#pragma once
// A local fake of the part of Prolific's API that providers::prolific uses, as docs.prolific.com documents
// it: HTTPS (Beast over OpenSSL) on 127.0.0.1 with a self-signed certificate made at start (nothing read
// from disk, nothing downloaded), one I/O thread. It records every call, checks each request's shape
// (method, path, required fields, types) and refuses a malformed one with 400 as Prolific would, keeps
// studies, submissions, bulk bonus payments, participant groups and a workspace balance, and can be told
// to fail, stall or drop the answer of a given call. Tests move participants by hand (`arrive`, `submit`,
// `set_status`): nothing here talks to the real service.

#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/ssl.hpp>
#include <nlohmann/json.hpp>

namespace test {

/// A certificate for "localhost" and 127.0.0.1, self-signed, with its key, as PEM text.
struct tls_identity {
    std::string certificate_pem;
    std::string key_pem;
};

inline tls_identity make_self_signed_identity() {
    auto fail = [](char const* what) { throw std::runtime_error(std::string("make_self_signed_identity: ") + what); };
    std::unique_ptr<EVP_PKEY, decltype(&EVP_PKEY_free)> key{EVP_EC_gen("P-256"), EVP_PKEY_free};
    if (!key) fail("EC key");
    std::unique_ptr<X509, decltype(&X509_free)> cert{X509_new(), X509_free};
    X509_set_version(cert.get(), 2);
    ASN1_INTEGER_set(X509_get_serialNumber(cert.get()), 1);
    X509_gmtime_adj(X509_getm_notBefore(cert.get()), -3600);
    X509_gmtime_adj(X509_getm_notAfter(cert.get()), 24 * 3600);
    X509_set_pubkey(cert.get(), key.get());
    X509_NAME* name = X509_get_subject_name(cert.get());
    X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC, reinterpret_cast<unsigned char const*>("localhost"), -1, -1, 0);
    X509_set_issuer_name(cert.get(), name);
    X509V3_CTX ctx;
    X509V3_set_ctx_nodb(&ctx);
    X509V3_set_ctx(&ctx, cert.get(), cert.get(), nullptr, nullptr, 0);
    for (auto [nid, value] : {std::pair{NID_subject_alt_name, "DNS:localhost,IP:127.0.0.1"},
                              std::pair{NID_basic_constraints, "critical,CA:TRUE"},
                              std::pair{NID_key_usage, "critical,digitalSignature,keyCertSign"}}) {
        X509_EXTENSION* ext = X509V3_EXT_conf_nid(nullptr, &ctx, nid, value);
        if (!ext) fail("extension");
        X509_add_ext(cert.get(), ext, -1);
        X509_EXTENSION_free(ext);
    }
    if (X509_sign(cert.get(), key.get(), EVP_sha256()) == 0) fail("sign");
    auto pem = [&](auto write) {
        std::unique_ptr<BIO, decltype(&BIO_free)> bio{BIO_new(BIO_s_mem()), BIO_free};
        if (write(bio.get()) != 1) fail("PEM");
        char* data = nullptr;
        long n = BIO_get_mem_data(bio.get(), &data);
        return std::string(data, static_cast<std::size_t>(n));
    };
    tls_identity id;
    id.certificate_pem = pem([&](BIO* b) { return PEM_write_bio_X509(b, cert.get()); });
    id.key_pem = pem([&](BIO* b) { return PEM_write_bio_PrivateKey(b, key.get(), nullptr, nullptr, 0, nullptr, nullptr); });
    return id;
}

/// One request the fake received.
struct recorded_call {
    std::string method;
    std::string path;
    std::string authorization;
    nlohmann::json body;  ///< null when there was none
    unsigned status = 0;  ///< what the fake answered (0: no answer sent)
};

class fake_prolific {
public:
    static constexpr char const* token = "test-token";
    static constexpr char const* workspace = "ws1";

    /// What to do to the next call matching `method` and a path starting with `path_prefix`.
    enum class trouble {
        fail,        ///< answer `status` with an error body, change nothing
        stall,       ///< change nothing, never answer
        drop_reply,  ///< do it, never answer (the answer is lost)
    };

    fake_prolific() : identity_(make_self_signed_identity()), ssl_(boost::asio::ssl::context::tls_server) {
        ssl_.use_certificate_chain(boost::asio::buffer(identity_.certificate_pem));
        ssl_.use_private_key(boost::asio::buffer(identity_.key_pem), boost::asio::ssl::context::pem);
        acceptor_.open(boost::asio::ip::tcp::v4());
        acceptor_.set_option(boost::asio::socket_base::reuse_address(true));
        acceptor_.bind({boost::asio::ip::make_address("127.0.0.1"), 0});
        acceptor_.listen();
        accept();
        thread_ = std::thread([this] { ioc_.run(); });
    }
    ~fake_prolific() {
        ioc_.stop();
        thread_.join();
    }
    fake_prolific(fake_prolific const&) = delete;
    fake_prolific& operator=(fake_prolific const&) = delete;

    [[nodiscard]] std::string base_url() const {
        return "https://127.0.0.1:" + std::to_string(acceptor_.local_endpoint().port());
    }
    [[nodiscard]] std::string const& certificate_pem() const { return identity_.certificate_pem; }

    // --- what happened ------------------------------------------------------------------------------
    [[nodiscard]] std::vector<recorded_call> calls() const { lock l{mutex_}; return calls_; }
    /// Requests refused for their shape ("POST /api/v1/studies/: reward must be an integer").
    [[nodiscard]] std::vector<std::string> shape_errors() const { lock l{mutex_}; return shape_errors_; }
    [[nodiscard]] nlohmann::json study(std::string const& id) const { lock l{mutex_}; return studies_.at(id); }
    [[nodiscard]] std::vector<std::string> study_ids() const {
        lock l{mutex_};
        std::vector<std::string> out;
        for (auto const& [id, s] : studies_) out.push_back(id);
        return out;
    }
    [[nodiscard]] std::string submission_status(std::string const& id) const {
        lock l{mutex_};
        return submissions_.at(id).at("status");
    }
    /// How many times each bulk bonus payment was paid.
    [[nodiscard]] std::map<std::string, int> pays() const {
        lock l{mutex_};
        std::map<std::string, int> out;
        for (auto const& [id, p] : payments_) out[id] = p.pays;
        return out;
    }
    /// Cents paid in bonuses to a participant, over every payment.
    [[nodiscard]] std::int64_t bonus_paid_to(std::string const& participant) const {
        lock l{mutex_};
        std::int64_t sum = 0;
        for (auto const& [id, p] : payments_)
            if (p.participant == participant) sum += p.cents * p.pays;
        return sum;
    }
    [[nodiscard]] std::set<std::string> group_members(std::string const& group_name) const {
        lock l{mutex_};
        for (auto const& [id, g] : groups_)
            if (g.name == group_name) return g.members;
        return {};
    }
    [[nodiscard]] std::int64_t balance() const { lock l{mutex_}; return balance_; }
    /// The balance less what active studies' places hold back, as Prolific's available_balance.
    [[nodiscard]] std::int64_t available() const { lock l{mutex_}; return available_locked(); }

    // --- what the test does -------------------------------------------------------------------------
    void set_balance(std::int64_t cents) { lock l{mutex_}; balance_ = cents; }
    void next(std::string method, std::string path_prefix, trouble t, unsigned status = 500) {
        lock l{mutex_};
        troubles_.push_back({std::move(method), std::move(path_prefix), t, status});
    }
    /// A participant starts the study (their place is taken): a submission, ACTIVE.
    std::string arrive(std::string const& study, std::string const& participant) {
        lock l{mutex_};
        auto id = "sub" + std::to_string(++next_id_);
        submissions_[id] = {{"id", id}, {"participant_id", participant}, {"study_id", study}, {"status", "ACTIVE"}};
        return id;
    }
    /// The participant's new status: "AWAITING REVIEW" (they entered the completion code), "RETURNED",
    /// "TIMED-OUT".
    void set_status(std::string const& submission, std::string const& status) {
        lock l{mutex_};
        submissions_.at(submission)["status"] = status;
    }

private:
    using lock = std::lock_guard<std::mutex>;
    struct payment {
        std::string study, participant;
        std::int64_t cents = 0;
        int pays = 0;
    };
    struct group {
        std::string name;
        std::set<std::string> members;
    };
    struct trouble_rule {
        std::string method, path_prefix;
        trouble what;
        unsigned status;
    };
    struct answer {
        unsigned status = 200;
        nlohmann::json body = nlohmann::json::object();
        bool send = true;
        bool shape = false;  ///< refused for the request's shape (not for the state it found)
    };

    using tcp = boost::asio::ip::tcp;
    using ssl_stream = boost::beast::ssl_stream<boost::beast::tcp_stream>;

    void accept() {
        acceptor_.async_accept([this](boost::beast::error_code ec, tcp::socket socket) {
            if (!ec) serve(std::make_shared<ssl_stream>(std::move(socket), ssl_));
            if (acceptor_.is_open()) accept();
        });
    }
    struct exchange {
        std::shared_ptr<ssl_stream> stream;
        boost::beast::flat_buffer buffer;
        boost::beast::http::request<boost::beast::http::string_body> req;
        boost::beast::http::response<boost::beast::http::string_body> res;
    };
    void serve(std::shared_ptr<ssl_stream> stream) {
        auto ex = std::make_shared<exchange>();
        ex->stream = std::move(stream);
        ex->stream->async_handshake(boost::asio::ssl::stream_base::server, [this, ex](boost::beast::error_code shaken) {
            if (shaken) return;
            boost::beast::http::async_read(*ex->stream, ex->buffer, ex->req, [this, ex](boost::beast::error_code ec, std::size_t) {
                if (ec) return;
                auto a = handle(ex->req);
                if (!a.send) {
                    lock l{mutex_};
                    stalled_.push_back(ex->stream);  // kept open, never answered, until the fake stops
                    return;
                }
                ex->res.result(a.status);
                ex->res.version(11);
                ex->res.set(boost::beast::http::field::content_type, "application/json");
                ex->res.keep_alive(false);
                ex->res.body() = a.body.dump();
                ex->res.prepare_payload();
                boost::beast::http::async_write(*ex->stream, ex->res, [ex](boost::beast::error_code, std::size_t) {
                    boost::beast::error_code ignored;
                    boost::beast::get_lowest_layer(*ex->stream).socket().shutdown(tcp::socket::shutdown_both, ignored);
                });
            });
        });
    }

    static answer refuse(unsigned status, std::string const& detail) {
        return {status, {{"error", {{"status", status}, {"title", status == 404 ? "Not found" : "Bad request"}, {"detail", detail}}}}};
    }
    static answer bad_shape(std::string const& detail) {
        auto a = refuse(400, detail);
        a.shape = true;
        return a;
    }
    /// What studies being recruited for hold back: their places' rewards and fees (Prolific's
    /// available_balance). Runs with mutex_ held.
    std::int64_t available_locked() const {
        std::int64_t committed = 0;
        for (auto const& [id, s] : studies_)
            if (s["status"] == "ACTIVE")
                committed += s["total_available_places"].get<std::int64_t>() * with_fee(s["reward"].get<std::int64_t>());
        return balance_ - committed;
    }
    static std::int64_t with_fee(std::int64_t cents) { return cents + (cents * 33 + 99) / 100; }

    answer handle(boost::beast::http::request<boost::beast::http::string_body> const& req) {
        lock l{mutex_};
        recorded_call call{std::string(req.method_string()), std::string(req.target()),
                           std::string(req[boost::beast::http::field::authorization]), nullptr, 0};
        if (!req.body().empty()) call.body = nlohmann::json::parse(req.body(), nullptr, false);
        calls_.push_back(call);
        auto& recorded = calls_.back();
        std::optional<trouble_rule> rule;
        for (auto it = troubles_.begin(); it != troubles_.end(); ++it)
            if (it->method == call.method && call.path.rfind(it->path_prefix, 0) == 0) {
                rule = *it;
                troubles_.erase(it);
                break;
            }
        if (rule && rule->what == trouble::stall) return {0, {}, false};
        if (rule && rule->what == trouble::fail) {
            auto a = refuse(rule->status, "the fake was told to fail this call");
            recorded.status = a.status;
            return a;
        }
        answer a = route(call);
        if (a.shape) shape_errors_.push_back(call.method + " " + call.path + ": " + a.body["error"]["detail"].get<std::string>());
        if (rule && rule->what == trouble::drop_reply) return {0, {}, false};
        recorded.status = a.status;
        return a;
    }

    /// The documented subset. Runs with mutex_ held.
    answer route(recorded_call const& c) {
        if (c.authorization != std::string("Token ") + token) return refuse(401, "Invalid token");
        if (c.body.is_discarded()) return bad_shape("the body is not JSON");
        auto parts = split(c.path);
        auto const& b = c.body;
        auto need = [&](char const* field, auto is_type, char const* type) -> std::optional<answer> {
            if (!b.is_object() || !b.contains(field) || !is_type(b[field]))
                return bad_shape(std::string(field) + " is required and must be " + type);
            return std::nullopt;
        };
        auto is_string = [](nlohmann::json const& j) { return j.is_string() && !j.get<std::string>().empty(); };
        auto is_int = [](nlohmann::json const& j) { return j.is_number_integer(); };
        auto is_array = [](nlohmann::json const& j) { return j.is_array() && !j.empty(); };
        if (!c.path.ends_with("/")) return refuse(404, "paths end with /");

        // POST /api/v1/studies/
        if (c.method == "POST" && parts == std::vector<std::string>{"api", "v1", "studies"}) {
            for (auto f : {"name", "description", "external_study_url", "prolific_id_option"})
                if (auto r = need(f, is_string, "a string")) return *r;
            for (auto f : {"total_available_places", "estimated_completion_time", "maximum_allowed_time", "reward"})
                if (auto r = need(f, is_int, "an integer")) return *r;
            if (auto r = need("completion_codes", is_array, "a non-empty array")) return *r;
            for (auto const& code : b["completion_codes"])
                if (!code.contains("code") || !code.contains("code_type") || !code.contains("actions"))
                    return bad_shape("each completion code needs code, code_type and actions");
            auto url = b["external_study_url"].get<std::string>();
            if (b["prolific_id_option"] == "url_parameters")
                for (auto p : {"{{%PROLIFIC_PID%}}", "{{%STUDY_ID%}}", "{{%SESSION_ID%}}"})
                    if (url.find(p) == std::string::npos) return bad_shape(std::string("external_study_url lacks ") + p);
            if (b["total_available_places"].get<std::int64_t>() < 1) return bad_shape("total_available_places must be ≥ 1");
            auto id = "study" + std::to_string(++next_id_);
            auto s = b;
            s["id"] = id;
            s["status"] = "UNPUBLISHED";
            studies_[id] = s;
            return {201, s};
        }
        // POST /api/v1/studies/{id}/transition/
        if (c.method == "POST" && parts.size() == 5 && parts[2] == "studies" && parts[4] == "transition") {
            auto it = studies_.find(parts[3]);
            if (it == studies_.end()) return refuse(404, "no such study");
            if (auto r = need("action", is_string, "a string")) return *r;
            auto action = b["action"].get<std::string>();
            auto& s = it->second;
            if (action == "PUBLISH" && s["status"] == "UNPUBLISHED" &&
                available_locked() < s["total_available_places"].get<std::int64_t>() * with_fee(s["reward"].get<std::int64_t>()))
                return refuse(400, "insufficient balance to publish this study");
            if (action == "PUBLISH" && s["status"] == "UNPUBLISHED") s["status"] = "ACTIVE";
            else if (action == "STOP" && (s["status"] == "ACTIVE" || s["status"] == "PAUSED")) s["status"] = "COMPLETED";
            else return refuse(400, "cannot " + action + " a study that is " + s["status"].get<std::string>());
            return {200, s};
        }
        // PATCH /api/v1/studies/{id}/
        if (c.method == "PATCH" && parts.size() == 4 && parts[2] == "studies") {
            auto it = studies_.find(parts[3]);
            if (it == studies_.end()) return refuse(404, "no such study");
            if (auto r = need("total_available_places", is_int, "an integer")) return *r;
            auto& s = it->second;
            if (b["total_available_places"].get<std::int64_t>() < s["total_available_places"].get<std::int64_t>())
                return refuse(400, "total_available_places cannot be decreased on a published study");
            auto added = b["total_available_places"].get<std::int64_t>() - s["total_available_places"].get<std::int64_t>();
            if (s["status"] == "ACTIVE" && available_locked() < added * with_fee(s["reward"].get<std::int64_t>()))
                return refuse(400, "insufficient balance for the new places");
            s["total_available_places"] = b["total_available_places"];
            return {200, s};
        }
        // GET /api/v1/studies/{id}/submissions/
        if (c.method == "GET" && parts.size() == 5 && parts[2] == "studies" && parts[4] == "submissions") {
            if (!studies_.contains(parts[3])) return refuse(404, "no such study");
            auto results = nlohmann::json::array();
            for (auto const& [id, sub] : submissions_)
                if (sub["study_id"] == parts[3]) results.push_back(sub);
            return {200, {{"results", results}}};
        }
        // POST /api/v1/submissions/{id}/transition/
        if (c.method == "POST" && parts.size() == 5 && parts[2] == "submissions" && parts[4] == "transition") {
            auto it = submissions_.find(parts[3]);
            if (it == submissions_.end()) return refuse(404, "no such submission");
            if (auto r = need("action", is_string, "a string")) return *r;
            auto action = b["action"].get<std::string>();
            if (action == "REJECT") {
                if (auto r = need("message", is_string, "a string")) return *r;
                if (b["message"].get<std::string>().size() < 100) return bad_shape("message must be at least 100 characters");
                if (auto r = need("rejection_category", is_string, "a string")) return *r;
            } else if (action != "APPROVE") {
                return bad_shape("unknown action " + action);
            }
            if (it->second["status"] != "AWAITING REVIEW")
                return refuse(400, "only a submission awaiting review can be approved or rejected");
            it->second["status"] = action == "APPROVE" ? "APPROVED" : "REJECTED";
            return {200, it->second};
        }
        // GET /api/v1/workspaces/{id}/balance/
        if (c.method == "GET" && parts.size() == 5 && parts[2] == "workspaces" && parts[4] == "balance") {
            if (parts[3] != workspace) return refuse(404, "no such workspace");
            return {200, {{"currency_code", "GBP"}, {"total_balance", balance_}, {"available_balance", available_locked()}}};
        }
        // POST /api/v1/submissions/bonus-payments/
        if (c.method == "POST" && parts == std::vector<std::string>{"api", "v1", "submissions", "bonus-payments"}) {
            if (auto r = need("study_id", is_string, "a string")) return *r;
            if (auto r = need("csv_bonuses", is_string, "a string")) return *r;
            if (!studies_.contains(b["study_id"])) return refuse(400, "no such study");
            auto csv = b["csv_bonuses"].get<std::string>();
            auto comma = csv.find(',');
            if (comma == std::string::npos || csv.find('\n') != std::string::npos)
                return bad_shape("csv_bonuses: one line \"<participant id>,<amount>\" expected here");
            auto pid = csv.substr(0, comma), amount = csv.substr(comma + 1);
            bool took_part = false;
            for (auto const& [id, sub] : submissions_)
                took_part = took_part || (sub["study_id"] == b["study_id"] && sub["participant_id"] == pid);
            if (!took_part) return refuse(400, "participant " + pid + " did not take part in the study");
            auto dot = amount.find('.');
            if (dot == std::string::npos || amount.size() - dot != 3) return bad_shape("amount must be a decimal like 1.50");
            std::int64_t cents = std::stoll(amount.substr(0, dot)) * 100 + std::stoll(amount.substr(dot + 1));
            auto id = "bonus" + std::to_string(++next_id_);
            payments_[id] = {b["study_id"], pid, cents, 0};
            return {201, {{"id", id}, {"study", b["study_id"]}, {"amount", cents}, {"fees", cents / 3},
                          {"total_amount", cents + cents / 3}}};
        }
        // POST /api/v1/bulk-bonus-payments/{id}/pay/
        if (c.method == "POST" && parts.size() == 5 && parts[2] == "bulk-bonus-payments" && parts[4] == "pay") {
            auto it = payments_.find(parts[3]);
            if (it == payments_.end()) return refuse(404, "no such bulk bonus payment");
            ++it->second.pays;  // not idempotent, as documented
            balance_ -= it->second.cents + it->second.cents / 3;
            return {202, nlohmann::json::object()};
        }
        // POST /api/v1/participant-groups/
        if (c.method == "POST" && parts == std::vector<std::string>{"api", "v1", "participant-groups"}) {
            if (auto r = need("workspace_id", is_string, "a string")) return *r;
            if (auto r = need("name", is_string, "a string")) return *r;
            auto id = "group" + std::to_string(++next_id_);
            groups_[id] = {b["name"], {}};
            return {201, {{"id", id}, {"name", b["name"]}}};
        }
        // POST / DELETE /api/v1/participant-groups/{id}/participants/
        if ((c.method == "POST" || c.method == "DELETE") && parts.size() == 5 && parts[2] == "participant-groups" &&
            parts[4] == "participants") {
            auto it = groups_.find(parts[3]);
            if (it == groups_.end()) return refuse(404, "no such participant group");
            if (auto r = need("participant_ids", is_array, "a non-empty array")) return *r;
            for (auto const& p : b["participant_ids"]) {
                if (c.method == "POST") it->second.members.insert(p.get<std::string>());
                else it->second.members.erase(p.get<std::string>());
            }
            return {200, {{"id", it->first}}};
        }
        return refuse(404, "the fake does not know " + c.method + " " + c.path);
    }

    static std::vector<std::string> split(std::string const& path) {
        std::vector<std::string> out;
        std::string cur;
        for (char ch : path.substr(0, path.find('?'))) {
            if (ch == '/') {
                if (!cur.empty()) out.push_back(cur);
                cur.clear();
            } else {
                cur += ch;
            }
        }
        if (!cur.empty()) out.push_back(cur);
        return out;
    }

    tls_identity identity_;
    boost::asio::ssl::context ssl_;
    boost::asio::io_context ioc_;
    tcp::acceptor acceptor_{ioc_};
    std::thread thread_;

    mutable std::mutex mutex_;
    std::vector<recorded_call> calls_;
    std::vector<std::string> shape_errors_;
    std::deque<trouble_rule> troubles_;
    std::vector<std::shared_ptr<ssl_stream>> stalled_;
    std::map<std::string, nlohmann::json> studies_;
    std::map<std::string, nlohmann::json> submissions_;
    std::map<std::string, payment> payments_;
    std::map<std::string, group> groups_;
    std::int64_t balance_ = 100000;
    int next_id_ = 0;
};

/// POSTs a hook to 127.0.0.1:`port` at `path`, as Prolific does: the timestamp and signature in X- headers.
/// The status and the JSON answered (discarded when it is not JSON).
inline std::pair<unsigned, nlohmann::json> post_hook(std::uint16_t port, std::string const& path, std::string const& body,
                                                     std::string const& stamp, std::string const& signature) {
    namespace http = boost::beast::http;
    boost::asio::io_context io;
    boost::beast::tcp_stream stream{io};
    stream.connect(boost::asio::ip::tcp::endpoint(boost::asio::ip::make_address("127.0.0.1"), port));
    http::request<http::string_body> req{http::verb::post, path, 11};
    req.set(http::field::host, "127.0.0.1");
    req.set(http::field::content_type, "application/json");
    req.set("X-Prolific-Request-Timestamp", stamp);
    req.set("X-Prolific-Request-Signature", signature);
    req.body() = body;
    req.prepare_payload();
    http::write(stream, req);
    boost::beast::flat_buffer buffer;
    http::response<http::string_body> res;
    http::read(stream, buffer, res);
    return {res.result_int(), nlohmann::json::parse(res.body(), nullptr, false)};
}

}  // namespace test
