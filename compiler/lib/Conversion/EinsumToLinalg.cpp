//===- EinsumToLinalg.cpp - Lower einsum.contract to linalg ---------------===//
//
// Splits each einsum.contract along its planned path and emits one
// linalg.generic per step; the algorithm is in Passes.td.
//
//===----------------------------------------------------------------------===//

#include "einjit/Conversion/Passes.h"
#include "einjit/Dialect/Einsum/IR/EinsumOps.h"
#include "einjit/Spec/Path.h"

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

/// `x + y` or `x - y`, elementwise, for float tensors of one shape.
static Value addOrSub(OpBuilder &b, Location loc, Value x, Value y,
                      bool subtract) {
  auto type = cast<RankedTensorType>(x.getType());
  Value init =
      tensor::EmptyOp::create(b, loc, type.getShape(), type.getElementType());
  AffineMap id = b.getMultiDimIdentityMap(type.getRank());
  SmallVector<utils::IteratorType> parallel(type.getRank(),
                                            utils::IteratorType::parallel);
  return linalg::GenericOp::create(
             b, loc, type, ValueRange{x, y}, init,
             ArrayRef<AffineMap>{id, id, id}, parallel,
             [&](OpBuilder &nb, Location nloc, ValueRange args) {
               Value v = subtract
                             ? arith::SubFOp::create(nb, nloc, args[0], args[1])
                                   .getResult()
                             : arith::AddFOp::create(nb, nloc, args[0], args[1])
                                   .getResult();
               linalg::YieldOp::create(nb, nloc, v);
             })
      .getResult(0);
}

/// A complex einsum as real ones: each value of the path is a pair (real
/// part, imaginary part or none for a real operand); a step of two
/// complex values is four real contractions, (ac - bd) + (ad + bc)i, each
/// a real GEMM that reads the parts in place; a step of one value sums or
/// transposes each part. The parts meet in the result's last dim of 2.
static Value lowerComplex(OpBuilder &b, Location loc, ValueRange inputs,
                          const einjit::BoundEquation &bound,
                          const einjit::ContractionPath &path) {
  einjit::DType part = einjit::realPart(bound.computeType);
  struct Pair {
    Value re, im;
  };
  SmallVector<Pair> values;
  for (auto [v, type] : llvm::zip(inputs, bound.inputTypes)) {
    if (!einjit::isComplex(type)) {
      values.push_back({convertTensor(b, loc, v, type, part), Value()});
      continue;
    }
    einjit::DType from = einjit::realPart(type);
    values.push_back(
        {convertTensor(b, loc, complexPart(b, loc, v, 0), from, part),
         convertTensor(b, loc, complexPart(b, loc, v, 1), from, part)});
  }
  for (const einjit::ContractionStep &step : path.steps) {
    SmallVector<einjit::PathValue> stepValues;
    for (int id : step.operands)
      stepValues.push_back(path.value(id));
    SmallVector<einjit::DType> types(step.operands.size(), part);
    auto contract = [&](ValueRange operands) {
      return buildStep(b, loc, stepValues, operands, types, step, part);
    };
    Pair x = values[step.operands[0]];
    if (step.operands.size() == 1) {
      values.push_back({contract(x.re), x.im ? contract(x.im) : Value()});
      continue;
    }
    Pair y = values[step.operands[1]];
    Value re = contract({x.re, y.re});
    if (x.im && y.im)
      re = addOrSub(b, loc, re, contract({x.im, y.im}), /*subtract=*/true);
    Value im;
    if (x.im)
      im = contract({x.im, y.re});
    if (y.im) {
      Value t = contract({x.re, y.im});
      im = im ? addOrSub(b, loc, im, t, /*subtract=*/false) : t;
    }
    values.push_back({re, im});
  }
  Pair result = values.back();
  Type element = toMLIRType(b.getContext(), part);
  auto unique = cast<RankedTensorType>(result.re.getType()).getShape();
  if (!result.im) // every operand of the last step was real
    result.im =
        linalg::FillOp::create(
            b, loc, zeroOf(b, loc, element),
            tensor::EmptyOp::create(b, loc, unique, element).getResult())
            .getResult(0);
  std::vector<int64_t> shape = bound.outputShape();
  if (bound.repeatsOutputLabel()) {
    std::vector<int> once = bound.withUniqueOutput().output;
    result.re = buildDiagonal(b, loc, result.re, once, bound.output, shape);
    result.im = buildDiagonal(b, loc, result.im, once, bound.output, shape);
  }
  einjit::DType resultPart = einjit::realPart(bound.resultType);
  result.re = convertTensor(b, loc, result.re, part, resultPart);
  result.im = convertTensor(b, loc, result.im, part, resultPart);
  return complexFromParts(b, loc, result.re, result.im);
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
