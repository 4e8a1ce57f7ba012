//===- EinsumToLinalg.cpp - Lower einsum.contract to linalg ---------------===//
//
// Splits each einsum.contract along its planned path and emits one
// linalg.generic per step; the algorithm is in Passes.td.
//
//===----------------------------------------------------------------------===//

#include "einjit/Conversion/Passes.h"
#include "einjit/Dialect/Einsum/IR/EinsumOps.h"
#include "einjit/Spec/Path.h"
#include "einjit/Transforms/RegisterTile.h"

#include "mlir/Dialect/Utils/StructuredOpsUtils.h"
#include "mlir/IR/PatternMatch.h"
#include "mlir/Transforms/GreedyPatternRewriteDriver.h"

namespace mlir::einsum {
#define GEN_PASS_DEF_CONVERTEINSUMTOLINALG
#include "einjit/Conversion/Passes.h.inc"
} // namespace mlir::einsum

using namespace mlir;
using namespace mlir::einsum;

static Value zeroOf(OpBuilder &b, Location loc, Type type) {
  return arith::ConstantOp::create(b, loc, b.getZeroAttr(type));
}

/// Emits the linalg.generic of one path step.
static Value buildStep(OpBuilder &b, Location loc,
                       ArrayRef<einjit::PathValue> values, ValueRange inputs,
                       ArrayRef<einjit::DType> inputTypes,
                       const einjit::ContractionStep &step,
                       einjit::DType computeDType) {
  MLIRContext *ctx = b.getContext();
  Type computeType = toMLIRType(ctx, computeDType);
  auto loops = einjit::loopLabels(values, step.labels);
  unsigned numLoops = loops.size();
  unsigned numParallel = step.labels.size();
  auto loopOf = [&](int label) -> std::pair<unsigned, int64_t> {
    for (auto [i, loop] : llvm::enumerate(loops))
      if (loop.first == label)
        return {i, loop.second};
    llvm_unreachable("label without a loop");
  };

  SmallVector<AffineMap> maps;
  for (const einjit::PathValue &v : values) {
    SmallVector<AffineExpr> exprs;
    for (auto [label, size] : llvm::zip(v.labels, v.shape)) {
      auto [loop, range] = loopOf(label);
      exprs.push_back(size == 1 && range != 1 ? getAffineConstantExpr(0, ctx)
                                              : getAffineDimExpr(loop, ctx));
    }
    maps.push_back(AffineMap::get(numLoops, 0, exprs, ctx));
  }
  maps.push_back(AffineMap::getMultiDimIdentityMap(numLoops, ctx)
                     .getSubMap(llvm::to_vector(llvm::seq(0u, numParallel))));

  SmallVector<utils::IteratorType> iterators(numParallel,
                                             utils::IteratorType::parallel);
  iterators.append(numLoops - numParallel, utils::IteratorType::reduction);
  bool sums = numLoops > numParallel;

  // A GEMM-like step (a summed label, and each of two operands a label of
  // its own in the result) on another type than the one it sums in (f16
  // and bf16 in f32, mixed dtypes such as u8 with i8 in i16) converts its
  // operands first, so that it is a GEMM of one type, which
  // einsum-pack-contractions (floats) and the vectorizer (ints) take: one
  // pass over each operand against flops per element of the result.
  // Memory-bound steps (dots, matrix-vector products) convert in registers
  // instead.
  auto ownLabel = [&](unsigned i) {
    return llvm::any_of(values[i].labels, [&](int label) {
      return llvm::is_contained(step.labels, label) &&
             !llvm::is_contained(values[1 - i].labels, label);
    });
  };
  SmallVector<Value> converted(inputs);
  SmallVector<einjit::DType> types(inputTypes);
  if (sums && inputs.size() == 2 && ownLabel(0) && ownLabel(1)) {
    for (auto [v, type] : llvm::zip(converted, types)) {
      v = convertTensor(b, loc, v, type, computeDType);
      type = computeDType;
    }
    inputs = converted;
    inputTypes = types;
  }

  Value init = tensor::EmptyOp::create(b, loc, step.shape, computeType);
  if (sums)
    init = linalg::FillOp::create(b, loc, zeroOf(b, loc, computeType), init)
               .getResult(0);

  // Bools (0 or 1) multiply as ANDs and sum as ORs, as in NumPy.
  bool isFloat = isa<FloatType>(computeType);
  bool isBool = computeDType == einjit::DType::Bool;
  auto generic = linalg::GenericOp::create(
      b, loc, init.getType(), inputs, init, maps, iterators,
      [&](OpBuilder &nb, Location nloc, ValueRange args) {
        Value product =
            convertElement(nb, nloc, args[0], inputTypes[0], computeDType);
        for (auto [arg, type] : llvm::zip(args.drop_front().drop_back(),
                                          inputTypes.drop_front())) {
          Value x = convertElement(nb, nloc, arg, type, computeDType);
          if (isFloat)
            product = arith::MulFOp::create(nb, nloc, product, x);
          else if (isBool)
            product = arith::AndIOp::create(nb, nloc, product, x);
          else
            product = arith::MulIOp::create(nb, nloc, product, x);
        }
        if (sums) {
          Value acc = args.back();
          if (isFloat)
            product = arith::AddFOp::create(nb, nloc, acc, product);
          else if (isBool)
            product = arith::OrIOp::create(nb, nloc, acc, product);
          else
            product = arith::AddIOp::create(nb, nloc, acc, product);
        }
        linalg::YieldOp::create(nb, nloc, product);
      });
  // --explain finds each step's contraction by this mark: the label of
  // each loop.
  SmallVector<int32_t> loopIds;
  for (auto [label, size] : loops)
    loopIds.push_back(label);
  generic->setAttr(einsum::kStepAttrName, b.getDenseI32ArrayAttr(loopIds));
  return generic.getResult(0);
}

