#pragma once
/// `basic_http_listener`: accepts connections, each on its own strand, takes each one's slot in the connection
/// limits and starts its HTTP session (or its refusal).

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <utility>

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/strand.hpp>
#include <boost/beast/core.hpp>

#include <crowdline/architect/detail/http_session.hpp>
#include <crowdline/architect/detail/http_state.hpp>
#include <crowdline/architect/http_route.hpp>
#include <crowdline/errors.hpp>

namespace crowdline::architects::detail {

namespace asio = boost::asio;
namespace beast = boost::beast;
using tcp = boost::asio::ip::tcp;

/// Accepts connections, each on its own strand, and enforces the connection limits. Each connection's
/// session runs on a `Stream` made from its socket.
template <class Stream>
class basic_http_listener : public std::enable_shared_from_this<basic_http_listener<Stream>> {
public:
    using state_type = basic_http_state<Stream>;

    basic_http_listener(std::shared_ptr<state_type> st, asio::io_context& io, tcp::endpoint at)
        : state_(std::move(st)), io_(io), acceptor_(asio::make_strand(io)) {
        beast::error_code ec;
        acceptor_.open(at.protocol(), ec);
        if (!ec) acceptor_.set_option(asio::socket_base::reuse_address(true), ec);
        if (!ec) acceptor_.bind(at, ec);
        if (!ec) acceptor_.listen(asio::socket_base::max_listen_connections, ec);
        if (!ec) acceptor_.non_blocking(true, ec);  // so `on_accept` can drain the backlog without waiting
        if (ec)
            throw error("architects::http: cannot listen on " + at.address().to_string() + ":" +
                        std::to_string(at.port()) + " (" + ec.message() + ")");
    }
    [[nodiscard]] std::uint16_t port() const { return acceptor_.local_endpoint().port(); }
    void start() { accept(); }
    void stop() {
        asio::post(acceptor_.get_executor(), [self = this->shared_from_this()] {
            beast::error_code ec;
            self->acceptor_.close(ec);
        });
    }

private:
    void accept() {
        acceptor_.async_accept(asio::make_strand(io_), beast::bind_front_handler(&basic_http_listener::on_accept, this->shared_from_this()));
    }
    /// Connections taken per turn of the io_context beyond the one the turn was for. One accept per turn
    /// starves arrivals behind busy keep-alive clients (1,000 pages opened at once waited up to 8 s for their
    /// first reply while the first ones cycled); a bounded batch keeps the accept loop from starving them.
    static constexpr int max_accepts_per_turn = 64;

    void on_accept(beast::error_code ec, tcp::socket socket) {
        if (ec == asio::error::operation_aborted || state_->stopping.load()) return;
        if (!ec) admit(std::move(socket));
        for (int i = 0; i < max_accepts_per_turn; ++i) {
            beast::error_code more_ec;
            tcp::socket more = acceptor_.accept(asio::make_strand(io_), more_ec);
            if (more_ec) break;  // would_block: the backlog is empty (or an error the next async_accept sees)
            admit(std::move(more));
        }
        accept();
    }
    /// Takes the connection's slot in the limits and starts its session (or its refusal).
    void admit(tcp::socket socket) {
        try {
            beast::error_code peer_ec;
            auto const peer = socket.remote_endpoint(peer_ec);
            if (peer_ec) return;  // gone before it was seen
            std::optional<http_response> refusal;
            auto slot = state_->open_connection(peer.address(), refusal);
            auto session = std::make_shared<basic_http_session<Stream>>(state_, Stream(std::move(socket)), ++next_id_,
                                                                        std::move(slot));
            if (refusal) session->refuse(std::move(*refusal));
            else session->start();
        } catch (...) {  // e.g. out of memory: that connection is lost, the server goes on
            state_->counters.exceptions.fetch_add(1);
        }
    }

    std::shared_ptr<state_type> state_;
    asio::io_context& io_;
    tcp::acceptor acceptor_;
    std::uint64_t next_id_ = 0;
};

}  // namespace crowdline::architects::detail
