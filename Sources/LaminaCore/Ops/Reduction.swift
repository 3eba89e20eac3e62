extension Tensor {
    private func reductionAxes(_ axes: [Int]?, _ op: String) -> Set<Int> {
        guard let axes else { return Set(0..<rank) }
        return Set(axes.map { Shape.normalize(axis: $0, rank: rank, op: op) })
    }

    private func dropping(_ axes: Set<Int>, from keptShape: [Int], keepDims: Bool) -> [Int] {
        keepDims ? keptShape : keptShape.enumerated().filter { !axes.contains($0.offset) }.map(\.element)
    }

    /// Sum over `axes` (all when nil).
    public func sum(axes: [Int]? = nil, keepDims: Bool = false) -> Tensor {
        let set = reductionAxes(axes, "sum")
        let kept = Kernels.reduce(self, axes: set, .sum, op: "sum")
        let out = kept.reshaped(to: dropping(set, from: kept.shape, keepDims: keepDims))
        let inputShape = shape
        return out.recorded("sum", inputs: [self]) { g, _ in
            [g.reshaped(to: kept.shape).broadcasted(to: inputShape)]
        }
    }

    /// The sum over one axis (`sum(axes: [axis])`). Keras: `ops.sum(x, axis)`.
    public func sum(axis: Int, keepDims: Bool = false) -> Tensor { sum(axes: [axis], keepDims: keepDims) }

    /// Mean over `axes` (all when nil).
    public func mean(axes: [Int]? = nil, keepDims: Bool = false) -> Tensor {
        let set = reductionAxes(axes, "mean")
        let n = set.reduce(1) { $0 * shape[$1] }
        return sum(axes: axes, keepDims: keepDims) / Double(Swift.max(n, 1))
    }

    /// The mean over one axis. Keras: `ops.mean(x, axis)`.
    public func mean(axis: Int, keepDims: Bool = false) -> Tensor { mean(axes: [axis], keepDims: keepDims) }

    /// Maximum over `axes`; the gradient is shared among tied maxima.
    public func max(axes: [Int]? = nil, keepDims: Bool = false) -> Tensor { extremum(axes, keepDims, .max, "max") }

    /// Minimum over `axes`; the gradient is shared among tied minima.
    public func min(axes: [Int]? = nil, keepDims: Bool = false) -> Tensor { extremum(axes, keepDims, .min, "min") }

    private func extremum(_ axes: [Int]?, _ keepDims: Bool, _ kind: Kernels.Reduction, _ op: String) -> Tensor {
        let set = reductionAxes(axes, op)
        precondition(set.allSatisfy { shape[$0] > 0 }, "\(op): cannot reduce an empty dimension of \(shape)")
        let kept = Kernels.reduce(self, axes: set, kind, op: op)
        let out = kept.reshaped(to: dropping(set, from: kept.shape, keepDims: keepDims))
        let x = detached()
        return out.recorded(op, inputs: [self]) { g, _ in
            let mask = x.equal(kept)
            let ties = Kernels.reduce(mask, axes: set, .sum, op: op)
            return [mask * (g.reshaped(to: kept.shape) / ties)]
        }
    }

    /// Index of the largest value along `axis`, as int32 (first one at ties).
    public func argmax(axis: Int = -1) -> Tensor {
        let ax = Shape.normalize(axis: axis, rank: rank, op: "argmax")
        let n = shape[ax]
        precondition(n > 0, "argmax: axis \(axis) of \(shape) is empty")
        let inner = shape[(ax + 1)...].reduce(1, *), outer = shape[..<ax].reduce(1, *)
        var outShape = shape
        outShape.remove(at: ax)
        let values = scalarsAsDouble()
        return Tensor.build(outShape, as: Int32.self) { out in
            for o in 0..<outer {
                for i in 0..<inner {
                    var best = 0, bestValue = values[o * n * inner + i]
                    for j in 1..<Swift.max(n, 1) where values[(o * n + j) * inner + i] > bestValue {
                        best = j; bestValue = values[(o * n + j) * inner + i]
                    }
                    out[o * inner + i] = Int32(best)
                }
            }
        }
    }

    /// Sums a gradient of a broadcast shape back to `target` (the operand's shape).
    func unbroadcast(to target: [Int]) -> Tensor {
        if shape == target { return self }
        let lead = rank - target.count
        precondition(lead >= 0, "unbroadcast: gradient \(shape) has lower rank than its input \(target)")
        var axes = Set(0..<lead)
        for (i, n) in target.enumerated() where n == 1 && shape[lead + i] != 1 { axes.insert(lead + i) }
        return Kernels.reduce(self, axes: axes, .sum, op: "unbroadcast").reshaped(to: target)
    }

    /// The values repeated to `shape` (NumPy `broadcast_to`), materialized.
    public func broadcasted(to target: [Int]) -> Tensor {
        if shape == target { return self }
        precondition(Shape.broadcast(shape, target) == target, "broadcasted(to:): \(shape) cannot be broadcast to \(target)")
        let out = Kernels.binary(Tensor.zeros(target, dtype: dtype), detached(), AddFn(), op: "broadcast")
        return out.recorded("broadcast", inputs: [self]) { g, _ in [g] }
    }
}
