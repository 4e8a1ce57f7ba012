//===- EinsumWorkspace.cpp - Kernel buffers in a caller's workspace -------===//
//
// Replaces the kernel's own allocations by views into one workspace argument,
// so that the runtime allocates (and checks) all memory a kernel uses; the
// algorithm is in Passes.td.
//
//===----------------------------------------------------------------------===//

#include "einjit/Spec/Limits.h"
#include "einjit/Transforms/Passes.h"

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
  int64_t bytes = 0;
  unsigned first = 0, last = 0;
  int64_t offset = -1;
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
      // it and keeps it alive.
      for (Value result : user->getResults())
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
                    [](Buffer *a, Buffer *b) { return a->bytes > b->bytes; });
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
      candidates.push_back(p->offset + alignUp(p->bytes));
    llvm::sort(candidates);
    for (int64_t c : candidates) {
      bool fits = llvm::none_of(live, [&](Buffer *p) {
        return c < p->offset + p->bytes && p->offset < c + b->bytes;
      });
      if (fits) {
        b->offset = c;
        break;
      }
    }
    std::optional<int64_t> end = einjit::checkedAdd(b->offset, b->bytes);
    if (!end)
      return std::nullopt;
    total = std::max(total, *end);
    placed.push_back(b);
  }
  return total;
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
    if (alloc->getBlock() != &entry || !type.hasStaticShape() ||
        !type.getLayout().isIdentity()) {
      alloc.emitOpError("cannot be placed in the workspace: only allocations "
                        "of static shape in the entry block can");
      return WalkResult::interrupt();
    }
    std::optional<int64_t> bytes = einjit::checkedProduct(
        type.getShape(), llvm::divideCeil(type.getElementTypeBitWidth(), 8),
        einjit::kMaxTensorBytes);
    if (!bytes) {
      alloc.emitOpError("is larger than 2^62 bytes");
      return WalkResult::interrupt();
    }
    Buffer b;
    b.alloc = alloc;
    b.bytes = *bytes * llvm::divideCeil(type.getElementTypeBitWidth(), 8);
    b.first = positions.lookup(alloc);
    b.last = lastUse(entry, alloc.getResult(), positions);
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
