import Foundation
import Testing
import LaminaTestSupport
@testable import Lamina

/// MultiHeadAttention against Keras 3 (Fixtures/generate_attention_fixtures.py): self- and
/// cross-attention, explicit masks, padding masks from Embedding(maskZero:), causal masks, the
/// attention scores, and a Transformer encoder block — outputs, output masks, the gradients of
/// sum(output · projection) for the float inputs and every weight, and three Adam steps.
@Suite struct MultiHeadAttentionTests {
    struct Reference: Decodable {
        struct Case: Decodable {
            let name: String
            let weightNames: [String], weights: [Fixture.T], inputs: [Fixture.T], outputs: [Fixture.T]
            let outputMasks: [Fixture.T?], projections: [Fixture.T]
            let inputGradients: [Fixture.T?], weightGradients: [Fixture.T]
            let labels: Fixture.T?, adamLosses: [Double]?, weightsAfterAdam: [Fixture.T]?
        }
        let cases: [Case]
        static let shared: Reference = {
            let url = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
                .appendingPathComponent("Fixtures/attention_reference.json")
            return try! JSONDecoder().decode(Reference.self, from: Data(contentsOf: url))
        }()
    }

    /// The generator's models, with its layer names (so its weight order and paths).
    static func build(_ name: String) -> Model {
        switch name {
        case "self_padded", "causal_padded":
            let ids = Input(shape: [5], dtype: .int32, name: "ids")
            let x = Embedding(inputDim: 10, outputDim: 4, maskZero: true, name: "emb")(ids)
            let mha = MultiHeadAttention(numHeads: 2, keyDim: name == "self_padded" ? 3 : 2, name: "mha")
            return Model(inputs: ids, outputs: mha(x, x, useCausalMask: name == "causal_padded"))
        case "cross_masked":
            let q = Input(shape: [4, 4], name: "q"), v = Input(shape: [5, 6], name: "v")
            let k = Input(shape: [5, 5], name: "k"), m = Input(shape: [4, 5], name: "m")
            let y = MultiHeadAttention(numHeads: 2, keyDim: 3, valueDim: 2, name: "mha")(q, v, key: k, attentionMask: m)
            return Model(inputs: [q, v, k, m], outputs: y)
        case "cross_plain":
            let q = Input(shape: [4, 4], name: "q"), v = Input(shape: [6, 3], name: "v")
            return Model(inputs: [q, v], outputs: MultiHeadAttention(numHeads: 3, keyDim: 2, useBias: false, outputShape: 5, name: "mha")(q, v))
        case "causal_scores":
            let x = Input(shape: [5, 4], name: "x")
            let (y, s) = MultiHeadAttention(numHeads: 2, keyDim: 2, name: "mha")(x, x, returnAttentionScores: true, useCausalMask: true)
            return Model(inputs: x, outputs: [y, s])
        default:
            return encoder()
        }
    }

    /// Token + position embeddings, MHA, residual, LayerNormalization, FFN, masked pooling, Dense.
    static func encoder() -> Model {
        let (t, d) = (6, 8)
        let ids = Input(shape: [t], dtype: .int32, name: "ids"), positions = Input(shape: [t], dtype: .int32, name: "positions")
        var x = Add(name: "embed")([Embedding(inputDim: 12, outputDim: d, maskZero: true, name: "tokens")(ids),
                                     Embedding(inputDim: t + 1, outputDim: d, maskZero: true, name: "position")(positions)])
        let a = MultiHeadAttention(numHeads: 2, keyDim: 4, name: "mha")(x, x)
        x = LayerNormalization(epsilon: 1e-6, name: "ln1")(Add(name: "res1")([x, a]))
        var f = Dense(16, activation: .relu, name: "ff1")(x)
        f = Dense(d, name: "ff2")(f)
        x = LayerNormalization(epsilon: 1e-6, name: "ln2")(Add(name: "res2")([x, f]))
        x = GlobalAveragePooling1D(name: "gap")(x)
        return Model(inputs: [ids, positions], outputs: Dense(2, activation: .softmax, name: "probs")(x))
    }

    static let names = ["self_padded", "cross_masked", "cross_plain", "causal_scores", "causal_padded", "encoder"]

