//===- GpuEmulator.cpp - GPU kernels run on the host CPU ------------------===//
//
// See GpuEmulator.h.
//
//===----------------------------------------------------------------------===//

#include "GpuEmulator.h"
#include "CudaAbi.h"

#include <algorithm>
#include <atomic>
#include <cstdio>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <unordered_map>
#include <vector>

#include <ucontext.h>
#ifdef __has_include
#if __has_include(<sanitizer/common_interface_defs.h>)
#include <sanitizer/common_interface_defs.h>
#endif
#endif

using namespace einjit;

namespace {
/// The calling GPU thread's special registers.
thread_local int32_t sregs[12];

/// The launch that runs: its driver (for the bounds check) and its first
/// failure, which the launching thread records when the launch ends (the
/// blocks of a kernel without barriers run on several threads).
struct Launch {
  const cuda::Driver *driver = nullptr;
  std::mutex mutex;
  std::string failure;
  void fail(const std::string &message) {
    std::lock_guard<std::mutex> lock(mutex);
    if (failure.empty())
      failure = message;
  }
};
Launch *current = nullptr;

void setIndex(int32_t *at, int64_t linear, const int64_t dims[3]) {
  at[0] = static_cast<int32_t>(linear % dims[0]);
  at[1] = static_cast<int32_t>(linear / dims[0] % dims[1]);
  at[2] = static_cast<int32_t>(linear / (dims[0] * dims[1]));
}

/// A fiber's saved machine state. On x86-64 it is the stack pointer, the
/// callee-saved registers on the stack below it (einjitEmuSwitch): no
/// system call, where swapcontext saves the signal mask with one each
/// time, and a kernel with barriers switches a few million times.
#if defined(__x86_64__)
struct Context {
  void *sp = nullptr;
};
} // namespace
extern "C" void einjitEmuSwitch(void **save, void *load);
asm(R"(
  .text
  .p2align 4
  .globl einjitEmuSwitch
  .hidden einjitEmuSwitch
  .type einjitEmuSwitch,@function
einjitEmuSwitch:
  pushq %rbp
  pushq %rbx
  pushq %r12
  pushq %r13
  pushq %r14
  pushq %r15
  movq %rsp, (%rdi)
  movq %rsi, %rsp
  popq %r15
  popq %r14
  popq %r13
  popq %r12
  popq %rbx
  popq %rbp
  retq
  .size einjitEmuSwitch, .-einjitEmuSwitch
)");
namespace {
void switchContext(Context &save, Context &load) {
  einjitEmuSwitch(&save.sp, load.sp);
}
/// A context that starts `entry` on `stack`: einjitEmuSwitch pops six
/// registers and returns into it, with the stack aligned as after a call.
void makeContext(Context &c, char *stack, size_t size, void (*entry)()) {
  auto top = reinterpret_cast<uintptr_t>(stack + size) & ~uintptr_t(15);
  auto *slots = reinterpret_cast<void **>(top);
  slots[-1] = nullptr; // entry's return address: it never returns
  slots[-2] = reinterpret_cast<void *>(entry);
  for (int i = 3; i <= 8; ++i)
    slots[-i] = nullptr; // rbp, rbx, r12-r15
  c.sp = slots - 8;
}
#else
struct Context {
  ucontext_t uc;
};
void switchContext(Context &save, Context &load) {
  swapcontext(&save.uc, &load.uc);
}
void makeContext(Context &c, char *stack, size_t size, void (*entry)()) {
  getcontext(&c.uc);
  c.uc.uc_stack.ss_sp = stack;
  c.uc.uc_stack.ss_size = size;
  c.uc.uc_link = nullptr;
  makecontext(&c.uc, entry, 0);
}
#endif

/// A GPU thread of a kernel with barriers: a fiber with a stack of its
/// own. It runs the kernel until a barrier or the end, then
/// switches back to the block's scheduler.
struct Fiber {
  enum State { Ready, AtBarrier, Done };
  Context context;
  std::unique_ptr<char[]> stack;
  int64_t linear = 0;
  State state = Ready;
  /// AddressSanitizer's fake stack of the fiber, while it is switched out.
  void *fakeStack = nullptr;
};

constexpr size_t kFiberStack = 256 << 10;

/// A launch's fibers, all run by the launching thread: the threads of a
/// block run in turn up to each barrier, so shared memory (a global of the
/// kernel) needs no copy per block and no lock.
struct Cooperative {
  Context scheduler;
  std::vector<Fiber> fibers;
  Fiber *current = nullptr;
  void (*thunk)(void **) = nullptr;
  void **params = nullptr;
  bool quit = false;
  /// The scheduler's stack, for AddressSanitizer's fiber switches.
  const void *schedulerBottom = nullptr;
  size_t schedulerSize = 0;
  /// The race check: who touched each 4-byte word of shared memory since
  /// the last barrier (cleared each round), and the first race found.
  struct Access {
    int64_t writer = -1, reader = -1;
    bool readers = false; // more than one thread read it
  };
  std::unordered_map<uintptr_t, Access> shadow;
  std::string race;
};
thread_local Cooperative *cooperating = nullptr;

// AddressSanitizer must be told of each switch between stacks, or it takes
// the fibers' frames for overflows.
#if defined(__has_feature)
#if __has_feature(address_sanitizer)
#define EINJIT_ASAN_FIBERS 1
#endif
#endif
#if defined(__SANITIZE_ADDRESS__) && !defined(EINJIT_ASAN_FIBERS)
#define EINJIT_ASAN_FIBERS 1
#endif

void startSwitch(void **fakeStack, const void *bottom, size_t size) {
#ifdef EINJIT_ASAN_FIBERS
  __sanitizer_start_switch_fiber(fakeStack, bottom, size);
#endif
}
void finishSwitch(void *fakeStack, const void **bottom, size_t *size) {
#ifdef EINJIT_ASAN_FIBERS
  __sanitizer_finish_switch_fiber(fakeStack, bottom, size);
#endif
}

/// From a fiber to its scheduler, leaving `state`.
void yieldFiber(Fiber::State state) {
  Cooperative &c = *cooperating;
  Fiber &f = *c.current;
  f.state = state;
  startSwitch(&f.fakeStack, c.schedulerBottom, c.schedulerSize);
  switchContext(f.context, c.scheduler);
  finishSwitch(f.fakeStack, &c.schedulerBottom, &c.schedulerSize);
}

/// A fiber's body: the kernel, once per block, until the launch ends.
void fiberMain() {
  Cooperative &c = *cooperating;
  finishSwitch(nullptr, &c.schedulerBottom, &c.schedulerSize);
  while (!c.quit) {
    c.thunk(c.params);
    yieldFiber(Fiber::Done);
  }
  // Back to the scheduler for good: the fiber is not resumed again.
  Fiber &f = *c.current;
  startSwitch(nullptr, c.schedulerBottom, c.schedulerSize);
  switchContext(f.context, c.scheduler);
}

/// From the scheduler to fiber `f`, until it yields.
void resume(Cooperative &c, Fiber &f, const int64_t block[3]) {
  setIndex(sregs, f.linear, block);
  c.current = &f;
  void *fakeStack = nullptr;
  startSwitch(&fakeStack, f.stack.get(), kFiberStack);
  switchContext(c.scheduler, f.context);
  finishSwitch(fakeStack, nullptr, nullptr);
}

/// Runs a kernel with barriers: each block's threads as fibers, in rounds
/// from one barrier to the next. Returns what was wrong, if anything: in a
/// round, some threads reached a barrier and others the end (they would
/// hang or misbehave on a GPU), or two threads raced on shared memory.
std::string runCooperative(void (*thunk)(void **), void **params,
                           const int64_t grid[3], const int64_t block[3]) {
  Cooperative c;
  c.thunk = thunk;
  c.params = params;
  int64_t threads = block[0] * block[1] * block[2];
  c.fibers.resize(threads);
  for (int64_t t = 0; t < threads; ++t) {
    Fiber &f = c.fibers[t];
    f.linear = t;
    f.stack.reset(new char[kFiberStack]);
    makeContext(f.context, f.stack.get(), kFiberStack, fiberMain);
  }
  cooperating = &c;
  bool diverged = false;
  int64_t blocks = grid[0] * grid[1] * grid[2];
  for (int64_t b = 0; b < blocks && !diverged; ++b) {
    setIndex(sregs + 6, b, grid);
    for (Fiber &f : c.fibers)
      f.state = Fiber::Ready;
    for (bool more = true; more;) {
      c.shadow.clear();
      int64_t atBarrier = 0, done = 0;
      for (Fiber &f : c.fibers) {
        if (f.state == Fiber::Done)
          continue;
        resume(c, f, block);
        ++(f.state == Fiber::AtBarrier ? atBarrier : done);
      }
      diverged = atBarrier && done;
      more = atBarrier && !diverged;
    }
  }
  if (!diverged) {
    // Each fiber waits after its last block: let it finish.
    c.quit = true;
    for (Fiber &f : c.fibers)
      resume(c, f, block);
  }
  // (Fibers of a launch that diverged are dropped where they stopped.)
  cooperating = nullptr;
  if (diverged)
    return "a GPU kernel's threads reached different barriers (a "
           "__syncthreads() that not every thread of the block reaches)";
  return c.race;
}

/// Notes thread `thread`'s access to the shared-memory word at `word`;
/// a race when another thread wrote it, or (for a write) read it, since
/// the last barrier.
void noteShared(Cooperative &c, uintptr_t word, int64_t thread, bool write) {
  Cooperative::Access &a = c.shadow[word];
  bool race = (a.writer >= 0 && a.writer != thread) ||
              (write && (a.readers || (a.reader >= 0 && a.reader != thread)));
  if (race && c.race.empty()) {
    int64_t other = a.writer >= 0 && a.writer != thread ? a.writer : a.reader;
    c.race = "a GPU kernel's threads " + std::to_string(other) + " and " +
             std::to_string(thread) + " access a word of shared memory " +
             "between two barriers, one of them writing (a data race: a " +
             "__syncthreads() is missing)";
  }
  if (write) {
    a.writer = thread;
  } else if (a.reader < 0 || a.reader == thread) {
    a.reader = thread;
  } else {
    a.readers = true;
  }
}
} // namespace

