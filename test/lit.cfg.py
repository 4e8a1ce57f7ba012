# lit configuration for einjit: IR tests run einsum-opt, integration tests
# run einsum-run; FileCheck, not and count come from LLVM 22.
import os

import lit.formats
from lit.llvm import llvm_config

config.name = "EINJIT"
config.test_format = lit.formats.ShTest(not llvm_config.use_lit_shell)
config.suffixes = [".mlir", ".test"]
config.excludes = ["CMakeLists.txt", "README.md", "lit.cfg.py", "Inputs", "bad-inputs.py",
                   "lit.site.cfg.py", "parity", "unit", "nn"]
config.test_source_root = os.path.dirname(__file__)
config.test_exec_root = os.path.join(config.einjit_obj_root)

config.substitutions.append(("%PYTHON", config.python_executable))
# Sanitizer builds (EINJIT_SANITIZE) reserve terabytes of address space for
# shadow memory, so tests that limit the address space cannot run there.
if config.einjit_sanitize:
    config.available_features.add("sanitizer")
config.substitutions.append(("%inputs", os.path.join(config.test_source_root, "Inputs")))

llvm_config.with_system_environment(["HOME", "TMP", "TEMP"])
llvm_config.use_default_substitutions()
llvm_config.add_tool_substitutions(
    ["einsum-opt", "einsum-run", "einjit-optimizer-step"],
    [config.einjit_tools_dir])
llvm_config.with_environment("PATH", config.llvm_tools_dir, append_path=True)

# ptxas checks the GPU pipeline's PTX where the CUDA toolkit is installed
# (test/Integration/GPU/ptxas.test); without it that test is unsupported.
import shutil
ptxas = shutil.which("ptxas") or next(
    (p for p in ["/usr/local/cuda/bin/ptxas"] if os.path.exists(p)), None)
if ptxas:
    config.available_features.add("ptxas")
    config.substitutions.append(("%ptxas", ptxas))

# The test suite's fake CUDA driver (test/fake-cuda), which checks the
# runtime's driver calls without a GPU, and the `cuda` feature where a real
# driver sees a device (GPU correctness tests).
config.substitutions.append(
    ("%fakecuda", os.path.join(config.einjit_lib_dir, "libeinjit-fake-cuda.so")))


def has_cuda_device():
    import ctypes
    try:
        driver = ctypes.CDLL("libcuda.so.1")
    except OSError:
        return False
    count = ctypes.c_int(0)
    return (driver.cuInit(0) == 0 and
            driver.cuDeviceGetCount(ctypes.byref(count)) == 0 and count.value > 0)


if has_cuda_device():
    config.available_features.add("cuda")
