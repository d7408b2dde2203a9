// Rows whose fields have other names, passed without a projection: the error says what an annotation
// must expose and how to adapt the rows.
// build error: crowdline::quality: each annotation must expose .item, .worker and .label, or be a 3-tuple (item, worker, label)
#include <string>
#include <vector>

#include <crowdline/quality/agreement.hpp>

struct row {
    std::string unit, who, answer;
};

int main() {
    std::vector<row> rows{{"i1", "ann", "yes"}};
    auto alpha = crowdline::quality::krippendorff_alpha(rows);
    (void)alpha;
}
