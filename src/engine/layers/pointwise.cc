// Fused pointwise chains: created only by the builder (builder_pointwise_fusion.cc), never by the network API.
// Inference validates the program, so a corrupt plan is refused at load before any kernel reads it.
#include "engine/layer_kinds.h"
#include "engine/layers/shape_utils.h"
#include "engine/pointwise_program.h"

namespace kiln {

Status inferPointWiseShapes(const LayerParams& layer, const std::vector<ShapeInput>& inputs,
                            std::vector<ShapeOutput>& outputs) {
  KILN_ASSIGN_OR_RETURN(PointwiseProgram program,
                        loadPointwiseProgram(layer.attrs, static_cast<int32_t>(inputs.size())));
  Dims dims = makeDims(program.outputRank, 1);
  for (size_t i = 0; i < inputs.size(); ++i) {
    const ShapeInput& in = inputs[i];
    if (!in.present) return invalidArgument("input " + std::to_string(i) + " is absent");
    if (!isPointwiseFloatType(in.type)) {
      return invalidArgument("input " + std::to_string(i) + " is " + dataTypeName(in.type) +
                             "; fused pointwise inputs are float32, float16 or bfloat16");
    }
    if (in.dims.nbDims > program.outputRank) {
      return invalidArgument("input " + std::to_string(i) + " has rank " + std::to_string(in.dims.nbDims) +
                             ", above the output rank " + std::to_string(program.outputRank));
    }
    StatusOr<Dims> merged = broadcastShapes(dims, in.dims);
    if (!merged.isOk()) return merged.status().withContext("input " + std::to_string(i));
    dims = merged.value();
  }
  outputs[0] = {dims, program.outputType};
  return Status::ok();
}

}  // namespace kiln
