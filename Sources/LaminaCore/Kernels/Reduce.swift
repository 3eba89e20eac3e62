extension Kernels {
    enum Reduction { case sum, max, min }

    /// Reduces `x` over `axes`, keeping reduced dims as size 1 in the returned shape.
    static func reduce(_ x: Tensor, axes: Set<Int>, _ kind: Reduction, op: String) -> Tensor {
        x.isFloat32(op) ? reduceImpl(Float.self, x, axes, kind) : reduceImpl(Double.self, x, axes, kind)
    }

    private static func reduceImpl<T: FloatScalar>(_: T.Type, _ x: Tensor, _ axes: Set<Int>, _ kind: Reduction) -> Tensor {
        let keptShape = x.shape.enumerated().map { axes.contains($0.offset) ? 1 : $0.element }
        // Merge neighbouring dims that are both reduced or both kept: [128, 26, 26, 32] over
        // axes 0, 1, 2 becomes [86528, 32] over axis 0.
        var sizes: [Int] = [], reduced: [Bool] = []
        for (d, n) in x.shape.enumerated() where n != 1 {
            let r = axes.contains(d)
            if let last = reduced.last, last == r { sizes[sizes.count - 1] *= n } else { sizes.append(n); reduced.append(r) }
        }
        let initial: T = kind == .sum ? 0 : (kind == .max ? -T.infinity : T.infinity)
        return x.withUnsafeBuffer(as: T.self) { px in
            Tensor.build(keptShape, as: T.self) { out in
                out.initialize(repeating: initial)
                if x.count == 0 { return }
                if sizes.isEmpty { out[0] = px[0]; return }
                // Output strides: row-major over kept dims, 0 over reduced ones.
                var outStrides = [Int](repeating: 0, count: sizes.count)
                var s = 1
                for d in stride(from: sizes.count - 1, through: 0, by: -1) where !reduced[d] {
                    outStrides[d] = s; s *= sizes[d]
                }
                let rank = sizes.count, len = sizes[rank - 1]
                // Sums accumulate in double precision: a float32 running sum over millions of
                // elements drifts (MNIST's mean pixel would come out 0.5% off).
                var wide = [Double](repeating: 0, count: kind == .sum ? out.count : 0)
                var index = [Int](repeating: 0, count: rank)
                var o = 0, base = 0
                let lastReduced = reduced[rank - 1]
                while base < px.count {
                    if lastReduced {
                        var acc = out[o]
                        switch kind {
                        case .sum:
                            var total = 0.0
                            for j in 0..<len { total += Double(px[base + j]) }
                            wide[o] += total
                        case .max: for j in 0..<len { acc = Swift.max(acc, px[base + j]) }
                        case .min: for j in 0..<len { acc = Swift.min(acc, px[base + j]) }
                        }
                        out[o] = acc
                    } else {
                        switch kind {
                        case .sum: for j in 0..<len { wide[o + j] += Double(px[base + j]) }
                        case .max: for j in 0..<len { out[o + j] = Swift.max(out[o + j], px[base + j]) }
                        case .min: for j in 0..<len { out[o + j] = Swift.min(out[o + j], px[base + j]) }
                        }
                    }
                    base += len
                    var d = rank - 2
                    while d >= 0 {
                        index[d] += 1
                        o += outStrides[d]
                        if index[d] < sizes[d] { break }
                        o -= outStrides[d] * sizes[d]
                        index[d] = 0
                        d -= 1
                    }
                }
                if kind == .sum { for i in 0..<out.count { out[i] = T(wide[i]) } }
            }
        }
    }
}
