//===- Device.h - CUDA devices, found through the driver --------*- C++ -*-===//
//
// The CUDA driver (libcuda.so.1) is loaded with dlopen on first use, so a
// build on a machine without a GPU or a driver works and reports "no CUDA
// device". Running einsums on a CUDA device is not built yet (issue 11);
// einsum-run --device=cuda --emit=ptx prints the kernels' PTX on any
// machine.
//
//===----------------------------------------------------------------------===//

#ifndef EINJIT_RUNTIME_DEVICE_H
#define EINJIT_RUNTIME_DEVICE_H

#include "llvm/Support/Error.h"

namespace einjit {

/// The number of CUDA devices the driver sees (at least one), or an error
/// that starts "no CUDA device" and says why: the driver library is
/// missing, cuInit failed, or it sees no device.
llvm::Expected<int> cudaDeviceCount();

} // namespace einjit

#endif // EINJIT_RUNTIME_DEVICE_H
