import Foundation
import Testing
import LaminaTestSupport
@testable import Lamina

/// Attention (score modes "dot" and "concat", with and without `useScale`) and
/// AdditiveAttention (with and without `useScale`) against Keras 3
/// (Fixtures/generate_attention_layer_fixtures.py): with a key input or not, query and value
/// masks from Masking layers, `useCausalMask` (including a query row whose only visible key is
/// masked), the attention scores — outputs, output masks, the gradients of
/// sum(output · projection) for the inputs and every weight — and three Adam steps of a tiny
/// model that stacks both layers.
@Suite struct AttentionLayerKerasTests {
    struct Reference: Decodable {
        struct Case: Decodable {
            let name: String
            let weightNames: [String], weights: [Fixture.T], inputs: [Fixture.T], outputs: [Fixture.T]
            let outputMasks: [Fixture.T?], projections: [Fixture.T]
            let inputGradients: [Fixture.T], weightGradients: [Fixture.T]
            let labels: Fixture.T?, adamLosses: [Double]?, weightsAfterAdam: [Fixture.T]?
        }
        let cases: [Case]
        static let shared: Reference = {
            let url = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
                .appendingPathComponent("Fixtures/attention_layers_reference.json")
            return try! JSONDecoder().decode(Reference.self, from: Data(contentsOf: url))
        }()
    }

    /// How a case calls its layer (the generator's `plain`, `masked` and `self_masked`).
    enum Wiring { case plain(tq: Int, key: Bool), masked(key: Bool), selfMasked }

    /// The generator's cases: the layer, its wiring, `use_causal_mask`, `return_attention_scores`.
    static let cases: [String: (layer: @Sendable () -> Attention, wiring: Wiring, causal: Bool, scores: Bool)] = [
        "dot": ({ Attention(name: "att") }, .plain(tq: 3, key: false), false, false),
        "dot_scale_key": ({ Attention(useScale: true, name: "att") }, .plain(tq: 3, key: true), false, false),
        "dot_masked": ({ Attention(name: "att") }, .masked(key: false), false, false),
        "dot_scale_masked_key": ({ Attention(useScale: true, name: "att") }, .masked(key: true), false, false),
        "dot_causal": ({ Attention(name: "att") }, .plain(tq: 4, key: false), true, true),
        "dot_scale_causal_masked": ({ Attention(useScale: true, name: "att") }, .masked(key: false), true, true),
        "dot_self_causal_masked": ({ Attention(name: "att") }, .selfMasked, true, false),
        "concat": ({ Attention(scoreMode: "concat", name: "att") }, .plain(tq: 3, key: false), false, false),
        "concat_scale_key": ({ Attention(useScale: true, scoreMode: "concat", name: "att") }, .plain(tq: 3, key: true), false, true),
        "concat_masked": ({ Attention(scoreMode: "concat", name: "att") }, .masked(key: false), false, false),
        "concat_scale_causal_masked": ({ Attention(useScale: true, scoreMode: "concat", name: "att") }, .masked(key: false), true, false),
        "additive": ({ AdditiveAttention(name: "att") }, .plain(tq: 3, key: true), false, false),
        "additive_noscale": ({ AdditiveAttention(useScale: false, name: "att") }, .plain(tq: 3, key: false), false, true),
        "additive_masked": ({ AdditiveAttention(name: "att") }, .masked(key: false), false, false),
        "additive_noscale_masked": ({ AdditiveAttention(useScale: false, name: "att") }, .masked(key: true), false, false),
        "additive_causal_masked": ({ AdditiveAttention(name: "att") }, .selfMasked, true, true),
    ]

