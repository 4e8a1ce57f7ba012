//===- einsum-run.cpp - Run, print, emit and time one einsum --------------===//
//
//   einsum-run EQUATION OPERAND... [-o OUT.npy] [--print] [--emit=STAGE]
//              [--bench=N] [--seed=N] [--explain[=json]] [--strategy=S]
//              [--memory-limit=BYTES] [--grad=G.npy --grad-dir=DIR]
//
// An OPERAND is a .npy file or a random spec DTYPE:DIMS (`f32:64x128`;
// `f64:` is a scalar). --grad with --grad-dir writes the gradient of each
// operand position, given the result's cotangent G, as DIR/grad_K.npy. Any bad
// input ends with `einsum-run: error: ...` on stderr and exit status 1.
//
//===----------------------------------------------------------------------===//

#include "einjit/runtime/Device.h"
#include "einjit/runtime/Einsum.h"
#include "einjit/runtime/Explain.h"
#include "einjit/runtime/Npy.h"
#include "einjit/runtime/Tape.h"

#include "llvm/ADT/StringExtras.h"
#include "llvm/Config/llvm-config.h"
#include "llvm/Support/CommandLine.h"
#include "llvm/Support/FileSystem.h"
#include "llvm/Support/FormatVariadic.h"
#include "llvm/Support/Path.h"
#include "llvm/Support/raw_ostream.h"

#include <algorithm>
#include <chrono>
#include <csignal>
#include <functional>
#include <random>

using namespace einjit;
using llvm::formatv;

namespace cl = llvm::cl;

static cl::OptionCategory category("einsum-run options");
static cl::list<std::string> positional(cl::Positional,
                                        cl::desc("EQUATION OPERAND..."),
                                        cl::cat(category));
static cl::opt<std::string> outputOpt("o",
                                      cl::desc("Write the result to FILE "
                                               "(.npy)"),
                                      cl::value_desc("FILE"),
                                      cl::cat(category));
static cl::alias outputAlias("output", cl::desc("Alias for -o"),
                             cl::aliasopt(outputOpt), cl::cat(category));
static cl::opt<bool> printOpt("print",
                              cl::desc("Print the result (also with -o)"),
                              cl::cat(category));
static cl::opt<std::string>
    emitOpt("emit",
            cl::desc("Print the kernel's IR at STAGE instead of running: "
                     "einsum, linalg, vector, llvm (LLVM dialect) or llvm-ir "
                     "(LLVM IR after O3)"),
            cl::value_desc("STAGE"), cl::cat(category));
static cl::opt<std::string>
    benchOpt("bench", cl::desc("Time N steady-state calls after compiling"),
             cl::value_desc("N"), cl::cat(category));
static cl::opt<std::string> explainOpt(
    "explain", cl::ValueOptional,
    cl::desc("Print the plan instead of running: strategy, flops, largest "
             "intermediate, and each step with its kernel and why (as text, "
             "or =json for one JSON object); =grad prints the forward and "
             "backward planned together (kept intermediates under "
             "--memory-limit, or recomputed)"),
    cl::value_desc("json|grad"), cl::cat(category));
static cl::opt<std::string>
    strategyOpt("strategy",
                cl::desc("Contraction path strategy: auto (default), greedy, "
                         "optimal, dp"),
                cl::value_desc("S"), cl::cat(category));
static cl::opt<std::string> memoryLimitOpt(
    "memory-limit",
    cl::desc("Cap on the largest intermediate (suffixes K, M, G: KiB, MiB, "
             "GiB); an error names the smallest that works"),
    cl::value_desc("BYTES"), cl::cat(category));
static cl::opt<std::string>
    seedOpt("seed", cl::desc("Seed for random operands (default 0)"),
            cl::value_desc("N"), cl::cat(category));
static cl::opt<std::string>
    mcpuOpt("mcpu",
            cl::desc("Compile for LLVM's CPU CPU (haswell, znver3, "
                     "skylake-avx512, ...; default: this machine); it must "
                     "not need instructions this machine lacks"),
            cl::value_desc("CPU"), cl::cat(category));
static cl::opt<std::string>
    mattrOpt("mattr",
             cl::desc("LLVM features to add or remove (+avx2,-avx512f)"),
             cl::value_desc("FEATS"), cl::cat(category));
static cl::opt<std::string> cacheDirOpt(
    "cache-dir",
    cl::desc("Keep compiled kernels in DIR and reuse them in later runs "
             "(default: $EINJIT_CACHE_DIR; empty: none)"),
    cl::value_desc("DIR"), cl::cat(category));
static cl::opt<std::string>
    gradOpt("grad",
            cl::desc("Compute the gradient of each operand given FILE (.npy), "
                     "the cotangent of the result (its shape and dtype); "
                     "needs --grad-dir"),
            cl::value_desc("FILE"), cl::cat(category));
static cl::opt<std::string>
    gradDirOpt("grad-dir",
               cl::desc("Write --grad's gradients to DIR/grad_0.npy, "
                        "DIR/grad_1.npy, ... (one per operand; DIR is "
                        "created if missing)"),
               cl::value_desc("DIR"), cl::cat(category));
