//===- EinsumGpuMapLoops.cpp - Linalg ops as GPU-shaped parallel loops ----===//
//
// See Passes.td.
//
//===----------------------------------------------------------------------===//

#include "einjit/Transforms/Passes.h"

#include "mlir/Dialect/GPU/IR/GPUDialect.h"
#include "mlir/Dialect/Linalg/Transforms/Transforms.h"
#include "mlir/Dialect/SCF/Transforms/Transforms.h"
#include "mlir/IR/PatternMatch.h"
#include "mlir/Transforms/GreedyPatternRewriteDriver.h"

namespace mlir::einsum {
#define GEN_PASS_DEF_EINSUMGPUMAPLOOPS
#include "einjit/Transforms/Passes.h.inc"
} // namespace mlir::einsum

using namespace mlir;

/// The loop order that puts the parallel loops first, led by the one that
/// indexes the result's contiguous dim, then the reductions; as old loop
/// numbers in their new order (interchangeGenericOp's vector).
static SmallVector<unsigned> gpuLoopOrder(linalg::LinalgOp op) {
  SmallVector<utils::IteratorType> iterators = op.getIteratorTypesArray();
  SmallVector<unsigned> order;
  AffineMap result = op.getMatchingIndexingMap(op.getDpsInitOperand(0));
  if (result.getNumResults() > 0)
    if (auto dim = dyn_cast<AffineDimExpr>(result.getResults().back()))
      if (linalg::isParallelIterator(iterators[dim.getPosition()]))
        order.push_back(dim.getPosition());
  for (auto [d, type] : llvm::enumerate(iterators))
    if (linalg::isParallelIterator(type) && !llvm::is_contained(order, d))
      order.push_back(d);
  for (auto [d, type] : llvm::enumerate(iterators))
    if (!linalg::isParallelIterator(type))
      order.push_back(d);
  return order;
}

namespace {
struct EinsumGpuMapLoops
    : einsum::impl::EinsumGpuMapLoopsBase<EinsumGpuMapLoops> {
  using Base::Base;

  void runOnOperation() override {
    func::FuncOp func = getOperation();
    IRRewriter rewriter(&getContext());
    // Intermediates live on the device, as the arguments do.
    func.walk([&](memref::AllocOp alloc) {
      rewriter.setInsertionPoint(alloc);
      auto device = gpu::AllocOp::create(
          rewriter, alloc.getLoc(), alloc.getType(), /*asyncToken=*/Type(),
          /*asyncDependencies=*/ValueRange(), alloc.getDynamicSizes(),
          alloc.getSymbolOperands(), /*hostShared=*/false);
      rewriter.replaceOp(alloc, device.getMemref());
    });
    // A copy between device buffers (an einsum that only copies, `i->i`)
    // runs on the device, not as a host memcpy of device pointers.
    func.walk([&](memref::CopyOp copy) {
      rewriter.setInsertionPoint(copy);
      gpu::MemcpyOp::create(rewriter, copy.getLoc(), /*asyncToken=*/Type(),
                            /*asyncDependencies=*/ValueRange(),
                            copy.getTarget(), copy.getSource());
      rewriter.eraseOp(copy);
    });
    func.walk([&](memref::DeallocOp dealloc) {
      rewriter.setInsertionPoint(dealloc);
      gpu::DeallocOp::create(rewriter, dealloc.getLoc(), /*asyncToken=*/Type(),
                             /*asyncDependencies=*/ValueRange(),
                             dealloc.getMemref());
      rewriter.eraseOp(dealloc);
    });

    SmallVector<linalg::LinalgOp> ops;
    func.walk([&](linalg::LinalgOp op) { ops.push_back(op); });
    for (linalg::LinalgOp op : ops) {
      if (!op.hasPureBufferSemantics()) {
        op->emitError("einsum-gpu-map-loops runs after bufferization");
        return signalPassFailure();
      }
      rewriter.setInsertionPoint(op);
      if (!isa<linalg::GenericOp>(op)) {
        FailureOr<linalg::GenericOp> generic =
            linalg::generalizeNamedOp(rewriter, op);
        if (failed(generic)) {
          op->emitError("einsum-gpu-map-loops cannot run this op on the GPU");
          return signalPassFailure();
        }
        op = *generic;
      }
      auto generic = cast<linalg::GenericOp>(op);
      if (generic.getNumParallelLoops() == 0) {
        // A full reduction (or a 0-d op): one device thread runs it, in a
        // launch of its own (never the host: its operands are device
        // memory; a parallel loop of one iteration would fold away).
        Location loc = generic.getLoc();
        Value one = arith::ConstantIndexOp::create(rewriter, loc, 1);
        auto launch =
            gpu::LaunchOp::create(rewriter, loc, one, one, one, one, one, one);
        rewriter.setInsertionPointToEnd(&launch.getBody().front());
        auto end = gpu::TerminatorOp::create(rewriter, loc);
        generic->moveBefore(end);
        rewriter.setInsertionPoint(generic);
        if (failed(linalg::linalgOpToLoops(rewriter, generic))) {
          generic->emitError("cannot make loops of this op");
          return signalPassFailure();
        }
        rewriter.eraseOp(generic);
        continue;
      }
      SmallVector<unsigned> order = gpuLoopOrder(generic);
      if (!llvm::equal(order, llvm::seq<unsigned>(0, order.size()))) {
        FailureOr<linalg::GenericOp> moved =
            linalg::interchangeGenericOp(rewriter, generic, order);
        if (failed(moved)) {
          generic->emitError("cannot order the loops for the GPU");
          return signalPassFailure();
        }
        generic = *moved;
      }
      rewriter.setInsertionPoint(generic);
      FailureOr<linalg::LinalgLoops> loops =
          linalg::linalgOpToParallelLoops(rewriter, generic);
      if (failed(loops)) {
        generic->emitError("cannot make parallel loops of this op");
        return signalPassFailure();
      }
      rewriter.eraseOp(generic);
      auto parallel = cast<scf::ParallelOp>(loops->front());
      size_t rank = parallel.getNumLoops();
      SmallVector<int64_t> sizes(rank, 1);
      sizes[0] = rank == 1 ? tileX * tileY : tileX;
      if (rank > 1)
        sizes[1] = tileY;
      scf::tileParallelLoop(parallel, sizes, /*noMinMaxBounds=*/false);
    }
    // Fold the tile arithmetic to constants, which convert-parallel-loops-
    // to-gpu needs for the launch bounds. Folding only: canonicalization
    // would merge the thread loop into the block loop where a tile covers
    // a whole dim, leaving one thread per block.
    GreedyRewriteConfig config;
    config.enableFolding();
    (void)applyPatternsGreedily(func, FrozenRewritePatternSet(), config);
  }
};
} // namespace