/// Lays `v`, over the output's labels each once (`unique`), on the
/// diagonal of the repeated labels of `output`: zero elsewhere. One
/// generic over the whole output writes every element (the value where
/// the repeated labels' indices agree, else 0), so that nothing depends on
/// an init tensor's contents (linalg's patterns may drop an init whose
/// payload reads none of it).
static Value buildDiagonal(OpBuilder &b, Location loc, Value v,
                           ArrayRef<int> unique, ArrayRef<int> output,
                           ArrayRef<int64_t> shape) {
  MLIRContext *ctx = b.getContext();
  Type element = cast<RankedTensorType>(v.getType()).getElementType();
  Value init = tensor::EmptyOp::create(b, loc, shape, element);
  // Each unique label is read at its first dim; later dims with the same
  // label must have the same index.
  unsigned rank = output.size();
  SmallVector<AffineExpr> exprs;
  SmallVector<std::pair<unsigned, unsigned>> equal;
  for (int label : unique)
    exprs.push_back(
        getAffineDimExpr(llvm::find(output, label) - output.begin(), ctx));
  for (unsigned d = 0; d < rank; ++d) {
    unsigned first = llvm::find(output, output[d]) - output.begin();
    if (first != d)
      equal.push_back({first, d});
  }
  AffineMap maps[] = {AffineMap::get(rank, 0, exprs, ctx),
                      AffineMap::getMultiDimIdentityMap(rank, ctx)};
  SmallVector<utils::IteratorType> iterators(rank,
                                             utils::IteratorType::parallel);
  return linalg::GenericOp::create(
             b, loc, init.getType(), v, init, maps, iterators,
             [&](OpBuilder &nb, Location nloc, ValueRange args) {
               Value onDiagonal;
               for (auto [first, d] : equal) {
                 Value at = linalg::IndexOp::create(nb, nloc, first);
                 Value other = linalg::IndexOp::create(nb, nloc, d);
                 Value same = arith::CmpIOp::create(
                     nb, nloc, arith::CmpIPredicate::eq, at, other);
                 onDiagonal =
                     onDiagonal
                         ? arith::AndIOp::create(nb, nloc, onDiagonal, same)
                               .getResult()
                         : same;
               }
               linalg::YieldOp::create(
                   nb, nloc,
                   arith::SelectOp::create(nb, nloc, onDiagonal, args[0],
                                           zeroOf(nb, nloc, element))
                       .getResult());
             })
      .getResult(0);
}

