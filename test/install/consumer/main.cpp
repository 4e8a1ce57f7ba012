//===- main.cpp - A program linked against the installed einjit -----------===//
//
// test/install's consumer: multiplies a 2x3 by a 3x2 matrix through
// einjit::einsum, compares the product with the one worked out by hand,
// and asks explain() and parseStage() something whose answer is known.
// Exit status 1 on any mismatch or error.
//
//===----------------------------------------------------------------------===//

#include "einjit/nn/Optimizers.h"
#include "einjit/runtime/Einsum.h"
#include "einjit/runtime/Explain.h"
#include "einjit/runtime/Ops.h"
#include "einjit/runtime/Tape.h"

#include "llvm/Support/raw_ostream.h"

#include <cstdint>

static int fail(const llvm::Twine &message) {
  llvm::errs() << "einjit-consumer: " << message << "\n";
  return 1;
}

int main() {
  // A = [[1, 2, 3], [4, 5, 6]], B = [[7, 8], [9, 10], [11, 12]]:
  //   A @ B = [[1*7 + 2*9 + 3*11, 1*8 + 2*10 + 3*12],
  //            [4*7 + 5*9 + 6*11, 4*8 + 5*10 + 6*12]]
  //         = [[58, 64], [139, 154]],
  // small integers, so exact in f32.
  float a[] = {1, 2, 3, 4, 5, 6};
  float b[] = {7, 8, 9, 10, 11, 12};
  const float expected[] = {58, 64, 139, 154};

  llvm::Expected<einjit::Tensor> ta =
      einjit::Tensor::borrow(a, einjit::DType::F32, {2, 3});
  if (!ta)
    return fail(llvm::toString(ta.takeError()));
  llvm::Expected<einjit::Tensor> tb =
      einjit::Tensor::borrow(b, einjit::DType::F32, {3, 2});
  if (!tb)
    return fail(llvm::toString(tb.takeError()));

  llvm::Expected<einjit::Tensor> c = einjit::einsum("ij,jk->ik", {*ta, *tb});
  if (!c)
    return fail(llvm::toString(c.takeError()));
  if (c->dtype() != einjit::DType::F32 || c->shape().size() != 2 ||
      c->shape()[0] != 2 || c->shape()[1] != 2)
    return fail("the product is not an f32 2x2 tensor");
  for (int64_t i = 0; i < 4; ++i)
    if (c->data<float>()[i] != expected[i]) {
      llvm::errs() << "einjit-consumer: element " << i << " of ij,jk->ik is "
                   << c->data<float>()[i] << ", expected " << expected[i]
                   << "\n";
      return 1;
    }

  llvm::Expected<einjit::Explanation> plan = einjit::explain(
      "ij,jk->ik", {{2, 3}, {3, 2}}, {einjit::DType::F32, einjit::DType::F32});
  if (!plan)
    return fail(llvm::toString(plan.takeError()));
  if (plan->steps.size() != 1)
    return fail("explain() gives " + llvm::Twine(plan->steps.size()) +
                " steps for one product");

  if (einjit::parseStage("linalg") != einjit::Stage::Linalg)
    return fail("parseStage(\"linalg\") is not Stage::Linalg");

  // The tape and an optimizer from einjit::nn: w = [1, 2, 3], loss =
  // sum(w * w), d loss / d w = 2w = [2, 4, 6]; one SGD step of 0.25 gives
  // w - 0.25 * 2w = w / 2 = [0.5, 1, 1.5].
  float wv[] = {1, 2, 3};
  einjit::Variable w(
      llvm::cantFail(einjit::Tensor::borrow(wv, einjit::DType::F32, {3})), "w");
  einjit::GradientTape tape;
  llvm::Expected<einjit::Tensor> square = einjit::mul(w.value(), w.value());
  if (!square)
    return fail(llvm::toString(square.takeError()));
  llvm::Expected<einjit::Tensor> loss = einjit::sum(*square);
  if (!loss)
    return fail(llvm::toString(loss.takeError()));
  auto grads = tape.gradient(*loss, {w});
  if (!grads)
    return fail(llvm::toString(grads.takeError()));
  einjit::nn::SGD sgd(0.25);
  if (auto err = sgd.apply(*grads, {w}))
    return fail(llvm::toString(std::move(err)));
  for (int64_t i = 0; i < 3; ++i)
    if ((*grads)[0].data<float>()[i] != 2 * wv[i] ||
        w.value().data<float>()[i] != wv[i] / 2)
      return fail("the gradient or the SGD step of sum(w * w) is wrong at " +
                  llvm::Twine(i));

  llvm::outs() << "einjit-consumer: ij,jk->ik = [[58, 64], [139, 154]] as "
                  "expected; kernel: "
               << plan->steps[0].kernel.kind << "\n";
  return 0;
}
