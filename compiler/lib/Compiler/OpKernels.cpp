//===- OpKernels.cpp - Kernel modules of eager ops ----------------------===//
//
// An op's kernel has the einsum kernels' interface (`func.func @einsum(%in0,
// [%in1,] %out)` on memrefs), so that the same CPU pipeline, JIT and caches
// serve it. Its body is one linalg.generic over the op's loop shape: a
// broadcast operand reads dim d at index 0 where it has size 1. Reductions
// accumulate in the compute type from the op's identity (0, or -inf / the
// smallest int for max), then convert to the result type.
//
//===----------------------------------------------------------------------===//

#include "KernelFunction.h"
#include "einjit/Compiler/Compiler.h"
#include "einjit/Dialect/Einsum/IR/EinsumOps.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Bufferization/IR/Bufferization.h"
#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/Dialect/Linalg/IR/Linalg.h"
#include "mlir/Dialect/Math/IR/Math.h"
#include "mlir/Dialect/Tensor/IR/Tensor.h"

#include <cmath>
#include <limits>

using namespace mlir;
using namespace einjit;

static Value constant(OpBuilder &b, Location loc, DType type, double value) {
  Type t = einsum::toMLIRType(b.getContext(), type);
  if (isFloat(type))
    return arith::ConstantOp::create(b, loc, b.getFloatAttr(t, value));
  return arith::ConstantOp::create(b, loc, b.getIntegerAttr(t, (int64_t)value));
}

