// A worker id passed where a unit id is expected must not compile.
// build error: cannot convert
#include <crowdline/store/memory.hpp>

int main() {
    crowdline::stores::memory db;
    crowdline::worker_id w{1};
    (void)db.get_unit(w);
}
