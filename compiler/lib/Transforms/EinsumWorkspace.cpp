//===- EinsumWorkspace.cpp - Kernel buffers in a caller's workspace -------===//
//
// Replaces the kernel's own allocations by views into one workspace argument,
// so that the runtime allocates (and checks) all memory a kernel uses; the
// algorithm is in Passes.td.
//
//===----------------------------------------------------------------------===//

#include "einjit/Spec/Limits.h"
#include "einjit/Transforms/Passes.h"

#include "mlir/Dialect/Utils/StaticValueUtils.h"
#include "mlir/IR/Builders.h"
#include "mlir/IR/BuiltinAttributes.h"

namespace mlir::einsum {
#define GEN_PASS_DEF_EINSUMWORKSPACE
#include "einjit/Transforms/Passes.h.inc"
} // namespace mlir::einsum

using namespace mlir;

static constexpr int64_t kAlignment = 64;

namespace {
/// One buffer to place: its allocation, size and live range (positions of
/// ops in the entry block).
struct Buffer {
  memref::AllocOp alloc;
  /// Bytes of one copy, 64-byte aligned when there are several.
  int64_t bytes = 0;
  /// Copies: one per iteration of the enclosing scf.forall loops, which may
  /// run at the same time on different threads.
  int64_t copies = 1;
  unsigned first = 0, last = 0;
  int64_t offset = -1;

  int64_t span() const { return bytes * copies; }
};
} // namespace

/// The position in `block` of the op that is or contains `op`.
static unsigned positionIn(Block &block, Operation *op,
                           const DenseMap<Operation *, unsigned> &positions) {
  Operation *top = block.findAncestorOpInBlock(*op);
  return top ? positions.lookup(top) : positions.size();
}

/// The last position in `block` at which `value`, or a memref any of its
/// users derives from it (a view, a cast, a subview), is used.
static unsigned lastUse(Block &block, Value value,
                        const DenseMap<Operation *, unsigned> &positions) {
  unsigned last = 0;
  SmallVector<Value> work{value};
  DenseSet<Value> seen{value};
  while (!work.empty()) {
    Value v = work.pop_back_val();
    for (Operation *user : v.getUsers()) {
      last = std::max(last, positionIn(block, user, positions));
      // Conservatively, every memref an op produces from this one aliases
      // it and keeps it alive; a loop that yields it returns it.
      Operation *producer =
          user->hasTrait<OpTrait::IsTerminator>() ? user->getParentOp() : user;
      for (Value result : producer->getResults())
        if (isa<BaseMemRefType>(result.getType()) && seen.insert(result).second)
          work.push_back(result);
    }
  }
  return last;
}

static int64_t alignUp(int64_t bytes) {
  return (bytes + kAlignment - 1) / kAlignment * kAlignment;
}

/// Places `buffers` (offsets set in place); returns the bytes they span, or
/// nullopt if that overflows.
static std::optional<int64_t> place(MutableArrayRef<Buffer> buffers) {
  SmallVector<Buffer *> order;
  for (Buffer &b : buffers)
    order.push_back(&b);
  llvm::stable_sort(order,
                    [](Buffer *a, Buffer *b) { return a->span() > b->span(); });
  int64_t total = 0;
  SmallVector<Buffer *> placed;
  for (Buffer *b : order) {
    // Candidate offsets: 0 and the end of every placed buffer live at the
    // same time; the lowest one that overlaps none of them wins.
    SmallVector<Buffer *> live;
    for (Buffer *p : placed)
      if (p->first <= b->last && b->first <= p->last)
        live.push_back(p);
    SmallVector<int64_t> candidates{0};
    for (Buffer *p : live)
      candidates.push_back(p->offset + alignUp(p->span()));
    llvm::sort(candidates);
    for (int64_t c : candidates) {
      bool fits = llvm::none_of(live, [&](Buffer *p) {
        return c < p->offset + p->span() && p->offset < c + b->span();
      });
      if (fits) {
        b->offset = c;
        break;
      }
    }
    std::optional<int64_t> end = einjit::checkedAdd(b->offset, b->span());
    if (!end)
      return std::nullopt;
    total = std::max(total, *end);
    placed.push_back(b);
  }
  return total;
}

