// Helpers that every layer's shape inference uses. Extents may be -1 (unknown at build time).
#pragma once

#include <cstdint>
#include <string>

#include "engine/layer_kinds.h"
#include "kiln/status.h"
#include "kiln/types.h"

namespace kiln {

// Numpy broadcasting of two shapes of equal or different rank (leading 1s are implied).
// -1 against 1 gives -1, -1 against n gives n. Mismatched known extents are an error.
StatusOr<Dims> broadcastShapes(const Dims& a, const Dims& b);
// Maps a possibly negative axis into [0, rank); error when out of range.
StatusOr<int32_t> normalizeAxis(int64_t axis, int32_t rank, const char* what);
// The single set bit in an axis mask, checked against the rank.
StatusOr<int32_t> singleAxisFromMask(uint32_t mask, int32_t rank, const char* what);
// Checks that every bit of the mask is below rank.
Status checkAxisMask(uint32_t mask, int32_t rank, const char* what);
// Two extents that must agree (-1 matches anything).
bool extentsCompatible(int64_t a, int64_t b);
Dims makeDims(int32_t rank, int64_t fill);
// Multiplies extents; -1 when any is -1; error when the product overflows int64.
StatusOr<int64_t> checkedVolume(const Dims& dims);
std::string typeList(DataType a);
// Error when an attribute stored as dims held more than kMAX_DIMS values (corrupt plan).
Status checkDimsAttr(const Dims& dims, const char* what);

}  // namespace kiln