/// The elementwise part of `kind` on `args`, in `type`.
static Value apply(OpBuilder &b, Location loc, OpKind kind, DType type,
                   ValueRange args, double scalar) {
  bool fp = isFloat(type);
  // Bools (0 or 1) add as ORs and multiply as ANDs, as in NumPy; unsigned
  // ints compare without a sign.
  bool boolean = type == DType::Bool;
  bool zeroExtends = boolean || isUnsigned(type);
  Value x = args[0];
  switch (kind) {
  case OpKind::Add:
    if (boolean)
      return arith::OrIOp::create(b, loc, x, args[1]);
    return fp ? arith::AddFOp::create(b, loc, x, args[1]).getResult()
              : arith::AddIOp::create(b, loc, x, args[1]).getResult();
  case OpKind::Sub:
    return fp ? arith::SubFOp::create(b, loc, x, args[1]).getResult()
              : arith::SubIOp::create(b, loc, x, args[1]).getResult();
  case OpKind::Mul:
    if (boolean)
      return arith::AndIOp::create(b, loc, x, args[1]);
    return fp ? arith::MulFOp::create(b, loc, x, args[1]).getResult()
              : arith::MulIOp::create(b, loc, x, args[1]).getResult();
  case OpKind::Div: // always in a float type
    return arith::DivFOp::create(b, loc, x, args[1]);
  case OpKind::ReluGrad: {
    Value positive = arith::CmpFOp::create(b, loc, arith::CmpFPredicate::OGT,
                                           args[1], constant(b, loc, type, 0));
    return arith::SelectOp::create(b, loc, positive, x,
                                   constant(b, loc, type, 0));
  }
  case OpKind::GeluGrad: {
    // Phi(v) + v * phi(v) = (1 + erf(v / sqrt 2)) / 2
    //                       + v * exp(-v^2 / 2) / sqrt(2 pi)
    Value v = args[1];
    Value erf = math::ErfOp::create(
        b, loc,
        arith::MulFOp::create(b, loc, v, constant(b, loc, type, M_SQRT1_2)));
    Value cdf = arith::MulFOp::create(
        b, loc, arith::AddFOp::create(b, loc, erf, constant(b, loc, type, 1)),
        constant(b, loc, type, 0.5));
    Value square = arith::MulFOp::create(b, loc, v, v);
    Value density = arith::MulFOp::create(
        b, loc,
        math::ExpOp::create(b, loc,
                            arith::MulFOp::create(
                                b, loc, square, constant(b, loc, type, -0.5))),
        constant(b, loc, type, 0.5 * M_2_SQRTPI * M_SQRT1_2));
    Value slope = arith::AddFOp::create(
        b, loc, cdf, arith::MulFOp::create(b, loc, v, density));
    return arith::MulFOp::create(b, loc, x, slope);
  }
  case OpKind::TanhGrad: {
    Value y = args[1];
    Value square = arith::MulFOp::create(b, loc, y, y);
    Value slope =
        arith::SubFOp::create(b, loc, constant(b, loc, type, 1), square);
    return arith::MulFOp::create(b, loc, x, slope);
  }
  case OpKind::EqualMask: {
    Value equal =
        arith::CmpFOp::create(b, loc, arith::CmpFPredicate::OEQ, x, args[1]);
    return arith::SelectOp::create(b, loc, equal, constant(b, loc, type, 1),
                                   constant(b, loc, type, 0));
  }
  case OpKind::Scale: // always in a float type
    return arith::MulFOp::create(b, loc, x, constant(b, loc, type, scalar));
  case OpKind::Exp:
    return math::ExpOp::create(b, loc, x);
  case OpKind::Log:
    return math::LogOp::create(b, loc, x);
  case OpKind::Tanh:
    return math::TanhOp::create(b, loc, x);
  case OpKind::Sqrt:
    return math::SqrtOp::create(b, loc, x);
  case OpKind::Relu:
    // NaN stays NaN, as in numpy.maximum(x, 0) and tf.nn.relu.
    if (fp)
      return arith::MaximumFOp::create(b, loc, x, constant(b, loc, type, 0));
    if (zeroExtends) // nothing is below 0
      return x;
    return arith::MaxSIOp::create(b, loc, x, constant(b, loc, type, 0));
  case OpKind::Gelu: {
    // x * 0.5 * (1 + erf(x / sqrt(2)))
    Value scaled =
        arith::MulFOp::create(b, loc, x, constant(b, loc, type, M_SQRT1_2));
    Value erf = math::ErfOp::create(b, loc, scaled);
    Value one = arith::AddFOp::create(b, loc, erf, constant(b, loc, type, 1));
    Value half = arith::MulFOp::create(b, loc, x, constant(b, loc, type, 0.5));
    return arith::MulFOp::create(b, loc, half, one);
  }
  case OpKind::Neg:
    return fp ? arith::NegFOp::create(b, loc, x).getResult()
              : arith::SubIOp::create(b, loc, constant(b, loc, type, 0), x)
                    .getResult();
  case OpKind::Sum: // a bool sum is counted in i64 (bindOp)
    return fp ? arith::AddFOp::create(b, loc, x, args[1]).getResult()
              : arith::AddIOp::create(b, loc, x, args[1]).getResult();
  case OpKind::Max: // NaN propagates, as in numpy.max
    // `nsz`: -0 and +0 are equal, as numpy's max takes them (either may
    // come out). Without it, LLVM orders -0 below +0 and takes six
    // instructions a vector on x86 where vmaxps and a NaN check do: max
    // along the last axis of 4x12x129x129, 0.123 -> 0.111 ms.
    if (fp)
      return arith::MaximumFOp::create(b, loc, x, args[1],
                                       arith::FastMathFlags::nsz);
    return zeroExtends ? arith::MaxUIOp::create(b, loc, x, args[1]).getResult()
                       : arith::MaxSIOp::create(b, loc, x, args[1]).getResult();
  case OpKind::Softmax: // composed of the others (emitSoftmax)
  case OpKind::LogSoftmax:
    break;
  }
  llvm_unreachable("unknown op");
}

/// The map from the loop nest (rank `loops`) to an operand of `shape`,
/// aligned from the right: a dim of size 1 where the loop's is not reads
/// index 0.
static AffineMap broadcastMap(MLIRContext *ctx, llvm::ArrayRef<int64_t> shape,
                              llvm::ArrayRef<int64_t> loops) {
  SmallVector<AffineExpr> exprs;
  size_t offset = loops.size() - shape.size();
  for (auto [d, size] : llvm::enumerate(shape)) {
    if (size == 1 && loops[d + offset] != 1)
      exprs.push_back(getAffineConstantExpr(0, ctx));
    else
      exprs.push_back(getAffineDimExpr(d + offset, ctx));
  }
  return AffineMap::get(loops.size(), 0, exprs, ctx);
}

namespace {
/// A tensor of a softmax's composition, with its shape and dtype.
struct Typed {
  Value value;
  std::vector<int64_t> shape;
  DType type;
};
} // namespace

