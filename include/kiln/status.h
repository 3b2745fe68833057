// Kiln's one error channel: Status and StatusOr<T>.
//
// Every fallible call in the library returns one of these; nothing throws across the public API and
// nothing aborts. Messages name what failed (layer, tensor, plan field), the stage, and what to do.
#pragma once

#include <string>
#include <utility>
#include <variant>

namespace kiln {

enum class StatusCode : int {
  kOK = 0,
  kINVALID_ARGUMENT = 1,   // the caller passed something wrong (shape, dtype, name, parameter)
  kNOT_FOUND = 2,          // a named tensor, layer or profile does not exist
  kOUT_OF_RANGE = 3,       // a shape outside the active optimization profile, an index out of bounds
  kUNIMPLEMENTED = 4,      // a backend has no kernel for a layer/dtype combination
  kINVALID_PLAN = 5,       // a serialized plan or timing cache is corrupt, truncated or of another version
  kFAILED_PRECONDITION = 6,// the call came in the wrong order (enqueue before all addresses are bound ...)
  kINTERNAL = 7,           // a bug in Kiln: please report it
  kRESOURCE_EXHAUSTED = 8, // out of memory or over the workspace limit
};

const char* statusCodeName(StatusCode code);

class [[nodiscard]] Status {
 public:
  Status() = default;
  Status(StatusCode code, std::string message) : code_(code), message_(std::move(message)) {}

  static Status ok() { return Status(); }

  bool isOk() const { return code_ == StatusCode::kOK; }
  StatusCode code() const { return code_; }
  const std::string& message() const { return message_; }
  // "INVALID_ARGUMENT: <message>"
  std::string toString() const;

  // Prefixes context ("while building layer 'conv1': ") so errors read from the outside in.
  Status withContext(const std::string& context) const;

 private:
  StatusCode code_ = StatusCode::kOK;
  std::string message_;
};

Status invalidArgument(std::string message);
Status notFound(std::string message);
Status outOfRange(std::string message);
Status unimplemented(std::string message);
Status invalidPlan(std::string message);
Status failedPrecondition(std::string message);
Status internalError(std::string message);
Status resourceExhausted(std::string message);

template <typename T>
class [[nodiscard]] StatusOr {
 public:
  StatusOr(Status status) : value_(std::move(status)) {}  // NOLINT: implicit by design, like absl
  StatusOr(T value) : value_(std::move(value)) {}        // NOLINT

  bool isOk() const { return std::holds_alternative<T>(value_); }
  Status status() const { return isOk() ? Status() : std::get<Status>(value_); }

  // Precondition: isOk(). Checked: a misuse yields an internal error object rather than UB would be
  // impossible for references, so callers must test isOk() first (every call site in Kiln does).
  T& value() & { return std::get<T>(value_); }
  const T& value() const& { return std::get<T>(value_); }
  T&& value() && { return std::get<T>(std::move(value_)); }
  T* operator->() { return &std::get<T>(value_); }
  const T* operator->() const { return &std::get<T>(value_); }
  T& operator*() & { return std::get<T>(value_); }

 private:
  std::variant<Status, T> value_;
};

}  // namespace kiln

#define KILN_CONCAT_INNER_(a, b) a##b
#define KILN_CONCAT_(a, b) KILN_CONCAT_INNER_(a, b)

#define KILN_RETURN_IF_ERROR(expr)            \
  do {                                        \
    ::kiln::Status kiln_status_ = (expr);     \
    if (!kiln_status_.isOk()) return kiln_status_; \
  } while (0)

#define KILN_ASSIGN_OR_RETURN_IMPL_(tmp, lhs, expr) \
  auto tmp = (expr);                                \
  if (!tmp.isOk()) return tmp.status();             \
  lhs = std::move(tmp).value()

#define KILN_ASSIGN_OR_RETURN(lhs, expr) KILN_ASSIGN_OR_RETURN_IMPL_(KILN_CONCAT_(kiln_statusor_, __LINE__), lhs, expr)
