// `kiln demo`: builds a small convolutional network with the engine API, runs it on the CPU backend,
// checks it against a direct computation and prints the result and timings.
#pragma once

#include <string>

namespace kiln {
namespace tools {

int runDemo(const std::string& savePlanPath);

}  // namespace tools
}  // namespace kiln