/// `y`, a complex tensor stored as [..., 2] whose dims have `labels`, as
/// the real matrix of multiplying by it, [c, d] = [[re, im], [-im, re]], so
/// that a complex product x y is the real contraction of x's pair dim c
/// with it, keeping d: (xr yr - xi yi, xr yi + xi yr). Its dims are laid
/// out for the GEMM: y's labels in `order` (indices into `labels`), with c
/// at `cAt` and d at `dAt`. Its labels are returned in `matrixLabels`.
static Value productMatrix(OpBuilder &b, Location loc, Value y,
                           ArrayRef<int> labels, ArrayRef<unsigned> order,
                           unsigned cAt, unsigned dAt, int cLabel, int dLabel,
                           einjit::PathValue &matrix) {
  auto type = cast<RankedTensorType>(y.getType());
  unsigned rank = order.size() + 2;
  MLIRContext *ctx = b.getContext();
  SmallVector<int64_t> shape(rank);
  SmallVector<AffineExpr> at(labels.size()); // y's dim j: its loop
  matrix = {};
  for (unsigned loop = 0, next = 0; loop < rank; ++loop) {
    if (loop == cAt || loop == dAt) {
      shape[loop] = 2;
      matrix.labels.push_back(loop == cAt ? cLabel : dLabel);
      matrix.shape.push_back(2);
      continue;
    }
    unsigned j = order[next++];
    shape[loop] = type.getDimSize(j);
    at[j] = getAffineDimExpr(loop, ctx);
    matrix.labels.push_back(labels[j]);
    matrix.shape.push_back(shape[loop]);
  }
  // y is read at its real and at its imaginary part.
  SmallVector<AffineMap> maps;
  for (int64_t index : {0, 1}) {
    SmallVector<AffineExpr> exprs(at.begin(), at.end());
    exprs.push_back(getAffineConstantExpr(index, ctx));
    maps.push_back(AffineMap::get(rank, 0, exprs, ctx));
  }
  maps.push_back(AffineMap::getMultiDimIdentityMap(rank, ctx));
  Value init = tensor::EmptyOp::create(b, loc, shape, type.getElementType());
  SmallVector<utils::IteratorType> parallel(rank,
                                            utils::IteratorType::parallel);
  return linalg::GenericOp::create(
             b, loc, init.getType(), ValueRange{y, y}, init, maps, parallel,
             [&](OpBuilder &nb, Location nloc, ValueRange args) {
               // [c, d]: [0, 0] re, [0, 1] im, [1, 0] -im, [1, 1] re.
               Value c = linalg::IndexOp::create(nb, nloc, cAt);
               Value d = linalg::IndexOp::create(nb, nloc, dAt);
               Value diagonal = arith::CmpIOp::create(
                   nb, nloc, arith::CmpIPredicate::eq, c, d);
               Value zero = arith::ConstantIndexOp::create(nb, nloc, 0);
               Value below = arith::CmpIOp::create(
                   nb, nloc, arith::CmpIPredicate::eq, d, zero);
               Value negated = arith::NegFOp::create(nb, nloc, args[1]);
               Value off =
                   arith::SelectOp::create(nb, nloc, below, negated, args[1]);
               linalg::YieldOp::create(
                   nb, nloc,
                   arith::SelectOp::create(nb, nloc, diagonal, args[0], off)
                       .getResult());
             })
      .getResult(0);
}

