import CLaminaKernels
import Testing
import LaminaTestSupport
@testable import LaminaCore

@Suite struct Conv2DTests {
    @Test(arguments: [(Padding.valid, 1, 1), (.valid, 2, 1), (.same, 1, 1), (.same, 2, 2), (.same, 3, 2)])
    func matchesDirectConvolution(padding: Padding, sh: Int, sw: Int) {
        let x = randn([2, 7, 6, 3], seed: 1), w = randn([3, 2, 3, 4], seed: 2)
        let g = WindowGeometry(inH: 7, inW: 6, kH: 3, kW: 2, strideH: sh, strideW: sw, padding: padding)
        let expected = Reference.conv2d(x, w, stride: (sh, sw), outH: g.outH, outW: g.outW,
                                        padTop: g.padTop, padLeft: g.padLeft)
        expectClose(x.conv2d(w, strides: (sh, sw), padding: padding), expected, atol: 1e-12, rtol: 1e-12)
        expectClose(x.cast(to: .float32).conv2d(w.cast(to: .float32), strides: (sh, sw), padding: padding),
                    expected, atol: 1e-4, rtol: 1e-4)
    }

    /// The fused ReLU (inference, chunked over images) equals conv + bias then relu, and the
    /// recorded path has its gradient.
    @Test func fusedReLUMatchesConvThenReLU() {
        let x = randn([37, 6, 5, 2], seed: 7), w = randn([3, 3, 2, 4], seed: 8), b = randn([4], seed: 9)
        let expected = (x.conv2d(w, padding: .same) + b).relu()
        expectClose(withoutGradients { x.conv2d(w, bias: b, padding: .same, fusedReLU: true) }, expected, atol: 1e-12, rtol: 1e-12)
        expectGradients([randn([2, 4, 4, 2], seed: 10), randn([2, 2, 2, 3], seed: 11), randn([3], seed: 12)]) {
            $0[0].conv2d($0[1], bias: $0[2], fusedReLU: true)
        }
    }

    @Test func samePaddingPutsTheExtraPixelBottomRight() {
        // TensorFlow: in 6, kernel 3, stride 2 -> out 3, total pad 1 -> top 0, bottom 1.
        let g = WindowGeometry(inH: 6, inW: 5, kH: 3, kW: 4, strideH: 2, strideW: 1, padding: .same)
        #expect(g.outH == 3 && g.padTop == 0)
        #expect(g.outW == 5 && g.padLeft == 1)   // total 3 -> left 1, right 2
        let v = WindowGeometry(inH: 28, inW: 28, kH: 3, kW: 3, strideH: 1, strideW: 1, padding: .valid)
        #expect(v.outH == 26 && v.outW == 26)
    }

    @Test func gradientsStride2SamePaddingNonSquareSeveralChannels() {
        let x = randn([2, 5, 4, 3], seed: 3), w = randn([3, 3, 3, 2], seed: 4)
        expectGradients([x, w]) { $0[0].conv2d($0[1], strides: (2, 2), padding: .same) }
        expectGradients([x, w]) { $0[0].conv2d($0[1], strides: (1, 2), padding: .valid) }
        expectGradients([randn([1, 4, 6, 2], seed: 5), randn([2, 3, 2, 3], seed: 6)]) {
            $0[0].conv2d($0[1], padding: .same)
        }
    }

    @Test func channelMismatchStops() async {
        await #expect(processExitsWith: .failure) {
            _ = Tensor.zeros([1, 5, 5, 3]).conv2d(Tensor.zeros([3, 3, 1, 8]))
        }
    }
}

@Suite struct InferenceConvTests {
    /// Without gradients conv2d runs over chunks of 32 images; a batch of 70 (three chunks,
    /// the last partial) must give exactly what the recorded single-GEMM path gives.
    @Test func chunkedInferenceMatchesTheTrainingPath() {
        // 3×3×4 = 36 taps: the im2col + GEMM path (the direct one is covered by ConvPathTests).
        let x = randn([70, 7, 6, 4], seed: 51).cast(to: .float32)
        var w = randn([3, 3, 4, 5], seed: 52).cast(to: .float32)
        #expect(!Kernels.usesDirectConv(taps: 36))
        let inference = x.conv2d(w, strides: (2, 1), padding: .same)
        w.requiresGrad = true
        let training = x.conv2d(w, strides: (2, 1), padding: .same)
        #expect(inference.asArray(Float.self) == training.asArray(Float.self))
    }