/// Softmax and log-softmax as the ops they are made of, each bound as the
/// eager op would be: m = max(x) and s = sum(exp(x - m)) along the axis
/// (kept as size 1), then exp(x - m) / s, or x - m - log(s). Lowered with
/// einsum-fuse-elementwise, they take three passes over x (two for the
/// log), with no tensor of x's size in between.
static Value emitSoftmax(OpBuilder &b, Location loc, const OpSignature &sig,
                         Value input) {
  auto apply = [&](OpKind kind, llvm::ArrayRef<Typed> operands,
                   bool alongAxis = false) {
    std::vector<std::vector<int64_t>> shapes;
    std::vector<DType> types;
    SmallVector<Value> values;
    for (const Typed &t : operands) {
      shapes.push_back(t.shape);
      types.push_back(t.type);
      values.push_back(t.value);
    }
    // Cannot fail: the call's own binding checked the axis, and kernels of
    // empty tensors are never built.
    OpSignature step =
        llvm::cantFail(bindOp(kind, shapes, types,
                              alongAxis ? llvm::ArrayRef<int64_t>(sig.axes)
                                        : llvm::ArrayRef<int64_t>(),
                              /*keepDims=*/true));
    return Typed{emitOp(b, loc, step, values), step.outputShape,
                 step.resultType};
  };
  // f16 and bf16 run in f32 throughout and round once, at the end (as
  // torch's softmax does), not at each step.
  Typed x{
      einsum::convertTensor(b, loc, input, sig.inputTypes[0], sig.computeType),
      sig.inputShapes[0], sig.computeType};
  // The eager max's maximumf (nsz): a NaN in a row makes that row's
  // exp(x - m), sum and result NaN. Its reductions lower to vmaxps and a NaN
  // check a step (einsum-lower-reductions).
  Typed m = apply(OpKind::Max, {x}, true);
  Typed d = apply(OpKind::Sub, {x, m});
  Typed e = apply(OpKind::Exp, {d});
  Typed s = apply(OpKind::Sum, {e}, true);
  Typed result = sig.kind == OpKind::Softmax
                     ? apply(OpKind::Div, {e, s})
                     : apply(OpKind::Sub, {d, apply(OpKind::Log, {s})});
  return einsum::convertTensor(b, loc, result.value, result.type,
                               sig.resultType);
}

