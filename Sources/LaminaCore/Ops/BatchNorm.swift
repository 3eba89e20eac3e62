import Foundation

extension Tensor {
    /// Batch normalization in training mode, in one op: the batch statistics of each channel
    /// (the last axis) over every other axis, and `y = (x − mean) / √(var + ε) · gamma + beta`,
    /// with one fused backward. Keras: the training-mode computation of
    /// `BatchNormalization(axis=-1)`. Returns y and the batch's `mean` and biased `variance`
    /// (`[C]`, for the moving averages; not differentiated). `gamma` and `beta` are `[C]` or nil.
    /// float32 and float64.
    ///
    /// As composed ops this is about seven passes over the activations forward and a dozen
    /// backward; here it is two each (statistics, then the normalization; the two channel sums
    /// of the gradient, then dx).
    public static func batchNormalizationTraining(_ x: Tensor, gamma: Tensor?, beta: Tensor?,
                                                  epsilon: Double) -> (y: Tensor, mean: Tensor, variance: Tensor) {
        checkChannelArguments("batchNormalizationTraining", x, ["gamma": gamma, "beta": beta])
        return x.dtype == .float32 ? batchNormOp(Float.self, x, gamma, beta, epsilon) : batchNormOp(Double.self, x, gamma, beta, epsilon)
    }

    /// Batch normalization with given statistics (inference mode), in one pass:
    /// `y = (x − mean)·scale + beta` with `scale = gamma/√(variance + ε)` made once per channel
    /// (the last axis). Keras: `BatchNormalization(axis=-1)` called with `training=False`.
    /// `mean`, `variance`, `gamma` and `beta` are `[C]` (`gamma`, `beta` may be nil); every
    /// input is differentiated (dx = dy·scale; the others from the channel sums Σdy and Σdy·x̂).
    /// The mean is subtracted before scaling: folding it into a shift (x·scale + (β − μ·scale))
    /// cancels large terms and drifts from Keras by ~1e-4 over InceptionV3's 94 normalizations.
    /// float32 and float64.
    public static func batchNormalizationInference(_ x: Tensor, mean: Tensor, variance: Tensor, gamma: Tensor?, beta: Tensor?,
                                                   epsilon: Double) -> Tensor {
        checkChannelArguments("batchNormalizationInference", x, ["mean": mean, "variance": variance, "gamma": gamma, "beta": beta])
        return x.dtype == .float32 ? batchNormInferenceOp(Float.self, x, mean, variance, gamma, beta, epsilon)
            : batchNormInferenceOp(Double.self, x, mean, variance, gamma, beta, epsilon)
    }

    /// x float32 or float64 with a channel (last) axis; each vector given `[C]` of x's dtype.
    private static func checkChannelArguments(_ op: String, _ x: Tensor, _ vectors: KeyValuePairs<String, Tensor?>) {
        let c = x.shape.last ?? 1
        precondition(x.rank >= 1, "\(op): x must have a channel axis")
        precondition(x.dtype == .float32 || x.dtype == .float64, "\(op): float32 or float64, got \(x.dtype)")
        for (name, t) in vectors {
            precondition(t.map { $0.shape == [c] && $0.dtype == x.dtype } ?? true, "\(op): \(name) must be [\(c)] \(x.dtype)")
        }
    }

    /// Batch normalization at inference as a per-channel affine map, in Double: the mean, the
    /// inverse deviation 1/√(variance + ε), gamma, and scale = inverse·gamma.
    static func inferenceAffine<T: FloatScalar>(_: T.Type, _ mean: Tensor, _ variance: Tensor, _ gamma: Tensor?, _ epsilon: Double)
        -> (mean: [Double], inverse: [Double], gamma: [Double]?, scale: [Double]) {
        let inverse = variance.asArray(T.self).map { 1 / ($0.doubleValue + epsilon).squareRoot() }
        let g = gamma?.asArray(T.self).map(\.doubleValue)
        return (mean.asArray(T.self).map(\.doubleValue), inverse, g, inverse.indices.map { j in inverse[j] * (g?[j] ?? 1) })
    }