static cl::opt<std::string> deviceOpt(
    "device",
    cl::desc("Where the einsum runs: cpu (default) or cuda (device 0, "
             "through the driver libcuda.so.1 or EINJIT_CUDA_DRIVER). With "
             "cuda, --emit=ptx prints the GPU kernels' PTX on any machine"),
    cl::value_desc("DEVICE"), cl::cat(category));
static cl::opt<std::string> gpuChipOpt(
    "gpu-chip",
    cl::desc("With --device=cuda --emit: the NVIDIA SM to compile for "
             "(sm_80, sm_90, ...; default sm_90; a run compiles for the "
             "device's own)"),
    cl::value_desc("SM"), cl::cat(category));
static cl::opt<std::string> dynamicOpt(
    "dynamic",
    cl::desc("Make these labels' dims dynamic (an input signature, as "
             "tf.function's): the einsum runs as pieces of power-of-two "
             "sizes along them, each on a kernel compiled for its shapes"),
    cl::value_desc("LABELS"), cl::cat(category));
static cl::opt<bool> benchCallsOpt(
    "bench-calls",
    cl::desc("With --bench, time whole einsum calls as an application makes "
             "them (dispatch and the result's allocation included) instead "
             "of the kernel alone; always so with --dynamic"),
    cl::cat(category));
static cl::opt<bool>
    printTargetOpt("print-target",
                   cl::desc("Print the target kernels are compiled for"),
                   cl::cat(category));

static const char *kOverview =
    "run, explain, time or compile one einsum\n\n"
    "  EQUATION is a NumPy einsum equation ('bhqd,bhkd->bhqk').\n"
    "  OPERAND is a .npy file, or DTYPE:DIMS for random data (f32:64x128;\n"
    "  f64: is a scalar); DTYPE is f16, f32, f64, i32 or i64.\n"
    "  Without -o, --grad, --emit, --bench or --explain the result is\n"
    "  printed.\n";

namespace {
struct Options {
  std::string equation;
  std::vector<std::string> operands;
  std::string output;
  bool haveOutput = false;
  /// --grad's cotangent file and --grad-dir; both empty without --grad.
  std::string grad, gradDir;
  bool print = false;
  std::optional<Stage> emit;
  bool emitLLVMIR = false;
  int bench = 0;
  uint64_t seed = 0;
  std::string mcpu, mattr;
  bool printTarget = false;
  /// "text" or "json" for --explain.
  std::string explain;
  /// --dynamic's labels.
  std::string dynamic;
  bool benchCalls = false;
  /// --device=cuda, and --emit=ptx (with it).
  bool cuda = false, emitPTX = false;
  /// What --emit compiles GPU kernels for (--gpu-chip).
  GpuTarget gpu;
  PlanOptions plan;
};

/// BYTES with an optional K, M or G (binary) suffix.
static std::optional<int64_t> parseBytes(llvm::StringRef text) {
  int shift = 0;
  if (text.consume_back("K") || text.consume_back("k"))
    shift = 10;
  else if (text.consume_back("M"))
    shift = 20;
  else if (text.consume_back("G"))
    shift = 30;
  int64_t value;
  if (text.getAsInteger(10, value) || value < 0 || value > (INT64_MAX >> shift))
    return std::nullopt;
  return value << shift;
}
} // namespace

/// Prints `message` as an error; bytes that would not print (from a file
/// name or an argument, say) are shown as \xNN, so no control byte reaches
/// the terminal. Line breaks are kept: equation errors add a caret line.
static int fail(const llvm::Twine &message) {
  llvm::raw_ostream &os = llvm::errs();
  os << "einsum-run: error: ";
  for (char c : message.str()) {
    if (c == '\n' || llvm::isPrint(c))
      os << c;
    else
      os << llvm::formatv("\\x{0:x-2}", (unsigned char)c);
  }
  os << "\n";
  return 1;
}

static int fail(llvm::Error err) {
  return fail(llvm::toString(std::move(err)));
}

/// The option that makes -o meaningless, if any.
static const char *ignoresOutput(const Options &o) {
  if (o.emit)
    return "--emit";
  if (o.bench)
    return "--bench";
  if (!o.explain.empty())
    return "--explain";
  return nullptr;
}