    /// Few chunks come in a multiple of the cores; many, or no more than the cores, as asked.
    @Test func fewChunksAreAMultipleOfTheCores() {
        let threads = ThreadCount.current
        for (n, size) in [(32, 11), (32, 3), (70, 9), (1000, 6), (5, 1), (1, 1)] {
            let chunks = Kernels.balancedChunks(n, size: size), plain = (n + size - 1) / size
            #expect(chunks >= 1 && chunks <= n, "n \(n) size \(size): \(chunks) chunks")
            if plain > threads && plain < 8 * threads {
                #expect(chunks % threads == 0 && chunks <= plain, "n \(n) size \(size): \(chunks) chunks")
            } else {
                #expect(chunks == plain, "n \(n) size \(size): \(chunks) chunks")
            }
        }
    }

    /// A 1×1 convolution with stride 1 reads the images as its patch rows (no im2col); with
    /// stride 2 it unfolds them. Both with bias, against the float64 reference.
    @Test(arguments: [(Padding.valid, 1), (.same, 1), (.same, 2)])
    func pointwiseInferenceMatchesTheReference(padding: Padding, stride: Int) {
        let x = randn([45, 3, 4, 40], seed: 53), w = randn([1, 1, 40, 24], seed: 54), b = randn([24], seed: 55)
        let g = WindowGeometry(inH: 3, inW: 4, kH: 1, kW: 1, strideH: stride, strideW: stride, padding: padding)
        let expected = Reference.conv2d(x, w, stride: (stride, stride), outH: g.outH, outW: g.outW, padTop: g.padTop, padLeft: g.padLeft) + b
        let got = withoutGradients {
            x.cast(to: .float32).conv2d(w.cast(to: .float32), bias: b.cast(to: .float32), strides: (stride, stride), padding: padding)
        }
        expectClose(got, expected, atol: 1e-4, rtol: 1e-4)
    }
}

/// Both convolution paths — the direct loop for thin patches and im2col + GEMM — against the
/// naive reference, in float64 and float32, by float64 gradient checks, with and without bias
/// and ReLU, for training and inference.
@Suite struct ConvPathTests {
    /// (channels, kernel): 1×3×3 and 3×3×3 run direct, 4×3×3 and 2×5×5 through im2col.
    static let shapes: [(c: Int, k: Int, direct: Bool)] = [(1, 3, true), (3, 3, true), (4, 3, false), (2, 5, false)]

    @Test(arguments: [0, 1, 2, 3]) func forwardMatchesReference(_ i: Int) {
        let (c, k, direct) = Self.shapes[i]
        #expect(Kernels.usesDirectConv(taps: k * k * c) == direct)
        for (padding, stride) in [(Padding.valid, 1), (.same, 2)] {
            let x = randn([3, 9, 8, c], seed: 60 + UInt64(i)), w = randn([k, k, c, 37], seed: 70 + UInt64(i)), b = randn([37], seed: 80)
            let g = WindowGeometry(inH: 9, inW: 8, kH: k, kW: k, strideH: stride, strideW: stride, padding: padding)
            let reference = Reference.conv2d(x, w, stride: (stride, stride), outH: g.outH, outW: g.outW, padTop: g.padTop, padLeft: g.padLeft)
            let withBias = (reference + b).relu()
            expectClose(x.conv2d(w, strides: (stride, stride), padding: padding), reference, atol: 1e-12, rtol: 1e-12)
            expectClose(withoutGradients { x.conv2d(w, bias: b, strides: (stride, stride), padding: padding, fusedReLU: true) },
                        withBias, atol: 1e-12, rtol: 1e-12)
            let (xf, wf, bf) = (x.cast(to: .float32), w.cast(to: .float32), b.cast(to: .float32))
            expectClose(xf.conv2d(wf, strides: (stride, stride), padding: padding), reference, atol: 1e-4, rtol: 1e-4)
            expectClose(withoutGradients { xf.conv2d(wf, bias: bf, strides: (stride, stride), padding: padding, fusedReLU: true) },
                        withBias, atol: 1e-4, rtol: 1e-4)
        }
    }

