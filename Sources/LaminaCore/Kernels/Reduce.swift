extension Kernels {
    enum Reduction { case sum, max, min }

    /// Reduces `x` over `axes`, keeping reduced dims as size 1 in the returned shape.
    static func reduce(_ x: Tensor, axes: Set<Int>, _ kind: Reduction, op: String) -> Tensor {
        x.isFloat32(op) ? reduceImpl(Float.self, x, axes, kind) : reduceImpl(Double.self, x, axes, kind)
    }

    /// Sums over the rows of a [rows, columns] matrix: rows split across cores, each part
    /// summed in T over blocks of 64 rows and accumulated in double precision (the C kernel).
    private static func columnSums<T: FloatScalar>(_ px: UnsafeBufferPointer<T>, rows: Int, columns: Int,
                                                   into out: UnsafeMutableBufferPointer<T>) {
        let parts = Swift.min(ThreadCount.current, Swift.max(1, rows * columns / parallelThreshold))
        var partial = [Double](repeating: 0, count: parts * columns)
        partial.withUnsafeMutableBufferPointer { partial in
            parallelFor(parts) { range in
                for part in range {
                    let lo = rows * part / parts, hi = rows * (part + 1) / parts
                    CKernels<T>.columnSums(px.baseAddress! + lo * columns, hi - lo, columns, partial.baseAddress! + part * columns)
                }
            }
            for j in 0..<columns {
                var total = 0.0
                for part in 0..<parts { total += partial[part * columns + j] }
                out[j] = T(total)
            }
        }
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
                if kind == .sum && sizes.count == 2 && reduced == [true, false] {
                    columnSums(px, rows: sizes[0], columns: sizes[1], into: out)  // bias gradients
                    return
                }
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
                let lastReduced = reduced[rank - 1]
                // Input rows are contiguous (row · len); the output offset follows outStrides.
                forEachRow(sizes, outStrides, outStrides) { row, o, _ in
                    let base = row * len
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
                }
                if kind == .sum { for i in 0..<out.count { out[i] = T(wide[i]) } }
            }
        }
    }
}
