// A built-in router and a user router together: two routers.
// build error: crowdline::routing::make_dispatcher: duplicate policy kind
// build error: crowdline::detail::argument_kind<crowdline::routing::kinds::router, 1, 2>
#include <crowdline/routing/dispatcher.hpp>

#include <span>
#include <vector>

struct item {};
struct profile {};
struct mine {
    std::uint32_t route(crowdline::routing::item_key, const item&, std::span<const crowdline::routing::candidate>,
                        std::vector<crowdline::worker_id>&) const {
        return 1;
    }
};

int main() {
    auto d = crowdline::routing::make_dispatcher<item, profile>(mine{}, crowdline::routing::full_overlap{});
    (void)d;
}