/// The complex result (re, im) of `kind` on complex operands given as
/// parts, in the part type `type` (f32 or f64): NumPy's formulas.
static std::pair<Value, Value> applyComplex(OpBuilder &b, Location loc,
                                            OpKind kind, DType type,
                                            ArrayRef<std::pair<Value, Value>> z,
                                            double scalar) {
  auto c = [&](double v) { return constant(b, loc, type, v); };
  auto add = [&](Value x, Value y) -> Value {
    return arith::AddFOp::create(b, loc, x, y);
  };
  auto sub = [&](Value x, Value y) -> Value {
    return arith::SubFOp::create(b, loc, x, y);
  };
  auto mul = [&](Value x, Value y) -> Value {
    return arith::MulFOp::create(b, loc, x, y);
  };
  auto div = [&](Value x, Value y) -> Value {
    return arith::DivFOp::create(b, loc, x, y);
  };
  auto abs = [&](Value x) -> Value { return math::AbsFOp::create(b, loc, x); };
  auto select = [&](Value cond, Value x, Value y) -> Value {
    return arith::SelectOp::create(b, loc, cond, x, y);
  };
  auto cmp = [&](arith::CmpFPredicate p, Value x, Value y) -> Value {
    return arith::CmpFOp::create(b, loc, p, x, y);
  };
  // |a + bi|, scaled by the larger part against overflow, and whether
  // it is 0.
  auto absolute = [&](Value a, Value bi) -> std::pair<Value, Value> {
    Value m = arith::MaximumFOp::create(b, loc, abs(a), abs(bi));
    Value zero = cmp(arith::CmpFPredicate::OEQ, m, c(0));
    Value safe = select(zero, c(1), m);
    Value x = div(a, safe), y = div(bi, safe);
    return {mul(m, math::SqrtOp::create(b, loc, add(mul(x, x), mul(y, y)))),
            zero};
  };
  auto [a, bi] = z[0];
  switch (kind) {
  case OpKind::Add:
    return {add(a, z[1].first), add(bi, z[1].second)};
  case OpKind::Sub:
    return {sub(a, z[1].first), sub(bi, z[1].second)};
  case OpKind::Mul: {
    auto [c2, d] = z[1];
    return {sub(mul(a, c2), mul(bi, d)), add(mul(a, d), mul(bi, c2))};
  }
  case OpKind::Div: {
    // Smith's algorithm, as NumPy: divide by the larger part of c + di.
    auto [c2, d] = z[1];
    Value wide = cmp(arith::CmpFPredicate::OGE, abs(c2), abs(d));
    Value r1 = div(d, c2), den1 = add(c2, mul(d, r1));
    Value r2 = div(c2, d), den2 = add(d, mul(c2, r2));
    Value re = select(wide, div(add(a, mul(bi, r1)), den1),
                      div(add(mul(a, r2), bi), den2));
    Value im = select(wide, div(sub(bi, mul(a, r1)), den1),
                      div(sub(mul(bi, r2), a), den2));
    return {re, im};
  }
  case OpKind::Neg:
    return {arith::NegFOp::create(b, loc, a),
            arith::NegFOp::create(b, loc, bi)};
  case OpKind::Scale:
    return {mul(a, c(scalar)), mul(bi, c(scalar))};
  case OpKind::Exp: { // e^a (cos b + i sin b)
    Value e = math::ExpOp::create(b, loc, a);
    return {mul(e, math::CosOp::create(b, loc, bi)),
            mul(e, math::SinOp::create(b, loc, bi))};
  }
  case OpKind::Log: { // log|z| + i atan2(b, a)
    auto [modulus, zero] = absolute(a, bi);
    return {math::LogOp::create(b, loc, modulus),
            math::Atan2Op::create(b, loc, bi, a)};
  }
  case OpKind::Tanh: {
    // (sinh 2a + i sin 2b) / (cosh 2a + cos 2b), sinh from expm1 (exact
    // near 0); for |a| > 20 the value is copysign(1, a) + i copysign(0,
    // sin 2b) to the last bit, as C99's ctanh gives, where cosh would
    // overflow.
    Value x = mul(a, c(2)), y = mul(bi, c(2));
    Value em1 = math::ExpM1Op::create(b, loc, x);
    Value e = add(em1, c(1));
    Value sinh = mul(c(0.5), add(em1, div(em1, e)));
    Value cosh = mul(c(0.5), add(e, div(c(1), e)));
    Value sin = math::SinOp::create(b, loc, y);
    Value den = add(cosh, math::CosOp::create(b, loc, y));
    Value far = cmp(arith::CmpFPredicate::OGT, abs(a), c(20));
    return {
        select(far, math::CopySignOp::create(b, loc, c(1), a), div(sinh, den)),
        select(far, math::CopySignOp::create(b, loc, c(0), sin),
               div(sin, den))};
  }
  case OpKind::Sqrt: {
    // t = sqrt((|z| + |a|) / 2); a >= 0: t + i b / 2t, else |b| / 2t +
    // i copysign(t, b); z = 0: 0 + i b.
    auto [modulus, zero] = absolute(a, bi);
    Value t = math::SqrtOp::create(b, loc, mul(add(modulus, abs(a)), c(0.5)));
    Value twice = select(zero, c(1), mul(t, c(2)));
    Value positive = cmp(arith::CmpFPredicate::OGE, a, c(0));
    Value re = select(positive, t, div(abs(bi), twice));
    Value im = select(positive, div(bi, twice),
                      math::CopySignOp::create(b, loc, t, bi));
    return {select(zero, c(0), re), select(zero, bi, im)};
  }
  default:
    break;
  }
  llvm_unreachable("an op bindOp does not allow on complex numbers");
}