namespace {
/// Constant bounds of one scf.forall dimension.
struct LoopBounds {
  int64_t lb, ub, step;
  int64_t trips() const {
    return step > 0 ? llvm::divideCeil(ub - lb, step) : 1;
  }
};
} // namespace

/// The constant bounds of each dimension of `forall`, or nullopt.
static std::optional<SmallVector<LoopBounds>>
staticBounds(scf::ForallOp forall) {
  SmallVector<LoopBounds> bounds;
  for (auto [lb, ub, step] :
       llvm::zip(forall.getMixedLowerBound(), forall.getMixedUpperBound(),
                 forall.getMixedStep())) {
    std::optional<int64_t> l = getConstantIntValue(lb),
                           u = getConstantIntValue(ub),
                           st = getConstantIntValue(step);
    if (!l || !u || !st)
      return std::nullopt;
    bounds.push_back({*l, *u, *st});
  }
  return bounds;
}

/// `base` plus the offset of the copy of `buf` that belongs to the current
/// iteration of the scf.forall loops around it: their iteration numbers,
/// outermost first, linearized.
static Value copyOffset(OpBuilder &b, Location loc, const Buffer &buf,
                        Value base) {
  SmallVector<scf::ForallOp> loops;
  for (Operation *parent = buf.alloc->getParentOp(); parent;
       parent = parent->getParentOp())
    if (auto forall = dyn_cast<scf::ForallOp>(parent))
      loops.push_back(forall);
  Value index = arith::ConstantIndexOp::create(b, loc, 0);
  for (scf::ForallOp forall : llvm::reverse(loops)) {
    // Checked when the buffer was sized.
    SmallVector<LoopBounds> bounds = *staticBounds(forall);
    for (auto [iv, bound] : llvm::zip(forall.getInductionVars(), bounds)) {
      Value iteration = arith::DivUIOp::create(
          b, loc,
          arith::SubIOp::create(
              b, loc, iv, arith::ConstantIndexOp::create(b, loc, bound.lb)),
          arith::ConstantIndexOp::create(b, loc,
                                         std::max<int64_t>(bound.step, 1)));
      index = arith::AddIOp::create(
          b, loc,
          arith::MulIOp::create(
              b, loc, index,
              arith::ConstantIndexOp::create(b, loc, bound.trips())),
          iteration);
    }
  }
  Value bytes = arith::MulIOp::create(
      b, loc, index, arith::ConstantIndexOp::create(b, loc, buf.bytes));
  return arith::AddIOp::create(b, loc, base, bytes);
}

