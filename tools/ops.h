// `kiln ops`: the converter registry as a table (the same rows as torch_kiln.dynamo.conversion.supported_ops()).
#pragma once

namespace kiln {
namespace tools {

int printOps(bool json);

}  // namespace tools
}  // namespace kiln
