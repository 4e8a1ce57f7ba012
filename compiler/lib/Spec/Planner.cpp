//===- Planner.cpp - Contraction path strategies under a memory cap -------===//
//
// The optimal and dp strategies search trees of pairwise contractions by
// dynamic programming over sets of operands, held as bitmasks (at most
// kMaxOperands = 64 operands; labels as 128-bit sets). What a set of
// operands contracts to depends on the set only: the labels of its operands
// that the output or some operand outside it needs (its "legs"). So the
// cost of merging two disjoint sets is a function of the two sets, and the
// cheapest tree of every set follows from the cheapest trees of its halves.
//
// Costs are (flops, elements moved) pairs compared in that order, flops as
// Path.h counts them, elements moved = both inputs plus the result. Sizes
// are the labels' broadcast sizes; the path finally built counts the exact
// flops of each step (a label of size 1 in every value it meets stays 1).
//
//===----------------------------------------------------------------------===//

#include "einjit/Spec/Limits.h"
#include "einjit/Spec/Path.h"

#include "llvm/ADT/DenseMap.h"
#include "llvm/ADT/STLExtras.h"
#include "llvm/ADT/StringSwitch.h"
#include "llvm/Support/FormatVariadic.h"
#include "llvm/Support/MathExtras.h"

#include <algorithm>
#include <cmath>
#include <functional>
#include <limits>
#include <map>
#include <numeric>
#include <queue>
#include <set>
#include <tuple>
#include <unordered_map>

using namespace einjit;

static constexpr double kInf = std::numeric_limits<double>::infinity();

namespace {
/// A set of label ids (kMaxLabels <= 128).
struct LabelSet {
  uint64_t w[2] = {0, 0};

  void insert(int label) { w[label >> 6] |= uint64_t(1) << (label & 63); }
  bool contains(int label) const { return w[label >> 6] >> (label & 63) & 1; }
  bool empty() const { return !(w[0] | w[1]); }
  LabelSet operator|(LabelSet o) const {
    return {{w[0] | o.w[0], w[1] | o.w[1]}};
  }
  LabelSet operator&(LabelSet o) const {
    return {{w[0] & o.w[0], w[1] & o.w[1]}};
  }
  LabelSet minus(LabelSet o) const {
    return {{w[0] & ~o.w[0], w[1] & ~o.w[1]}};
  }
  bool operator==(LabelSet o) const { return w[0] == o.w[0] && w[1] == o.w[1]; }
  bool operator<(LabelSet o) const {
    return w[1] < o.w[1] || (w[1] == o.w[1] && w[0] < o.w[0]);
  }
  template <typename F>
  void forEach(F f) const {
    for (int h = 0; h < 2; ++h)
      for (uint64_t bits = w[h]; bits; bits &= bits - 1)
        f(h * 64 + llvm::countr_zero(bits));
  }
};
static_assert(kMaxLabels <= 128, "LabelSet holds 128 labels");
static_assert(kMaxOperands <= 64, "operand sets are 64-bit masks");

struct Cost {
  double flops = kInf, moved = kInf;

  bool operator<(const Cost &o) const {
    return flops < o.flops || (flops == o.flops && moved < o.moved);
  }
  Cost operator+(const Cost &o) const {
    return {flops + o.flops, moved + o.moved};
  }
};

/// The operands of an equation as label sets, with what the searches
/// share: label sizes, the legs of any set of operands, and each operand's
/// private labels, summed first by dp.
class Network {
public:
  Network(const BoundEquation &eq, double capElements)
      : eq(eq), n(eq.inputs.size()), cap(capElements) {
    for (auto [label, size] : llvm::enumerate(eq.labelSizes))
      sizes.push_back(size < 0 ? 1 : double(size));
    for (int label : eq.output)
      output.insert(label);
    for (const std::vector<int> &labels : eq.inputs) {
      LabelSet set;
      for (int label : labels)
        set.insert(label);
      operands.push_back(set);
    }
    // Byte tables: the labels of any set of operands in one lookup per 8
    // operands.
    for (int chunk = 0; chunk * 8 < n; ++chunk)
      for (int byte = 1; byte < 256; ++byte) {
        int bit = llvm::countr_zero(unsigned(byte));
        LabelSet rest = table[chunk][byte & (byte - 1)];
        table[chunk][byte] =
            chunk * 8 + bit < n ? rest | operands[chunk * 8 + bit] : rest;
      }
    all = n == 64 ? ~uint64_t(0) : (uint64_t(1) << n) - 1;
  }

