import Foundation
import Testing
import LaminaTestSupport
@testable import Lamina

/// The `depthwiseConv2d` op (against a naive loop, float32 and float64, forward and both
/// gradients) and the `DepthwiseConv2D` layer (gradient checks, weights, config, errors).
@Suite struct DepthwiseConv2DTests {
    /// out[n, oh, ow, c·M + m] = b[c·M + m] + Σ x[n, oh·s − pad + kh·d, ow·s − pad + kw·d, c] · w[kh, kw, c, m].
    static func naive(_ x: Tensor, _ w: Tensor, _ b: Tensor?, strides: (Int, Int), padding: Padding, dilation: (Int, Int)) -> [Double] {
        let (n, h, wd, c) = (x.shape[0], x.shape[1], x.shape[2], x.shape[3]), (kh, kw, m) = (w.shape[0], w.shape[1], w.shape[3])
        let g = WindowGeometry(inH: h, inW: wd, kH: (kh - 1) * dilation.0 + 1, kW: (kw - 1) * dilation.1 + 1,
                               strideH: strides.0, strideW: strides.1, padding: padding)
        let xv = x.scalarsAsDouble(), wv = w.scalarsAsDouble(), bv = b?.scalarsAsDouble()
        var out = [Double](repeating: 0, count: n * g.outH * g.outW * c * m)
        for i in 0..<n { for oh in 0..<g.outH { for ow in 0..<g.outW { for ch in 0..<c { for k in 0..<m {
            var s = bv?[ch * m + k] ?? 0
            for a in 0..<kh { for bb in 0..<kw {
                let ih = oh * strides.0 - g.padTop + a * dilation.0, iw = ow * strides.1 - g.padLeft + bb * dilation.1
                guard ih >= 0 && ih < h && iw >= 0 && iw < wd else { continue }
                s += xv[((i * h + ih) * wd + iw) * c + ch] * wv[((a * kw + bb) * c + ch) * m + k]
            } }
            out[(((i * g.outH + oh) * g.outW + ow) * c + ch) * m + k] = s
        } } } } }
        return out
    }

    static let geometries: [(x: [Int], k: [Int], strides: (Int, Int), padding: Padding, dilation: (Int, Int))] = [
        ([2, 6, 5, 3], [3, 3, 3, 1], (1, 1), .valid, (1, 1)),
        ([2, 7, 6, 3], [3, 2, 3, 2], (2, 2), .same, (1, 1)),
        ([1, 8, 7, 4], [4, 4, 4, 1], (2, 2), .same, (1, 1)),     // even kernel: the odd pad pixel goes bottom/right
        ([2, 7, 7, 2], [3, 3, 2, 3], (1, 1), .same, (2, 2)),
        ([1, 9, 8, 2], [3, 2, 2, 2], (2, 3), .same, (2, 1)),     // strides and dilation together
        ([3, 5, 5, 5], [2, 3, 5, 1], (1, 2), .valid, (1, 2)),
        // Rows wide enough for the kernels' four-pixel blocks (inside the row) beside single
        // pixels at the padded edges; 9 channels leave a partial vector on every SIMD level.
        ([1, 4, 11, 9], [3, 3, 9, 1], (1, 1), .same, (1, 1)),
        ([1, 5, 12, 5], [3, 3, 5, 1], (1, 2), .valid, (1, 2)),
    ]

