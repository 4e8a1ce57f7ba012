//===- Graph.cpp - A traced function's ops, in order ----------------------===//

#include "einjit/Spec/Graph.h"

#include "einjit/Spec/Limits.h"

#include <cstdio>

using namespace einjit;

int Graph::addInput(llvm::ArrayRef<int64_t> shape, DType dtype,
                    llvm::ArrayRef<int64_t> strides) {
  GraphNode node;
  node.shape.assign(shape.begin(), shape.end());
  node.dtype = dtype;
  node.strides.assign(strides.begin(), strides.end());
  nodes.push_back(std::move(node));
  inputs.push_back((int)nodes.size() - 1);
  return inputs.back();
}

int Graph::addEinsum(BoundEquation eq, ContractionPath path,
                     llvm::ArrayRef<int> operands) {
  GraphNode node;
  node.kind = GraphNode::Kind::Einsum;
  node.operands.assign(operands.begin(), operands.end());
  node.shape = eq.outputShape();
  node.dtype = eq.resultType;
  node.eq = std::move(eq);
  node.path = std::move(path);
  nodes.push_back(std::move(node));
  return (int)nodes.size() - 1;
}

int Graph::addOp(OpSignature sig, llvm::ArrayRef<int> operands) {
  GraphNode node;
  node.kind = GraphNode::Kind::Op;
  node.operands.assign(operands.begin(), operands.end());
  node.shape = sig.outputShape;
  node.dtype = sig.resultType;
  node.op = std::move(sig);
  nodes.push_back(std::move(node));
  return (int)nodes.size() - 1;
}

int Graph::addConstant(llvm::ArrayRef<int64_t> shape, DType dtype,
                       double value) {
  GraphNode node;
  node.kind = GraphNode::Kind::Constant;
  node.shape.assign(shape.begin(), shape.end());
  node.dtype = dtype;
  node.value = value;
  nodes.push_back(std::move(node));
  return (int)nodes.size() - 1;
}

bool Graph::hasEmptyTensor() const {
  return llvm::any_of(nodes, [](const GraphNode &node) {
    return llvm::is_contained(node.shape, 0);
  });
}

std::string Graph::str() const {
  std::string text;
  llvm::raw_string_ostream os(text);
  for (auto [id, node] : llvm::enumerate(nodes)) {
    os << "%" << id << " = ";
    switch (node.kind) {
    case GraphNode::Kind::Input:
      os << "arg";
      if (!node.strides.empty()) {
        os << " strides";
        for (int64_t stride : node.strides)
          os << " " << stride;
      }
      break;
    case GraphNode::Kind::Einsum:
      os << "einsum '" << node.eq->text << "' " << node.path->describe();
      break;
    case GraphNode::Kind::Constant: {
      char exact[64];
      std::snprintf(exact, sizeof(exact), "constant %a", node.value);
      os << exact;
      break;
    }
    case GraphNode::Kind::Op: {
      const OpSignature &op = *node.op;
      os << opName(op.kind);
      if (takesAxes(op.kind)) {
        os << " axes";
        for (int64_t axis : op.axes)
          os << " " << axis;
        os << (op.keepDims ? " keep" : "");
      }
      if (op.kind == OpKind::Scale) {
        char exact[64];
        std::snprintf(exact, sizeof(exact), " %a", op.scalar);
        os << exact;
      }
      break;
    }
    }
    for (int operand : node.operands)
      os << " %" << operand;
    os << " : " << dtypeName(node.dtype) << shapeString(node.shape) << "\n";
  }
  os << "return";
  for (int output : outputs)
    os << " %" << output;
  return text;
}

llvm::Error einjit::checkBatchSeparable(const Graph &graph,
                                        const std::vector<bool> &batched) {
  // Each node's batch dim; -1: the node does not depend on the batch.
  std::vector<int> axis(graph.nodes.size(), -1);
  for (auto [i, id] : llvm::enumerate(graph.inputs))
    if (i < batched.size() && batched[i] && !graph.nodes[id].shape.empty())
      axis[id] = 0;
  auto fail = [&](size_t n, const llvm::Twine &why) {
    const GraphNode &node = graph.nodes[n];
    std::string what = node.kind == GraphNode::Kind::Einsum
                           ? "einsum '" + node.eq->text + "'"
                           : node.op->str();
    return makeEinsumError("in traced function '" + graph.name + "': op " +
                           llvm::Twine(n) + ", " + what + ", " + why);
  };
  // An operand that is not a batch's yet has its size where the batch is
  // (constants are uniform: any piece of one is the same constant).
  auto sized = [&](int id, int dim) {
    const GraphNode &node = graph.nodes[id];
    return node.kind != GraphNode::Kind::Constant && dim >= 0 &&
           node.shape[dim] != 1;
  };
  for (size_t n = 0; n < graph.nodes.size(); ++n) {
    const GraphNode &node = graph.nodes[n];
    if (node.kind == GraphNode::Kind::Einsum) {
      const BoundEquation &eq = *node.eq;
      int label = -1;
      for (auto [k, id] : llvm::enumerate(node.operands)) {
        if (axis[id] < 0)
          continue;
        int l = eq.inputs[k][axis[id]];
        if (label >= 0 && l != label)
          return fail(n, "reads the batch dim under two labels");
        label = l;
      }
      if (label < 0)
        continue;
      for (auto [k, id] : llvm::enumerate(node.operands))
        for (auto [d, l] : llvm::enumerate(eq.inputs[k]))
          if (l == label && axis[id] != (int)d && sized(id, d))
            return fail(n, "reads the batch's label in an operand that is "
                           "not the batch's");
      auto at = llvm::find(eq.output, label);
      if (at == eq.output.end())
        return fail(n, "sums over the batch dim");
      axis[n] = at - eq.output.begin();
      continue;
    }
    if (node.kind != GraphNode::Kind::Op)
      continue;
    const OpSignature &sig = *node.op;
    if (takesAxes(sig.kind)) {
      int a = axis[node.operands[0]];
      if (a < 0)
        continue;
      if (llvm::is_contained(sig.axes, a))
        return fail(n, isSoftmax(sig.kind) ? "runs along the batch dim"
                                           : "reduces the batch dim");
      axis[n] =
          isSoftmax(sig.kind) || sig.keepDims
              ? a
              : a - llvm::count_if(sig.axes, [&](int64_t x) { return x < a; });
      continue;
    }
    // Elementwise, broadcasting from the right.
    int rank = node.shape.size(), result = -1;
    for (int id : node.operands) {
      if (axis[id] < 0)
        continue;
      int r = axis[id] + rank - (int)graph.nodes[id].shape.size();
      if (result >= 0 && r != result)
        return fail(n, "aligns its operands' batch dims differently");
      result = r;
    }
    if (result < 0)
      continue;
    for (int id : node.operands)
      if (axis[id] < 0 &&
          sized(id, result - (rank - (int)graph.nodes[id].shape.size())))
        return fail(n, "broadcasts an operand that is not the batch's "
                       "against the batch dim");
    axis[n] = result;
  }
  for (auto [i, id] : llvm::enumerate(graph.outputs))
    if (axis[id] != 0)
      return makeEinsumError(
          "in traced function '" + graph.name + "': result " + llvm::Twine(i) +
          (axis[id] < 0 ? " does not depend on the batch"
                        : " does not lead with the batch dim"));
  return llvm::Error::success();
}
