//===- CudaDriver.h - The CUDA driver, with llvm::Error ---------*- C++ -*-===//
//
// CudaAbi.h's driver and mgpu* failures as the runtime reports errors.
//
//===----------------------------------------------------------------------===//

#ifndef EINJIT_RUNTIME_CUDADRIVER_H
#define EINJIT_RUNTIME_CUDADRIVER_H

#include "CudaAbi.h"

#include "llvm/Support/Error.h"

namespace einjit::cuda {

/// The driver with device 0's primary context current on this thread, or
/// an error that starts "no CUDA device" and says why.
llvm::Expected<const Driver &> checkedDriver();
/// An error "`what` failed: <errorText>" when `status` is not success.
llvm::Error check(CUresult status, const llvm::Twine &what);
/// takeAbiFailure as an error (success when nothing failed).
llvm::Error takeAbiError();

} // namespace einjit::cuda

#endif // EINJIT_RUNTIME_CUDADRIVER_H
