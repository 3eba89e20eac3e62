import Foundation
import Testing
import LaminaTestSupport
@testable import Lamina

/// Float64 central-difference gradient checks of the attention layers with respect to every
/// input and every trainable weight: MultiHeadAttention (self- and cross-attention, padding
/// masks, an explicit attention mask, causal, without biases), Attention ("dot" and "concat",
/// with and without `useScale`, masks, causal) and AdditiveAttention (with and without
/// `useScale`). For Attention and AdditiveAttention the masks leave every query row at least
/// one key: a row that sees none has every score shifted by `−1e9` (as Keras), where float64
/// keeps a score to about 1e-7 only, too coarse for central differences of step 1e-6.
@Suite struct AttentionGradientTests {
    /// Builds `layer` in float64 by one call, gives its weights random values (scalar scales
    /// near 1), then checks `call` with respect to `inputs` and the trainable weights; the
    /// masks (`nil` for none) are set on the inputs at each evaluation. Records a failure above
    /// 1e-6 and returns the result.
    @discardableResult
    static func check(_ layer: Layer, _ inputs: [Tensor], masks: [Tensor?] = [], seed: UInt64 = 1,
                      sourceLocation: SourceLocation = #_sourceLocation,
                      _ call: ([Tensor]) throws -> Tensor) throws -> GradientCheck.Result {
        func masked(_ xs: [Tensor]) -> [Tensor] {
            xs.enumerated().map { i, x in
                var x = x
                if i < masks.count, let m = masks[i] { x.kerasMask = m }
                return x
            }
        }
        _ = try call(masked(inputs))
        #expect(layer.dtype == .float64, "\(layer.name) built in float64", sourceLocation: sourceLocation)
        try layer.setWeights(layer.getWeights().enumerated().map { i, w in
            let r = randn(w.shape, seed: seed + UInt64(i) + 10, scale: w.rank == 0 ? 0.3 : 0.5)
            return w.rank == 0 ? r + 1 : r
        })
        let weights = layer.trainableWeights
        #expect(weights.count == layer.weights.count, sourceLocation: sourceLocation)
        let result = GradientCheck.run(at: inputs + weights.map(\.value)) { args in
            for (v, a) in zip(weights, args.dropFirst(inputs.count)) { v.value = a }
            return try! call(masked(Array(args.prefix(inputs.count))))
        }
        #expect(result.maxRelativeError <= 1e-6, "\(layer.name): \(result)", sourceLocation: sourceLocation)
        print("AttentionGradientTests \(layer.name) (\(weights.count) weights): \(result)")
        return result
    }

    /// A [batch, steps] step mask (1 keeps) with the listed (batch, step) entries 0.
    static func stepMask(_ batch: Int, _ steps: Int, off: [(Int, Int)]) -> Tensor {
        var v = [Float](repeating: 1, count: batch * steps)
        for (b, t) in off { v[b * steps + t] = 0 }
        return Tensor(shape: [batch, steps], scalars: v)
    }

    // MARK: - MultiHeadAttention

    @Test func multiHeadSelfAttentionWithPaddingMask() throws {
        let mha = MultiHeadAttention(numHeads: 2, keyDim: 2, name: "mha_self_padded")
        let x = randn([2, 4, 3], seed: 1), mask = Self.stepMask(2, 4, off: [(0, 3), (1, 2), (1, 3)])
        try Self.check(mha, [x], masks: [mask]) { a in try mha(a[0], a[0]) }
    }

    @Test func multiHeadCausalSelfAttention() throws {
        let mha = MultiHeadAttention(numHeads: 2, keyDim: 2, valueDim: 3, name: "mha_causal")
        try Self.check(mha, [randn([2, 4, 3], seed: 2)]) { a in try mha(a[0], a[0], useCausalMask: true) }
    }

    @Test func multiHeadCausalSelfAttentionWithPaddingMask() throws {
        let mha = MultiHeadAttention(numHeads: 2, keyDim: 2, name: "mha_causal_padded")
        let mask = Self.stepMask(2, 4, off: [(0, 3), (1, 2), (1, 3)])
        try Self.check(mha, [randn([2, 4, 3], seed: 3)], masks: [mask]) { a in try mha(a[0], a[0], useCausalMask: true) }
    }