    @Test(arguments: [0, 1, 2, 3]) func gradients(_ i: Int) {
        let (c, k, _) = Self.shapes[i]
        expectGradients([randn([2, 6, 5, c], seed: 90), randn([k, k, c, 3], seed: 91), randn([3], seed: 92)]) {
            $0[0].conv2d($0[1], bias: $0[2], strides: (2, 1), padding: .same, fusedReLU: true)
        }
        expectGradients([randn([2, 6, 7, c], seed: 93), randn([k, k, c, 2], seed: 94)]) { $0[0].conv2d($0[1]) }
    }

    /// Float32 gradients of the training path equal the float64 ones within float32 rounding
    /// (the direct filter-gradient kernel sums in float32 per core).
    @Test(arguments: [0, 1, 2, 3]) func float32GradientsMatchFloat64(_ i: Int) {
        let (c, k, _) = Self.shapes[i]
        let x = randn([33, 10, 9, c], seed: 95), w = randn([k, k, c, 19], seed: 96), b = randn([19], seed: 97)
        func grads(_ dtype: DType) -> [Tensor] {
            var (xv, wv, bv) = (x.cast(to: dtype), w.cast(to: dtype), b.cast(to: dtype))
            xv.requiresGrad = true; wv.requiresGrad = true; bv.requiresGrad = true
            let y = xv.conv2d(wv, bias: bv, padding: .same, fusedReLU: true)
            return (y * y).sum().gradients(wrt: [xv, wv, bv])
        }
        for (a, b) in zip(grads(.float32), grads(.float64)) { expectClose(a, b, atol: 2e-3, rtol: 2e-4) }
    }
}

/// The fused inference op conv2d + ReLU + max pooling equals the two ops one after the other.
@Suite struct ConvPoolFusionTests {
    @Test(arguments: [0, 1, 2, 3]) func fusedEqualsComposition(_ i: Int) {
        let (c, k, _) = ConvPathTests.shapes[i]
        for (batch, pool, poolStride, poolPadding, relu) in [(1, 2, 2, Padding.valid, true), (7, 3, 2, .same, false), (70, 2, 2, .valid, true)] {
            let x = randn([batch, 12, 11, c], seed: 100 + UInt64(i)).cast(to: .float32)
            let w = randn([k, k, c, 19], seed: 110).cast(to: .float32), b = randn([19], seed: 111).cast(to: .float32)
            let (fused, composed) = withoutGradients {
                (x.conv2dMaxPool(w, bias: b, padding: .same, fusedReLU: relu, poolSize: (pool, pool), poolStrides: (poolStride, poolStride),
                                 poolPadding: poolPadding),
                 x.conv2d(w, bias: b, padding: .same, fusedReLU: relu).maxPool2d(poolSize: (pool, pool), strides: (poolStride, poolStride),
                                                                                 padding: poolPadding))
            }
            #expect(fused.shape == composed.shape)
            // GEMMs over different row counts may round differently (float32, a few ulp).
            expectClose(fused, composed, atol: 1e-5, rtol: 1e-5)
        }
    }

    /// Recording in float32 (`chunkedConv2dMaxPoolBackward`: the direct or the GEMM
    /// convolution in chunks of images, the maxima's positions kept, each chunk's gradient
    /// scattered in scratch), values and gradients are those of the composition conv2d →
    /// maxPool2d within float32 rounding (the forward values are the same to the bit, so the
    /// same maxima are taken): overlapping and padded pools, batches of several chunks, and
    /// with only the input or only the kernel requiring gradients.
    /// (channels, kernel size): ConvPathTests' direct and im2col shapes, and 16 channels into 19
    /// filters, where the batch of 70 runs the forward pass by Winograd.
    static let trainingShapes = ConvPathTests.shapes.map { ($0.c, $0.k) } + [(16, 3)]