/// The layout of the product matrix of `y` against `x` for a step making
/// `out`: y's labels that only it has, then those shared with x and out
/// (batch), then those summed with x in x's order, then c, then y's labels
/// of the result in the result's order, then d; so that x's summed labels
/// and c, and the result's labels of y and d, each run as one GEMM loop.
static void productLayout(ArrayRef<int> x, ArrayRef<int> y, ArrayRef<int> out,
                          SmallVector<unsigned> &order, unsigned &cAt,
                          unsigned &dAt) {
  auto has = [](ArrayRef<int> v, int label) {
    return llvm::is_contained(v, label);
  };
  SmallVector<bool> placed(y.size(), false);
  auto place = [&](auto &&want) {
    for (auto [j, label] : llvm::enumerate(y))
      if (!placed[j] && want(label)) {
        placed[j] = true;
        order.push_back(j);
      }
  };
  place([&](int l) { return !has(x, l) && !has(out, l); });
  place([&](int l) { return has(x, l) && has(out, l); });
  for (int label : x) // summed with x, in x's order
    if (!has(out, label))
      place([&](int l) { return l == label; });
  cAt = order.size();
  for (int label : out) // y's result labels, in the result's order
    place([&](int l) { return l == label && !has(x, l); });
  place([](int) { return true; }); // none left but a diagonal's repeats
  dAt = order.size() + 1;
}

/// A complex einsum as real ones on the stored pairs. A complex value of
/// the path is a real tensor with a last dim of 2, labelled C; a step of
/// one complex value keeps C; a step of a complex and a real value is two
/// real contractions, one per part; a step of two complex values x, y
/// contracts x's C with productMatrix(y)'s [C, D] and keeps D. Each step
/// is one real contraction (a GEMM of 2K by 2N for a complex product, as
/// many flops as four real ones), reading and writing the pairs in place.
static Value lowerComplex(OpBuilder &b, Location loc, ValueRange inputs,
                          const einjit::BoundEquation &bound,
                          const einjit::ContractionPath &path) {
  einjit::DType part = einjit::realPart(bound.computeType);
  constexpr int kPair = -1, kProductPair = -2; // labels of no letter
  SmallVector<Value> values;
  SmallVector<bool> complexValue;
  for (auto [v, type] : llvm::zip(inputs, bound.inputTypes)) {
    values.push_back(convertTensor(b, loc, v, einjit::realPart(type), part));
    complexValue.push_back(einjit::isComplex(type));
  }
  auto withPair = [](einjit::PathValue v, int label) {
    v.labels.push_back(label);
    v.shape.push_back(2);
    return v;
  };
  for (const einjit::ContractionStep &step : path.steps) {
    SmallVector<einjit::PathValue> stepValues;
    SmallVector<Value> operands;
    bool anyComplex = false, bothComplex = step.operands.size() == 2;
    for (int id : step.operands) {
      anyComplex |= complexValue[id];
      bothComplex &= complexValue[id];
    }
    SmallVector<einjit::DType> types(step.operands.size(), part);
    if (anyComplex && !bothComplex && step.operands.size() == 2) {
      // A complex and a real value: the real contraction of each part
      // (read in place as a strided slice), joined into pairs.
      Value parts[2];
      for (int index : {0, 1}) {
        SmallVector<Value> operands;
        SmallVector<einjit::PathValue> stepValues;
        for (int id : step.operands) {
          stepValues.push_back(path.value(id));
          operands.push_back(complexValue[id]
                                 ? complexPart(b, loc, values[id], index)
                                 : values[id]);
        }
        parts[index] =
            buildStep(b, loc, stepValues, operands, types, step, part);
      }
      values.push_back(complexFromParts(b, loc, parts[0], parts[1]));
      complexValue.push_back(true);
      continue;
    }
    einjit::ContractionStep real = step;
    for (auto [i, id] : llvm::enumerate(step.operands)) {
      einjit::PathValue v = path.value(id);
      if (!complexValue[id]) {
        stepValues.push_back(v);
        operands.push_back(values[id]);
      } else if (bothComplex && i == 1) {
        SmallVector<unsigned> order;
        unsigned cAt, dAt;
        productLayout(path.value(step.operands[0]).labels, v.labels,
                      step.labels, order, cAt, dAt);
        einjit::PathValue matrix;
        operands.push_back(productMatrix(b, loc, values[id], v.labels, order,
                                         cAt, dAt, kPair, kProductPair,
                                         matrix));
        stepValues.push_back(matrix);
      } else {
        stepValues.push_back(withPair(v, kPair));
        operands.push_back(values[id]);
      }
    }
    if (anyComplex) {
      real.labels.push_back(bothComplex ? kProductPair : kPair);
      real.shape.push_back(2);
    }
    values.push_back(
        buildStep(b, loc, stepValues, operands, types, real, part));
    complexValue.push_back(anyComplex);
  }
  Value result = values.back();
  if (bound.repeatsOutputLabel()) {
    std::vector<int> once = bound.withUniqueOutput().output;
    std::vector<int> output = bound.output;
    std::vector<int64_t> shape = bound.outputShape();
    once.push_back(kPair);
    output.push_back(kPair);
    shape.push_back(2);
    result = buildDiagonal(b, loc, result, once, output, shape);
  }
  return convertTensor(b, loc, result, part,
                       einjit::realPart(bound.resultType));
}