    @Test(arguments: names) func matchesKeras(_ name: String) throws {
        let ref = Reference.shared.cases.first { $0.name == name }!
        let model = Self.build(name)
        try model.checkDefinition()
        #expect(model.weights.map(\.name) == ref.weightNames, "\(name): weight names and order as Keras")
        try model.setWeights(ref.weights.map(\.tensor))
        var xs = ref.inputs.map(\.tensor)
        for i in xs.indices where ref.inputGradients[i] != nil { xs[i].requiresGrad = true }

        let variables = model.trainableVariables
        for v in variables { v.value.requiresGrad = true }
        defer { for v in variables { v.value.requiresGrad = false } }
        let outputs = try model.forward(xs, training: false)
        for (i, (out, expected)) in zip(outputs, ref.outputs).enumerated() {
            expectClose(out, expected.tensor, atol: 1e-5, rtol: 1e-4, "\(name) output \(i)")
            if name == "causal_scores" && i == 1 {
                // Keras's scores carry its Softmax layer's mask (the causal triangle); Lamina's carry none.
            } else if let mask = ref.outputMasks[i] {
                #expect(out.kerasMask?.asArray(Float.self) == mask.values.map { Float($0) }, "\(name) output mask \(i)")
            } else {
                #expect(out.kerasMask == nil, "\(name): Keras's output \(i) has no mask")
            }
        }
        let total = zip(outputs, ref.projections).map { ($0 * $1.tensor).sum() }.reduce(Tensor.scalar(0)) { $0 + $1 }
        let wanted = xs.indices.filter { ref.inputGradients[$0] != nil }
        let grads = total.gradients(wrt: wanted.map { xs[$0] } + variables.map(\.value))
        for (j, i) in wanted.enumerated() { expectClose(grads[j], ref.inputGradients[i]!.tensor, atol: 1e-4, rtol: 1e-4, "\(name) input \(i) gradient") }
        for (v, (g, expected)) in zip(variables, zip(grads.dropFirst(wanted.count), ref.weightGradients)) {
            expectClose(g, expected.tensor, atol: 1e-4, rtol: 1e-4, "\(name) gradient of \(v.name)")
        }
    }

    @Test func encoderTrainsAsKerasWithAdam() throws {
        let ref = Reference.shared.cases.first { $0.name == "encoder" }!
        let model = Self.encoder()
        try model.setWeights(ref.weights.map(\.tensor))
        let xs = ref.inputs.map(\.tensor), labels = ref.labels!.tensor
        let adam = Adam(learningRate: 0.01), loss = SparseCategoricalCrossentropy()
        for expected in ref.adamLosses! {
            let (value, grads) = try valueAndGradients(of: model) { loss(labels, try model.forward(xs, training: true)[0]) }
            #expect(abs(value - expected) < 1e-5, "encoder Adam step loss \(value) vs Keras \(expected)")
            try adam.apply(grads, to: model.trainableVariables)
        }
        for (w, expected) in zip(model.getWeights(), ref.weightsAfterAdam!) { expectClose(w, expected.tensor, atol: 1e-4, rtol: 1e-4, "encoder weights after 3 Adam steps") }
    }
}

/// A query row that sees no key: Keras 3.15's MultiHeadAttention takes
/// `ops.dot_product_attention` (the row attends uniformly) only when it has no dropout and
/// returns no scores; a layer with `dropout > 0` takes the masked Softmax even in inference,
/// where the row's probabilities are 0 and its output is the output bias (checked in Keras).
@Suite struct MultiHeadAttentionEmptyRowTests {
    @Test func dropoutLayerInInferenceGivesTheOutputBiasOnARowThatSeesNothing() throws {
        let x = randn([2, 4, 3], seed: 41).cast(to: .float32)
        var explicit = [Float](repeating: 1, count: 2 * 4 * 4)
        for j in 0..<4 { explicit[1 * 16 + 2 * 4 + j] = 0 }
        explicit[0 * 16 + 1 * 4 + 3] = 0
        let m = Tensor(shape: [2, 4, 4], scalars: explicit)
        let plain = MultiHeadAttention(numHeads: 2, keyDim: 2), dropping = MultiHeadAttention(numHeads: 2, keyDim: 2, dropout: 0.3, seed: 1)
        _ = try plain(x, x)
        _ = try dropping(x, x)
        let weights = plain.getWeights().enumerated().map { i, w in randn(w.shape, seed: 50 + UInt64(i), scale: 0.5).cast(to: .float32) }
        try plain.setWeights(weights)
        try dropping.setWeights(weights)
        let a = try plain(x, x, attentionMask: m).scalarsAsDouble(), b = try dropping(x, x, attentionMask: m).scalarsAsDouble()
        let bias = weights.last!.scalarsAsDouble()
        for row in 0..<8 {
            for c in 0..<3 {
                let at = row * 3 + c
                if row == 1 * 4 + 2 {
                    #expect(abs(b[at] - bias[c]) <= 1e-6, "dropout layer: the row that sees nothing is the output bias")
                    #expect(abs(a[at] - bias[c]) > 1e-3, "no-dropout layer: the row attends uniformly")
                } else {
                    #expect(abs(a[at] - b[at]) <= 1e-5, "every other row as without dropout")
                }
            }
        }
    }
}