    @Test(arguments: trainingShapes.indices) func float32TrainingMatchesTheComposition(_ i: Int) {
        let (c, k) = Self.trainingShapes[i]
        for (batch, pool, poolStride, poolPadding, relu) in [(1, 2, 2, Padding.valid, true), (7, 3, 2, .same, false), (70, 2, 2, .valid, true)] {
            let x = randn([batch, 12, 11, c], seed: 140 + UInt64(i)).cast(to: .float32)
            let w = randn([k, k, c, 19], seed: 141).cast(to: .float32), b = randn([19], seed: 142).cast(to: .float32)
            for wanted in [[true, true, true], [true, false, false], [false, true, true]] {
                func run(fused: Bool) -> [Tensor] {
                    var (xv, wv, bv) = (x.detached(), w.detached(), b.detached())
                    xv.requiresGrad = wanted[0]; wv.requiresGrad = wanted[1]; bv.requiresGrad = wanted[2]
                    let y = fused
                        ? xv.conv2dMaxPool(wv, bias: bv, padding: .same, fusedReLU: relu, poolSize: (pool, pool),
                                           poolStrides: (poolStride, poolStride), poolPadding: poolPadding)
                        : xv.conv2d(wv, bias: bv, padding: .same, fusedReLU: relu)
                            .maxPool2d(poolSize: (pool, pool), strides: (poolStride, poolStride), padding: poolPadding)
                    let r = randn(y.shape, seed: 143).cast(to: .float32)
                    let on = zip([xv, wv, bv], wanted).filter(\.1).map(\.0)
                    return [y] + (y * r).sum().gradients(wrt: on)
                }
                let (fused, composed) = (run(fused: true), run(fused: false))
                #expect(fused[0].asArray(Float.self) == composed[0].asArray(Float.self))
                for (f, c) in zip(fused.dropFirst(), composed.dropFirst()) { expectClose(f, c, atol: 1e-4, rtol: 1e-4) }
            }
        }
    }

    /// With gradients recorded it is the composition itself, gradients included.
    @Test func recordsLikeTheComposition() {
        expectGradients([randn([2, 6, 6, 2], seed: 120), randn([3, 3, 2, 3], seed: 121), randn([3], seed: 122)]) {
            $0[0].conv2dMaxPool($0[1], bias: $0[2], fusedReLU: true, poolSize: (2, 2))
        }
    }

    /// Recording, the ReLU runs after the pooling: the same values and gradients as ReLU then
    /// pooling, to the bit — on inputs of few levels, so windows hold tied maxima, all-negative
    /// windows and exact zeros (and integer sums, exact in any order: the float32 path sums
    /// the gradients in another order than the composition).
    @Test(arguments: [DType.float32, .float64]) func reluAfterPoolingIsExact(_ dtype: DType) {
        func levels(_ t: Tensor) -> Tensor { Tensor(shape: t.shape, scalars: t.asArray(Double.self).map { $0.rounded() }).cast(to: dtype) }
        let x = levels(randn([3, 9, 8, 2], seed: 130, scale: 2)), w = levels(randn([3, 3, 2, 4], seed: 131, scale: 1.5))
        let b = Tensor([-1, 0, 0.5, 2] as [Double]).cast(to: dtype)
        let seed = levels(randn([3, 4, 3, 4], seed: 132, scale: 2))
        func run(_ f: (Tensor, Tensor, Tensor) -> Tensor) -> [Tensor] {
            var (xv, wv, bv) = (x.detached(), w.detached(), b.detached())
            xv.requiresGrad = true; wv.requiresGrad = true; bv.requiresGrad = true
            let y = f(xv, wv, bv)
            return [y] + y.gradients(wrt: [xv, wv, bv], seed: seed)
        }
        let fused = run { $0.conv2dMaxPool($1, bias: $2, fusedReLU: true, poolSize: (2, 2), poolStrides: (2, 2), poolPadding: .same) }
        let composed = run { $0.conv2d($1, bias: $2, fusedReLU: true).maxPool2d(poolSize: (2, 2), strides: (2, 2), padding: .same) }
        func values(_ t: Tensor) -> [Double] { t.cast(to: .float64).asArray(Double.self) }
        let pooled = values(withoutGradients { x.conv2d(w, bias: b).maxPool2d(poolSize: (2, 2), strides: (2, 2), padding: .same) })
        #expect(pooled.contains { $0 < 0 } && pooled.contains(0))  // the cases are there
        for (f, c) in zip(fused, composed) {
            #expect(f.shape == c.shape)
            #expect(values(f) == values(c))
        }
    }
}

