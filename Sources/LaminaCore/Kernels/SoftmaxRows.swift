import Foundation

extension Kernels {
    /// Softmax or log-softmax along one axis, seen as [outer, n, inner]. Both subtract the
    /// maximum first, so logits of ±1000 neither overflow nor lose the answer.
    static func softmax(_ x: Tensor, axis: Int, log: Bool) -> Tensor {
        x.isFloat32("softmax") ? softmaxImpl(Float.self, x, axis, log) : softmaxImpl(Double.self, x, axis, log)
    }

    private static func softmaxImpl<T: FloatScalar>(_: T.Type, _ x: Tensor, _ axis: Int, _ log: Bool) -> Tensor {
        let n = x.shape[axis]
        let inner = x.shape[(axis + 1)...].reduce(1, *), outer = x.shape[..<axis].reduce(1, *)
        return x.withUnsafeBuffer(as: T.self) { px in
            Tensor.build(x.shape, as: T.self) { out in
                parallelFor(outer, grain: max(1, parallelThreshold / max(n * inner, 1))) { rows in
                    for o in rows {
                        for i in 0..<inner {
                            let base = o * n * inner + i
                            var m = -T.infinity
                            for j in 0..<n { m = Swift.max(m, px[base + j * inner]) }
                            var s: T = 0
                            for j in 0..<n {
                                let e = T.exp(px[base + j * inner] - m)
                                out[base + j * inner] = e
                                s += e
                            }
                            if log {
                                let ls = T.log(s) + m
                                for j in 0..<n { out[base + j * inner] = px[base + j * inner] - ls }
                            } else {
                                let r = 1 / s
                                for j in 0..<n { out[base + j * inner] *= r }
                            }
                        }
                    }
                }
            }
        }
    }
}