static llvm::Expected<Options> parseArgs(int argc, char **argv) {
  // LLVM's -stats shows in einsum-run's options, described for its use.
  if (cl::Option *stats = cl::getRegisteredOptions().lookup("stats")) {
    stats->setDescription("Print the kernel cache's statistics at the end: "
                          "hits, misses, compiles, retraces, compile time, "
                          "code bytes");
    stats->addCategory(category);
    stats->setHiddenFlag(cl::NotHidden);
  }
  cl::HideUnrelatedOptions(category);
  cl::SetVersionPrinter([](llvm::raw_ostream &os) {
    os << "einsum-run (einjit " << EINJIT_VERSION << ", compiler "
       << compilerHash() << "), LLVM " << LLVM_VERSION_STRING << "\n";
  });
  // An equation may start with '-' (`->` for scalars), which cl would take
  // for an option: options (with a value given after a space) go first,
  // then `--`, then the equation and operands in their order.
  const cl::Option *valueOptions[] = {
      &outputOpt,      &outputAlias, &emitOpt,    &benchOpt,  &strategyOpt,
      &memoryLimitOpt, &seedOpt,     &mcpuOpt,    &mattrOpt,  &cacheDirOpt,
      &gradOpt,        &gradDirOpt,  &dynamicOpt, &deviceOpt, &gpuChipOpt};
  auto takesValue = [&](llvm::StringRef arg) {
    arg = arg.drop_while([](char c) { return c == '-'; });
    return !arg.contains('=') &&
           llvm::any_of(valueOptions, [&](const cl::Option *opt) {
             return opt->ArgStr == arg;
           });
  };
  std::vector<const char *> args{argv[0]}, positionals;
  for (int i = 1; i < argc; ++i) {
    llvm::StringRef arg = argv[i];
    if (arg == "--") {
      positionals.insert(positionals.end(), argv + i + 1, argv + argc);
      break;
    }
    if (!arg.starts_with("-") || arg.starts_with("->") || arg == "-") {
      positionals.push_back(argv[i]);
      continue;
    }
    args.push_back(argv[i]);
    if (takesValue(arg)) {
      // cl would report the missing value on stderr itself.
      if (i + 1 == argc)
        return makeEinsumError(arg + " needs a value");
      args.push_back(argv[++i]);
    }
  }
  args.push_back("--");
  args.insert(args.end(), positionals.begin(), positionals.end());
  std::string errors;
  llvm::raw_string_ostream errs(errors);
  if (!cl::ParseCommandLineOptions(args.size(), args.data(), kOverview,
                                   &errs)) {
    // One line: cl's lines without its "einsum-run: " prefixes.
    llvm::SmallVector<llvm::StringRef> lines;
    llvm::StringRef(errors).trim().split(lines, '\n', -1, false);
    std::string message;
    for (llvm::StringRef line : lines) {
      line = line.trim();
      line.consume_front(llvm::sys::path::filename(argv[0]).str() + ": ");
      line.consume_front(argv[0] + std::string(": "));
      message += (message.empty() ? "" : "; ") + line.str();
    }
    return makeEinsumError(message);
  }
  Options o;
  if (positional.empty())
    return makeEinsumError("no equation given (einsum-run --help shows the "
                           "usage)");
  o.equation = positional.front();
  o.operands.assign(positional.begin() + 1, positional.end());
  o.haveOutput = outputOpt.getNumOccurrences() > 0;
  o.output = outputOpt;
  o.print = printOpt;
  if (emitOpt.getNumOccurrences()) {
    llvm::StringRef stage = emitOpt;
    o.emitLLVMIR = stage == "llvm-ir";
    o.emitPTX = stage == "ptx";
    o.emit = o.emitLLVMIR || o.emitPTX ? Stage::LLVM : parseStage(stage);
    if (!o.emit)
      return makeEinsumError("unknown stage '" + stage +
                             "' for --emit (einsum, linalg, vector, llvm, "
                             "llvm-ir, ptx)");
  }
  if (benchOpt.getNumOccurrences()) {
    llvm::StringRef count = benchOpt;
    if (count.getAsInteger(10, o.bench) || o.bench <= 0)
      return makeEinsumError("--bench needs a positive count, got '" + count +
                             "'");
  }
  if (seedOpt.getNumOccurrences()) {
    llvm::StringRef seed = seedOpt;
    if (seed.getAsInteger(10, o.seed))
      return makeEinsumError("--seed needs an unsigned integer, got '" + seed +
                             "'");
  }
  o.mcpu = mcpuOpt;
  o.mattr = mattrOpt;
  o.dynamic = dynamicOpt;
  if (deviceOpt.getNumOccurrences()) {
    llvm::StringRef device = deviceOpt;
    if (device != "cpu" && device != "cuda")
      return makeEinsumError("unknown device '" + device +
                             "' for --device (cpu, cuda)");
    o.cuda = device == "cuda";
  }
  if (o.emitPTX && !o.cuda)
    return makeEinsumError("--emit=ptx needs --device=cuda");
  if (gpuChipOpt.getNumOccurrences()) {
    llvm::StringRef chip = gpuChipOpt;
    unsigned sm = 0;
    if (!o.cuda || !o.emit)
      return makeEinsumError("--gpu-chip needs --device=cuda and --emit");
    if (!chip.consume_front("sm_") || chip.getAsInteger(10, sm) || sm < 50)
      return makeEinsumError("--gpu-chip needs an NVIDIA SM such as sm_90, "
                             "got '" +
                             gpuChipOpt + "'");
    o.gpu.chip = gpuChipOpt;
  }
  if (o.cuda && o.emit && !o.emitPTX && !o.emitLLVMIR)
    return makeEinsumError("--device=cuda emits ptx or llvm-ir (the host "
                           "code)");
  o.benchCalls = benchCallsOpt;
  if (o.benchCalls && !o.bench)
    return makeEinsumError("--bench-calls needs --bench=N");
  if (explainOpt.getNumOccurrences()) {
    llvm::StringRef format = explainOpt;
    if (format.empty() || format == "text")
      o.explain = "text";
    else if (format == "json")
      o.explain = "json";
    else if (format == "grad")
      o.explain = "grad";
    else
      return makeEinsumError("unknown format '" + format +
                             "' for --explain (text, json, grad)");
  }
  if (strategyOpt.getNumOccurrences()) {
    auto strategy = parsePathStrategy(strategyOpt);
    if (!strategy)
      return makeEinsumError("unknown strategy '" + strategyOpt +
                             "' for --strategy (auto, greedy, optimal, dp)");
    o.plan.strategy = *strategy;
  }
  if (memoryLimitOpt.getNumOccurrences()) {
    auto bytes = parseBytes(memoryLimitOpt);
    if (!bytes || *bytes == 0)
      return makeEinsumError("--memory-limit needs a positive number of "
                             "bytes (suffix K, M or G allowed), got '" +
                             memoryLimitOpt + "'");
    o.plan.memoryLimitBytes = *bytes;
  }
  o.printTarget = printTargetOpt;
  if (o.haveOutput && o.output.empty())
    return makeEinsumError("-o needs a file name, got ''");
  if (o.haveOutput)
    if (const char *flag = ignoresOutput(o))
      return makeEinsumError(llvm::Twine("-o cannot be combined with ") + flag +
                             ", which writes no result");
  bool haveGrad = gradOpt.getNumOccurrences() > 0;
  bool haveGradDir = gradDirOpt.getNumOccurrences() > 0;
  if (haveGrad && !haveGradDir)
    return makeEinsumError("--grad needs --grad-dir, the directory to write "
                           "the gradients to");
  if (haveGradDir && !haveGrad)
    return makeEinsumError("--grad-dir needs --grad, the cotangent of the "
                           "result");
  if (haveGrad) {
    o.grad = gradOpt;
    o.gradDir = gradDirOpt;
    if (o.grad.empty())
      return makeEinsumError("--grad needs a file name, got ''");
    if (o.gradDir.empty())
      return makeEinsumError("--grad-dir needs a directory name, got ''");
    if (const char *flag = ignoresOutput(o))
      return makeEinsumError(llvm::Twine("--grad cannot be combined with ") +
                             flag + ", which computes no gradients");
  }
  if (dynamicOpt.getNumOccurrences()) {
    if (o.dynamic.empty())
      return makeEinsumError("--dynamic needs the labels to make dynamic, "
                             "got ''");
    const char *flag = o.emit               ? "--emit"
                       : !o.explain.empty() ? "--explain"
                       : haveGrad           ? "--grad"
                                            : nullptr;
    if (flag)
      return makeEinsumError(llvm::Twine("--dynamic cannot be combined with ") +
                             flag +
                             ": a shape-polymorphic einsum runs as "
                             "pieces, not as one kernel");
  }
  return o;
}