/// Moves the allocations of `func` into a new workspace argument; returns
/// the bytes it needs.
static FailureOr<int64_t> useWorkspace(func::FuncOp func) {
  Block &entry = func.getBody().front();
  DenseMap<Operation *, unsigned> positions;
  for (auto [i, op] : llvm::enumerate(entry))
    positions[&op] = i;

  SmallVector<Buffer> buffers;
  WalkResult walk = func.walk([&](memref::AllocOp alloc) {
    MemRefType type = alloc.getType();
    if (!type.hasStaticShape() || !type.getLayout().isIdentity()) {
      alloc.emitOpError("cannot be placed in the workspace: only allocations "
                        "of static shape and identity layout can");
      return WalkResult::interrupt();
    }
    int64_t elementBytes = llvm::divideCeil(type.getElementTypeBitWidth(), 8);
    std::optional<int64_t> count = einjit::checkedProduct(
        type.getShape(), elementBytes, einjit::kMaxTensorBytes);
    Buffer b;
    b.alloc = alloc;
    // An allocation inside loops is made afresh by each iteration, whose
    // code never reads what an earlier one left: one buffer serves every
    // iteration of a sequential loop, and a parallel loop needs one per
    // iteration.
    for (Operation *parent = alloc->getParentOp(); parent != func;
         parent = parent->getParentOp()) {
      auto forall = dyn_cast<scf::ForallOp>(parent);
      if (!forall)
        continue;
      std::optional<SmallVector<LoopBounds>> bounds = staticBounds(forall);
      if (!bounds) {
        alloc.emitOpError("cannot be placed in the workspace: it is inside "
                          "a parallel loop of dynamic bounds");
        return WalkResult::interrupt();
      }
      for (const LoopBounds &bound : *bounds)
        b.copies = einjit::saturatingProduct({b.copies, bound.trips()});
    }
    std::optional<int64_t> bytes =
        count ? einjit::checkedProduct({*count, elementBytes}) : std::nullopt;
    if (bytes && b.copies > 1)
      bytes = alignUp(*bytes);
    if (!bytes || !einjit::checkedProduct({*bytes, b.copies}, 1,
                                          einjit::kMaxTensorBytes)) {
      alloc.emitOpError("is larger than 2^62 bytes");
      return WalkResult::interrupt();
    }
    b.bytes = *bytes;
    // Live from the entry-block op that holds the allocation.
    b.first = positionIn(entry, alloc, positions);
    b.last = std::max(b.first, lastUse(entry, alloc.getResult(), positions));
    buffers.push_back(b);
    return WalkResult::advance();
  });
  if (walk.wasInterrupted())
    return failure();

  std::optional<int64_t> total = place(buffers);
  if (!total || *total > einjit::kMaxTensorBytes)
    return func.emitOpError("needs a workspace larger than 2^62 bytes");

  MLIRContext *ctx = func.getContext();
  auto wsType = MemRefType::get({*total}, IntegerType::get(ctx, 8));
  unsigned index = func.getNumArguments();
  if (failed(func.insertArgument(index, wsType, {}, func.getLoc())))
    return failure();
  Value workspace = func.getArgument(index);

  // One constant per distinct offset, at the top of the function.
  OpBuilder b(ctx);
  DenseMap<int64_t, Value> offsets;
  auto offsetValue = [&](int64_t offset, Location loc) {
    Value &v = offsets[offset];
    if (!v) {
      OpBuilder::InsertionGuard guard(b);
      b.setInsertionPointToStart(&entry);
      v = arith::ConstantIndexOp::create(b, loc, offset);
    }
    return v;
  };
  for (Buffer &buf : buffers) {
    Location loc = buf.alloc.getLoc();
    Value offset = offsetValue(buf.offset, loc);
    b.setInsertionPoint(buf.alloc);
    if (buf.copies > 1)
      offset = copyOffset(b, loc, buf, offset);
    Value view = memref::ViewOp::create(b, loc, buf.alloc.getType(), workspace,
                                        offset, ValueRange{});
    for (Operation *user :
         llvm::make_early_inc_range(buf.alloc.getResult().getUsers()))
      if (isa<memref::DeallocOp>(user))
        user->erase();
    buf.alloc.getResult().replaceAllUsesWith(view);
    buf.alloc.erase();
  }
  return *total;
}

namespace {
struct EinsumWorkspace : einsum::impl::EinsumWorkspaceBase<EinsumWorkspace> {
  void runOnOperation() override {
    ModuleOp module = getOperation();
    int64_t bytes = 0;
    for (auto func : module.getOps<func::FuncOp>()) {
      if (func.isExternal())
        continue;
      FailureOr<int64_t> needed = useWorkspace(func);
      if (failed(needed))
        return signalPassFailure();
      bytes = std::max(bytes, *needed);
    }
    module->setAttr(
        einsum::kWorkspaceAttrName,
        IntegerAttr::get(IntegerType::get(&getContext(), 64), bytes));
  }
};
} // namespace