  LabelSet labelsOf(uint64_t mask) const {
    LabelSet set;
    for (int chunk = 0; mask; ++chunk, mask >>= 8)
      set = set | table[chunk][mask & 255];
    return set;
  }
  /// The labels the contraction of `mask` keeps: those the output or an
  /// operand outside `mask` needs.
  LabelSet legs(uint64_t mask) const {
    return labelsOf(mask) & (output | labelsOf(all & ~mask));
  }
  double size(LabelSet set) const {
    double s = 1;
    set.forEach([&](int label) { s *= sizes[label]; });
    return s;
  }
  /// Operand `i` with its private labels summed (labels no other operand
  /// and not the output has), when that makes a smaller value that fits
  /// the cap.
  std::optional<LabelSet> reduced(int i) const {
    LabelSet kept = legs(uint64_t(1) << i);
    if (kept == operands[i] || size(kept) > cap)
      return std::nullopt;
    return kept;
  }

  const BoundEquation &eq;
  int n;
  double cap;
  uint64_t all;
  std::vector<double> sizes;
  LabelSet output;
  std::vector<LabelSet> operands;
  LabelSet table[8][256] = {};
};

/// A leaf of a tree: an operand, maybe summed over its private labels by a
/// unary step first.
struct Leaf {
  LabelSet labels;
  Cost cost{0, 0};
  bool reduced = false;
};

std::vector<Leaf> makeLeaves(const Network &net, bool reduce) {
  std::vector<Leaf> leaves;
  for (int i = 0; i < net.n; ++i) {
    Leaf leaf{net.operands[i]};
    if (reduce) {
      if (std::optional<LabelSet> kept = net.reduced(i)) {
        double in = net.size(net.operands[i]), out = net.size(*kept);
        leaf = {*kept, {2 * in, in + out}, true};
      }
    }
    leaves.push_back(leaf);
  }
  return leaves;
}

/// A tree as SSA steps: `split[mask]` is the first half of `mask`'s best
/// split (0 for a leaf).
struct Tree {
  std::vector<std::vector<int>> steps;
  int n;