    private static func batchNormInferenceOp<T: FloatScalar>(_: T.Type, _ x: Tensor, _ mean: Tensor, _ variance: Tensor,
                                                             _ gamma: Tensor?, _ beta: Tensor?, _ epsilon: Double) -> Tensor {
        let xd = x.detached()
        let (m, inverse, g, scale) = inferenceAffine(T.self, mean, variance, gamma, epsilon)
        let y = Kernels.channelAffine(T.self, xd, mean: m, scale: scale, shift: beta?.asArray(T.self).map(\.doubleValue))
        let inputs = [x, mean, variance] + [gamma, beta].compactMap { $0 }
        let hasGamma = gamma != nil, hasBeta = beta != nil
        return y.recorded("batchNormalizationInference", inputs: inputs) { grad, needed in
            let dx = needed[0] ? Kernels.channelAffine(T.self, grad, mean: nil, scale: scale, shift: nil) : nil
            // Σdy and Σdy·x̂ per channel, only when a statistic or gamma/beta asks for them.
            guard needed.dropFirst().contains(true) else { return [dx] + [Tensor?](repeating: nil, count: inputs.count - 1) }
            let (sumDy, sumDyXhat) = Kernels.channelGradientSums(T.self, grad, xd, mean: m, inverse: inverse)
            let channels = inverse.indices
            var out: [Tensor?] = [dx, Kernels.channelVector(T.self, channels.map { -scale[$0] * sumDy[$0] }),
                                  Kernels.channelVector(T.self, channels.map { -0.5 * (g?[$0] ?? 1) * inverse[$0] * inverse[$0] * sumDyXhat[$0] })]
            if hasGamma { out.append(Kernels.channelVector(T.self, sumDyXhat)) }
            if hasBeta { out.append(Kernels.channelVector(T.self, sumDy)) }
            return out
        }
    }

    private static func batchNormOp<T: FloatScalar>(_: T.Type, _ x: Tensor, _ gamma: Tensor?, _ beta: Tensor?,
                                                    _ epsilon: Double) -> (y: Tensor, mean: Tensor, variance: Tensor) {
        let xd = x.detached(), gd = gamma?.detached(), bd = beta?.detached()
        let f = Kernels.batchNormForward(T.self, xd, gd, bd, epsilon: epsilon)
        var inputs = [x]
        if let gamma { inputs.append(gamma) }
        if let beta { inputs.append(beta) }
        let hasGamma = gamma != nil, hasBeta = beta != nil
        let (mean, inverse) = (f.mean, f.inverse)
        let y = f.y.recorded("batchNormalization", inputs: inputs) { grad, needed in
            let (dx, dg, db) = Kernels.batchNormBackward(T.self, grad, xd, gd, mean: mean, inverse: inverse, needX: needed[0],
                                                         needGamma: hasGamma && needed[1], needBeta: hasBeta && needed[hasGamma ? 2 : 1])
            var out: [Tensor?] = [dx]
            if hasGamma { out.append(dg) }
            if hasBeta { out.append(db) }
            return out
        }
        return (y, Kernels.channelVector(T.self, mean), Kernels.channelVector(T.self, f.variance))
    }
}

extension Kernels {
    /// Chunks of the rows of `[rows, c]` for the channel reductions: each sums its rows into its
    /// own partial sums in T, which are added up in Double. Enough chunks for the cores, and at
    /// most 1,024 rows each, so a float32 partial sum stays accurate (ResNet50's first
    /// normalization has 73,728 rows).
    private static func batchNormChunks(rows: Int, c: Int) -> Int {
        let forCores = Swift.min(Swift.max(1, rows * c / parallelThreshold), 4 * ThreadCount.current)
        return Swift.max(1, Swift.min(rows, Swift.max(forCores, (rows + 1023) / 1024)))
    }

