import Foundation
import Testing
import LaminaTestSupport
@testable import Lamina

/// Recurrent layers with masks, `returnState` and initial states as Keras 3 computes them
/// (Fixtures/generate_recurrent_fixtures.py): each model's outputs, the gradients of
/// L = Σᵢ sum(outputᵢ · Rᵢ) with respect to the weights and the float inputs, and the weights
/// after three Adam steps on L. Then float64 gradient checks of the masked paths.
@Suite struct RecurrentMaskingTests {
    struct Reference: Decodable {
        struct Case: Decodable {
            let name: String
            let weights: [Fixture.T], inputs: [Fixture.T], outputs: [Fixture.T]
            let objective: Double
            let weightGradients: [Fixture.T], inputGradients: [Fixture.T?], weightsAfter: [Fixture.T]
        }
        let models: [Case]
        static let shared: Reference = {
            let url = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
                .appendingPathComponent("Fixtures/recurrent_reference.json")
            return try! JSONDecoder().decode(Reference.self, from: Data(contentsOf: url))
        }()
    }

    /// The generator's models, with the same layer names (so the same weight order).
    static func build(_ name: String) -> Model {
        switch name {
        case "masked_lstm":
            let ids = Input(shape: [6], dtype: .int32, name: "ids")
            let x = LSTM(5, name: "lstm")(Embedding(inputDim: 10, outputDim: 4, maskZero: true, name: "emb")(ids))
            return Model(inputs: ids, outputs: Dense(2, name: "head")(x))
        case "masked_bigru":
            let ids = Input(shape: [6], dtype: .int32, name: "ids")
            let e = Embedding(inputDim: 10, outputDim: 4, maskZero: true, name: "emb")(ids)
            let x = Bidirectional(GRU(3, returnSequences: true, name: "gru"), name: "bi")(e)
            return Model(inputs: ids, outputs: Dense(2, name: "head")(x))
        case "masked_bilstm_last":
            let series = Input(shape: [5, 3], name: "series")
            let x = Masking(maskValue: 0, name: "mask")(series)
            return Model(inputs: series, outputs: Bidirectional(LSTM(3, name: "lstm"), mergeMode: .sum, name: "bi")(x))
        case "masked_rnn_sequences":
            let series = Input(shape: [5, 3], name: "series")
            let x = Masking(maskValue: 0, name: "mask")(series)
            return Model(inputs: series, outputs: SimpleRNN(4, returnSequences: true, name: "rnn")(x))
        case "backwards_masked":
            let series = Input(shape: [5, 3], name: "series")
            let x = Masking(maskValue: 0, name: "mask")(series)
            let a = LSTM(3, returnSequences: true, goBackwards: true, name: "lstm")(x)
            let b = GRU(2, goBackwards: true, name: "gru")(x)
            return Model(inputs: series, outputs: [a, b])
        case "lstm_state":
            let series = Input(shape: [5, 3], name: "series")
            let x = Masking(maskValue: 0, name: "mask")(series)
            return Model(inputs: series, outputs: LSTM(4, returnSequences: true, returnState: true, name: "lstm").callAll(x))
        case "gru_state_initial":
            let series = Input(shape: [5, 3], name: "series"), h0 = Input(shape: [4], name: "h0")
            let x = Masking(maskValue: 0, name: "mask")(series)
            return Model(inputs: [series, h0], outputs: GRU(4, returnState: true, name: "gru")(x, initialState: [h0]))
        case "lstm_initial":
            let series = Input(shape: [5, 3], name: "series"), h0 = Input(shape: [3], name: "h0"), c0 = Input(shape: [3], name: "c0")
            let x = Masking(maskValue: 0, name: "mask")(series)
            return Model(inputs: [series, h0, c0], outputs: LSTM(3, returnSequences: true, name: "lstm")(x, initialState: [h0, c0]))
        case "td_dense":
            let series = Input(shape: [5, 3], name: "series")
            var x = Masking(maskValue: 0, name: "mask")(series)
            x = TimeDistributed(Dense(4, activation: .tanh, name: "proj"), name: "td")(x)
            return Model(inputs: series, outputs: LSTM(3, name: "lstm")(x))
        case "td_conv":
            let frames = Input(shape: [3, 6, 6, 2], name: "frames")
            let x = TimeDistributed(Conv2D(2, kernelSize: (3, 3), activation: .relu, name: "conv"), name: "td")(frames)
            return Model(inputs: frames, outputs: TimeDistributed(Flatten(name: "flat"), name: "td_flat")(x))
        case "permute_rnn":
            let series = Input(shape: [3, 5], name: "series")
            return Model(inputs: series, outputs: SimpleRNN(2, name: "rnn")(Permute([2, 1], name: "perm")(series)))
        default:  // bi_state
            let series = Input(shape: [4, 3], name: "series")
            return Model(inputs: series, outputs: Bidirectional(LSTM(2, returnState: true, name: "lstm"), name: "bi").callAll(series))
        }
    }

