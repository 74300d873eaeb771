// The CUDA emulator's stand-in for the toolkit's <cuda_runtime.h>: the runtime API
// (cuda_runtime_api.h) and the device side of CUDA C++ as host code (emu/device.h). See
// tools/cuda_emulator/build.py for how the kernels of cuda/ are compiled against it.
#pragma once

#include "cuda_runtime_api.h"
#include "emu/device.h"
