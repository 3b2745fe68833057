#include "kiln/status.h"

namespace kiln {

const char* statusCodeName(StatusCode code) {
  switch (code) {
    case StatusCode::kOK: return "OK";
    case StatusCode::kINVALID_ARGUMENT: return "INVALID_ARGUMENT";
    case StatusCode::kNOT_FOUND: return "NOT_FOUND";
    case StatusCode::kOUT_OF_RANGE: return "OUT_OF_RANGE";
    case StatusCode::kUNIMPLEMENTED: return "UNIMPLEMENTED";
    case StatusCode::kINVALID_PLAN: return "INVALID_PLAN";
    case StatusCode::kFAILED_PRECONDITION: return "FAILED_PRECONDITION";
    case StatusCode::kINTERNAL: return "INTERNAL";
    case StatusCode::kRESOURCE_EXHAUSTED: return "RESOURCE_EXHAUSTED";
  }
  return "UNKNOWN";
}

std::string Status::toString() const {
  if (isOk()) return "OK";
  return std::string(statusCodeName(code_)) + ": " + message_;
}

Status Status::withContext(const std::string& context) const {
  if (isOk()) return *this;
  return Status(code_, context + ": " + message_);
}

Status invalidArgument(std::string message) { return Status(StatusCode::kINVALID_ARGUMENT, std::move(message)); }
Status notFound(std::string message) { return Status(StatusCode::kNOT_FOUND, std::move(message)); }
Status outOfRange(std::string message) { return Status(StatusCode::kOUT_OF_RANGE, std::move(message)); }
Status unimplemented(std::string message) { return Status(StatusCode::kUNIMPLEMENTED, std::move(message)); }
Status invalidPlan(std::string message) { return Status(StatusCode::kINVALID_PLAN, std::move(message)); }
Status failedPrecondition(std::string message) { return Status(StatusCode::kFAILED_PRECONDITION, std::move(message)); }
Status internalError(std::string message) { return Status(StatusCode::kINTERNAL, std::move(message)); }
Status resourceExhausted(std::string message) { return Status(StatusCode::kRESOURCE_EXHAUSTED, std::move(message)); }

}  // namespace kiln
