#pragma once
/// Raw bytes through `architects::http`'s own session code (parse → route → respond, the packet endpoints
/// and their group commit) over Beast's in-memory test stream instead of a socket: what the HTTP fuzz
/// target drives. Not for applications.

#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <utility>

#include <boost/asio/io_context.hpp>
#include <boost/beast/_experimental/test/stream.hpp>

#include <crowdline/architect/http.hpp>

namespace crowdline::architects::detail {

struct http_harness {
    struct result {
        std::string output;           ///< everything the server sent back
        std::uint64_t exceptions = 0;  ///< exceptions the session caught (each closed the connection)
    };
    /// Serves `input` as everything one client sends on one connection (then it closes its side), with
    /// `channel`'s handlers and `routes`. An exception that escapes the session propagates.
    static result serve(http_args args, http_channel& channel, std::string_view input,
                             std::map<std::pair<std::string, std::string>, std::shared_ptr<route_handler const>> routes = {}) {
        boost::asio::io_context io;
        auto state = std::make_shared<basic_http_state<beast::test::stream>>(std::move(args), channel);
        state->io = &io;
        state->routes = std::move(routes);
        channel.alive_ = true;
        beast::test::stream server(io), client(io);
        server.connect(client);
        server.append({input.data(), input.size()});
        server.close_remote();  // after the input, the server reads the end of the stream
        std::make_shared<basic_http_session<beast::test::stream>>(state, std::move(server), 1, connection_slot{})->start();
        io.run();
        channel.alive_ = false;
        return {std::string(client.str()), state->counters.exceptions.load()};
    }
};

}  // namespace crowdline::architects::detail
