//===- Device.cpp - CUDA devices and device tensors -----------------------===//

#include "einjit/runtime/Device.h"

#include "CudaDriver.h"
#include "einjit/Spec/Equation.h"
#include "einjit/Spec/Limits.h"

#include <atomic>

using namespace einjit;

llvm::Expected<const cuda::Driver &> cuda::checkedDriver() {
  std::string error;
  const Driver *d = driver(error);
  if (!d)
    return makeEinsumError(error);
  return *d;
}

llvm::Error cuda::check(CUresult status, const llvm::Twine &what) {
  if (!status)
    return llvm::Error::success();
  return makeEinsumError(what + " failed: " + errorText(status));
}

llvm::Error cuda::takeAbiError() {
  std::string failure = takeAbiFailure();
  if (failure.empty())
    return llvm::Error::success();
  return makeEinsumError(failure);
}

llvm::Expected<int> einjit::cudaDeviceCount() {
  auto d = cuda::checkedDriver();
  if (!d)
    return d.takeError();
  int count = 0;
  if (auto err = cuda::check(d->cuDeviceGetCount(&count), "cuDeviceGetCount"))
    return std::move(err);
  return count;
}

llvm::Expected<CudaDeviceInfo> einjit::cudaDevice() {
  auto d = cuda::checkedDriver();
  if (!d)
    return d.takeError();
  CudaDeviceInfo info;
  info.name = d->name;
  info.major = d->major;
  info.minor = d->minor;
  info.multiprocessors = d->multiprocessors;
  info.memoryBytes = d->memoryBytes;
  info.driverVersion = d->driverVersion;
  std::tie(info.chip, info.features) = cuda::chipOf(*d);
  info.hostMemory = d->hostMemory;
  return info;
}

llvm::Expected<DeviceTensor>
DeviceTensor::empty(DType dtype, llvm::ArrayRef<int64_t> shape) {
  auto d = cuda::checkedDriver();
  if (!d)
    return d.takeError();
  auto checked = checkTensorSize("a device tensor", dtype, shape);
  if (!checked)
    return checked.takeError();
  int64_t count = *checkedProduct(shape);
  static std::atomic<uint64_t> made{0};
  DeviceTensor t;
  t.ident = ++made;
  t.type = dtype;
  t.dims.assign(shape.begin(), shape.end());
  t.count = count;
  if (count == 0)
    return t;
  cuda::CUdeviceptr ptr = 0;
  size_t bytes = count * dtypeBytes(dtype);
  if (auto err =
          cuda::check(d->cuMemAlloc(&ptr, bytes),
                      "cuMemAlloc of " + std::to_string(bytes) + " bytes"))
    return std::move(err);
  const cuda::Driver *driver = &*d;
  t.storage = std::shared_ptr<void>(
      reinterpret_cast<void *>(static_cast<uintptr_t>(ptr)), [driver](void *p) {
        driver->cuMemFree(
            static_cast<cuda::CUdeviceptr>(reinterpret_cast<uintptr_t>(p)));
      });
  return t;
}

llvm::Expected<DeviceTensor> DeviceTensor::fromHost(const Tensor &host) {
  auto t = empty(host.dtype(), host.shape());
  if (!t || t->count == 0)
    return t;
  auto contiguous = host.contiguous();
  if (!contiguous)
    return contiguous.takeError();
  auto d = cuda::checkedDriver();
  if (!d)
    return d.takeError();
  if (auto err = cuda::check(
          d->cuMemcpyHtoD(static_cast<cuda::CUdeviceptr>(
                              reinterpret_cast<uintptr_t>(t->data())),
                          contiguous->data(), t->nbytes()),
          "cuMemcpyHtoD"))
    return std::move(err);
  return t;
}

llvm::Expected<Tensor> DeviceTensor::toHost() const {
  auto host = Tensor::empty(type, dims);
  if (!host || count == 0)
    return host;
  auto d = cuda::checkedDriver();
  if (!d)
    return d.takeError();
  if (auto err =
          cuda::check(d->cuMemcpyDtoH(host->data(),
                                      static_cast<cuda::CUdeviceptr>(
                                          reinterpret_cast<uintptr_t>(data())),
                                      nbytes()),
                      "cuMemcpyDtoH"))
    return std::move(err);
  return host;
}