/// An op whose compute type is complex: its operands as (real, imaginary)
/// parts (a real operand's imaginary part is 0), one generic computing
/// both parts of the result, which meet in its last dim of 2. A sum sums
/// each part.
static Value emitComplexOp(OpBuilder &b, Location loc, const OpSignature &sig,
                           ValueRange inputs) {
  MLIRContext &ctx = *b.getContext();
  DType part = realPart(sig.computeType);
  if (isReduction(sig.kind)) {
    DType from = realPart(sig.inputTypes[0]);
    OpSignature partSig = llvm::cantFail(
        bindOp(sig.kind, sig.inputShapes, {from}, sig.axes, sig.keepDims));
    Value parts[2];
    for (int index : {0, 1})
      parts[index] = emitOp(b, loc, partSig,
                            einsum::complexPart(b, loc, inputs[0], index));
    Value re = einsum::convertTensor(b, loc, parts[0], partSig.resultType,
                                     realPart(sig.resultType));
    Value im = einsum::convertTensor(b, loc, parts[1], partSig.resultType,
                                     realPart(sig.resultType));
    return einsum::complexFromParts(b, loc, re, im);
  }
  llvm::ArrayRef<int64_t> loops = sig.loopShape;
  SmallVector<Value> operands;
  SmallVector<AffineMap> maps;
  SmallVector<bool> complexOperand;
  for (auto [v, shape, type] :
       llvm::zip(inputs, sig.inputShapes, sig.inputTypes)) {
    AffineMap map = broadcastMap(&ctx, shape, loops);
    complexOperand.push_back(isComplex(type));
    if (isComplex(type)) {
      for (int index : {0, 1}) {
        operands.push_back(einsum::complexPart(b, loc, v, index));
        maps.push_back(map);
      }
    } else {
      operands.push_back(v);
      maps.push_back(map);
    }
  }
  DType resultPart = realPart(sig.resultType);
  Type resultElement = einsum::toMLIRType(&ctx, resultPart);
  SmallVector<Value> inits;
  SmallVector<Type> resultTypes;
  for (int index = 0; index < 2; ++index) {
    inits.push_back(
        tensor::EmptyOp::create(b, loc, sig.outputShape, resultElement));
    resultTypes.push_back(inits.back().getType());
    maps.push_back(b.getMultiDimIdentityMap(loops.size()));
  }
  SmallVector<utils::IteratorType> iterators(loops.size(),
                                             utils::IteratorType::parallel);
  auto generic = linalg::GenericOp::create(
      b, loc, resultTypes, operands, inits, maps, iterators,
      [&](OpBuilder &nb, Location nloc, ValueRange args) {
        SmallVector<std::pair<Value, Value>> z;
        size_t at = 0;
        for (auto [isC, type] : llvm::zip(complexOperand, sig.inputTypes)) {
          DType from = realPart(type);
          Value re = einsum::convertElement(nb, nloc, args[at++], from, part);
          Value im =
              isC ? einsum::convertElement(nb, nloc, args[at++], from, part)
                  : constant(nb, nloc, part, 0);
          z.push_back({re, im});
        }
        auto [re, im] = applyComplex(nb, nloc, sig.kind, part, z, sig.scalar);
        linalg::YieldOp::create(
            nb, nloc,
            ValueRange{einsum::convertElement(nb, nloc, re, part, resultPart),
                       einsum::convertElement(nb, nloc, im, part, resultPart)});
      });
  return einsum::complexFromParts(b, loc, generic.getResult(0),
                                  generic.getResult(1));
}

