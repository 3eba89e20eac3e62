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
    /// y and the per-row (mean, 1/√(var + ε)) pairs (float32 through the SIMD kernel, float64
    /// with float64 sums).
    static func layerNormForward<T: FloatScalar>(_: T.Type, _ x: Tensor, _ gamma: Tensor?, _ beta: Tensor?,
                                                 epsilon: Double) -> (Tensor, [T]) {
        let n = x.shape.last ?? 1, rows = n == 0 ? 0 : x.count / n
        var stats = [T](repeating: 0, count: 2 * rows)
        let y = x.withUnsafeBuffer(as: T.self) { px in
            withOptional(gamma, T.self) { pg in
                withOptional(beta, T.self) { pb in
                    stats.withUnsafeMutableBufferPointer { ps in
                        Tensor.build(x.shape, as: T.self) { out in
                            parallelFor(rows, grain: Swift.max(1, parallelThreshold / Swift.max(n, 1))) { range in
                                if T.self == Float.self {
                                    simd.layer_norm_rows(floats(px.baseAddress! + range.lowerBound * n), range.count, n,
                                                         pg.map { floats($0.baseAddress) }, pb.map { floats($0.baseAddress) },
                                                         Float(epsilon), floats(out.baseAddress! + range.lowerBound * n),
                                                         floats(ps.baseAddress! + 2 * range.lowerBound))
                                    return
                                }
                                for r in range {
                                    let xr = px.baseAddress! + r * n, yr = out.baseAddress! + r * n
                                    var s = 0.0
                                    for j in 0..<n { s += Double(xr[j]) }
                                    let mean = s / Double(n)
                                    var v = 0.0
                                    for j in 0..<n { let c = Double(xr[j]) - mean; v += c * c }
                                    let inv = 1 / (v / Double(n) + epsilon).squareRoot()
                                    let m = T(fromDouble: mean), iv = T(fromDouble: inv)
                                    ps[2 * r] = m
                                    ps[2 * r + 1] = iv
                                    for j in 0..<n {
                                        var o = (xr[j] - m) * iv
                                        if let pg { o *= pg[j] }
                                        if let pb { o += pb[j] }
                                        yr[j] = o
                                    }
                                }
                            }
                        }
                    }
                }
            }
        }
        return (y, stats)
    }

    /// dx = inv·(ĝ − mean(ĝ) − x̂·mean(ĝ·x̂)) with ĝ = dy·gamma; dgamma = Σ dy·x̂; dbeta = Σ dy.
    static func layerNormBackward<T: FloatScalar>(_: T.Type, _ dy: Tensor, _ x: Tensor, _ gamma: Tensor?, _ stats: [T],
                                                  needX: Bool, needGamma: Bool, needBeta: Bool) -> (Tensor?, Tensor?, Tensor?) {
        let n = x.shape.last ?? 1, rows = n == 0 ? 0 : x.count / n
        return dy.withUnsafeBuffer(as: T.self) { pdy in
            x.withUnsafeBuffer(as: T.self) { px in
                withOptional(gamma, T.self) { pg in
                    stats.withUnsafeBufferPointer { ps in
                        var dx: Tensor?
                        if needX {
                            dx = Tensor.build(x.shape, as: T.self) { out in
                                parallelFor(rows, grain: Swift.max(1, parallelThreshold / Swift.max(n, 1))) { range in
                                    if T.self == Float.self {
                                        let o = range.lowerBound * n
                                        simd.layer_norm_backward_rows(floats(pdy.baseAddress! + o), floats(px.baseAddress! + o), range.count, n,
                                                                      pg.map { floats($0.baseAddress) }, floats(ps.baseAddress! + 2 * range.lowerBound),
                                                                      floats(out.baseAddress! + o))
                                        return
                                    }
                                    for r in range {
                                        let xr = px.baseAddress! + r * n, gr = pdy.baseAddress! + r * n, o = out.baseAddress! + r * n
                                        let mean = Double(ps[2 * r]), inv = Double(ps[2 * r + 1])
                                        var sg = 0.0, sgx = 0.0
                                        for j in 0..<n {
                                            let gh = Double(gr[j]) * (pg.map { Double($0[j]) } ?? 1)
                                            let xh = (Double(xr[j]) - mean) * inv
                                            sg += gh; sgx += gh * xh
                                        }
                                        let a = sg / Double(n), b = sgx / Double(n)
                                        for j in 0..<n {
                                            let gh = Double(gr[j]) * (pg.map { Double($0[j]) } ?? 1)
                                            let xh = (Double(xr[j]) - mean) * inv
                                            o[j] = T(fromDouble: inv * (gh - a - xh * b))
                                        }
                                    }
                                }
                            }
                        }
                        var dg: Tensor?, db: Tensor?
                        if needGamma || needBeta {
                            var sg = [Double](repeating: 0, count: n), sb = [Double](repeating: 0, count: n)
                            if T.self == Float.self {
                                sg.withUnsafeMutableBufferPointer { g in
                                    sb.withUnsafeMutableBufferPointer { b in
                                        simd.layer_norm_param_grads(floats(pdy.baseAddress), floats(px.baseAddress), rows, n,
                                                                    floats(ps.baseAddress), g.baseAddress, b.baseAddress)
                                    }
                                }
                            } else {
                                for r in 0..<rows {
                                    let xr = px.baseAddress! + r * n, gr = pdy.baseAddress! + r * n
                                    let mean = Double(ps[2 * r]), inv = Double(ps[2 * r + 1])
                                    for j in 0..<n {
                                        let g = Double(gr[j])
                                        sg[j] += g * (Double(xr[j]) - mean) * inv
                                        sb[j] += g
                                    }
                                }
                            }
                            if needGamma { dg = Tensor.build([n], as: T.self) { o in for j in 0..<n { o[j] = T(fromDouble: sg[j]) } } }
                            if needBeta { db = Tensor.build([n], as: T.self) { o in for j in 0..<n { o[j] = T(fromDouble: sb[j]) } } }
                        }
                        return (dx, dg, db)
                    }
                }
            }
        }
    }

    private static func withOptional<T: FloatScalar, R>(_ t: Tensor?, _: T.Type, _ body: (UnsafeBufferPointer<T>?) -> R) -> R {
        guard let t else { return body(nil) }
        return t.withUnsafeBuffer(as: T.self) { body($0) }
    }
}