  int emit(uint64_t mask, const std::vector<Leaf> &leaves,
           const std::function<uint64_t(uint64_t)> &split) {
    if (!(mask & (mask - 1))) {
      int i = llvm::countr_zero(mask);
      if (!leaves[i].reduced)
        return i;
      steps.push_back({i});
      return n + steps.size() - 1;
    }
    uint64_t first = split(mask);
    int a = emit(first, leaves, split);
    int b = emit(mask & ~first, leaves, split);
    steps.push_back({a, b});
    return n + steps.size() - 1;
  }
};

/// Exhaustive search over every tree of pairwise contractions: the best
/// tree of each subset, subsets in increasing order (every proper subset
/// comes first). Splits whose halves already cost `bound` or more are
/// skipped. Returns the steps, or nullopt when no tree meets the cap.
std::optional<std::vector<std::vector<int>>>
optimalSteps(const Network &net, bool reduce, double bound) {
  int n = net.n;
  std::vector<Leaf> leaves = makeLeaves(net, reduce);
  size_t count = size_t(1) << n;
  std::vector<LabelSet> value(count);
  std::vector<double> valueSize(count);
  std::vector<Cost> best(count);
  std::vector<uint64_t> split(count, 0);
  for (uint64_t s = 1; s < count; ++s) {
    if (!(s & (s - 1))) {
      const Leaf &leaf = leaves[llvm::countr_zero(s)];
      value[s] = leaf.labels;
      best[s] = leaf.cost;
    } else {
      value[s] = net.legs(s);
    }
    valueSize[s] = net.size(value[s]);
  }
  uint64_t full = count - 1;
  for (uint64_t s = 3; s < count; ++s) {
    if (!(s & (s - 1)))
      continue; // one operand
    if (s != full && valueSize[s] > net.cap)
      continue; // best[s] stays infinite
    LabelSet legs = value[s];
    uint64_t low = s & -s, rest = s & ~low;
    Cost bestHere;
    uint64_t bestSplit = 0;
    // Every split once: the first half holds the lowest operand.
    for (uint64_t sub = rest;; sub = (sub - 1) & rest) {
      uint64_t s1 = low | sub, s2 = s & ~s1;
      if (s2) {
        const Cost &c1 = best[s1], &c2 = best[s2];
        double partial = c1.flops + c2.flops;
        if (partial < bound && partial <= bestHere.flops) {
          LabelSet a = value[s1], b = value[s2];
          LabelSet shared = a & b;
          double loops = valueSize[s1] * valueSize[s2] / net.size(shared);
          bool sums = !(a | b).minus(legs).empty();
          Cost c = {partial + loops * (sums ? 2 : 1),
                    c1.moved + c2.moved + valueSize[s1] + valueSize[s2] +
                        valueSize[s]};
          if (c < bestHere) {
            bestHere = c;
            bestSplit = s1;
          }
        }
      }
      if (!sub)
        break;
    }
    best[s] = bestHere;
    split[s] = bestSplit;
  }
  if (best[full].flops == kInf)
    return std::nullopt;
  Tree tree{{}, n};
  tree.emit(full, leaves, [&](uint64_t s) { return split[s]; });
  return tree.steps;
}

/// The smallest cap on intermediates any tree of pairwise contractions
/// meets, and one tree that meets it: the same recursion as optimalSteps,
/// minimizing the largest intermediate.
std::pair<double, std::vector<std::vector<int>>>
smallestCap(const Network &net) {
  int n = net.n;
  size_t count = size_t(1) << n;
  uint64_t full = count - 1;
  std::vector<double> worst(count, 0);
  std::vector<uint64_t> split(count, 0);
  for (uint64_t s = 3; s < count; ++s) {
    if (!(s & (s - 1)))
      continue;
    uint64_t low = s & -s, rest = s & ~low;
    double bestHere = kInf;
    for (uint64_t sub = rest;; sub = (sub - 1) & rest) {
      uint64_t s1 = low | sub, s2 = s & ~s1;
      if (s2 && std::max(worst[s1], worst[s2]) < bestHere) {
        bestHere = std::max(worst[s1], worst[s2]);
        split[s] = s1;
      }
      if (!sub)
        break;
    }
    worst[s] = s == full ? bestHere : std::max(bestHere, net.size(net.legs(s)));
  }
  std::vector<Leaf> leaves = makeLeaves(net, /*reduce=*/false);
  Tree tree{{}, n};
  tree.emit(full, leaves, [&](uint64_t s) { return split[s]; });
  return {worst[full], tree.steps};
}

/// Keys of sets of two or more operands: 0 and 1 are free for DenseMap.
struct TwoOrMoreOperands {
  static uint64_t getEmptyKey() { return 0; }
  static uint64_t getTombstoneKey() { return 1; }
  static unsigned getHashValue(uint64_t key) {
    return llvm::DenseMapInfo<uint64_t>::getHashValue(key);
  }
  static bool isEqual(uint64_t a, uint64_t b) { return a == b; }
};

/// opt_einsum's dp: private labels summed first; then, in each connected
/// part (operands linked by shared summed labels), the best tree of every
/// connected subset by size, merging only subsets that share a summed label,
/// under a cost cap raised until the whole part is reached. The parts are
/// then joined smallest first. nullopt when no tree meets the memory cap or
/// the search visits more than `budget` pairs. The cost cap starts at
/// `bound` (the cost of a known path, when there is one: one pass then
/// usually suffices) or at the part's output size, as in opt_einsum.
std::optional<std::vector<std::vector<int>>>
dpSteps(const Network &net, double budget, double bound = kInf) {
  int n = net.n;
  std::vector<Leaf> leaves = makeLeaves(net, /*reduce=*/true);
  LabelSet summed;
  for (const Leaf &leaf : leaves)
    summed = summed | leaf.labels;
  summed = summed.minus(net.output);

  // Connected parts, by union-find over shared summed labels.
  std::vector<int> parent(n);
  std::iota(parent.begin(), parent.end(), 0);
  std::function<int(int)> find = [&](int i) {
    return parent[i] == i ? i : parent[i] = find(parent[i]);
  };
  for (int i = 0; i < n; ++i)
    for (int j = i + 1; j < n; ++j)
      if (!(leaves[i].labels & leaves[j].labels & summed).empty())
        parent[find(i)] = find(j);
  std::vector<uint64_t> parts;
  for (int i = 0; i < n; ++i) {
    if (find(i) != i)
      continue;
    uint64_t part = 0;
    for (int j = 0; j < n; ++j)
      if (find(j) == i)
        part |= uint64_t(1) << j;
    parts.push_back(part);
  }

  // Operands linked to each operand by a summed label: a subset can only
  // merge with a disjoint one holding some operand linked to it.
  std::vector<uint64_t> linked(n, 0);
  for (int i = 0; i < n; ++i)
    for (int j = 0; j < n; ++j)
      if (i != j && !(leaves[i].labels & leaves[j].labels & summed).empty())
        linked[i] |= uint64_t(1) << j;

  struct Entry {
    uint64_t set;
    LabelSet labels;
    Cost cost;
    uint64_t first = 0; ///< first half of the best split; 0 for a leaf
    double size = 0;    ///< elements of the value
  };
  std::unordered_map<uint64_t, Entry> entries;
  double visited = 0;
  bool single = parts.size() == 1;
  for (uint64_t part : parts) {
    std::vector<int> members;
    for (uint64_t m = part; m; m &= m - 1)
      members.push_back(llvm::countr_zero(m));
    int size = members.size();
    // level[k]: the connected subsets of k operands found so far, indexed
    // by set (`at`) and by each operand they hold (`holding`).
    struct Level {
      std::vector<Entry> entries;
      /// Not used by level 1, whose keys (one operand) could be 1.
      llvm::DenseMap<uint64_t, uint32_t, TwoOrMoreOperands> at;
      std::vector<std::vector<std::pair<uint64_t, uint32_t>>> holding;
    };
    std::vector<Level> level(size + 1);
    for (Level &l : level)
      l.holding.resize(n);
    auto insert = [&](Level &l, const Entry &e) {
      uint32_t index = l.entries.size();
      if (e.set & (e.set - 1)) {
        auto [it, added] = l.at.try_emplace(e.set, index);
        if (!added) {
          l.entries[it->second] = e;
          return;
        }
      }
      l.entries.push_back(e);
      for (uint64_t m = e.set; m; m &= m - 1)
        l.holding[llvm::countr_zero(m)].push_back({e.set, index});
    };
    for (int i : members)
      insert(level[1], {uint64_t(1) << i, leaves[i].labels, leaves[i].cost, 0,
                        net.size(leaves[i].labels)});
    LabelSet partLabels;
    for (int i : members)
      partLabels = partLabels | leaves[i].labels;
    double costCap = std::max(1.0, net.size(partLabels & net.output));
    if (single && bound < kInf)
      costCap = std::max(costCap, bound);
    // opt_einsum's schedule: start at the output's size, multiply by the
    // smallest label size (at least 2) until the whole part is reached.
    double smallest = kInf;
    partLabels.forEach(
        [&](int label) { smallest = std::min(smallest, net.sizes[label]); });
    double increment = std::max(2.0, smallest == kInf ? 2.0 : smallest);
    // No tree costs more than this: past it, only the memory cap is left
    // to rule trees out.
    double naive = 2 * size * net.size(partLabels) * 4 + 1;
    while (level[size].entries.empty()) {
      for (int k = 2; k <= size; ++k) {
        Level &into = level[k];
        for (int m = 1; m <= k / 2; ++m) {
          Level &small = level[m], &large = level[k - m];
          for (size_t i1 = 0; i1 < small.entries.size(); ++i1) {
            // `into` is another level: inserting there keeps these
            // references valid.
            uint64_t s1 = small.entries[i1].set;
            uint64_t near = 0;
            for (uint64_t b = s1; b; b &= b - 1)
              near |= linked[llvm::countr_zero(b)];
            near &= ~s1;
            // Each partner once: through the lowest linked operand it holds.
            for (uint64_t b = near; b; b &= b - 1) {
              int o = llvm::countr_zero(b);
              uint64_t below = near & ((uint64_t(1) << o) - 1);
              for (auto [s2, i2] : large.holding[o]) {
                // Every candidate counts against the budget, also those
                // that overlap: they can be most of the work.
                if (++visited > budget)
                  return std::nullopt;
                if ((s1 & s2) || (s2 & below) || (m == k - m && s1 > s2))
                  continue;
                const Entry &e2 = large.entries[i2];
                const Entry &e1 = small.entries[i1];
                if ((e1.labels & e2.labels & summed).empty())
                  continue; // no outer products inside a part
                uint64_t s = s1 | s2;
                bool whole = single && s == net.all;
                // The cheapest the merge can be (nothing summed) first: it
                // often breaks the cap before the legs are worked out. No
                // label has size 0 here, so sizes divide exactly.
                LabelSet shared = e1.labels & e2.labels;
                double loops = e1.size * e2.size / net.size(shared);
                double flops = e1.cost.flops + e2.cost.flops + loops;
                if (flops > costCap)
                  continue;
                // The legs depend on the set only: known if it was made.
                auto it = into.at.find(s);
                bool known = it != into.at.end();
                LabelSet legs =
                    known ? into.entries[it->second].labels : net.legs(s);
                double legSize =
                    known ? into.entries[it->second].size : net.size(legs);
                if (!(e1.labels | e2.labels).minus(legs).empty())
                  flops += loops;
                if (flops > costCap)
                  continue;
                Cost c = {flops, e1.cost.moved + e2.cost.moved + e1.size +
                                     e2.size + legSize};
                if (known && !(c < into.entries[it->second].cost))
                  continue;
                if (!whole && legSize > net.cap)
                  continue;
                insert(into, {s, legs, c, s1, legSize});
              }
            }
          }
        }
      }
      if (!level[size].entries.empty())
        break;
      if (costCap > naive)
        return std::nullopt; // the memory cap rules every tree out
      costCap *= increment;
    }
    for (Level &l : level)
      for (const Entry &e : l.entries)
        entries[e.set] = e;
  }

  // Join the parts smallest first, as opt_einsum does.
  std::vector<std::pair<double, uint64_t>> sized;
  for (uint64_t part : parts)
    sized.push_back({net.size(entries[part].labels), part});
  std::stable_sort(sized.begin(), sized.end(),
                   [](auto &a, auto &b) { return a.first < b.first; });
  Tree tree{{}, n};
  auto splitOf = [&](uint64_t s) { return entries[s].first; };
  int acc = tree.emit(sized[0].second, leaves, splitOf);
  uint64_t done = sized[0].second;
  for (size_t i = 1; i < sized.size(); ++i) {
    int next = tree.emit(sized[i].second, leaves, splitOf);
    done |= sized[i].second;
    if (done != net.all && net.size(net.legs(done)) > net.cap)
      return std::nullopt;
    tree.steps.push_back({acc, next});
    acc = n + tree.steps.size() - 1;
  }
  if (tree.steps.empty()) // one operand with nothing to sum privately
    tree.steps.push_back({acc});
  return tree.steps;
}

/// opt_einsum's greedy (ssa_greedy_optimize with its default chooser and
/// "memory-removed" cost), step for step, so that its paths are the same:
/// - labels every operand has count as output labels;
/// - operands with the same label set are multiplied first (Hadamard);
/// - candidates are pairs sharing a summed label; for each operand, only
///   its best partner is queued (cost: result size minus input sizes,
///   ties to the lower ids); a queued candidate keeps its cost;
/// - after a contraction, its result queues its best partner;
/// - what is left is joined by outer products, smallest first.
/// Results other than the output larger than `cap` elements are never
/// queued; nullopt when the outer products at the end break the cap.
std::optional<std::vector<std::vector<int>>> greedySteps(const Network &net) {
  int n = net.n;
  LabelSet output = net.output;
  LabelSet common = net.operands.empty() ? LabelSet() : net.operands[0];
  for (const LabelSet &set : net.operands)
    common = common & set;
  output = output | common;

  std::vector<std::vector<int>> steps;
  int nextId = n;
  std::map<LabelSet, int> remaining;
  for (int i = 0; i < n; ++i) {
    const LabelSet &key = net.operands[i];
    auto it = remaining.find(key);
    if (it != remaining.end()) {
      if (net.size(key) > net.cap)
        return std::nullopt;
      steps.push_back({it->second, i});
      it->second = nextId++;
    } else {
      remaining[key] = i;
    }
  }
  // Summed labels: the keys holding each, and how many (2 and 3+ sets).
  std::map<int, std::set<LabelSet>> keysOf;
  for (auto &[key, id] : remaining)
    key.minus(output).forEach([&](int label) { keysOf[label].insert(key); });
  LabelSet twice, thrice;
  auto recount = [&](LabelSet labels) {
    labels.forEach([&](int label) {
      size_t count = keysOf[label].size();
      LabelSet bit;
      bit.insert(label);
      twice = count >= 2 ? twice | bit : twice.minus(bit);
      thrice = count >= 3 ? thrice | bit : thrice.minus(bit);
    });
  };
  for (auto &[label, keys] : keysOf) {
    LabelSet bit;
    bit.insert(label);
    recount(bit);
  }

  struct Candidate {
    double cost;
    int id2, id1; ///< id1 < id2
    LabelSet k1, k2, k12;
    bool operator>(const Candidate &o) const {
      return std::tie(cost, id2, id1) > std::tie(o.cost, o.id2, o.id1);
    }
  };
  std::priority_queue<Candidate, std::vector<Candidate>, std::greater<>> queue;
  auto candidate = [&](LabelSet k1, LabelSet k2) -> std::optional<Candidate> {
    LabelSet either = k1 | k2, two = k1 & k2, one = either.minus(two);
    LabelSet k12 = (either & output) | (two & thrice) | (one & twice);
    double size12 = net.size(k12);
    if (size12 > net.cap && remaining.size() > 2)
      return std::nullopt;
    Candidate c{size12 - net.size(k1) - net.size(k2),
                remaining[k2],
                remaining[k1],
                k1,
                k2,
                k12};
    if (c.id1 > c.id2) {
      std::swap(c.id1, c.id2);
      std::swap(c.k1, c.k2);
    }
    return c;
  };
  auto pushBest = [&](LabelSet k1, llvm::ArrayRef<LabelSet> k2s) {
    std::optional<Candidate> best;
    for (LabelSet k2 : k2s)
      if (auto c = candidate(k1, k2); c && (!best || *best > *c))
        best = c;
    if (best)
      queue.push(*best);
  };
  for (auto &[label, keys] : keysOf) {
    std::vector<LabelSet> sorted(keys.begin(), keys.end());
    llvm::sort(sorted, [&](LabelSet a, LabelSet b) {
      return remaining[a] < remaining[b];
    });
    for (size_t i = 0; i + 1 < sorted.size(); ++i)
      pushBest(sorted[i], llvm::ArrayRef(sorted).drop_front(i + 1));
  }
  while (!queue.empty()) {
    Candidate c = queue.top();
    queue.pop();
    auto i1 = remaining.find(c.k1), i2 = remaining.find(c.k2);
    if (i1 == remaining.end() || i2 == remaining.end())
      continue; // obsolete
    int id1 = i1->second, id2 = i2->second;
    remaining.erase(i1);
    remaining.erase(remaining.find(c.k2));
    c.k1.minus(output).forEach([&](int l) { keysOf[l].erase(c.k1); });
    c.k2.minus(output).forEach([&](int l) { keysOf[l].erase(c.k2); });
    steps.push_back({id1, id2});
    auto same = remaining.find(c.k12);
    if (same != remaining.end()) {
      steps.push_back({same->second, nextId++});
      same->second = nextId++;
    } else {
      c.k12.minus(output).forEach([&](int l) { keysOf[l].insert(c.k12); });
      remaining[c.k12] = nextId++;
    }
    recount((c.k1 | c.k2).minus(output));
    std::set<LabelSet> partners;
    c.k12.forEach([&](int l) {
      auto it = keysOf.find(l);
      if (it != keysOf.end())
        partners.insert(it->second.begin(), it->second.end());
    });
    partners.erase(c.k12);
    if (!partners.empty()) {
      std::vector<LabelSet> list(partners.begin(), partners.end());
      pushBest(c.k12, list);
    }
  }
  // Outer products of what is left, smallest first.
  using Entry = std::tuple<double, int, LabelSet>;
  std::priority_queue<Entry, std::vector<Entry>, std::greater<>> last;
  for (auto &[key, id] : remaining)
    last.push({net.size(key & output), id, key});
  auto [size1, id1, k1] = last.top();
  last.pop();
  while (!last.empty()) {
    auto [size2, id2, k2] = last.top();
    last.pop();
    steps.push_back({std::min(id1, id2), std::max(id1, id2)});
    LabelSet k12 = (k1 | k2) & output;
    double size12 = net.size(k12);
    if (!last.empty() && size12 > net.cap)
      return std::nullopt;
    last.push({size12, nextId++, k12});
    std::tie(size1, id1, k1) = last.top();
    last.pop();
  }
  return steps;
}

} // namespace

