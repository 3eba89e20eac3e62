import Foundation
import Testing
import LaminaTestSupport
@testable import Lamina

/// Masks of zero-padded sequences as Keras 3 makes and uses them (Fixtures/generate_masking_fixtures.py):
/// Embedding(maskZero:) and Masking make the mask; Dense, Dropout and merge layers pass or combine it;
/// GlobalAveragePooling1D averages only the steps it keeps; losses and metrics count only those steps.
/// Each model: outputs and output mask, evaluate's loss and metrics, three Adam steps (logs, weights).
@Suite struct MaskingTests {
    struct Reference: Decodable {
        struct Case: Decodable {
            let name: String
            let weights: [Fixture.T], inputs: [Fixture.T], labels: Fixture.T, output: Fixture.T
            let outputMask: Fixture.T?
            let evaluate: [String: Double], steps: [[String: Double]], weightsAfter: [Fixture.T]
        }
        let models: [Case]
        static let shared: Reference = {
            let url = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
                .appendingPathComponent("Fixtures/masking_reference.json")
            return try! JSONDecoder().decode(Reference.self, from: Data(contentsOf: url))
        }()
    }

    /// The generator's models, with the same layer names (so the same weight order).
    static func build(_ name: String) -> (Model, loss: Loss, metrics: [Metric]) {
        switch name {
        case "embed_gap":
            let ids = Input(shape: [6], dtype: .int32, name: "ids")
            var x = Embedding(inputDim: 10, outputDim: 4, maskZero: true, name: "emb")(ids)
            x = GlobalAveragePooling1D(name: "gap")(x)
            return (Model(inputs: ids, outputs: Dense(3, activation: .softmax, name: "probs")(x)), .sparseCategoricalCrossentropy, [.accuracy])
        case "per_step":
            let ids = Input(shape: [6], dtype: .int32, name: "ids")
            var x = Embedding(inputDim: 10, outputDim: 4, maskZero: true, name: "emb")(ids)
            x = Dense(5, activation: .relu, name: "hidden")(x)
            x = Dropout(0, name: "drop")(x)
            return (Model(inputs: ids, outputs: Dense(3, activation: .softmax, name: "tags")(x)), .sparseCategoricalCrossentropy, [.accuracy])
        case "masking_mse":
            let series = Input(shape: [5, 3], name: "series")
            let x = Masking(maskValue: 0, name: "mask")(series)
            return (Model(inputs: series, outputs: Dense(2, name: "proj")(x)), .meanSquaredError, [try! Metric.named("mae")])
        case "merged_partial":
            let a = Input(shape: [6], dtype: .int32, name: "a"), c = Input(shape: [6, 4], name: "c")
            let ea = Embedding(inputDim: 10, outputDim: 4, maskZero: true, name: "emb_a")(a)
            let s = GlobalAveragePooling1D(name: "gap_add")(Add(name: "add")([ea, c]))
            let t = GlobalAveragePooling1D(name: "gap_time")(Concatenate(axis: 1, name: "cat_time")([ea, c]))
            let h = Concatenate(name: "joined")([s, t])
            return (Model(inputs: [a, c], outputs: Dense(1, activation: .sigmoid, name: "score")(h)), .binaryCrossentropy, [.accuracy])
        default:
            let a = Input(shape: [6], dtype: .int32, name: "a"), b = Input(shape: [6], dtype: .int32, name: "b")
            let ea = Embedding(inputDim: 10, outputDim: 4, maskZero: true, name: "emb_a")(a)
            let eb = Embedding(inputDim: 10, outputDim: 4, maskZero: true, name: "emb_b")(b)
            let s = GlobalAveragePooling1D(name: "gap_add")(Add(name: "add")([ea, eb]))
            let t = GlobalAveragePooling1D(name: "gap_time")(Concatenate(axis: 1, name: "cat_time")([ea, eb]))
            let f = GlobalAveragePooling1D(name: "gap_feat")(Concatenate(axis: -1, name: "cat_feat")([ea, eb]))
            let h = Concatenate(name: "joined")([s, t, f])
            return (Model(inputs: [a, b], outputs: Dense(1, activation: .sigmoid, name: "score")(h)), .binaryCrossentropy, [.accuracy])
        }
    }

    static let names = ["embed_gap", "per_step", "masking_mse", "merged", "merged_partial"]

