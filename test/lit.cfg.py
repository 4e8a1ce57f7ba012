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

# A CUDA toolkit folder (bin/ptxas, nvvm/libdevice): CUDA_HOME, the
# usual /usr/local/cuda, or NVIDIA's pip package nvidia-cuda-nvcc-cu12
# that scripts/setup.sh installs. The GPU pipeline links libdevice from
# CUDA_HOME (kernels that call math functions: the `libdevice` feature),
# and ptxas checks the PTX (test/Integration/GPU/ptxas.test: `ptxas`).
# Without one, those tests are unsupported.
import shutil
import subprocess


def cuda_toolkit():
    folders = [os.environ.get("CUDA_HOME"), "/usr/local/cuda"]
    found = subprocess.run(
        [config.python_executable, "-c",
         "import nvidia.cuda_nvcc as m; print(m.__path__[0])"],
        capture_output=True, text=True)
    if found.returncode == 0:
        folders.append(found.stdout.strip())
    for folder in folders:
        if folder and os.path.exists(
                os.path.join(folder, "nvvm", "libdevice", "libdevice.10.bc")):
            return folder
    return None


toolkit = cuda_toolkit()
if toolkit:
    config.environment["CUDA_HOME"] = toolkit
    config.available_features.add("libdevice")
ptxas = shutil.which("ptxas") or next(
    (p for p in [os.path.join(toolkit or "/usr/local/cuda", "bin", "ptxas")]
     if os.path.exists(p)), None)
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
