// Status and Result<T>: expected failures are values, not exceptions.
//
// Codes follow abseil's meanings so that each maps to one HTTP status in one place
// (StatusToHttp, src/http/router.h):
//   kInvalidArgument   -> 400  bad input from the caller
//   kNotFound          -> 404
//   kResourceExhausted -> 429  (413 for size limits is chosen by the handler)
//   kUnavailable       -> 503  retry the call (disk full, shutting down)
//   kDeadlineExceeded  -> 503/partial
//   kDataLoss          -> 500  corruption: always counted in a metric and logged
//   kInternal          -> 500
//   kUnauthenticated   -> 401  no token, or one that is unknown, expired or revoked
//   kPermissionDenied  -> 403  a valid token without the right or the tenant asked for
#pragma once

#include <cassert>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <variant>

namespace sawmill {

enum class StatusCode : int {
  kOk = 0,
  kInvalidArgument = 1,
  kNotFound = 2,
  kAlreadyExists = 3,
  kFailedPrecondition = 4,
  kResourceExhausted = 5,
  kUnavailable = 6,
  kDeadlineExceeded = 7,
  kDataLoss = 8,
  kIOError = 9,
  kInternal = 10,
  kUnauthenticated = 11,   // no credentials, or credentials that are not valid (HTTP 401)
  kPermissionDenied = 12,  // valid credentials without the right asked for (HTTP 403)
};

std::string_view StatusCodeName(StatusCode code);

class [[nodiscard]] Status {
 public:
  Status() = default;
  Status(StatusCode code, std::string message) : code_(code), message_(std::move(message)) {}

  static Status OK() { return Status(); }
  static Status InvalidArgument(std::string msg) {
    return {StatusCode::kInvalidArgument, std::move(msg)};
  }
  static Status NotFound(std::string msg) { return {StatusCode::kNotFound, std::move(msg)}; }
  static Status AlreadyExists(std::string msg) {
    return {StatusCode::kAlreadyExists, std::move(msg)};
  }
  static Status FailedPrecondition(std::string msg) {
    return {StatusCode::kFailedPrecondition, std::move(msg)};
  }
  static Status ResourceExhausted(std::string msg) {
    return {StatusCode::kResourceExhausted, std::move(msg)};
  }
  static Status Unavailable(std::string msg) { return {StatusCode::kUnavailable, std::move(msg)}; }
  static Status DeadlineExceeded(std::string msg) {
    return {StatusCode::kDeadlineExceeded, std::move(msg)};
  }
  static Status DataLoss(std::string msg) { return {StatusCode::kDataLoss, std::move(msg)}; }
  static Status IOError(std::string msg) { return {StatusCode::kIOError, std::move(msg)}; }
  static Status Internal(std::string msg) { return {StatusCode::kInternal, std::move(msg)}; }
  static Status Unauthenticated(std::string msg) {
    return {StatusCode::kUnauthenticated, std::move(msg)};
  }
  static Status PermissionDenied(std::string msg) {
    return {StatusCode::kPermissionDenied, std::move(msg)};
  }

  bool ok() const { return code_ == StatusCode::kOk; }
  StatusCode code() const { return code_; }
  const std::string& message() const { return message_; }
  bool IsInvalidArgument() const { return code_ == StatusCode::kInvalidArgument; }
  bool IsNotFound() const { return code_ == StatusCode::kNotFound; }
  bool IsDataLoss() const { return code_ == StatusCode::kDataLoss; }
  bool IsUnavailable() const { return code_ == StatusCode::kUnavailable; }
  bool IsResourceExhausted() const { return code_ == StatusCode::kResourceExhausted; }

  // "InvalidArgument: expected a value after '=' at 1:9", or "OK".
  std::string ToString() const;

  // Returns a copy whose message is prefixed with "context: " (the subject kept).
  Status WithContext(std::string_view context) const;

  // What the error is about, named for a caller that keys on it without parsing the message
  // ("" when not named): a segment reader names the index kind whose data failed
  // ("word_postings"), and a search warns of it once per segment, kind and code
  // (query/executor.cc). Not compared by ==.
  const std::string& subject() const { return subject_; }
  // Returns a copy whose subject() is "subject".
  Status WithSubject(std::string subject) const {
    Status out = *this;
    out.subject_ = std::move(subject);
    return out;
  }

  // Explicitly drops a status whose failure the caller has decided not to act on.
  void IgnoreError() const {}

  friend bool operator==(const Status& a, const Status& b) {
    return a.code_ == b.code_ && a.message_ == b.message_;
  }

 private:
  StatusCode code_ = StatusCode::kOk;
  std::string message_;
  std::string subject_;
};

// Result<T> holds either a value or a non-OK Status.
template <typename T>
class [[nodiscard]] Result {
 public:
  Result(T value) : value_(std::move(value)) {}         // NOLINT(google-explicit-constructor)
  Result(Status status) : status_(std::move(status)) {  // NOLINT(google-explicit-constructor)
    assert(!status_.ok() && "Result constructed from an OK status has no value");
    if (status_.ok()) status_ = Status::Internal("Result constructed from OK status");
  }

  bool ok() const { return value_.has_value(); }
  const Status& status() const { return status_; }

  // REQUIRES: ok().
  T& value() & {
    assert(ok());
    return *value_;
  }
  const T& value() const& {
    assert(ok());
    return *value_;
  }
  T&& value() && {
    assert(ok());
    return std::move(*value_);
  }
  T& operator*() & { return value(); }
  const T& operator*() const& { return value(); }
  T* operator->() { return &value(); }
  const T* operator->() const { return &value(); }

  T value_or(T fallback) const& { return ok() ? *value_ : std::move(fallback); }

 private:
  std::optional<T> value_;
  Status status_;
};

}  // namespace sawmill

#define SAWMILL_CONCAT_INNER(a, b) a##b
#define SAWMILL_CONCAT(a, b) SAWMILL_CONCAT_INNER(a, b)

// Returns from the enclosing function if "expr" yields a non-OK Status.
#define RETURN_IF_ERROR(expr)       \
  do {                              \
    ::sawmill::Status _st = (expr); \
    if (!_st.ok()) return _st;      \
  } while (0)

// "lhs" may be a declaration ("auto x") and "tmp" is a name: neither can be parenthesised.
// NOLINTBEGIN(bugprone-macro-parentheses)
#define ASSIGN_OR_RETURN_IMPL(tmp, lhs, expr) \
  auto tmp = (expr);                          \
  if (!tmp.ok()) return tmp.status();         \
  lhs = std::move(tmp).value()
// NOLINTEND(bugprone-macro-parentheses)

// ASSIGN_OR_RETURN(auto x, MaybeX()); declares x or returns the failure.
#define ASSIGN_OR_RETURN(lhs, expr) \
  ASSIGN_OR_RETURN_IMPL(SAWMILL_CONCAT(_result_, __LINE__), lhs, expr)