namespace {
struct LowerContract : OpRewritePattern<ContractOp> {
  using OpRewritePattern::OpRewritePattern;

  LogicalResult matchAndRewrite(ContractOp op,
                                PatternRewriter &rewriter) const override {
    auto bound = bindContract(op);
    if (!bound) {
      std::string msg = llvm::toString(bound.takeError());
      return rewriter.notifyMatchFailure(op, msg);
    }
    auto planned = contractPath(op, *bound);
    if (!planned) {
      std::string msg = llvm::toString(planned.takeError());
      return rewriter.notifyMatchFailure(op, msg);
    }
    einjit::ContractionPath &path = *planned;
    Location loc = op.getLoc();
    if (einjit::isComplex(bound->computeType)) {
      rewriter.replaceOp(
          op, lowerComplex(rewriter, loc, op.getInputs(), *bound, path));
      return success();
    }

    // Each step's result is in the compute type.
    SmallVector<Value> values(op.getInputs());
    SmallVector<einjit::DType> types(bound->inputTypes.begin(),
                                     bound->inputTypes.end());
    for (const einjit::ContractionStep &step : path.steps) {
      SmallVector<einjit::PathValue> stepValues;
      SmallVector<Value> stepInputs;
      SmallVector<einjit::DType> stepTypes;
      for (int id : step.operands) {
        stepValues.push_back(path.value(id));
        stepInputs.push_back(values[id]);
        stepTypes.push_back(types[id]);
      }
      values.push_back(buildStep(rewriter, loc, stepValues, stepInputs,
                                 stepTypes, step, bound->computeType));
      types.push_back(bound->computeType);
    }
    Value result = values.back();
    result =
        convertTensor(rewriter, loc, result, types.back(), bound->resultType);
    if (bound->repeatsOutputLabel())
      result =
          buildDiagonal(rewriter, loc, result, bound->withUniqueOutput().output,
                        bound->output, bound->outputShape());
    rewriter.replaceOp(op, result);
    return success();
  }
};

struct ConvertEinsumToLinalg
    : einsum::impl::ConvertEinsumToLinalgBase<ConvertEinsumToLinalg> {
  void runOnOperation() override {
    RewritePatternSet patterns(&getContext());
    patterns.add<LowerContract>(&getContext());
    if (failed(applyPatternsGreedily(getOperation(), std::move(patterns))))
      return signalPassFailure();
    WalkResult left = getOperation()->walk([](ContractOp op) {
      std::string why = "could not be lowered to linalg";
      if (auto bound = bindContract(op)) {
        if (auto path = contractPath(op, *bound); !path)
          why = llvm::toString(path.takeError());
      } else {
        llvm::consumeError(bound.takeError());
      }
      op.emitOpError(why);
      return WalkResult::interrupt();
    });
    if (left.wasInterrupted())
      signalPassFailure();
  }
};
} // namespace