    /// Per channel: Σ over the rows of `term(x, channel)`, for each chunk of rows on its own
    /// core; the chunks' sums are added in Double.
    private static func channelSums<T: FloatScalar>(_: T.Type, rows: Int, c: Int, sums count: Int,
                                                    _ body: (Range<Int>, UnsafeMutablePointer<T>) -> Void) -> [[Double]] {
        let chunks = batchNormChunks(rows: rows, c: c)
        let partial = UnsafeMutablePointer<T>.allocate(capacity: chunks * count * c)
        defer { partial.deallocate() }
        partial.initialize(repeating: 0, count: chunks * count * c)
        nonisolated(unsafe) let p = partial
        parallelFor(chunks) { range in
            for chunk in range {
                body(rows * chunk / chunks..<rows * (chunk + 1) / chunks, p + chunk * count * c)
            }
        }
        return (0..<count).map { s in
            (0..<c).map { j in (0..<chunks).reduce(0.0) { $0 + partial[($1 * count + s) * c + j].doubleValue } }
        }
    }

    struct BatchNormForward {
        let y: Tensor
        /// Per channel, in Double: the batch mean, the biased variance and 1/√(var + ε).
        let mean: [Double], variance: [Double], inverse: [Double]
    }

    /// The statistics (two passes: the mean, then the squared deviations from it, as
    /// `x.mean` then `(x − mean).square().mean` would) and y = (x − mean)·scale + beta with
    /// scale = gamma/√(var + ε).
    static func batchNormForward<T: FloatScalar>(_: T.Type, _ x: Tensor, _ gamma: Tensor?, _ beta: Tensor?,
                                                 epsilon: Double) -> BatchNormForward {
        let c = x.shape.last ?? 1, rows = c == 0 ? 0 : x.count / c
        let n = Double(Swift.max(rows, 1))
        let (mean, variance) = withBaseAddresses(T.self, [x]) { p in
            nonisolated(unsafe) let xs = p[0]!
            let mean = channelSums(T.self, rows: rows, c: c, sums: 1) { range, s in
                for r in range { let row = xs + r * c; for j in 0..<c { s[j] += row[j] } }
            }[0].map { $0 / n }
            let meanT = mean.map { T(fromDouble: $0) }
            let variance = meanT.withUnsafeBufferPointer { mp in
                nonisolated(unsafe) let m = mp.baseAddress!
                return channelSums(T.self, rows: rows, c: c, sums: 1) { range, s in
                    for r in range { let row = xs + r * c; for j in 0..<c { let d = row[j] - m[j]; s[j] += d * d } }
                }[0].map { $0 / n }
            }
            return (mean, variance)
        }
        let inverse = variance.map { 1 / ($0 + epsilon).squareRoot() }
        let g = gamma?.asArray(T.self)
        let scale = (0..<c).map { j in inverse[j] * (g?[j].doubleValue ?? 1) }
        let y = channelAffine(T.self, x, mean: mean, scale: scale, shift: beta?.asArray(T.self).map(\.doubleValue))
        return BatchNormForward(y: y, mean: mean, variance: variance, inverse: inverse)
    }

    /// A `[C]` tensor of T from per-channel values computed in Double.
    static func channelVector<T: FloatScalar>(_: T.Type, _ values: [Double]) -> Tensor {
        Tensor.build([values.count], as: T.self) { o in for j in values.indices { o[j] = T(fromDouble: values[j]) } }
    }

    /// y = (x − mean)·scale + shift per channel of the last axis, in one parallel pass (mean
    /// and shift optional).
    static func channelAffine<T: FloatScalar>(_: T.Type, _ x: Tensor, mean: [Double]?, scale: [Double], shift: [Double]?) -> Tensor {
        let c = x.shape.last ?? 1, rows = c == 0 ? 0 : x.count / c
        var perChannel = (mean ?? [Double](repeating: 0, count: c)).map { T(fromDouble: $0) }
        perChannel += scale.map { T(fromDouble: $0) }
        perChannel += (shift ?? [Double](repeating: 0, count: c)).map { T(fromDouble: $0) }
        let hasMean = mean != nil, hasShift = shift != nil
        let y = Tensor.build(x.shape, as: T.self) { _ in }  // every element is written below
        withBaseAddresses(T.self, [x, y]) { p in
            nonisolated(unsafe) let (xs, o) = (p[0]!, p[1]!)
            perChannel.withUnsafeBufferPointer { pc in
                nonisolated(unsafe) let (m, k, b) = (pc.baseAddress!, pc.baseAddress! + c, pc.baseAddress! + 2 * c)
                parallelFor(rows, grain: Swift.max(1, parallelThreshold / Swift.max(c, 1))) { range in
                    CKernels<T>.channelAffine(xs + range.lowerBound * c, rows: range.count, c: c, mean: hasMean ? m : nil, scale: k,
                                              shift: hasShift ? b : nil, lower: -.infinity, upper: .infinity, o + range.lowerBound * c)
                }
            }
        }
        return y
    }

