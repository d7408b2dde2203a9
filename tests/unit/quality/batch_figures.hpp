#pragma once
// The running agreement (quality::running_agreement, pipeline::agreement, /metrics) held to what
// quality::run_report computes in one batch from the same answers: the same label fields, counts and alpha
// (the same double, not a close one).

#include <crowdline/quality/agreement.hpp>
#include <crowdline/quality/dataset.hpp>
#include <crowdline/quality/run_report.hpp>
#include <crowdline/quality/running_alpha.hpp>

#include <catch2/catch.hpp>

#include <cstddef>
#include <vector>

namespace quality_test {

/// Requires `shown` (one entry per label field, as the running count keeps them) to be the batch figures of
/// `answers`, field by field.
inline void require_batch_figures(std::vector<crowdline::quality::field_agreement> const& shown,
                                  std::vector<crowdline::quality::run_answer> const& answers) {
    namespace quality = crowdline::quality;
    auto const fields = quality::label_fields(answers);
    REQUIRE(shown.size() == fields.size());
    for (std::size_t f = 0; f < fields.size(); ++f) {
        INFO("field " << fields[f]);
        auto const data = quality::make_dataset(quality::field_annotations(answers, fields[f]));
        REQUIRE(shown[f].field == fields[f]);
        REQUIRE(shown[f].items == data.items().size());
        REQUIRE(shown[f].annotations == data.size());
        REQUIRE(shown[f].krippendorff_alpha == quality::krippendorff_alpha(data));
    }
}

}  // namespace quality_test