/// The operands' shapes with --dynamic's labels' dims made kDynamic: the
/// input signature it declares.
static llvm::Expected<std::vector<std::vector<int64_t>>>
dynamicSignature(const Options &options, llvm::ArrayRef<Tensor> operands) {
  auto eq = Equation::parse(options.equation);
  if (!eq)
    return eq.takeError();
  for (char c : options.dynamic) {
    bool found = llvm::any_of(eq->inputs, [&](const Term &t) {
      return t.labels.find(c) != std::string::npos;
    });
    if (!found)
      return makeEinsumError(llvm::Twine("--dynamic: '") + llvm::Twine(c) +
                             "' is not a label of '" + options.equation + "'");
  }
  std::vector<std::vector<int64_t>> shapes;
  for (auto [term, t] : llvm::zip(eq->inputs, operands)) {
    std::vector<int64_t> shape(t.shape().begin(), t.shape().end());
    int extra = (int)shape.size() - (int)term.labels.size(); // the ellipsis'
    for (auto [k, c] : llvm::enumerate(term.labels)) {
      int dim = (int)k + (term.hasEllipsis() && (int)k >= term.ellipsis
                              ? std::max(extra, 0)
                              : 0);
      if (dim < (int)shape.size() &&
          options.dynamic.find(c) != std::string::npos)
        shape[dim] = kDynamic;
    }
    shapes.push_back(std::move(shape));
  }
  return shapes;
}

/// The dtype and shape of a random spec `DTYPE:DIMS`.
static llvm::Expected<std::pair<DType, std::vector<int64_t>>>
parseSpec(llvm::StringRef spec) {
  auto [typeName, dims] = spec.split(':');
  auto dtype = parseDType(typeName);
  if (!dtype)
    return makeEinsumError("unknown dtype '" + typeName + "' in '" + spec +
                           "' (bool, i8, u8, i16, u16, i32, u32, i64, u64, "
                           "f16, bf16, f32, f64, c64, c128)");
  std::vector<int64_t> shape;
  if (!dims.empty()) {
    llvm::SmallVector<llvm::StringRef> parts;
    dims.split(parts, 'x');
    for (llvm::StringRef p : parts) {
      int64_t d;
      if (p.getAsInteger(10, d) || d < 0)
        return makeEinsumError("bad dimension '" + p + "' in '" + spec +
                               "' (dimensions are non-negative integers "
                               "joined by 'x')");
      shape.push_back(d);
    }
  }
  return std::make_pair(*dtype, shape);
}