/// `conv2d(normalizedBy:)`, the inference epilogue of Conv2D → BatchNormalization → ReLU, gives
/// exactly the three ops' values (the same kernels on the same numbers) on the direct, im2col and
/// pointwise paths, with and without bias, gamma, beta, the ReLU and its cap; recording, it is
/// the composition, gradients included.
@Suite struct ConvNormFusionTests {
    /// (channels, kernel, strides, padding): direct, direct, im2col, im2col, pointwise.
    static let cases: [(c: Int, k: Int, s: (Int, Int), padding: Padding)] = [
        (1, 3, (2, 1), .same), (3, 3, (1, 1), .valid), (4, 3, (2, 2), .same), (2, 5, (1, 2), .same), (40, 1, (1, 1), .valid),
    ]

    static func normalization(_ f: Int, gamma: Bool, beta: Bool, dtype: DType = .float32) -> BatchNormInference {
        BatchNormInference(mean: randn([f], seed: 212).cast(to: dtype), variance: (randn([f], seed: 213).square() + 0.2).cast(to: dtype),
                           gamma: gamma ? randn([f], seed: 214).cast(to: dtype) : nil, beta: beta ? randn([f], seed: 215).cast(to: dtype) : nil,
                           epsilon: 1e-3)
    }

    @Test(arguments: [0, 1, 2, 3, 4]) func fusedEqualsComposition(_ i: Int) {
        let (c, k, s, padding) = Self.cases[i]
        let f = 19
        let x = randn([7, 12, 11, c], seed: 200 + UInt64(i)).cast(to: .float32)
        let w = randn([k, k, c, f], seed: 210).cast(to: .float32), b = randn([f], seed: 211).cast(to: .float32)
        for (bias, gamma, beta, relu, cap) in [(true, true, true, false, nil), (true, true, true, true, nil), (false, false, true, true, 6.0),
                                               (true, true, false, true, 0.5), (false, false, false, false, nil)] as [(Bool, Bool, Bool, Bool, Double?)] {
            let n = Self.normalization(f, gamma: gamma, beta: beta)
            let (fused, composed) = withoutGradients {
                let y = Tensor.batchNormalizationInference(x.conv2d(w, bias: bias ? b : nil, strides: s, padding: padding), mean: n.mean,
                                                           variance: n.variance, gamma: n.gamma, beta: n.beta, epsilon: n.epsilon)
                return (x.conv2d(w, bias: bias ? b : nil, strides: s, padding: padding, normalizedBy: n, fusedReLU: relu, reluMaxValue: cap),
                        relu ? y.relu(maxValue: cap) : y)
            }
            #expect(fused.shape == composed.shape)
            let difference = zip(fused.asArray(Float.self), composed.asArray(Float.self)).map { Swift.abs($0 - $1) }.max() ?? 0
            #expect(difference == 0, "case \(i): bias \(bias) gamma \(gamma) beta \(beta) relu \(relu) cap \(String(describing: cap))")
            if relu { #expect(fused.asArray(Float.self).allSatisfy { $0 >= 0 && $0 <= Float(cap ?? .infinity) }) }
        }
    }

    @Test func recordsLikeTheComposition() {
        let n = Self.normalization(3, gamma: true, beta: true, dtype: .float64)
        let r = GradientCheck.run(at: [randn([2, 6, 5, 2], seed: 220), randn([3, 3, 2, 3], seed: 221), randn([3], seed: 222), n.mean,
                                       n.variance, n.gamma!, n.beta!, randn([2, 3, 5, 3], seed: 223)]) {
            $0[0].conv2d($0[1], bias: $0[2], strides: (2, 1), padding: .same,
                         normalizedBy: BatchNormInference(mean: $0[3], variance: $0[4], gamma: $0[5], beta: $0[6], epsilon: 1e-3),
                         adding: $0[7], fusedReLU: true)
        }
        #expect(r.maxRelativeError <= 1e-6, "\(r)")
        print("conv2d normalizedBy adding gradient check max relative error: \(r.maxRelativeError)")
    }
}

/// The float32 training path of an im2col convolution where the own GEMM runs the kernel
/// gradient: the forward pass and the input gradient in chunks of images through cache
/// (`chunkedConv2d`, `chunkedConv2dInputGradient`), the kernel gradient read straight from the
/// input (`sgemm_cols_t`: the own GEMM packs its op(A) panels from the image's windows).
/// The kernel gradient is exactly the same GEMM on the materialized patch matrix (`transA`),
/// which `GemmTests` hold to a float64 reference: every SIMD level this CPU runs, 1 and 2
/// threads, windows across every border (same padding), strides, channel counts that split a
/// packed panel across window positions and window rows (1, 5, 13 channels), 256 taps or more
/// (the longer k blocks) and pixels in several k blocks. The whole op — output, input, kernel
/// and bias gradients — agrees with float64's (the materialized path) within float32 rounding,
/// over several chunks of unequal size.
@Suite struct ConvTrainingFromInputTests {
    static let maxLevel = Int(lamina_simd_max_level())