std::optional<ContractionPath> einjit::greedyPath(const BoundEquation &eq,
                                                  double capElements) {
  if (eq.inputs.size() <= 2) {
    std::vector<int> all(eq.inputs.size());
    std::iota(all.begin(), all.end(), 0);
    return cantFail(pathFromSteps(eq, {all}));
  }
  Network net(eq, capElements);
  auto steps = greedySteps(net);
  if (!steps)
    return std::nullopt;
  ContractionPath path = cantFail(pathFromSteps(eq, *steps));
  // The outer products at the end size their results by output labels
  // only (as opt_einsum does); a summed label still needed makes them
  // larger.
  if (double(path.largestIntermediate()) > capElements)
    return std::nullopt;
  return path;
}

ContractionPath einjit::greedyPath(const BoundEquation &eq) {
  return *greedyPath(eq, kInf);
}

std::optional<PathStrategy> einjit::parsePathStrategy(llvm::StringRef name) {
  return llvm::StringSwitch<std::optional<PathStrategy>>(name)
      .Case("auto", PathStrategy::Auto)
      .Case("greedy", PathStrategy::Greedy)
      .Case("optimal", PathStrategy::Optimal)
      .Case("dp", PathStrategy::DP)
      .Default(std::nullopt);
}

llvm::StringRef einjit::pathStrategyName(PathStrategy strategy) {
  switch (strategy) {
  case PathStrategy::Auto:
    return "auto";
  case PathStrategy::Greedy:
    return "greedy";
  case PathStrategy::Optimal:
    return "optimal";
  case PathStrategy::DP:
    return "dp";
  }
  return "?";
}

