//===- ExampleUtils.h - What the training examples share --------*- C++ -*-===//
//
// Command line (`--steps N`, `--quiet`), progress lines (step, loss, steps
// per second), and exiting on an llvm::Error with its message.
//
//===----------------------------------------------------------------------===//

#ifndef EINJIT_EXAMPLES_EXAMPLEUTILS_H
#define EINJIT_EXAMPLES_EXAMPLEUTILS_H

#include "einjit/runtime/Tensor.h"

#include "llvm/Support/Error.h"
#include "llvm/Support/Format.h"
#include "llvm/Support/raw_ostream.h"

#include <chrono>
#include <cstdlib>
#include <string>

namespace einjit::examples {

struct Options {
  int steps;
  bool quiet = false;
};

/// `--steps N` (default `steps`) and `--quiet`; exits with a message on
/// anything else.
inline Options parseOptions(int argc, char **argv, int steps) {
  Options options{steps};
  for (int i = 1; i < argc; ++i) {
    std::string arg = argv[i];
    if (arg == "--quiet") {
      options.quiet = true;
    } else if (arg == "--steps" && i + 1 < argc) {
      char *end = nullptr;
      long n = std::strtol(argv[++i], &end, 10);
      if (*end || n <= 0 || n > 1000000) {
        llvm::errs() << argv[0] << ": error: --steps takes a count from 1 "
                     << "to 1000000, got '" << argv[i] << "'\n";
        std::exit(2);
      }
      options.steps = n;
    } else {
      llvm::errs() << argv[0] << ": error: unknown argument '" << arg
                   << "' (usage: " << argv[0] << " [--steps N] [--quiet])\n";
      std::exit(2);
    }
  }
  return options;
}

/// The value, or exit 1 with the error's message.
template <typename T>
T orExit(llvm::Expected<T> value, const char *what) {
  if (!value) {
    llvm::errs() << "error: " << what << ": "
                 << llvm::toString(value.takeError()) << "\n";
    std::exit(1);
  }
  return std::move(*value);
}

inline void orExit(llvm::Error err, const char *what) {
  if (err) {
    llvm::errs() << "error: " << what << ": " << llvm::toString(std::move(err))
                 << "\n";
    std::exit(1);
  }
}

/// Prints "step N  loss L  S steps/s" lines.
class Progress {
public:
  explicit Progress(bool quiet) : quiet(quiet) {}
  void report(int step, double loss) {
    double seconds =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - start)
            .count();
    if (!quiet)
      llvm::outs() << llvm::format("step %5d  loss %.6g  %.1f steps/s\n", step,
                                   loss, step / seconds);
  }

private:
  bool quiet;
  std::chrono::steady_clock::time_point start =
      std::chrono::steady_clock::now();
};

} // namespace einjit::examples

#endif // EINJIT_EXAMPLES_EXAMPLEUTILS_H