    /// (images, H, W, C, kH, kW, strides, padding, filters)
    static let cases: [(Int, Int, Int, Int, Int, Int, (Int, Int), Padding, Int)] = [
        (3, 7, 6, 1, 3, 3, (1, 1), .same, 5),
        (2, 9, 8, 5, 3, 2, (2, 1), .same, 33),
        (8, 9, 8, 5, 3, 2, (1, 1), .same, 33),      // 576 pixels: two k blocks of the short products
        (1, 6, 7, 13, 2, 3, (2, 2), .valid, 7),
        (11, 13, 13, 32, 3, 3, (1, 1), .valid, 64), // the MNIST convnet's second convolution (288 taps), 4 chunks
        (6, 12, 11, 32, 3, 3, (1, 1), .same, 40),   // 792 pixels: two k blocks of the tall products
        (2, 5, 5, 3, 5, 5, (2, 2), .same, 4),
        (5, 9, 8, 13, 3, 3, (2, 1), .same, 21),
        (9, 10, 13, 17, 3, 3, (1, 1), .same, 19),   // 1170 pixels: the forward pass by Winograd
    ]

    static func geometry(_ i: Int) -> WindowGeometry {
        let (_, h, w, _, kh, kw, strides, padding, _) = cases[i]
        return WindowGeometry(inH: h, inW: w, kH: kh, kW: kw, strideH: strides.0, strideW: strides.1, padding: padding)
    }

    @Test(arguments: cases.indices) func kernelGradientEqualsTheMaterializedProduct(_ i: Int) throws {
        let (images, h, w, c, kh, kw, _, _, f) = Self.cases[i]
        let g = Self.geometry(i), taps = kh * kw * c, rows = images * g.outH * g.outW
        let x = randn([images, h, w, c], seed: UInt64(200 + i)).asArray(Double.self).map { Float($0) }
        let dOut = randn([rows, f], seed: UInt64(300 + i)).asArray(Double.self).map { Float($0) }
        var cols = [Float](repeating: .nan, count: rows * taps)
        x.withUnsafeBufferPointer { xp in cols.withUnsafeMutableBufferPointer { Kernels.im2col(xp, batch: images, channels: c, g, $0) } }
        for level in 0...Self.maxLevel {
            for threads in [1, 2] {
                var want = [Float](repeating: .nan, count: taps * f), got = want
                try Kernels.ownSgemm(level: level, transA: true, transB: false, m: taps, n: f, k: rows, cols, lda: taps,
                                     dOut, ldb: f, &want, ldc: f, threads: threads)
                let done = Kernels.convFilterGradientFromInput(x, batch: images, channels: c, g, dOut, filters: f, &got,
                                                               level: level, threads: threads)
                #expect(done)
                let differ = zip(got, want).filter { $0.0 != $0.1 }.count
                #expect(differ == 0, "case \(i), level \(level), \(threads) threads: \(differ) of \(taps * f) differ")
            }
        }
    }