    /// Per channel of the last axis: Σ dy and Σ dy·(x − mean)·inverse, in one pass.
    static func channelGradientSums<T: FloatScalar>(_: T.Type, _ dy: Tensor, _ x: Tensor, mean: [Double],
                                                    inverse: [Double]) -> (sumDy: [Double], sumDyXhat: [Double]) {
        let c = x.shape.last ?? 1, rows = c == 0 ? 0 : x.count / c
        let perChannel = mean.map { T(fromDouble: $0) } + inverse.map { T(fromDouble: $0) }
        let sums = withBaseAddresses(T.self, [dy, x]) { p in
            nonisolated(unsafe) let (g, xs) = (p[0]!, p[1]!)
            return perChannel.withUnsafeBufferPointer { pc in
                nonisolated(unsafe) let (m, inv) = (pc.baseAddress!, pc.baseAddress! + c)
                return channelSums(T.self, rows: rows, c: c, sums: 2) { range, s in
                    let sb = s, sg = s + c
                    for r in range {
                        let gr = g + r * c, xr = xs + r * c
                        for j in 0..<c { sb[j] += gr[j]; sg[j] += gr[j] * ((xr[j] - m[j]) * inv[j]) }
                    }
                }
            }
        }
        return (sums[0], sums[1])
    }

    /// With x̂ = (x − mean)·inverse: dbeta = Σ dy, dgamma = Σ dy·x̂ (one pass), and
    /// dx = gamma·inverse·(dy − dbeta/N − x̂·dgamma/N) (a second).
    static func batchNormBackward<T: FloatScalar>(_: T.Type, _ dy: Tensor, _ x: Tensor, _ gamma: Tensor?,
                                                  mean: [Double], inverse: [Double],
                                                  needX: Bool, needGamma: Bool, needBeta: Bool) -> (Tensor?, Tensor?, Tensor?) {
        let c = x.shape.last ?? 1, rows = c == 0 ? 0 : x.count / c
        let n = Double(Swift.max(rows, 1))
        let k = gamma.map { g in g.asArray(T.self).enumerated().map { inverse[$0.offset] * $0.element.doubleValue } } ?? inverse
        let (sumDy, sumDyXhat) = channelGradientSums(T.self, dy, x, mean: mean, inverse: inverse)
        let dx = needX ? Tensor.build(x.shape, as: T.self, { _ in }) : nil  // every element is written
        if let dx {
            // per channel: the mean and 1/√(var + ε), k = gamma·inverse, k·dbeta/N, k·dgamma/N
            let perChannel = [mean, inverse, k, (0..<c).map { k[$0] * sumDy[$0] / n }, (0..<c).map { k[$0] * sumDyXhat[$0] / n }]
                .joined().map { T(fromDouble: $0) }
            withBaseAddresses(T.self, [dy, x, dx]) { p in
                nonisolated(unsafe) let (g, xs, o) = (p[0]!, p[1]!, p[2]!)
                perChannel.withUnsafeBufferPointer { pc in
                    nonisolated(unsafe) let q = pc.baseAddress!
                    let (m, inv, kk, a, b) = (q, q + c, q + 2 * c, q + 3 * c, q + 4 * c)
                    parallelFor(rows, grain: Swift.max(1, parallelThreshold / Swift.max(c, 1))) { range in
                        for r in range {
                            let gr = g + r * c, xr = xs + r * c, dr = o + r * c
                            for j in 0..<c { dr[j] = kk[j] * gr[j] - a[j] - ((xr[j] - m[j]) * inv[j]) * b[j] }
                        }
                    }
                }
            }
        }
        let db = needBeta ? channelVector(T.self, sumDy) : nil
        let dg = needGamma ? channelVector(T.self, sumDyXhat) : nil
        return (dx, dg, db)
    }
}