/// A random operand from `DTYPE:DIMS`.
static llvm::Expected<Tensor> randomOperand(llvm::StringRef spec,
                                            std::mt19937_64 &rng) {
  auto parsed = parseSpec(spec);
  if (!parsed)
    return parsed.takeError();
  auto &[type, shape] = *parsed;
  std::optional<DType> dtype = type;
  auto allocated = Tensor::allocate(*dtype, shape);
  if (!allocated)
    return allocated.takeError();
  Tensor t = std::move(*allocated);
  // Floats (and both parts of a complex) in [-1, 1), ints in [-4, 4],
  // unsigned ints in [0, 8], bools either way.
  std::uniform_real_distribution<double> real(-1.0, 1.0);
  std::uniform_int_distribution<int> integer(-4, 4);
  unsigned bytes = dtypeBytes(*dtype);
  auto *out = static_cast<char *>(t.data());
  for (int64_t i = 0, n = t.numel(); i < n; ++i) {
    double v = isFloat(*dtype) || isComplex(*dtype) ? real(rng)
               : *dtype == DType::Bool              ? double(integer(rng) > 0)
               : isUnsigned(*dtype)                 ? double(integer(rng) + 4)
                                                    : double(integer(rng));
    storeElement(out + i * bytes, *dtype, v);
    if (isComplex(*dtype)) // and an imaginary part in [-1, 1)
      storeElement(out + i * bytes + bytes / 2, realPart(*dtype), real(rng));
  }
  return t;
}

static llvm::Expected<Tensor> loadOperand(llvm::StringRef arg,
                                          std::mt19937_64 &rng) {
  if (arg.ends_with(".npy") || llvm::sys::fs::exists(arg))
    return readNpy(arg);
  if (arg.contains(':'))
    return randomOperand(arg, rng);
  return makeEinsumError("operand '" + arg +
                         "' is neither a .npy file nor a random spec "
                         "DTYPE:DIMS (e.g. f32:64x128)");
}

static void printValue(llvm::raw_ostream &os, const Tensor &t, int64_t flat) {
  double v = t.getDouble(flat);
  if (isComplex(t.dtype())) { // as NumPy: (1+2j)
    int64_t offset = 0;
    for (int d = t.rank() - 1; d >= 0; --d) {
      offset += (flat % t.shape()[d]) * t.strides()[d];
      flat /= t.shape()[d];
    }
    DType part = realPart(t.dtype());
    const char *element =
        static_cast<const char *>(t.data()) + offset * dtypeBytes(t.dtype());
    double im = loadElement(element + dtypeBytes(part), part);
    const char *digits = part == DType::F32 ? "%.8g" : "%.17g";
    os << "(" << llvm::format(digits, v)
       << (im < 0 || std::signbit(im) ? "" : "+") << llvm::format(digits, im)
       << "j)";
    return;
  }
  switch (t.dtype()) {
  case DType::Bool:
    os << (v != 0 ? "True" : "False");
    return;
  case DType::F16:
  case DType::BF16:
    os << formatv("{0}", llvm::format("%.4g", v));
    return;
  case DType::F32:
    os << formatv("{0}", llvm::format("%.8g", v));
    return;
  case DType::F64:
    os << formatv("{0}", llvm::format("%.17g", v));
    return;
  default:
    if (isUnsigned(t.dtype()))
      os << (uint64_t)v;
    else
      os << (int64_t)v;
    return;
  }
}

/// Nested brackets in NumPy's layout: `[[1, 2],\n [3, 4]]`. Like NumPy, a
/// tensor of more than 1000 elements shows 3 items at each end of every
/// dimension, with `...` between, and an empty tensor prints as `[]` (its
/// shape is on the line above), however long its other dimensions. The
/// recursion is one level per dimension, at most kMaxRank deep.
static void printTensor(llvm::raw_ostream &os, const Tensor &t) {
  constexpr int64_t kThreshold = 1000, kEdge = 3;
  os << dtypeName(t.dtype()) << " (";
  for (auto [i, d] : llvm::enumerate(t.shape()))
    os << (i ? "," : "") << d;
  os << (t.rank() == 1 ? ",)" : ")") << "\n";
  if (t.rank() == 0) {
    printValue(os, t, 0);
    os << "\n";
    return;
  }
  if (t.numel() == 0) {
    os << "[]\n";
    return;
  }
  bool summarize = t.numel() > kThreshold;
  std::function<void(int, int64_t)> rec = [&](int dim, int64_t flat) {
    int64_t size = t.shape()[dim];
    bool last = dim + 1 == t.rank();
    auto separator = [&] {
      os << ",";
      if (last)
        os << " ";
      else
        os << std::string(t.rank() - dim - 1, '\n')
           << std::string(dim + 1, ' ');
    };
    os << "[";
    for (int64_t i = 0; i < size; ++i) {
      if (summarize && size > 2 * kEdge && i == kEdge) {
        separator();
        os << "...";
        i = size - kEdge;
      }
      if (i)
        separator();
      // flat * size + i is an element index of a tensor within the limits.
      if (last)
        printValue(os, t, flat * size + i);
      else
        rec(dim + 1, flat * size + i);
    }
    os << "]";
  };
  rec(0, 0);
  os << "\n";
}

