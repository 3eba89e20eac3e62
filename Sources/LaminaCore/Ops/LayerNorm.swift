import Foundation

extension Tensor {
    /// Layer normalization over the last axis in one op: `(x − mean) / √(var + ε) · gamma + beta`
    /// per row (`var` the biased variance), with one fused backward. Keras: the computation of
    /// `LayerNormalization(axis=-1)`. `gamma` and `beta` are `[n]` (n the last dimension) or nil.
    /// float32 and float64.
    public static func layerNormalization(_ x: Tensor, gamma: Tensor?, beta: Tensor?, epsilon: Double) -> Tensor {
        let n = x.shape.last ?? 1
        precondition(x.dtype == .float32 || x.dtype == .float64, "layerNormalization: float32 or float64, got \(x.dtype)")
        precondition(gamma.map { $0.shape == [n] && $0.dtype == x.dtype } ?? true, "layerNormalization: gamma must be [\(n)] \(x.dtype)")
        precondition(beta.map { $0.shape == [n] && $0.dtype == x.dtype } ?? true, "layerNormalization: beta must be [\(n)] \(x.dtype)")
        return x.dtype == .float32 ? layerNormOp(Float.self, x, gamma, beta, epsilon) : layerNormOp(Double.self, x, gamma, beta, epsilon)
    }

    private static func layerNormOp<T: FloatScalar>(_: T.Type, _ x: Tensor, _ gamma: Tensor?, _ beta: Tensor?, _ epsilon: Double) -> Tensor {
        let xd = x.detached(), gd = gamma?.detached(), bd = beta?.detached()
        let (y, stats) = Kernels.layerNormForward(T.self, xd, gd, bd, epsilon: epsilon)
        var inputs = [x]
        if let gamma { inputs.append(gamma) }
        if let beta { inputs.append(beta) }
        let hasGamma = gamma != nil, hasBeta = beta != nil
        return y.recorded("layerNormalization", inputs: inputs) { grad, needed in
            let (dx, dg, db) = Kernels.layerNormBackward(T.self, grad, xd, gd, stats, needX: needed[0],
                                                         needGamma: hasGamma && needed[1], needBeta: hasBeta && needed[hasGamma ? 2 : 1])
            var out: [Tensor?] = [dx]
            if hasGamma { out.append(dg) }
            if hasBeta { out.append(db) }
            return out
        }
    }
}

extension Kernels {
    /// y and the per-row (mean, 1/√(var + ε)) pairs, by the C kernel of the element type.
    static func layerNormForward<T: FloatScalar>(_: T.Type, _ x: Tensor, _ gamma: Tensor?, _ beta: Tensor?,
                                                 epsilon: Double) -> (Tensor, [T]) {
        let n = x.shape.last ?? 1, rows = n == 0 ? 0 : x.count / n
        var stats = [T](repeating: 0, count: 2 * rows)
        let y = Tensor.build(x.shape, as: T.self) { _ in }  // every element is written
        stats.withUnsafeMutableBufferPointer { ps in
            withBaseAddresses(T.self, [x, gamma, beta, y]) { p in
                parallelFor(rows, grain: Swift.max(1, parallelThreshold / Swift.max(n, 1))) { range in
                    let o = range.lowerBound * n
                    CKernels<T>.layerNormRows(p[0]! + o, range.count, n, p[1], p[2], epsilon, p[3]! + o, ps.baseAddress! + 2 * range.lowerBound)
                }
            }
        }
        return (y, stats)
    }

    /// dx = inv·(ĝ − mean(ĝ) − x̂·mean(ĝ·x̂)) with ĝ = dy·gamma; dgamma = Σ dy·x̂; dbeta = Σ dy.
    static func layerNormBackward<T: FloatScalar>(_: T.Type, _ dy: Tensor, _ x: Tensor, _ gamma: Tensor?, _ stats: [T],
                                                  needX: Bool, needGamma: Bool, needBeta: Bool) -> (Tensor?, Tensor?, Tensor?) {
        let n = x.shape.last ?? 1, rows = n == 0 ? 0 : x.count / n
        let dx = needX ? Tensor.build(x.shape, as: T.self, { _ in }) : nil  // every element is written
        var sg = [Double](repeating: 0, count: needGamma || needBeta ? n : 0), sb = sg
        stats.withUnsafeBufferPointer { ps in
            withBaseAddresses(T.self, [dy, x, gamma, dx]) { p in
                if let out = p[3] {
                    parallelFor(rows, grain: Swift.max(1, parallelThreshold / Swift.max(n, 1))) { range in
                        let o = range.lowerBound * n
                        CKernels<T>.layerNormBackwardRows(p[0]! + o, p[1]! + o, range.count, n, p[2], ps.baseAddress! + 2 * range.lowerBound, out + o)
                    }
                }
                if (needGamma || needBeta) && rows > 0 {
                    CKernels<T>.layerNormParamGrads(p[0]!, p[1]!, rows, n, ps.baseAddress!, &sg, &sb)
                }
            }
        }
        let dg = needGamma ? Tensor.build([n], as: T.self) { o in for j in 0..<n { o[j] = T(fromDouble: sg[j]) } } : nil
        let db = needBeta ? Tensor.build([n], as: T.self) { o in for j in 0..<n { o[j] = T(fromDouble: sb[j]) } } : nil
        return (dx, dg, db)
    }
}