    @Test(arguments: names) func matchesKeras(_ name: String) throws {
        let ref = Reference.shared.models.first { $0.name == name }!
        let (model, loss, metrics) = Self.build(name)
        try model.checkDefinition()
        try model.setWeights(ref.weights.map(\.tensor))
        let xs = ref.inputs.map(\.tensor)

        let outputs = try model.forward(xs, training: false)
        expectClose(outputs[0], ref.output.tensor, atol: 1e-4, rtol: 1e-4, "\(name) output")
        if let expected = ref.outputMask {
            let mask = try #require(outputs[0].kerasMask, "\(name): the output should carry a mask")
            #expect(mask.asArray(Float.self) == expected.values.map { Float($0) }, "\(name) output mask")
        } else {
            #expect(outputs[0].kerasMask == nil, "\(name): Keras's output has no mask")
        }

        model.compile(optimizer: Adam(learningRate: 0.05), loss: loss, metrics: metrics)
        let y = ref.labels.tensor
        let evaluated = try model.evaluate(xs, [y], batchSize: 4)
        #expect(abs(evaluated.loss - ref.evaluate["loss"]!) < 1e-5, "\(name) loss \(evaluated.loss) vs Keras \(ref.evaluate["loss"]!)")
        for (key, value) in ref.evaluate where key != "loss" {
            #expect(abs(evaluated.metrics[key, default: .nan] - value) < 1e-5, "\(name) \(key) \(evaluated.metrics[key] ?? .nan) vs Keras \(value)")
        }
        for step in ref.steps {
            let logs = try model.trainOnBatch(xs, [y])
            #expect(abs(logs.loss - step["loss"]!) < 1e-4, "\(name) step loss \(logs.loss) vs Keras \(step["loss"]!)")
            for (key, value) in step where key != "loss" {
                #expect(abs(logs.metrics[key, default: .nan] - value) < 1e-5, "\(name) step \(key)")
            }
        }
        for (w, expected) in zip(model.getWeights(), ref.weightsAfter) { expectClose(w, expected.tensor, atol: 1e-4, rtol: 1e-4, "\(name) weights after 3 Adam steps") }
    }

    /// The masked mean's gradient (float64, finite differences) through Embedding's mask into
    /// GlobalAveragePooling1D, and the masked loss's gradient with respect to the predictions.
    @Test func maskedPoolingAndLossGradients() throws {
        let pool = GlobalAveragePooling1D()
        let mask = Tensor(shape: [2, 4], scalars: [1, 1, 0, 1, 0, 1, 1, 0] as [Float])
        let pooled = GradientCheck.run(at: [Tensor.randomNormal([2, 4, 3], dtype: .float64, seed: 3)]) { xs in
            var x = xs[0]
            x.kerasMask = mask
            return try! pool(x).square()
        }
        #expect(pooled.maxRelativeError < 1e-6, "masked GlobalAveragePooling1D: \(pooled.maxRelativeError)")
        let labels = Tensor(shape: [2, 4], scalars: [0, 2, 1, 1, 2, 0, 1, 0] as [Float])
        let lossCheck = GradientCheck.run(at: [Tensor.randomNormal([2, 4, 3], dtype: .float64, seed: 4)]) { xs in
            var p = xs[0].softmax(axis: -1)
            p.kerasMask = mask
            return SparseCategoricalCrossentropy()(labels, p)
        }
        #expect(lossCheck.maxRelativeError < 1e-6, "masked sparse categorical cross-entropy: \(lossCheck.maxRelativeError)")
        print("masking gradient checks: pooling \(pooled.maxRelativeError), loss \(lossCheck.maxRelativeError)")
    }

    /// The loss of a padded batch is the mean over the steps that count (Σ loss·mask / Σ mask);
    /// a batch with none counts 0, never NaN.
    @Test func maskedLossIsTheMeanOverKeptSteps() throws {
        var p = Tensor(shape: [1, 3, 1], scalars: [1, 2, 3] as [Float])
        p.kerasMask = Tensor(shape: [1, 3], scalars: [1, 0, 1] as [Float])
        let y = Tensor(shape: [1, 3, 1], scalars: [0, 0, 0] as [Float])
        #expect(MeanSquaredError()(y, p).item(Float.self) == (1 + 9) / 2)
        p.kerasMask = Tensor.zeros([1, 3])
        #expect(MeanSquaredError()(y, p).item(Float.self) == 0)
    }

    /// A sample with every step masked averages to 0 (Keras 3 returns NaN there), and its
    /// gradient is 0, not NaN.
    @Test func fullyMaskedSampleAveragesToZero() throws {
        var x = Tensor(shape: [2, 2, 1], scalars: [1, 2, 3, 5] as [Float])
        x.kerasMask = Tensor(shape: [2, 2], scalars: [0, 0, 1, 0] as [Float])
        x.requiresGrad = true
        let y = try GlobalAveragePooling1D()(x)
        #expect(y.asArray(Float.self) == [0, 3])
        y.sum().backward()
        #expect(x.grad?.asArray(Float.self) == [0, 0, 1, 0])
    }

    /// Layers that do not support masking end the mask; Masking's config round trips.
    @Test func maskEndsAtLayersWithoutSupportAndConfigsRoundTrip() throws {
        let ids = Tensor(shape: [2, 3], scalars: [1, 2, 0, 3, 0, 0] as [Float])
        let embedded = try Embedding(inputDim: 5, outputDim: 2, maskZero: true)(ids)
        #expect(embedded.kerasMask?.asArray(Float.self) == [1, 1, 0, 1, 0, 0])
        #expect(try Flatten()(embedded).kerasMask == nil)
        #expect(try Dense(3)(embedded).kerasMask?.asArray(Float.self) == [1, 1, 0, 1, 0, 0])
        let loaded = try LayerRegistry.make(try Masking(maskValue: -1, name: "m").serialize()) as! Masking
        #expect(loaded.maskValue == -1 && loaded.name == "m")
        let emb = try LayerRegistry.make(try Embedding(inputDim: 5, outputDim: 2, maskZero: true).serialize()) as! Embedding
        #expect(emb.maskZero)
    }
}