    @Test func multiHeadCrossAttentionWithKeyAndMasks() throws {
        let mha = MultiHeadAttention(numHeads: 2, keyDim: 2, valueDim: 3, outputShape: 2, name: "mha_cross")
        let q = randn([2, 3, 4], seed: 4), v = randn([2, 4, 3], seed: 5), k = randn([2, 4, 2], seed: 6)
        // The explicit mask hides key 3 from query 0 of sample 0, every key from its query 1
        // (which attends uniformly, as Keras's dot_product_attention path) and key 1
        // from query 2 of sample 1; the value's padding mask hides key 2 of sample 0, the key's
        // key 0 of sample 1.
        var explicit = [Float](repeating: 1, count: 2 * 3 * 4)
        explicit[0 * 12 + 0 * 4 + 3] = 0
        for j in 0..<4 { explicit[0 * 12 + 1 * 4 + j] = 0 }
        explicit[1 * 12 + 2 * 4 + 1] = 0
        let attentionMask = Tensor(shape: [2, 3, 4], scalars: explicit)
        let valueMask = Self.stepMask(2, 4, off: [(0, 2)]), keyMask = Self.stepMask(2, 4, off: [(1, 0)])
        try Self.check(mha, [q, v, k], masks: [nil, valueMask, keyMask]) { a in try mha(a[0], a[1], key: a[2], attentionMask: attentionMask) }
    }

    @Test func multiHeadCrossAttentionWithoutBiasCausal() throws {
        let mha = MultiHeadAttention(numHeads: 3, keyDim: 2, useBias: false, name: "mha_cross_nobias")
        let q = randn([2, 3, 2], seed: 7), v = randn([2, 4, 3], seed: 8)
        try Self.check(mha, [q, v]) { a in try mha(a[0], a[1], useCausalMask: true) }
    }