    static let names = ["masked_lstm", "masked_bigru", "masked_bilstm_last", "masked_rnn_sequences", "backwards_masked",
                        "lstm_state", "gru_state_initial", "lstm_initial", "bi_state", "td_dense", "td_conv", "permute_rnn"]

    @Test(arguments: names) func matchesKeras(_ name: String) throws {
        let ref = try #require(Reference.shared.models.first { $0.name == name })
        let model = Self.build(name)
        try model.checkDefinition()
        try model.setWeights(ref.weights.map(\.tensor))
        var xs = ref.inputs.map(\.tensor)
        let outputs = try model.forward(xs, training: false)
        #expect(outputs.count == ref.outputs.count, "\(name): \(outputs.count) outputs, Keras \(ref.outputs.count)")
        for (o, e) in zip(outputs, ref.outputs) { expectClose(o, e.tensor, atol: 1e-5, rtol: 1e-4, "\(name) output") }

        // L = Σᵢ sum(outputᵢ · Rᵢ) with the generator's Rᵢ.
        let weightsR = try objectiveWeights(name)
        func objective() throws -> Tensor {
            let outs = try model.forward(xs, training: false)
            return zip(outs, weightsR).map { ($0 * $1).sum() }.reduce(Tensor.zeros([], dtype: .float32)) { $0 + $1 }
        }
        let floatInputs = ref.inputGradients.enumerated().compactMap { $1 == nil ? nil : $0 }
        for i in floatInputs { xs[i].requiresGrad = true }
        let (value, grads) = try valueAndGradients(of: model) { try objective() }
        #expect(abs(value - ref.objective) < 1e-4 * max(1, abs(ref.objective)), "\(name) objective \(value) vs \(ref.objective)")
        for (g, e) in zip(grads, ref.weightGradients) { expectClose(g, e.tensor, atol: 1e-4, rtol: 1e-4, "\(name) weight gradient") }
        if !floatInputs.isEmpty {
            let inputGrads = try objective().gradients(wrt: floatInputs.map { xs[$0] })
            for (g, i) in zip(inputGrads, floatInputs) { expectClose(g, ref.inputGradients[i]!.tensor, atol: 1e-4, rtol: 1e-4, "\(name) input gradient \(i)") }
            for i in floatInputs { xs[i].requiresGrad = false }
        }
        let adam = Adam(learningRate: 0.05)
        for _ in 0..<3 {
            let (_, g) = try valueAndGradients(of: model) { try objective() }
            try adam.apply(g, to: model.trainableVariables)
        }
        for (w, e) in zip(model.getWeights(), ref.weightsAfter) { expectClose(w, e.tensor, atol: 1e-4, rtol: 1e-4, "\(name) weights after 3 Adam steps") }
    }

    /// The R of each fixture model (written by the generator next to the rest).
    func objectiveWeights(_ name: String) throws -> [Tensor] {
        try #require(RWeights.shared.models[name]).map(\.tensor)
    }
    struct RWeights: Decodable {
        let models: [String: [Fixture.T]]
        static let shared: RWeights = {
            let url = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
                .appendingPathComponent("Fixtures/recurrent_reference.json")
            struct File: Decodable { let objectiveWeights: [String: [Fixture.T]] }
            return RWeights(models: try! JSONDecoder().decode(File.self, from: Data(contentsOf: url)).objectiveWeights)
        }()
    }
}

extension RecurrentMaskingTests {
    /// Models with initial states as inputs and several outputs per recurrent node save and load
    /// (initial states are saved as Keras's `initial_state` keyword) and predict the same.
    @Test(arguments: ["lstm_state", "gru_state_initial", "lstm_initial", "bi_state", "td_dense"])
    func savedModelsPredictTheSame(_ name: String) throws {
        let ref = try #require(Reference.shared.models.first { $0.name == name })
        let model = Self.build(name)
        try model.setWeights(ref.weights.map(\.tensor))
        let config = try model.functionalConfig()
        if name == "lstm_initial" {
            let layers = try #require(config["layers"] as? [[String: Any]])
            let lstm = try #require(layers.first { ($0["name"] as? String) == "lstm" })
            let node = try #require((lstm["inbound_nodes"] as? [[String: Any]])?.first)
            #expect((node["args"] as? [Any])?.count == 1)
            #expect(((node["kwargs"] as? [String: Any])?["initial_state"] as? [Any])?.count == 2)
        }
        let url = FileManager.default.temporaryDirectory.appendingPathComponent("recurrent-\(name)-\(UUID().uuidString).lamina")
        defer { try? FileManager.default.removeItem(at: url) }
        try model.save(url.path)
        let back = try Model.load(url.path)
        let xs = ref.inputs.map(\.tensor)
        for (a, b) in zip(try model.forward(xs, training: false), try back.forward(xs, training: false)) {
            expectClose(a, b, atol: 0, rtol: 1e-4, "\(name) after save and load")
        }
    }
}
