#pragma once
/// The argument check of the variadic entry points (`with_mixins`, `routing::make_dispatcher`), for any
/// number of arguments: each argument, by position, must be accepted by the entry point's rule, and no two
/// arguments may be of one kind. The rule holds the entry point's messages (a `static_assert` message must
/// be a literal); this header hands it types whose names carry the positions, so the compiler's
/// "in instantiation of … [with Argument = crowdline::detail::argument<3, double>]" says which argument.

#include <cstddef>
#include <type_traits>
#include <utility>

namespace crowdline::detail {

/// One argument of an entry point: its position (1 = the entry point's first argument) and its type.
template <std::size_t Position, class Type>
struct argument {
    static constexpr std::size_t position = Position;
    using type = Type;
};

/// The kind of the argument at `Position`, and the position of the first argument of that kind: unique
/// when that is `Position` itself. A duplicate's diagnostic names the kind and both positions.
template <class Kind, std::size_t FirstPosition, std::size_t Position>
struct argument_kind {
    using kind = Kind;
    static constexpr bool is_unique = FirstPosition == Position;
};

/// The index of the first of `Kinds` that is `Kind` (which must be among them).
template <class Kind, class... Kinds>
consteval std::size_t first_index_of() {
    constexpr bool same[] = {std::is_same_v<Kind, Kinds>...};
    std::size_t i = 0;
    while (!same[i]) ++i;
    return i;
}

/// Checks `Arguments`, the first of them at position `First`, against `Rule`, which provides:
/// - `template <class Argument> static consteval bool accepts()`: `static_assert`s with the entry point's
///   message on `typename Argument::type` (`Argument` is an `argument<position, type>`), returns the verdict;
/// - `template <class Type> using kind = …`: an accepted argument's kind;
/// - `template <class Kind> static consteval bool unique()`: `static_assert(Kind::is_unique, …)` with the
///   entry point's message (`Kind` is an `argument_kind<kind, first position, position>`), returns it.
/// Stops at the first argument refused (kinds are only asked of accepted arguments), then at the first
/// duplicate, to keep the error list short. True when every argument passes.
template <class Rule, std::size_t First, class... Arguments>
consteval bool check_each_argument() {
    return []<std::size_t... I>(std::index_sequence<I...>) {
        constexpr bool accepted = (Rule::template accepts<argument<First + I, Arguments>>() && ... && true);
        if constexpr (!accepted) {
            return false;
        } else {
            return []<class... Kinds>() {
                return (Rule::template unique<
                            argument_kind<Kinds, First + first_index_of<Kinds, Kinds...>(), First + I>>() &&
                        ... && true);
            }.template operator()<typename Rule::template kind<Arguments>...>();
        }
    }(std::index_sequence_for<Arguments...>{});
}

}  // namespace crowdline::detail