    /// The fused path (no scores) and the path that returns the scores give the same output on
    /// every query row that sees a key; on a row that sees none they differ as Keras 3.15's do
    /// (checked in Keras: `ops.dot_product_attention` makes it uniform, the masked Softmax of
    /// `return_attention_scores=True` makes its scores 0, so its output is the output bias).
    @Test func multiHeadFusedAndScoresPathsAgree() throws {
        let mha = MultiHeadAttention(numHeads: 2, keyDim: 2, name: "mha_paths")
        let x = randn([2, 4, 3], seed: 10).cast(to: .float32)
        var explicit = [Float](repeating: 1, count: 2 * 4 * 4)
        for j in 0..<4 { explicit[1 * 16 + 2 * 4 + j] = 0 }
        explicit[0 * 16 + 3 * 4 + 1] = 0
        let m = Tensor(shape: [2, 4, 4], scalars: explicit)
        _ = try mha(x, x)   // builds; then nonzero biases too
        try mha.setWeights(mha.getWeights().enumerated().map { i, w in randn(w.shape, seed: 30 + UInt64(i), scale: 0.5).cast(to: .float32) })
        let fused = try mha(x, x, attentionMask: m, useCausalMask: true).scalarsAsDouble()
        let (viaScores, scores) = try mha(x, x, attentionMask: m, returnAttentionScores: true, useCausalMask: true)
        let y = viaScores.scalarsAsDouble(), s = scores.scalarsAsDouble()   // [b, tq, 3], [b, h, tq, tk]
        for b in 0..<2 { for i in 0..<4 where !(b == 1 && i == 2) { for c in 0..<3 {
            let at = (b * 4 + i) * 3 + c
            #expect(abs(fused[at] - y[at]) <= 1e-6, "fused vs scores path at [\(b), \(i), \(c)]")
        } } }
        let bias = try #require(mha.weights.first { $0.name.hasSuffix("attention_output/bias") }).value.scalarsAsDouble()
        for c in 0..<3 { #expect(abs(y[(1 * 4 + 2) * 3 + c] - bias[c]) <= 1e-6, "the row that sees nothing is the output bias") }
        for h in 0..<2 {
            for j in 0..<4 { #expect(s[((1 * 2 + h) * 4 + 2) * 4 + j] == 0, "the row that sees nothing has zero scores") }
            #expect(s[((0 * 2 + h) * 4 + 3) * 4 + 1] == 0, "the explicit mask")
            for i in 0..<4 { for j in 0..<4 where j > i { #expect(s[((0 * 2 + h) * 4 + i) * 4 + j] == 0, "causal") } }
        }
    }

    @Test func multiHeadScoresAreDifferentiable() throws {
        let mha = MultiHeadAttention(numHeads: 2, keyDim: 2, name: "mha_scores")
        let mask = Self.stepMask(2, 4, off: [(1, 3)])
        try Self.check(mha, [randn([2, 4, 3], seed: 9)], masks: [mask]) { a in
            let (y, s) = try mha(a[0], a[0], returnAttentionScores: true, useCausalMask: true)
            return y.sum() + (s * s).sum()
        }
    }

    // MARK: - Attention and AdditiveAttention

    static let query = randn([2, 3, 3], seed: 11), value = randn([2, 4, 3], seed: 12), key = randn([2, 4, 3], seed: 13)
    static let queryMask = stepMask(2, 3, off: [(1, 1)]), valueMask = stepMask(2, 4, off: [(0, 2), (1, 3)])

    @Test(arguments: [(false, "dot"), (true, "dot"), (false, "concat"), (true, "concat")])
    func attention(useScale: Bool, scoreMode: String) throws {
        let layer = Attention(useScale: useScale, scoreMode: scoreMode, name: "att_\(scoreMode)_\(useScale)")
        try Self.check(layer, [Self.query, Self.value]) { a in try layer(a) }
    }

    @Test(arguments: [(false, "dot"), (true, "dot"), (false, "concat"), (true, "concat")])
    func attentionWithKeyAndMasks(useScale: Bool, scoreMode: String) throws {
        let layer = Attention(useScale: useScale, scoreMode: scoreMode, name: "att_\(scoreMode)_\(useScale)_masked")
        try Self.check(layer, [Self.query, Self.value, Self.key], masks: [Self.queryMask, Self.valueMask]) { a in try layer(a) }
    }

    @Test(arguments: [(false, "dot"), (true, "dot"), (false, "concat"), (true, "concat")])
    func causalSelfAttentionWithPadding(useScale: Bool, scoreMode: String) throws {
        let layer = Attention(useScale: useScale, scoreMode: scoreMode, name: "att_\(scoreMode)_\(useScale)_causal")
        let x = randn([2, 4, 3], seed: 14), mask = Self.stepMask(2, 4, off: [(0, 3), (1, 2), (1, 3)])
        try Self.check(layer, [x], masks: [mask]) { a in try layer([a[0], a[0]], useCausalMask: true) }
    }

    @Test(arguments: [false, true])
    func additiveAttention(useScale: Bool) throws {
        let layer = AdditiveAttention(useScale: useScale, name: "additive_\(useScale)")
        try Self.check(layer, [Self.query, Self.value, Self.key], masks: [Self.queryMask, Self.valueMask]) { a in try layer(a) }
        let plain = AdditiveAttention(useScale: useScale, name: "additive_\(useScale)_plain")
        try Self.check(plain, [Self.query, Self.value]) { a in try plain(a) }
    }

    @Test(arguments: [false, true])
    func causalAdditiveAttentionWithScores(useScale: Bool) throws {
        let layer = AdditiveAttention(useScale: useScale, name: "additive_\(useScale)_causal")
        let x = randn([2, 4, 3], seed: 15), mask = Self.stepMask(2, 4, off: [(1, 3)])
        try Self.check(layer, [x], masks: [mask]) { a in
            let (y, s) = try layer([a[0], a[0]], returnAttentionScores: true, useCausalMask: true)
            return y.sum() + (s * s).sum()
        }
    }
}
