#include "ops.h"

#include <cstdio>
#include <iostream>
#include <nlohmann/json.hpp>
#include <set>
#include <string>

#include "conversion/registry.h"

namespace kiln {
namespace tools {

int printOps(bool json) {
  const auto& registry = conversion::ConverterRegistry::global();
  nlohmann::json rows = nlohmann::json::array();
  std::set<std::string> atenTargets;
  for (const std::string& key : registry.keys()) {
    for (const conversion::ConverterCandidate& c : *registry.candidates(key)) {
      rows.push_back({{"target", key},
                      {"has_validator", static_cast<bool>(c.validator)},
                      {"supports_dynamic_shapes", c.supportsDynamicShapes},
                      {"requires_output_allocator", c.requiresOutputAllocator},
                      {"priority", c.priority == conversion::ConverterPriority::kHIGH ? "HIGH" : "STANDARD"},
                      {"origin", c.origin},
                      {"evaluator", c.isEvaluator},
                      {"enabled", c.enabled}});
      if (key.rfind("aten::", 0) == 0 && !c.isEvaluator) atenTargets.insert(key);
    }
  }
  if (json) {
    std::cout << rows.dump(1) << "\n";
    return 0;
  }
  std::printf("%-58s %-9s %-7s %-9s %-8s %-6s %s\n", "target", "validator", "dynamic", "allocator", "priority",
              "origin", "kind");
  for (const auto& r : rows) {
    std::printf("%-58s %-9s %-7s %-9s %-8s %-6s %s\n", r["target"].get<std::string>().c_str(),
                r["has_validator"].get<bool>() ? "yes" : "-", r["supports_dynamic_shapes"].get<bool>() ? "yes" : "-",
                r["requires_output_allocator"].get<bool>() ? "yes" : "-", r["priority"].get<std::string>().c_str(),
                r["origin"].get<std::string>().c_str(), r["evaluator"].get<bool>() ? "evaluator" : "converter");
  }
  std::printf("%zu registered targets; %zu distinct ATen overloads with converters (evaluators not counted)\n",
              rows.size(), atenTargets.size());
  return 0;
}

}  // namespace tools
}  // namespace kiln