Value einjit::emitOp(OpBuilder &b, Location loc, const OpSignature &sig,
                     ValueRange inputs) {
  if (isSoftmax(sig.kind))
    return emitSoftmax(b, loc, sig, inputs[0]);
  if (isComplex(sig.computeType))
    return emitComplexOp(b, loc, sig, inputs);
  MLIRContext &ctx = *b.getContext();
  Type resultElement = einsum::toMLIRType(&ctx, sig.resultType);
  Type computeElement = einsum::toMLIRType(&ctx, sig.computeType);

  llvm::ArrayRef<int64_t> loops = sig.loopShape;
  SmallVector<AffineMap> maps;
  for (const std::vector<int64_t> &shape : sig.inputShapes)
    maps.push_back(broadcastMap(&ctx, shape, loops));
  Value result;
  if (!isReduction(sig.kind)) {
    Value init =
        tensor::EmptyOp::create(b, loc, sig.outputShape, resultElement);
    maps.push_back(b.getMultiDimIdentityMap(loops.size()));
    SmallVector<utils::IteratorType> iterators(loops.size(),
                                               utils::IteratorType::parallel);
    result = linalg::GenericOp::create(
                 b, loc, init.getType(), inputs, init, maps, iterators,
                 [&](OpBuilder &nb, Location nloc, ValueRange args) {
                   SmallVector<Value> converted;
                   for (auto [arg, type] :
                        llvm::zip(args.drop_back(), sig.inputTypes))
                     converted.push_back(einsum::convertElement(
                         nb, nloc, arg, type, sig.computeType));
                   Value v = apply(nb, nloc, sig.kind, sig.computeType,
                                   converted, sig.scalar);
                   linalg::YieldOp::create(
                       nb, nloc,
                       einsum::convertElement(nb, nloc, v, sig.computeType,
                                              sig.resultType));
                 })
                 .getResult(0);
  } else {
    // The accumulator starts at the op's identity, in the compute type.
    // Max: -inf, the smallest signed int of the width, or 0 (unsigned).
    double identity = 0;
    if (sig.kind == OpKind::Max && isFloat(sig.computeType))
      identity = -std::numeric_limits<double>::infinity();
    else if (sig.kind == OpKind::Max && isInteger(sig.computeType) &&
             !isUnsigned(sig.computeType))
      identity = -std::ldexp(1.0, 8 * dtypeBytes(sig.computeType) - 1);
    // The reduction runs over the shape without the reduced dims (the
    // shape of an einsum's sum); keepDims adds them back as unit dims with
    // a tensor.expand_shape, so that no indexing map holds a constant
    // (MLIR's partial-reduction tiling does not handle one).
    SmallVector<int64_t> reducedShape;
    SmallVector<AffineExpr> outExprs;
    SmallVector<utils::IteratorType> iterators;
    for (int64_t d = 0; d < (int64_t)loops.size(); ++d) {
      bool reduced = llvm::is_contained(sig.axes, d);
      iterators.push_back(reduced ? utils::IteratorType::reduction
                                  : utils::IteratorType::parallel);
      if (!reduced) {
        outExprs.push_back(b.getAffineDimExpr(d));
        reducedShape.push_back(loops[d]);
      }
    }
    Value empty = tensor::EmptyOp::create(b, loc, reducedShape, computeElement);
    Value init = linalg::FillOp::create(
                     b, loc, constant(b, loc, sig.computeType, identity), empty)
                     .getResult(0);
    maps.push_back(AffineMap::get(loops.size(), 0, outExprs, &ctx));
    result =
        linalg::GenericOp::create(
            b, loc, init.getType(), inputs, init, maps, iterators,
            [&](OpBuilder &nb, Location nloc, ValueRange args) {
              Value x = einsum::convertElement(
                  nb, nloc, args[0], sig.inputTypes[0], sig.computeType);
              linalg::YieldOp::create(
                  nb, nloc,
                  apply(nb, nloc, sig.kind, sig.computeType, {args[1], x}, 0));
            })
            .getResult(0);
    result =
        einsum::convertTensor(b, loc, result, sig.computeType, sig.resultType);
    if (sig.keepDims && sig.outputShape.size() != reducedShape.size()) {
      // Each kept dim with the unit dims before it (and the last one with
      // those after it) is one group; all dims reduced: no group.
      SmallVector<ReassociationIndices> groups;
      ReassociationIndices current;
      for (int64_t d = 0; d < (int64_t)loops.size(); ++d) {
        current.push_back(d);
        if (!llvm::is_contained(sig.axes, d)) {
          groups.push_back(current);
          current.clear();
        }
      }
      if (!groups.empty())
        groups.back().append(current.begin(), current.end());
      result = tensor::ExpandShapeOp::create(
          b, loc, RankedTensorType::get(sig.outputShape, resultElement), result,
          groups);
    }
  }
  return result;
}

OwningOpRef<ModuleOp>
einjit::buildOpModule(MLIRContext &ctx, const OpSignature &sig,
                      llvm::ArrayRef<std::vector<int64_t>> inputStrides) {
  ctx.loadDialect<linalg::LinalgDialect, arith::ArithDialect, math::MathDialect,
                  tensor::TensorDialect>();
  KernelFunction kernel(ctx, sig.str(), sig.inputShapes, sig.inputTypes,
                        {sig.outputShape}, {sig.resultType}, inputStrides);
  Value result = emitOp(kernel.b, kernel.loc, sig, kernel.inputs);
  return kernel.finish(result);
}