/// Flushes standard output; a write that failed (a full disk, a closed
/// pipe) is an error, reported once, instead of LLVM's fatal error when
/// the stream is destroyed.
/// Whether --stats was given. LLVM registers `-stats` (its own counters,
/// empty in a release build); einsum-run prints the kernel cache's then.
static bool wantStats() {
  auto &options = cl::getRegisteredOptions();
  auto it = options.find("stats");
  return it != options.end() && it->second->getNumOccurrences() > 0;
}

static int finishOutput() {
  llvm::raw_fd_ostream &out = llvm::outs();
  if (wantStats()) {
    CacheStats s = cacheStats();
    out << formatv("cache: {0} hits, {1} misses, {2} compiles, {3} retraces, "
                   "{4:f1} ms compiling, {5} bytes of code, {6} kernels\n",
                   s.hits, s.misses, s.compiles, s.retraces,
                   s.compileSeconds * 1e3, s.codeBytes, s.entries);
    if (s.polymorphic)
      out << formatv("shape-polymorphic: {0} equations, {1} calls run as "
                     "pieces\n",
                     s.polymorphic, s.splitCalls);
    if (!cacheDir().empty())
      out << formatv("disk cache: {0} loaded, {1} written, {2} rejected, {3} "
                     "failed to write, {4:f1} ms loading\n",
                     s.diskHits, s.diskWrites, s.diskRejected, s.diskFailures,
                     s.diskLoadSeconds * 1e3);
  }
  out.flush();
  if (!out.has_error())
    return 0;
  std::error_code ec = out.error();
  out.clear_error();
  return fail("cannot write to standard output: " + ec.message());
}

/// Timings of a call: the first (compile and warm-up), then the best and
/// median of `runs` more.
struct Timings {
  double first = 0, min = 0, median = 0;
};

/// Times `call` once, then `runs` times more (none: the first is all).
static llvm::Expected<Timings>
timeCalls(int runs, llvm::function_ref<llvm::Error()> call) {
  using clock = std::chrono::steady_clock;
  auto time = [&]() -> llvm::Expected<double> {
    auto start = clock::now();
    if (auto err = call())
      return std::move(err);
    return std::chrono::duration<double>(clock::now() - start).count();
  };
  Timings t;
  auto first = time();
  if (!first)
    return first.takeError();
  t.first = *first;
  std::vector<double> times;
  for (int i = 0; i < runs; ++i) {
    auto one = time();
    if (!one)
      return one.takeError();
    times.push_back(*one);
  }
  if (times.empty()) {
    t.min = t.median = t.first;
    return t;
  }
  std::sort(times.begin(), times.end());
  t.min = times.front();
  t.median = times[times.size() / 2];
  return t;
}

/// The flops of the options' einsum on `operands` as planned.
static llvm::Expected<double> plannedFlops(const Options &options,
                                           llvm::ArrayRef<Tensor> operands) {
  std::vector<std::vector<int64_t>> shapes;
  std::vector<DType> types;
  for (const Tensor &t : operands) {
    shapes.emplace_back(t.shape().begin(), t.shape().end());
    types.push_back(t.dtype());
  }
  auto plan = explain(options.equation, shapes, types, options.plan);
  if (!plan)
    return plan.takeError();
  return plan->flops;
}

/// The steady-state lines every --bench prints.
static void printSteadyState(const Timings &t, int runs, double flops,
                             llvm::StringRef how = "") {
  llvm::outs() << formatv("steady state ({0} runs{1}): min {2:f3} ms, median "
                          "{3:f3} ms\n",
                          runs, how, t.min * 1e3, t.median * 1e3);
  llvm::outs() << formatv("GFLOP/s: {0:f2} (min), {1:f2} (median)\n",
                          flops / t.min * 1e-9, flops / t.median * 1e-9);
}

/// --bench with --bench-calls or --dynamic: times whole einsum calls (which
/// run as pieces with --dynamic), each allocating its result.
static int benchCalls(const Options &options, llvm::ArrayRef<Tensor> operands) {
  auto t = timeCalls(options.bench, [&]() -> llvm::Error {
    auto result = einsum(options.equation, operands, options.plan);
    return result ? llvm::Error::success() : result.takeError();
  });
  if (!t)
    return fail(t.takeError());
  auto flops = plannedFlops(options, operands);
  if (!flops)
    return fail(flops.takeError());
  CacheStats stats = cacheStats();
  llvm::outs() << "equation: " << options.equation << "\n";
  llvm::outs() << "dynamic: "
               << (options.dynamic.empty() ? "none" : options.dynamic)
               << formatv("  flops: {0:e}\n", *flops);
  llvm::outs() << formatv("compile: {0:f3} ms ({1} kernels)\n",
                          stats.compileSeconds * 1e3, stats.compiles);
  llvm::outs() << formatv("first call: {0:f3} ms\n", t->first * 1e3);
  printSteadyState(*t, options.bench, *flops);
  return 0;
}