/// Launches run so far (cuda::emulatedLaunches).
static std::atomic<uint64_t> launches{0};

extern "C" {
int32_t einjitEmuSreg(int32_t which) {
  return which >= 0 && which < 12 ? sregs[which] : 0;
}

void einjitEmuBarrier() {
  if (cooperating)
    yieldFiber(Fiber::AtBarrier);
}

void einjitEmuLaunch(void (*thunk)(void **), int32_t cooperative, int64_t gridX,
                     int64_t gridY, int64_t gridZ, int64_t blockX,
                     int64_t blockY, int64_t blockZ, void **params) {
  if (cuda::abiFailed())
    return;
  ++launches;
  std::string error;
  const cuda::Driver *d = cuda::driver(error);
  if (!d)
    return cuda::recordAbiFailure(error);
  if (!d->hostMemory)
    return cuda::recordAbiFailure(
        "a GPU kernel compiled for the host (EINJIT_GPU_EMULATE) needs a "
        "driver whose device memory is host memory (test/fake-cuda)");
  const int64_t grid[3] = {gridX, gridY, gridZ};
  const int64_t block[3] = {blockX, blockY, blockZ};
  if (gridX < 1 || gridY < 1 || gridZ < 1 || gridX > INT32_MAX ||
      gridY > 65535 || gridZ > 65535 || blockX < 1 || blockY < 1 ||
      blockZ < 1 || blockX * blockY * blockZ > 1024 || blockZ > 64)
    return cuda::recordAbiFailure(
        "cuLaunchKernel failed: CUDA_ERROR_INVALID_VALUE (grid " +
        std::to_string(gridX) + "x" + std::to_string(gridY) + "x" +
        std::to_string(gridZ) + ", block " + std::to_string(blockX) + "x" +
        std::to_string(blockY) + "x" + std::to_string(blockZ) + ")");
  const int64_t threads = blockX * blockY * blockZ;
  const int64_t blocks = gridX * gridY * gridZ;
  auto setDims = [&] {
    for (int i = 0; i < 3; ++i) {
      sregs[3 + i] = static_cast<int32_t>(block[i]);
      sregs[9 + i] = static_cast<int32_t>(grid[i]);
    }
  };
  // Shared memory is a global of the kernel: one launch at a time.
  static std::mutex launching;
  std::lock_guard<std::mutex> lock(launching);
  Launch launch;
  launch.driver = d;
  current = &launch;
  auto finish = [&] {
    current = nullptr;
    if (!launch.failure.empty())
      cuda::recordAbiFailure(launch.failure);
  };

  if (!cooperative) {
    // Threads that never wait for each other run in turn, the blocks
    // split between the host's cores.
    int64_t workers = std::min<int64_t>(
        blocks, std::max(1u, std::thread::hardware_concurrency()));
    auto run = [&](int64_t first) {
      setDims();
      for (int64_t b = first; b < blocks; b += workers) {
        setIndex(sregs + 6, b, grid);
        for (int64_t t = 0; t < threads; ++t) {
          setIndex(sregs, t, block);
          thunk(params);
        }
      }
    };
    std::vector<std::thread> pool;
    for (int64_t w = 1; w < workers; ++w)
      pool.emplace_back(run, w);
    run(0);
    for (std::thread &t : pool)
      t.join();
    return finish();
  }

  setDims();
  std::string wrong = runCooperative(thunk, params, grid, block);
  if (!wrong.empty())
    launch.fail(wrong);
  finish();
}

void einjitEmuGlobal(void *address, int64_t bytes, int32_t isWrite) {
  Launch *launch = current;
  if (!launch || !launch->driver->inside ||
      launch->driver->inside(address, bytes))
    return;
  char where[32];
  std::snprintf(where, sizeof(where), "%p", address);
  launch->fail("a GPU kernel's thread (" + std::to_string(sregs[0]) + "," +
               std::to_string(sregs[1]) + "," + std::to_string(sregs[2]) +
               ") of block (" + std::to_string(sregs[6]) + "," +
               std::to_string(sregs[7]) + "," + std::to_string(sregs[8]) +
               ") " + (isWrite ? "writes " : "reads ") + std::to_string(bytes) +
               " bytes at " + where +
               ", outside every device allocation (an out-of-bounds access)");
}

void einjitEmuShared(void *address, int64_t bytes, int32_t isWrite) {
  if (!cooperating)
    return;
  auto at = reinterpret_cast<uintptr_t>(address);
  int64_t thread = cooperating->current->linear;
  for (uintptr_t word = at & ~uintptr_t(3); word < at + bytes; word += 4)
    noteShared(*cooperating, word, thread, isWrite != 0);
}
} // extern "C"

uint64_t einjit::cuda::emulatedLaunches() { return launches.load(); }

const std::pair<const char *, void *> *cuda::emulatorSymbols() {
  static const std::pair<const char *, void *> symbols[] = {
      {"einjitEmuSreg", reinterpret_cast<void *>(&einjitEmuSreg)},
      {"einjitEmuBarrier", reinterpret_cast<void *>(&einjitEmuBarrier)},
      {"einjitEmuLaunch", reinterpret_cast<void *>(&einjitEmuLaunch)},
      {"einjitEmuShared", reinterpret_cast<void *>(&einjitEmuShared)},
      {"einjitEmuGlobal", reinterpret_cast<void *>(&einjitEmuGlobal)},
      {nullptr, nullptr}};
  return symbols;
}