    @Test func opMatchesNaiveLoopInBothPrecisions() throws {
        for (i, c) in Self.geometries.enumerated() {
            let x = randn(c.x, seed: UInt64(i)), w = randn(c.k, seed: UInt64(i) + 50), b = randn([c.k[2] * c.k[3]], seed: UInt64(i) + 90)
            let expected = Self.naive(x, w, b, strides: c.strides, padding: c.padding, dilation: c.dilation)
            let y64 = x.depthwiseConv2d(w, bias: b, strides: c.strides, padding: c.padding, dilation: c.dilation)
            let y32 = x.cast(to: .float32).depthwiseConv2d(w.cast(to: .float32), bias: b.cast(to: .float32), strides: c.strides,
                                                           padding: c.padding, dilation: c.dilation)
            #expect(y64.dtype == .float64 && y32.dtype == .float32 && y64.shape == y32.shape)
            #expect(y64.count == expected.count)
            let e64 = zip(y64.asArray(Double.self), expected).map { Swift.abs($0 - $1) }.max() ?? 0
            let e32 = zip(y32.scalarsAsDouble(), expected).map { Swift.abs($0 - $1) }.max() ?? 0
            #expect(e64 < 1e-12 && e32 < 1e-4, "case \(i): float64 error \(e64), float32 error \(e32)")
            // Same padding keeps ceil(size / stride).
            if c.padding == .same { #expect(y64.shape[1] == (c.x[1] + c.strides.0 - 1) / c.strides.0) }
        }
    }

    /// Input, kernel and bias gradients of the op, float64 finite differences.
    @Test func opGradients() throws {
        var worst = 0.0
        for (i, c) in Self.geometries.enumerated() {
            let x = randn(c.x, seed: UInt64(i)), w = randn(c.k, seed: UInt64(i) + 50), b = randn([c.k[2] * c.k[3]], seed: UInt64(i) + 90)
            let r = GradientCheck.run(at: [x, w, b]) { t in
                t[0].depthwiseConv2d(t[1], bias: t[2], strides: c.strides, padding: c.padding, dilation: c.dilation).tanh()
            }
            #expect(r.maxRelativeError <= 1e-6, "case \(i): \(r)")
            worst = max(worst, r.maxRelativeError)
        }
        print("depthwiseConv2d op gradient check max relative error: \(worst)")
    }

    /// `zeroPadding:` is `padded(with:)` then a valid convolution, forward and gradients, float64
    /// and float32: MobileNetV2's one-pixel bottom/right pad before a stride-2 convolution,
    /// symmetric and lopsided pads, pads wider than the kernel (windows wholly in the padding),
    /// dilation, a multiplier, rows wide enough for the four-pixel kernel.
    @Test func zeroPaddingIsPaddedThenValid() throws {
        let cases: [(x: [Int], k: [Int], strides: (Int, Int), dilation: (Int, Int), pad: (top: Int, bottom: Int, left: Int, right: Int))] = [
            ([2, 6, 6, 3], [3, 3, 3, 1], (2, 2), (1, 1), (0, 1, 0, 1)),
            ([1, 5, 12, 5], [3, 3, 5, 1], (1, 1), (1, 1), (1, 1, 1, 1)),
            ([2, 5, 4, 2], [3, 2, 2, 2], (2, 1), (1, 1), (3, 0, 2, 4)),
            ([1, 6, 7, 3], [3, 3, 3, 1], (1, 2), (2, 1), (2, 2, 1, 0)),
        ]
        var worst = 0.0
        for (i, c) in cases.enumerated() {
            let x = randn(c.x, seed: UInt64(i) + 7), w = randn(c.k, seed: UInt64(i) + 57), b = randn([c.k[2] * c.k[3]], seed: UInt64(i) + 97)
            let pads = [(0, 0), (c.pad.top, c.pad.bottom), (c.pad.left, c.pad.right), (0, 0)]
            func fused(_ t: [Tensor]) -> Tensor {
                t[0].depthwiseConv2d(t[1], bias: t[2], strides: c.strides, dilation: c.dilation, zeroPadding: c.pad).tanh()
            }
            func composed(_ t: [Tensor]) -> Tensor {
                t[0].padded(with: pads).depthwiseConv2d(t[1], bias: t[2], strides: c.strides, dilation: c.dilation).tanh()
            }
            for dtype in [DType.float64, .float32] {
                var t = [x, w, b].map { $0.cast(to: dtype) }
                for j in t.indices { t[j].requiresGrad = true }
                let (yf, yc) = (fused(t), composed(t))
                #expect(yf.shape == yc.shape, "case \(i)")
                let tolerance = dtype == .float64 ? 1e-12 : 1e-5
                let forwardError = zip(yf.scalarsAsDouble(), yc.scalarsAsDouble()).map { Swift.abs($0 - $1) }.max() ?? 0
                #expect(forwardError < tolerance, "case \(i) \(dtype): forward error \(forwardError)")
                for (gf, gc) in zip((yf * yf).sum().gradients(wrt: t), (yc * yc).sum().gradients(wrt: t)) {
                    let e = zip(gf.scalarsAsDouble(), gc.scalarsAsDouble()).map { Swift.abs($0 - $1) }.max() ?? 0
                    #expect(e < tolerance * 10, "case \(i) \(dtype): gradient error \(e)")
                }
            }
            let r = GradientCheck.run(at: [x, w, b], fused)
            #expect(r.maxRelativeError <= 1e-6, "case \(i): \(r)")
            worst = max(worst, r.maxRelativeError)
        }
        print("depthwiseConv2d zeroPadding gradient check max relative error: \(worst)")
    }

    /// In a functional model, ZeroPadding2D -> DepthwiseConv2D(valid) runs as that one op: the
    /// same predictions and gradients as the two layers called in turn; not where the padding's
    /// result has another reader or is an output.
    @Test func modelRunsZeroPaddingIntoDepthwiseAsOneOp() throws {
        let inp = Input(shape: [7, 8, 3])
        let pad = ZeroPadding2D(padding: ((0, 1), (0, 1))), conv = DepthwiseConv2D(kernelSize: 3, strides: 2, activation: .relu6)
        let model = Lamina.withRandomSeed(5) { Model(inputs: inp, outputs: Dense(2)(conv(pad(inp)))) }
        #expect(model.zeroPaddingInto.count == 1)
        let x = randn([2, 7, 8, 3], seed: 11).cast(to: .float32)
        let byHand = try model.layers.last!(conv(pad(x)))
        let predicted = try model.predict(x)
        #expect(zip(predicted.scalarsAsDouble(), byHand.scalarsAsDouble()).allSatisfy { Swift.abs($0 - $1) < 1e-6 })
        var kernel = conv.kernel!.value
        kernel.requiresGrad = true
        conv.kernel!.value = kernel
        let fusedGradient = try model.forward([x], training: true)[0].square().sum().gradients(wrt: [conv.kernel!.value])[0]
        let byHandGradient = try model.layers.last!(conv(pad(x), training: true), training: true).square().sum()
            .gradients(wrt: [conv.kernel!.value])[0]
        #expect(zip(fusedGradient.scalarsAsDouble(), byHandGradient.scalarsAsDouble()).allSatisfy { Swift.abs($0 - $1) < 1e-4 })

        let padded = ZeroPadding2D(padding: 1)(inp)
        let twoReaders = Model(inputs: inp, outputs: [DepthwiseConv2D(kernelSize: 3)(padded), Flatten()(padded)])
        let padIsOutput = Model(inputs: inp, outputs: [DepthwiseConv2D(kernelSize: 3)(padded), padded])
        #expect(twoReaders.zeroPaddingInto.isEmpty && padIsOutput.zeroPaddingInto.isEmpty)
        #expect(try twoReaders.predict([x]).count == 2 && padIsOutput.predict([x])[1].shape == [2, 9, 10, 3])
    }

    /// `depthwiseConv2d(normalizedBy:)`, the inference epilogue of DepthwiseConv2D →
    /// BatchNormalization → ReLU6, gives exactly the three ops' values (zero padding, dilation
    /// and a multiplier included); recording, it is the composition, gradients included.
    @Test func normalizedEqualsTheOpsInTurn() throws {
        let cases: [(k: Int, s: Int, padding: Padding, d: Int, m: Int, zp: (top: Int, bottom: Int, left: Int, right: Int))] = [
            (3, 2, .valid, 1, 1, (0, 1, 0, 1)), (3, 1, .same, 1, 1, (0, 0, 0, 0)), (3, 1, .valid, 2, 2, (1, 1, 2, 2)),
        ]
        for (i, c) in cases.enumerated() {
            let x = randn([3, 9, 10, 4], seed: 300 + UInt64(i)).cast(to: .float32)
            let w = randn([c.k, c.k, 4, c.m], seed: 310).cast(to: .float32), b = randn([4 * c.m], seed: 311).cast(to: .float32)
            let oc = 4 * c.m
            for (bias, gamma, relu, cap) in [(true, true, false, nil), (false, true, true, 6.0), (true, false, true, nil)] as [(Bool, Bool, Bool, Double?)] {
                let n = BatchNormInference(mean: randn([oc], seed: 312).cast(to: .float32),
                                           variance: (randn([oc], seed: 313).square() + 0.2).cast(to: .float32),
                                           gamma: gamma ? randn([oc], seed: 314).cast(to: .float32) : nil,
                                           beta: randn([oc], seed: 315).cast(to: .float32), epsilon: 1e-3)
                let (fused, composed) = withoutGradients {
                    let conv = x.depthwiseConv2d(w, bias: bias ? b : nil, strides: (c.s, c.s), padding: c.padding, dilation: (c.d, c.d), zeroPadding: c.zp)
                    let y = Tensor.batchNormalizationInference(conv, mean: n.mean, variance: n.variance, gamma: n.gamma, beta: n.beta, epsilon: n.epsilon)
                    return (x.depthwiseConv2d(w, bias: bias ? b : nil, strides: (c.s, c.s), padding: c.padding, dilation: (c.d, c.d), zeroPadding: c.zp,
                                              normalizedBy: n, fusedReLU: relu, reluMaxValue: cap),
                            relu ? y.relu(maxValue: cap) : y)
                }
                let difference = zip(fused.asArray(Float.self), composed.asArray(Float.self)).map { Swift.abs($0 - $1) }.max() ?? 0
                #expect(fused.shape == composed.shape && difference == 0, "case \(i): bias \(bias) gamma \(gamma) relu \(relu) cap \(String(describing: cap))")
            }
        }
        let g = GradientCheck.run(at: [randn([2, 5, 6, 2], seed: 320), randn([3, 3, 2, 1], seed: 321), randn([2], seed: 322),
                                       (randn([2], seed: 323).square() + 0.5), randn([2], seed: 324)]) {
            $0[0].depthwiseConv2d($0[1], strides: (2, 2), zeroPadding: (0, 1, 0, 1),
                                  normalizedBy: BatchNormInference(mean: $0[2], variance: $0[3], gamma: $0[4], beta: nil, epsilon: 1e-3),
                                  fusedReLU: true, reluMaxValue: 6)
        }
        #expect(g.maxRelativeError <= 1e-6, "\(g)")
        print("depthwiseConv2d normalizedBy gradient check max relative error: \(g.maxRelativeError)")
    }

    /// The float32 gradients agree with the float64 ones.
    @Test func float32GradientsMatchFloat64() throws {
        let c = Self.geometries[1]
        let x = randn(c.x, seed: 3), w = randn(c.k, seed: 4)
        func grads(_ dtype: DType) -> [[Double]] {
            var xl = x.cast(to: dtype), wl = w.cast(to: dtype)
            xl.requiresGrad = true; wl.requiresGrad = true
            let y = xl.depthwiseConv2d(wl, strides: c.strides, padding: c.padding)
            return (y * y).sum().gradients(wrt: [xl, wl]).map { $0.scalarsAsDouble() }
        }
        let (g32, g64) = (grads(.float32), grads(.float64))
        for (a, b) in zip(g32, g64) { #expect(zip(a, b).allSatisfy { Swift.abs($0 - $1) <= 1e-4 * (1 + Swift.abs($1)) }) }
    }

    @Test func layerGradients() throws {
        var worst = 0.0
        for (layer, shape) in [(DepthwiseConv2D(kernelSize: 3), [2, 6, 5, 3]),
                               (DepthwiseConv2D(kernelSize: (3, 2), strides: (2, 2), padding: .same, depthMultiplier: 2, activation: .tanh), [2, 7, 6, 3]),
                               (DepthwiseConv2D(kernelSize: 3, padding: .same, dilationRate: 2, useBias: false), [2, 7, 7, 2]),
                               (DepthwiseConv2D(kernelSize: 3, strides: 2, padding: .same, depthMultiplier: 3, dilationRate: 2), [1, 9, 8, 2])] {
            worst = max(worst, try layerTest(layer, inputShape: shape).gradients?.maxRelativeError ?? .infinity)
        }
        print("DepthwiseConv2D gradient check max relative error: \(worst)")
    }

    @Test func weightsShapesAndConfig() throws {
        let layer = DepthwiseConv2D(kernelSize: (3, 2), strides: (2, 1), padding: .same, depthMultiplier: 2, dilationRate: (1, 1),
                                    activation: .relu6, depthwiseRegularizer: .l2(0.01), name: "dw")
        try layer.buildIfNeeded([7, 6, 3])
        #expect(layer.weights.map(\.shape) == [[3, 2, 3, 2], [6]])
        #expect(try layer.weightShapes(for: [7, 6, 3]) == [[3, 2, 3, 2], [6]])
        #expect(layer.outputShape == [4, 6, 6])
        #expect(layer.losses.count == 1)
        let back = try #require(try LayerRegistry.make(layer.serialize()) as? DepthwiseConv2D)
        #expect(back.kernelSize == (3, 2) && back.strides == (2, 1) && back.depthMultiplier == 2 && back.padding == .same)
        #expect(back.activation == .relu6 && (back.depthwiseRegularizer as? L2)?.l2 == 0.01)
        #expect(NSDictionary(dictionary: try back.config()) == NSDictionary(dictionary: try layer.config()))
        // A Keras config with its extra keys.
        let keras: [String: Any] = ["module": "keras.layers", "class_name": "DepthwiseConv2D", "registered_name": NSNull(), "config": [
            "name": "depthwise_conv2d", "trainable": true, "dtype": "float32", "depth_multiplier": 1, "kernel_size": [3, 3],
            "strides": [1, 1], "padding": "same", "data_format": "channels_last", "dilation_rate": [1, 1], "activation": "linear",
            "use_bias": false, "depthwise_initializer": ["module": "keras.initializers", "class_name": "GlorotUniform", "config": ["seed": NSNull()], "registered_name": NSNull()],
            "bias_initializer": ["module": "keras.initializers", "class_name": "Zeros", "config": [:], "registered_name": NSNull()],
            "depthwise_regularizer": NSNull(), "bias_regularizer": NSNull(), "activity_regularizer": NSNull(),
            "depthwise_constraint": NSNull(), "bias_constraint": NSNull()]]
        let loaded = try #require(try LayerRegistry.make(keras) as? DepthwiseConv2D)
        #expect(loaded.kernelSize == (3, 3) && !loaded.useBias && loaded.padding == .same)
    }

    @Test func invalidArgumentsAndShapesThrow() throws {
        let x = randn([1, 5, 5, 2], seed: 1)
        for layer in [DepthwiseConv2D(kernelSize: 0), DepthwiseConv2D(kernelSize: 3, depthMultiplier: 0),
                      DepthwiseConv2D(kernelSize: 3, strides: -1), DepthwiseConv2D(kernelSize: 3, dilationRate: 0),
                      DepthwiseConv2D(kernelSize: 3, dataFormat: "channels_first"), DepthwiseConv2D(kernelSize: 3, activation: "nope"),
                      DepthwiseConv2D(kernelSize: 3, padding: "full")] {
            #expect(throws: LaminaError.self) { _ = try layer(x) }
        }
        #expect(throws: LaminaError.self) { _ = try DepthwiseConv2D(kernelSize: 6)(x) }
        #expect(throws: LaminaError.self) { _ = try DepthwiseConv2D(kernelSize: 3, dilationRate: 3)(x) }
        #expect(throws: LaminaError.self) { _ = try DepthwiseConv2D(kernelSize: 3)(randn([2, 5, 5], seed: 1)) }
        // An empty batch gives an empty batch.
        #expect(try DepthwiseConv2D(kernelSize: 3, depthMultiplier: 2)(Tensor.zeros([0, 5, 5, 2])).shape == [0, 3, 3, 4])
        #expect(try SeparableConv2D(3, kernelSize: 3)(Tensor.zeros([0, 5, 5, 2])).shape == [0, 3, 3, 3])
        let built = DepthwiseConv2D(kernelSize: 3)
        _ = try built(x)
        #expect(throws: LaminaError.self) { _ = try built(randn([1, 5, 5, 3], seed: 1)) }
    }
}