llvm::Expected<Plan> einjit::planContraction(const BoundEquation &eq,
                                             const PlanOptions &options) {
  Plan plan;
  plan.strategy = options.strategy;
  plan.naiveFlops = naiveFlops(eq);
  int n = eq.inputs.size();
  if (options.memoryLimitBytes < 0)
    return makeEinsumError("the memory limit must not be negative");
  double elementBytes = dtypeBytes(eq.computeType);
  double cap = options.memoryLimitBytes
                   ? std::floor(options.memoryLimitBytes / elementBytes)
                   : kInf;
  if (options.strategy == PathStrategy::Optimal && n > kMaxOptimalOperands)
    return makeEinsumError(llvm::formatv(
        "the optimal strategy takes at most {0} operands, '{1}' has {2}; use "
        "dp or greedy",
        kMaxOptimalOperands, eq.text, n));
  // One or two operands: one step, nothing to choose.
  if (n <= 2) {
    plan.path = greedyPath(eq);
    plan.chosen = n == 1 ? "single operand" : "two operands";
    return plan;
  }

  // A label of size 0 makes the result zeros and every loop nest over it
  // empty; the searches divide by sizes, so take greedy's path.
  if (llvm::is_contained(eq.labelSizes, 0)) {
    if (auto path = greedyPath(eq, cap)) {
      plan.path = std::move(*path);
      plan.chosen = "greedy (a label has size 0)";
      return plan;
    }
  }
  Network net(eq, cap);
  auto fromSteps =
      [&](const std::vector<std::vector<int>> &steps) -> ContractionPath {
    auto path = pathFromSteps(eq, steps);
    if (!path) // the searches build valid steps
      llvm::report_fatal_error(llvm::toString(path.takeError()).c_str());
    return std::move(*path);
  };
  auto optimal = [&]() -> std::optional<ContractionPath> {
    std::optional<ContractionPath> greedy = greedyPath(eq, cap);
    double bound = greedy ? greedy->flops() * (1 + 1e-9) + 1 : kInf;
    std::optional<ContractionPath> best = greedy;
    for (bool reduce : {false, true}) {
      if (auto steps = optimalSteps(net, reduce, bound)) {
        ContractionPath p = fromSteps(*steps);
        if (!best || p.flops() < best->flops())
          best = std::move(p);
      }
    }
    return best;
  };
  std::optional<ContractionPath> path;
  switch (options.strategy) {
  case PathStrategy::Greedy:
    path = greedyPath(eq, cap);
    plan.chosen = "greedy";
    break;
  case PathStrategy::Optimal:
    path = optimal();
    plan.chosen = "optimal";
    break;
  case PathStrategy::DP: {
    // Within kMaxDPPairs pairs of subsets (seconds), or greedy's path: the
    // fuzzer's 18 operands sharing few labels ran dp for 39 s.
    std::optional<ContractionPath> greedy = greedyPath(eq, cap);
    plan.chosen = "dp";
    if (auto steps = dpSteps(net, kMaxDPPairs,
                             greedy ? greedy->flops() * (1 + 1e-9) : kInf)) {
      path = fromSteps(*steps);
    } else if (greedy) {
      path = std::move(greedy);
      plan.chosen = "greedy (dp found no path within its budget of pairs "
                    "or the memory limit)";
    }
    break;
  }
  case PathStrategy::Auto:
    if (n <= kAutoOptimalOperands) {
      path = optimal();
      plan.chosen = "optimal";
      break;
    }
    path = greedyPath(eq, cap);
    plan.chosen = "greedy";
    // dp, its cost cap from greedy's path, within a budget of pairs
    // visited: generous up to kAutoFullDPOperands operands, then small
    // (opt_einsum's auto is plain greedy there; 2000 pairs keep auto at a
    // few times greedy's time, docs/planner.md).
    if (auto steps = dpSteps(net, n <= kAutoFullDPOperands ? kMaxDPPairs : 2000,
                             path ? path->flops() * (1 + 1e-9) : kInf)) {
      ContractionPath p = fromSteps(*steps);
      if (!path || p.flops() < path->flops()) {
        path = std::move(p);
        plan.chosen = "dp";
      }
    }
    break;
  }
  // No path under the cap from the strategy itself (greedy can run into a
  // dead end, dp forbids outer products): search every tree under the cap.
  if (!path && n <= kMaxOptimalOperands &&
      options.strategy != PathStrategy::Optimal) {
    path = optimal();
    if (path)
      plan.chosen += " found no path under the memory limit; optimal did";
  }
  if (!path) {
    std::string smallest;
    if (n <= kMaxOptimalOperands) {
      auto [elements, steps] = smallestCap(net);
      smallest =
          llvm::formatv("; the smallest limit that works is {0}, "
                        "with the path {1}",
                        bytesString(elements * elementBytes, /*exact=*/true),
                        fromSteps(steps).describe());
    } else {
      ContractionPath greedy = greedyPath(eq);
      smallest = llvm::formatv(
          "; the greedy path {0} works with a limit of {1}", greedy.describe(),
          bytesString(double(greedy.largestIntermediate()) * elementBytes,
                      /*exact=*/true));
    }
    return makeEinsumError(llvm::formatv(
        "no contraction path of '{0}' keeps every intermediate within the "
        "memory limit of {1}{2}",
        eq.text, bytesString(options.memoryLimitBytes, /*exact=*/true),
        smallest));
  }
  // The cap holds by construction; check it anyway, it is a promise.
  if (double(path->largestIntermediate()) > cap)
    return makeEinsumError(llvm::formatv(
        "internal error: the {0} path {1} breaks the memory limit", plan.chosen,
        path->describe()));
  plan.path = std::move(*path);
  return plan;
}
