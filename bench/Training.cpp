//===- Training.cpp - One training step's gradients, eager and traced -----===//
//
// An MLP's loss and its gradients: x [B, 512] -> relu(x W1 + b1) [B, 1024]
// -> logits h W2 + b2 [B, 10] -> cross-entropy on log_softmax against
// one-hot targets; the gradients of W1, b1, W2, b2. Eager: the ops run
// under a GradientTape. Traced: one einjit::Function that returns the loss
// and einjit::gradients of it, forward and backward in one kernel.
// bench/training.py runs it beside torch and TensorFlow.
//
//   einsum-training eager|traced [BATCH] [REPS]
//
// Prints "<mode> batch B: best X ms, median Y ms, loss L".
//
//===----------------------------------------------------------------------===//

#include "einjit/runtime/Function.h"
#include "einjit/runtime/Ops.h"
#include "einjit/runtime/Tape.h"

#include "llvm/Support/Format.h"
#include "llvm/Support/raw_ostream.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdlib>
#include <string>

using namespace einjit;

static Tensor filled(std::vector<int64_t> shape, double scale, double phase) {
  Tensor t = llvm::cantFail(Tensor::empty(DType::F32, shape));
  for (int64_t e = 0; e < t.numel(); ++e)
    t.data<float>()[e] = std::sin(e * 0.61 + phase) * scale;
  return t;
}

template <typename T>
static T check(llvm::Expected<T> v) {
  if (!v) {
    llvm::errs() << "einsum-training: " << llvm::toString(v.takeError())
                 << "\n";
    std::exit(1);
  }
  return std::move(*v);
}

int main(int argc, char **argv) {
  if (argc < 2) {
    llvm::errs() << "usage: einsum-training eager|traced [BATCH] [REPS]\n";
    return 2;
  }
  std::string mode = argv[1];
  int64_t batch = argc > 2 ? std::atol(argv[2]) : 256;
  int reps = argc > 3 ? std::atoi(argv[3]) : 20;
  if ((mode != "eager" && mode != "traced") || batch <= 0 || reps <= 0) {
    llvm::errs() << "usage: einsum-training eager|traced [BATCH] [REPS]\n";
    return 2;
  }
  const int64_t in = 512, hidden = 1024, classes = 10;
  Tensor x = filled({batch, in}, 1.0, 0.1);
  Tensor t = llvm::cantFail(Tensor::allocate(DType::F32, {batch, classes}));
  for (int64_t b = 0; b < batch; ++b)
    t.data<float>()[b * classes + b % classes] = 1;
  Tensor w1 = filled({in, hidden}, 1 / std::sqrt(512.0), 0.2);
  Tensor b1 = filled({hidden}, 0.1, 0.3);
  Tensor w2 = filled({hidden, classes}, 1 / std::sqrt(1024.0), 0.4);
  Tensor b2 = filled({classes}, 0.1, 0.5);

  Function traced(
      [batch](llvm::ArrayRef<Sym> a) {
        Sym h = relu(einsum("bi,ih->bh", {a[0], a[2]}) + a[3]);
        Sym logits = einsum("bh,hc->bc", {h, a[4]}) + a[5];
        Sym loss = sum(a[1] * logSoftmax(logits, -1)) * (-1.0 / batch);
        std::vector<Sym> out = {loss};
        for (Sym g : gradients(loss, {a[2], a[3], a[4], a[5]}))
          out.push_back(g);
        return out;
      },
      {.name = "mlp_step"});

  auto step = [&]() -> std::vector<Tensor> {
    if (mode == "traced")
      return check(traced({x, t, w1, b1, w2, b2}));
    GradientTape tape;
    for (const Tensor *p : {&w1, &b1, &w2, &b2})
      tape.watch(*p);
    Tensor h = check(relu(check(add(check(einsum("bi,ih->bh", {x, w1})), b1))));
    Tensor logits = check(add(check(einsum("bh,hc->bc", {h, w2})), b2));
    Tensor loss =
        check(scale(check(sum(check(mul(t, check(logSoftmax(logits, -1)))))),
                    -1.0 / batch));
    std::vector<Tensor> out = {loss};
    for (Tensor &g : check(tape.gradient(loss, {w1, b1, w2, b2})))
      out.push_back(g);
    return out;
  };

  std::vector<Tensor> first = step(); // compiles
  std::vector<double> ms;
  for (int r = 0; r < reps; ++r) {
    auto start = std::chrono::steady_clock::now();
    step();
    ms.push_back(std::chrono::duration<double, std::milli>(
                     std::chrono::steady_clock::now() - start)
                     .count());
  }
  std::sort(ms.begin(), ms.end());
  llvm::outs() << llvm::format("%s batch %lld: best %.3f ms, median %.3f ms, "
                               "loss %.6f, |dW1|1 %.6f\n",
                               mode.c_str(), (long long)batch, ms.front(),
                               ms[ms.size() / 2], first[0].getDouble(0), [&] {
                                 double s = 0;
                                 for (int64_t e = 0; e < first[1].numel(); ++e)
                                   s += std::fabs(first[1].getDouble(e));
                                 return s;
                               }());
  return 0;
}
