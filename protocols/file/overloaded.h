// The usual std::visit helper: a callable made of several lambdas.
#pragma once

namespace reactor::file {

template <class... Visitors>
struct Overloaded : Visitors... {
  using Visitors::operator()...;
};
// Clang 14 does not deduce aggregate template arguments by itself.
template <class... Visitors>
Overloaded(Visitors...) -> Overloaded<Visitors...>;

}  // namespace reactor::file
