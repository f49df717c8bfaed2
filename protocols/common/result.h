// Result<T, E>: the one way the protocol modules report "a value, or why
// not" (C++20 has no std::expected yet).
//
// The convention, for every function in protocols/ that can fail:
//  - return Result<T, E>; a function with nothing to return on success
//    returns Result<void, E>, whose default value is success;
//  - E says what the caller acts on: std::error_code for the file system
//    (the served tree), RequestError for RFTP answers, Status for HTTP;
//  - never an empty optional for success, an out-parameter plus bool, or a
//    bare errno.
//
//   Result<UniqueFd> opened = tree.open_file(path);
//   if (!opened) return respond(opened.error());
//   use(opened.value());
//
// A Result is built implicitly from either a T or an E, so `return value;`
// and `return error;` both read naturally; T and E must therefore differ.
//
// Threading: a plain value type.
#pragma once

#include <cassert>
#include <system_error>
#include <type_traits>
#include <utility>
#include <variant>

namespace reactor::protocols {

template <typename T, typename E = std::error_code>
class [[nodiscard]] Result {
  static_assert(!std::is_same_v<std::decay_t<T>, std::decay_t<E>>,
                "Result<T, E> needs distinct types to tell success from failure");

 public:
  Result(T value) : state_(std::in_place_index<0>, std::move(value)) {}  // NOLINT: implicit
  Result(E error) : state_(std::in_place_index<1>, std::move(error)) {}  // NOLINT: implicit

  bool ok() const { return state_.index() == 0; }
  explicit operator bool() const { return ok(); }

  T& value() & {
    assert(ok());
    return *std::get_if<0>(&state_);
  }
  const T& value() const& {
    assert(ok());
    return *std::get_if<0>(&state_);
  }
  T&& value() && {
    assert(ok());
    return std::move(*std::get_if<0>(&state_));
  }
  const E& error() const {
    assert(!ok());
    return *std::get_if<1>(&state_);
  }

  T* operator->() { return &value(); }
  const T* operator->() const { return &value(); }

 private:
  std::variant<T, E> state_;
};

template <typename E>
class [[nodiscard]] Result<void, E> {
 public:
  Result() = default;                                           // success
  Result(E error) : error_(std::move(error)), failed_(true) {}  // NOLINT: implicit

  bool ok() const { return !failed_; }
  explicit operator bool() const { return ok(); }
  const E& error() const {
    assert(!ok());
    return error_;
  }

 private:
  E error_{};
  bool failed_ = false;
};

}  // namespace reactor::protocols
