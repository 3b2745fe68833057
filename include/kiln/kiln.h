// Kiln's public C++ API in one include.
#pragma once

#include "kiln/builder.h"
#include "kiln/layers.h"
#include "kiln/network.h"
#include "kiln/runtime.h"
#include "kiln/status.h"
#include "kiln/types.h"