static int bench(const CompiledEinsum &kernel, llvm::ArrayRef<Tensor> operands,
                 int runs) {
  const BoundEquation &eq = kernel.equation();
  auto allocated = Tensor::allocate(eq.resultType, eq.outputShape());
  if (!allocated)
    return fail(allocated.takeError());
  Tensor out = std::move(*allocated);
  auto t = timeCalls(runs, [&] { return kernel.run(operands, out); });
  if (!t)
    return fail(t.takeError());
  llvm::outs() << "equation: " << eq.text << "\n";
  llvm::outs() << "path: " << kernel.path().describe()
               << formatv("  flops: {0:e}\n", kernel.flops());
  llvm::outs() << formatv("compile: {0:f3} ms\n",
                          kernel.compileSeconds() * 1e3);
  llvm::outs() << formatv("first call: {0:f3} ms\n", t->first * 1e3);
  printSteadyState(*t, runs, kernel.flops());
  return 0;
}

/// --device=cuda: the einsum on device 0, its result copied back and
/// written or printed as the CPU's; with --bench, timed.
static int runOnCuda(const Options &options, llvm::ArrayRef<Tensor> operands) {
  if (!options.grad.empty() || !options.dynamic.empty())
    return fail("--grad and --dynamic run on the CPU only");
  auto device = cudaDevice();
  if (!device)
    return fail(device.takeError());
  std::vector<DeviceTensor> inputs;
  for (const Tensor &t : operands) {
    auto d = DeviceTensor::fromHost(t);
    if (!d)
      return fail(d.takeError());
    inputs.push_back(std::move(*d));
  }
  DeviceTensor out;
  auto t = timeCalls(options.bench, [&]() -> llvm::Error {
    auto result = einsum(options.equation, inputs, options.plan);
    if (!result)
      return result.takeError();
    out = std::move(*result);
    return llvm::Error::success();
  });
  if (!t)
    return fail(t.takeError());
  if (options.bench) {
    auto flops = plannedFlops(options, operands);
    if (!flops)
      return fail(flops.takeError());
    llvm::outs() << "equation: " << options.equation << "\n";
    llvm::outs() << formatv("device: {0} ({1}, {2} SMs)  flops: {3:e}\n",
                            device->name, device->chip, device->multiprocessors,
                            *flops);
    llvm::outs() << formatv("compile and first call: {0:f3} ms\n",
                            t->first * 1e3);
    printSteadyState(*t, options.bench, *flops,
                     ", each with its result's allocation and a stream "
                     "synchronize");
    return 0;
  }
  auto result = out.toHost();
  if (!result)
    return fail(result.takeError());
  if (options.haveOutput)
    if (auto err = writeNpy(options.output, *result))
      return fail(std::move(err));
  if (options.print || !options.haveOutput)
    printTensor(llvm::outs(), *result);
  return 0;
}

/// --grad: the gradient of each operand position given `cotangent` (read
/// from `options.grad`), which must have the result's dtype and shape,
/// written to `options.gradDir`/grad_K.npy (the directory is created if
/// missing). Nothing is written unless every gradient was computed.
static int writeGradients(const Options &options,
                          llvm::ArrayRef<Tensor> operands,
                          const Tensor &cotangent, const Tensor &result) {
  if (cotangent.dtype() != result.dtype() ||
      cotangent.shape() != result.shape())
    return fail("the cotangent '" + options.grad + "' is " +
                dtypeName(cotangent.dtype()) + " " +
                shapeString(cotangent.shape()) + " but the result of '" +
                options.equation + "' is " + dtypeName(result.dtype()) + " " +
                shapeString(result.shape()));
  auto grads = einsumGradients(options.equation, operands, cotangent, {},
                               options.plan.memoryLimitBytes);
  if (!grads)
    return fail(grads.takeError());
  if (std::error_code ec = llvm::sys::fs::create_directories(options.gradDir))
    return fail("cannot create the directory '" + options.gradDir +
                "' for --grad-dir: " + ec.message());
  if (!llvm::sys::fs::is_directory(options.gradDir))
    return fail("--grad-dir '" + options.gradDir + "' is not a directory");
  for (auto [k, grad] : llvm::enumerate(*grads)) {
    llvm::SmallString<256> path(options.gradDir);
    llvm::sys::path::append(path, formatv("grad_{0}.npy", k).str());
    if (auto err = writeNpy(path, grad))
      return fail(std::move(err));
  }
  return 0;
}