    static func build(_ name: String) -> Model {
        if name == "tiny" { return tiny() }
        let c = cases[name]!, layer = c.layer()
        let inputs: [Input], args: [SymbolicTensor]
        switch c.wiring {
        case let .plain(tq, key):
            let q = Input(shape: [tq, 3], name: "q"), v = Input(shape: [4, 3], name: "v")
            inputs = key ? [q, v, Input(shape: [4, 3], name: "k")] : [q, v]
            args = inputs.map(\.symbolic)
        case let .masked(key):
            let q = Input(shape: [4, 3], name: "q"), v = Input(shape: [4, 3], name: "v")
            inputs = key ? [q, v, Input(shape: [4, 3], name: "k")] : [q, v]
            args = [Masking(name: "q_mask")(q), Masking(name: "v_mask")(v)] + (key ? [inputs[2].symbolic] : [])
        case .selfMasked:
            let x = Input(shape: [4, 3], name: "x"), h = Masking(name: "x_mask")(x)
            (inputs, args) = ([x], [h, h])
        }
        if c.scores {
            let (y, s) = layer(args, returnAttentionScores: true, useCausalMask: c.causal)
            return Model(inputs: inputs, outputs: [y, s])
        }
        return Model(inputs: inputs, outputs: layer(args, useCausalMask: c.causal))
    }

    /// Masking, Dense, causal concat Attention, AdditiveAttention, dot Attention with a key,
    /// masked pooling, Dense.
    static func tiny() -> Model {
        let x = Input(shape: [4, 3], name: "x")
        let h = Dense(4, name: "proj")(Masking(name: "mask")(x))
        let a = Attention(useScale: true, scoreMode: "concat", name: "concat")([h, h], useCausalMask: true)
        let c = AdditiveAttention(name: "additive")([a, h])
        let d = Attention(useScale: true, name: "dot")([c, h, a])
        let p = GlobalAveragePooling1D(name: "gap")(d)
        return Model(inputs: x, outputs: Dense(2, activation: .softmax, name: "probs")(p))
    }

    static let names = cases.keys.sorted() + ["tiny"]

    @Test func everyFixtureCaseIsTested() {
        #expect(Set(Reference.shared.cases.map(\.name)) == Set(Self.names))
    }

    @Test(arguments: names) func matchesKeras(_ name: String) throws {
        let ref = try #require(Reference.shared.cases.first { $0.name == name })
        let model = Self.build(name)
        try model.checkDefinition()
        #expect(model.weights.map(\.name) == ref.weightNames, "\(name): weight names and order as Keras")
        try model.setWeights(ref.weights.map(\.tensor))
        var xs = ref.inputs.map(\.tensor)
        for i in xs.indices { xs[i].requiresGrad = true }

        let variables = model.trainableVariables
        for v in variables { v.value.requiresGrad = true }
        defer { for v in variables { v.value.requiresGrad = false } }
        let outputs = try model.forward(xs, training: false)
        try #require(outputs.count == ref.outputs.count)
        for (i, (out, expected)) in zip(outputs, ref.outputs).enumerated() {
            expectClose(out, expected.tensor, atol: 1e-5, rtol: 1e-4, "\(name) output \(i)")
            if let mask = ref.outputMasks[i] {
                #expect(out.kerasMask?.asArray(Float.self) == mask.values.map { Float($0) }, "\(name) output mask \(i)")
            } else {
                #expect(out.kerasMask == nil, "\(name): Keras's output \(i) has no mask")
            }
        }
        let total = zip(outputs, ref.projections).map { ($0 * $1.tensor).sum() }.reduce(Tensor.scalar(0)) { $0 + $1 }
        let grads = total.gradients(wrt: xs + variables.map(\.value))
        for (i, expected) in ref.inputGradients.enumerated() { expectClose(grads[i], expected.tensor, atol: 1e-4, rtol: 1e-4, "\(name) input \(i) gradient") }
        #expect(variables.count == ref.weightGradients.count)
        for (v, (g, expected)) in zip(variables, zip(grads.dropFirst(xs.count), ref.weightGradients)) {
            expectClose(g, expected.tensor, atol: 1e-4, rtol: 1e-4, "\(name) gradient of \(v.name)")
        }
    }