    @Test(arguments: cases.indices) func float32OpMatchesFloat64(_ i: Int) {
        let (images, h, w, c, kh, kw, strides, padding, f) = Self.cases[i]
        let g = Self.geometry(i)
        let x = randn([images, h, w, c], seed: UInt64(400 + i)), k = randn([kh, kw, c, f], seed: UInt64(500 + i))
        let b = randn([f], seed: UInt64(600 + i)), r = randn([images, g.outH, g.outW, f], seed: UInt64(700 + i))
        let (taps, rows) = (kh * kw * c, images * g.outH * g.outW)
        let own = GemmChoice.current == .own || (GemmChoice.current == .auto && GemmChoice.autoRunsOwn(m: taps, n: f, k: rows))
        #expect(Kernels.filterGradientReadsInput(taps: taps, filters: f, rows: rows) == own)
        func run(_ dtype: DType) -> [Tensor] {
            var (xv, kv, bv) = (x.cast(to: dtype), k.cast(to: dtype), b.cast(to: dtype))
            xv.requiresGrad = true; kv.requiresGrad = true; bv.requiresGrad = true
            let y = xv.conv2d(kv, bias: bv, strides: strides, padding: padding)
            return [y] + (y * r.cast(to: dtype)).sum().gradients(wrt: [xv, kv, bv])
        }
        for (got, want) in zip(run(.float32), run(.float64)) { expectClose(got, want, atol: 1e-3, rtol: 1e-4) }
    }
}

/// `WinogradConvolution`: the switch and what it switches. The MNIST convnet's second
/// convolution at inference (8 images: 968 output pixels, under `winogradMinPixels`; 9 images:
/// 1089, over) runs by Winograd only while it is on and over the threshold; either way within
/// float32 rounding of float64's result, Winograd's a little further (its transforms' rounding).
@Suite struct WinogradConvolutionTests {
    @Test func environmentDecides() {
        #expect(WinogradConvolution.decide(environment: [:]) == (true, "default"))
        #expect(WinogradConvolution.decide(environment: ["LAMINA_WINOGRAD": "0"]) == (false, "LAMINA_WINOGRAD=0"))
        #expect(WinogradConvolution.decide(environment: ["LAMINA_WINOGRAD": "1"]) == (true, "LAMINA_WINOGRAD=1"))
        #expect(WinogradConvolution.decide(environment: ["LAMINA_WINOGRAD": "no"]).enabled)
    }

    @Test func switchesTheAlgorithm() {
        let initially = WinogradConvolution.isEnabled
        defer { WinogradConvolution.set(enabled: initially) }
        WinogradConvolution.set(enabled: true)  // (the tests may run with LAMINA_WINOGRAD=0)
        let w = randn([3, 3, 32, 64], seed: 801, scale: 0.1), b = randn([64], seed: 802)
        for (images, over) in [(8, false), (9, true)] {
            let x = randn([images, 13, 13, 32], seed: 800)
            let want = x.conv2d(w, bias: b)
            let (x32, w32, b32) = (x.cast(to: .float32), w.cast(to: .float32), b.cast(to: .float32))
            let on = withoutGradients { x32.conv2d(w32, bias: b32) }
            WinogradConvolution.set(enabled: false)
            #expect(!ComputeBackend.current.winograd && WinogradConvolution.reason == "WinogradConvolution.set(enabled: false)")
            let off = withoutGradients { x32.conv2d(w32, bias: b32) }
            WinogradConvolution.set(enabled: true)
            #expect(ComputeBackend.current.winograd)
            #expect((on.asArray(Float.self) != off.asArray(Float.self)) == over, "\(images) images")
            expectClose(on, want, atol: 2e-5, rtol: 1e-5, "on, \(images) images")
            expectClose(off, want, atol: 2e-6, rtol: 1e-5, "off, \(images) images")
        }
    }
}