int main(int argc, char **argv) {
  // A reader that goes away (`einsum-run ... | head`) makes writes fail with
  // EPIPE, reported like any failed write, instead of killing the process.
  std::signal(SIGPIPE, SIG_IGN);
  auto options = parseArgs(argc, argv);
  if (!options)
    return fail(options.takeError());
  // Check the equation and the target before touching any operand file.
  auto parsed = Equation::parse(options->equation);
  // einjit's extension, an output that repeats a label (`i->ii`), runs
  // through einjit::einsum; it has no single kernel to emit or time.
  bool repeatedOutput = false;
  if (!parsed) {
    auto lenient =
        Equation::parse(options->equation, {/*repeatedOutputLabels=*/true});
    if (!lenient || options->emit || options->bench ||
        !options->explain.empty()) {
      llvm::consumeError(lenient ? llvm::Error::success()
                                 : lenient.takeError());
      return fail(parsed.takeError());
    }
    llvm::consumeError(parsed.takeError());
    repeatedOutput = true;
  }
  auto target = TargetInfo::forCPU(options->mcpu, options->mattr);
  if (!target)
    return fail(target.takeError());
  setTarget(*target);
  if (cacheDirOpt.getNumOccurrences())
    setCacheDir(cacheDirOpt);
  if (options->printTarget)
    llvm::outs() << "target: " << target->str() << "\n";

  if (!options->explain.empty()) {
    // Shapes only: a random operand is never allocated.
    std::vector<std::vector<int64_t>> shapes;
    std::vector<DType> types;
    for (const std::string &arg : options->operands) {
      llvm::StringRef spec = arg;
      if (!spec.ends_with(".npy") && !llvm::sys::fs::exists(spec) &&
          spec.contains(':')) {
        auto parsed = parseSpec(spec);
        if (!parsed)
          return fail(parsed.takeError());
        types.push_back(parsed->first);
        shapes.push_back(parsed->second);
        continue;
      }
      auto t = readNpy(spec);
      if (!t)
        return fail(t.takeError());
      types.push_back(t->dtype());
      shapes.emplace_back(t->shape().begin(), t->shape().end());
    }
    if (options->explain == "grad") {
      auto plan = planEinsumGradients(options->equation, shapes, types,
                                      options->plan.memoryLimitBytes);
      if (!plan)
        return fail(plan.takeError());
      llvm::outs() << plan->str();
      return finishOutput();
    }
    auto explained = explain(options->equation, shapes, types, options->plan);
    if (!explained)
      return fail(explained.takeError());
    llvm::outs() << (options->explain == "json" ? explained->json() + "\n"
                                                : explained->str());
    return finishOutput();
  }

  std::mt19937_64 rng(options->seed);
  std::vector<Tensor> operands;
  for (const std::string &arg : options->operands) {
    auto t = loadOperand(arg, rng);
    if (!t)
      return fail(t.takeError());
    operands.push_back(std::move(*t));
  }
  // --grad's cotangent, read before the einsum runs.
  Tensor cotangent;
  if (!options->grad.empty()) {
    auto t = readNpy(options->grad);
    if (!t)
      return fail(t.takeError());
    cotangent = std::move(*t);
  }

  if (options->cuda && !options->emit) {
    int status = runOnCuda(*options, operands);
    return status ? status : finishOutput();
  }
  if (options->cuda && options->emitLLVMIR) {
    auto ir = emitCudaLLVMIR(options->equation, operands, options->gpu,
                             options->plan);
    if (!ir)
      return fail(ir.takeError());
    llvm::outs() << *ir;
    return finishOutput();
  }
  if (options->emitPTX) {
    auto ptx =
        emitPTX(options->equation, operands, options->gpu, options->plan);
    if (!ptx)
      return fail(ptx.takeError());
    llvm::outs() << *ptx;
    return finishOutput();
  }
  if (options->emit) {
    auto text = options->emitLLVMIR ? emitLLVMIR(options->equation, operands)
                                    : emitEinsum(options->equation, operands,
                                                 *options->emit, options->plan);
    if (!text)
      return fail(text.takeError());
    llvm::outs() << *text;
    return finishOutput();
  }

  if (!options->dynamic.empty()) {
    if (repeatedOutput)
      return fail("--dynamic cannot be combined with an output that repeats "
                  "a label");
    auto shapes = dynamicSignature(*options, operands);
    if (!shapes)
      return fail(shapes.takeError());
    if (auto err = setInputSignature(options->equation, *shapes, options->plan))
      return fail(std::move(err));
  }
  if (options->bench && (options->benchCalls || !options->dynamic.empty())) {
    int status = benchCalls(*options, operands);
    return status ? status : finishOutput();
  }

  llvm::Expected<Tensor> result = Tensor();
  if (repeatedOutput || !options->dynamic.empty()) {
    result = einsum(options->equation, operands, options->plan);
  } else {
    auto kernel = compileEinsum(options->equation, operands, options->plan);
    if (!kernel)
      return fail(kernel.takeError());
    if (options->bench) {
      int status = bench(**kernel, operands, options->bench);
      return status ? status : finishOutput();
    }
    result = (**kernel)(operands);
  }
  if (!result)
    return fail(result.takeError());
  if (!options->grad.empty())
    if (int status = writeGradients(*options, operands, cotangent, *result))
      return status;
  if (options->haveOutput)
    if (auto err = writeNpy(options->output, *result))
      return fail(std::move(err));
  if (options->print || (!options->haveOutput && options->grad.empty()))
    printTensor(llvm::outs(), *result);
  return finishOutput();
}