    @Test func tinyModelTrainsAsKerasWithAdam() throws {
        let ref = try #require(Reference.shared.cases.first { $0.name == "tiny" })
        let model = Self.tiny()
        try model.setWeights(ref.weights.map(\.tensor))
        let x = ref.inputs[0].tensor, labels = ref.labels!.tensor
        let adam = Adam(learningRate: 0.05), loss = SparseCategoricalCrossentropy()
        for expected in ref.adamLosses! {
            let (value, grads) = try valueAndGradients(of: model) { loss(labels, try model.forward([x], training: true)[0]) }
            #expect(abs(value - expected) < 1e-5, "tiny Adam step loss \(value) vs Keras \(expected)")
            try adam.apply(grads, to: model.trainableVariables)
        }
        for (w, expected) in zip(model.getWeights(), ref.weightsAfterAdam!) { expectClose(w, expected.tensor, atol: 1e-4, rtol: 1e-4, "tiny weights after 3 Adam steps") }
    }
}

/// Keras 3's `Attention._apply_scores` returns the weights it multiplied the values by: in
/// training with dropout, the dropped-out (and rescaled) probabilities, so
/// `output = scores · value` holds exactly (MultiHeadAttention, by contrast, returns them
/// before dropout).
@Suite struct AttentionDropoutScoresTests {
    @Test(arguments: [false, true])
    func scoresInTrainingAreTheWeightsApplied(additive: Bool) throws {
        let layer: Attention = additive ? AdditiveAttention(dropout: 0.5, seed: 5) : Attention(useScale: true, dropout: 0.5, seed: 5)
        let q = randn([2, 3, 4], seed: 21), v = randn([2, 5, 4], seed: 22)
        let (out, scores) = try layer([q, v], returnAttentionScores: true, training: true)
        expectClose(out, scores.matmul(v), atol: 1e-12, rtol: 1e-12, "output vs scores · value")
        // In inference the scores are the softmax: rows sum to 1.
        let (out2, plain) = try layer([q, v], returnAttentionScores: true)
        expectClose(out2, plain.matmul(v), atol: 1e-12, rtol: 1e-12, "inference output vs scores · value")
        expectClose(plain.sum(axes: [2]), Tensor.ones([2, 3], dtype: .float64), atol: 1e-12, rtol: 0, "inference rows sum to 1")
        // In training each weight is dropped (0) or kept and scaled by 1 / (1 − 0.5).
        let dropped = scores.scalarsAsDouble(), softmax = plain.scalarsAsDouble()
        #expect(dropped.contains(0) && dropped.contains { $0 != 0 }, "dropout dropped some weights and kept some")
        #expect(zip(dropped, softmax).allSatisfy { $0 == 0 || abs($0 - 2 * $1) < 1e-12 }, "kept weights are the softmax · 2")
    }
}

/// Inputs of mixed dtypes, or of a dtype other than the weights', are an error (as
/// MultiHeadAttention's), not a crash in the arithmetic kernels.
@Suite struct AttentionDTypeTests {
    @Test func mismatchedDtypesThrow() throws {
        let q = randn([2, 3, 4], seed: 31), v = randn([2, 5, 4], seed: 32)
        let scaled = Attention(useScale: true, scoreMode: "concat")
        _ = try scaled([q.cast(to: .float32), v.cast(to: .float32)])
        #expect(throws: LaminaError.self) { try scaled([q, v]) }
        #expect(throws: LaminaError.self) { try Attention()([q.cast(to: .float32), v]) }
        let additive = AdditiveAttention()
        _ = try additive([q, v])
        #expect(additive.dtype == .float64)
        #expect(throws: LaminaError.self) { try additive([q.cast(to: .float32), v.cast(to: .float32)]) }
        // Without weights any one float dtype goes.
        let plain = Attention()
        #expect(try plain([q, v]).dtype == .float64)
        #expect(try plain([q.cast(to: .float32), v.cast(to: .float32)]).dtype == .float32)
    }
}
