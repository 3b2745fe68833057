#include "engine/layers/shape_utils.h"

#include <limits>

namespace kiln {

StatusOr<Dims> broadcastShapes(const Dims& a, const Dims& b) {
  const int32_t rank = a.nbDims > b.nbDims ? a.nbDims : b.nbDims;
  Dims out = makeDims(rank, 1);
  for (int32_t i = 0; i < rank; ++i) {
    const int32_t ia = i - (rank - a.nbDims);
    const int32_t ib = i - (rank - b.nbDims);
    const int64_t ea = ia >= 0 ? a.d[ia] : 1;
    const int64_t eb = ib >= 0 ? b.d[ib] : 1;
    if (ea == 1) {
      out.d[i] = eb;
    } else if (eb == 1) {
      out.d[i] = ea;
    } else if (ea == -1) {
      out.d[i] = eb;
    } else if (eb == -1 || ea == eb) {
      out.d[i] = ea;
    } else {
      return invalidArgument("shapes " + dimsToString(a) + " and " + dimsToString(b) +
                             " do not broadcast (dim " + std::to_string(i) + ")");
    }
  }
  return out;
}

StatusOr<int32_t> normalizeAxis(int64_t axis, int32_t rank, const char* what) {
  const int64_t normalized = axis < 0 ? axis + rank : axis;
  if (normalized < 0 || normalized >= rank) {
    return invalidArgument(std::string(what) + " " + std::to_string(axis) + " is out of range for rank " +
                           std::to_string(rank));
  }
  return static_cast<int32_t>(normalized);
}

Status checkAxisMask(uint32_t mask, int32_t rank, const char* what) {
  if (rank < 32 && (mask >> rank) != 0) {
    return invalidArgument(std::string(what) + " mask " + std::to_string(mask) + " names dims beyond rank " +
                           std::to_string(rank));
  }
  return Status::ok();
}

StatusOr<int32_t> singleAxisFromMask(uint32_t mask, int32_t rank, const char* what) {
  KILN_RETURN_IF_ERROR(checkAxisMask(mask, rank, what));
  if (mask == 0 || (mask & (mask - 1)) != 0) {
    return invalidArgument(std::string(what) + " mask " + std::to_string(mask) + " must name exactly one dim");
  }
  int32_t axis = 0;
  while (((mask >> axis) & 1u) == 0) ++axis;
  return axis;
}

bool extentsCompatible(int64_t a, int64_t b) { return a == -1 || b == -1 || a == b; }

Dims makeDims(int32_t rank, int64_t fill) {
  Dims dims;
  dims.nbDims = rank;
  for (int32_t i = 0; i < rank && i < Dims::kMAX_DIMS; ++i) dims.d[i] = fill;
  return dims;
}

StatusOr<int64_t> checkedVolume(const Dims& dims) {
  int64_t v = 1;
  bool unknown = false;
  for (int32_t i = 0; i < dims.nbDims; ++i) {
    if (dims.d[i] < 0) {
      if (dims.d[i] != -1) return invalidArgument("negative extent in " + dimsToString(dims));
      unknown = true;
      continue;
    }
    if (dims.d[i] != 0 && v > std::numeric_limits<int64_t>::max() / dims.d[i]) {
      return invalidArgument("shape " + dimsToString(dims) + " has too many elements");
    }
    v *= dims.d[i];
  }
  return unknown ? int64_t{-1} : v;
}

std::string typeList(DataType a) { return dataTypeName(a); }

Status checkDimsAttr(const Dims& dims, const char* what) {
  if (dims.nbDims < 0 || dims.nbDims > Dims::kMAX_DIMS) {
    return invalidArgument(std::string(what) + " has more than " + std::to_string(Dims::kMAX_DIMS) + " values");
  }
  return Status::ok();
}

}  // namespace kiln
