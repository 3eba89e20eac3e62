import Foundation
import Testing
import LaminaTestSupport
@testable import Lamina

/// Functional models against Keras 3 (Fixtures/generate_functional_fixtures.py): forward, input
/// and weight gradients, three training steps with SGD-momentum and Adam, multi-output logs.
@Suite struct FunctionalTests {
    struct Reference: Decodable {
        struct Step: Decodable { let optimizer: String; let losses: [Double]; let logs: [[String: Double]]; let weightsAfter: [Fixture.T] }
        struct Case: Decodable {
            let name: String, summary: String, countParams: Int
            let inputNames: [String], outputNames: [String], trainablePaths: [String]
            let weights: [Fixture.T], inputs: [Fixture.T], labels: [Fixture.T], outputs: [Fixture.T], probes: [Fixture.T]
            let gradInputs: [Fixture.T], gradWeights: [Fixture.T], steps: [Step]
            let evaluate: [String: Double]?
        }
        let models: [Case]
        static let shared: Reference = {
            let url = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
                .appendingPathComponent("Fixtures/functional_reference.json")
            return try! JSONDecoder().decode(Reference.self, from: Data(contentsOf: url))
        }()
        static func named(_ name: String) -> Case { shared.models.first { $0.name == name }! }
    }

    /// The four models, built as the generator builds them (same names, so the same weight order).
    static func build(_ name: String) -> (Model, compile: (Model, Optimizer) -> Void) {
        switch name {
        case "residual":
            let inp = Input(shape: [6, 6, 2], name: "img")
            let x = Conv2D(4, kernelSize: 3, padding: .same, activation: .relu, name: "c1")(inp)
            let y = Conv2D(4, kernelSize: 3, padding: .same, name: "c2")(x)
            var z = Add(name: "add")([x, y])
            z = Activation(.relu, name: "act")(z)
            z = GlobalAveragePooling2D(name: "gap")(z)
            let out = Dense(3, activation: .softmax, name: "probs")(z)
            return (Model(inputs: inp, outputs: out, name: "residual"), { $0.compile(optimizer: $1, loss: .sparseCategoricalCrossentropy) })
        case "two_in_two_out":
            let a = Input(shape: [5], name: "a"), b = Input(shape: [4], name: "b")
            let ha = Dense(6, activation: .relu, name: "ha")(a)
            let hb = Dense(6, activation: .tanh, name: "hb")(b)
            let c = Concatenate(axis: -1, name: "cat")([ha, hb])
            let o1 = Dense(3, activation: .softmax, name: "cls")(c)
            let o2 = Dense(1, name: "score")(c)
            return (Model(inputs: [a, b], outputs: [o1, o2], name: "two_in_two_out"),
                    { $0.compile(optimizer: $1, loss: [.sparseCategoricalCrossentropy, .meanSquaredError], lossWeights: [1, 0.2]) })
        case "siamese":
            let shared = Dense(4, activation: .tanh, name: "shared")
            let a = Input(shape: [5], name: "left"), b = Input(shape: [5], name: "right")
            let ea = shared(a), eb = shared(b)
            let d = Subtract(name: "sub")([ea, eb]), m = Multiply(name: "mul")([ea, eb])
            let out = Dense(1, activation: .sigmoid, name: "same")(Concatenate(name: "cat2")([d, m]))
            return (Model(inputs: [a, b], outputs: out, name: "siamese"), { $0.compile(optimizer: $1, loss: .binaryCrossentropy) })
        default:
            let inner = Sequential([Input(shape: [5]), Dense(6, activation: .relu, name: "in1"), Dense(4, activation: .relu, name: "in2")],
                                   name: "inner")
            let inp = Input(shape: [5], name: "x")
            let h = inner(inp)
            let s = Dense(4, name: "skip")(inp)
            let out = Dense(2, name: "head")(Add(name: "add2")([h, s]))
            return (Model(inputs: inp, outputs: out, name: "nested"), { $0.compile(optimizer: $1, loss: .meanSquaredError) })
        }
    }

    static let names = ["residual", "two_in_two_out", "siamese", "nested"]

    @Test(arguments: names) func forwardAndGradients(_ name: String) throws {
        let ref = Reference.named(name)
        let (model, _) = Self.build(name)
        try model.checkDefinition()
        #expect(model.inputNames == ref.inputNames && model.outputNames == ref.outputNames)
        #expect(model.countParams() == ref.countParams)
        try model.setWeights(ref.weights.map(\.tensor))
        var xs = ref.inputs.map(\.tensor)
        for (out, expected) in zip(try model.predict(xs), ref.outputs) { expectClose(out, expected.tensor, atol: 1e-4, rtol: 1e-4, "\(name) output") }

        for i in xs.indices { xs[i].requiresGrad = true }
        let vars = model.trainableWeights
        for v in vars { v.value.requiresGrad = true }
        defer { for v in vars { v.value.requiresGrad = false } }
        let outs = try model.forward(xs, training: false)
        let objective = zip(outs, ref.probes).map { ($0 * $1.tensor).sum() }.reduce(Tensor.scalar(0.0, dtype: .float32)) { $0 + $1 }
        let grads = objective.gradients(wrt: xs + vars.map(\.value))
        for (g, e) in zip(grads.prefix(xs.count), ref.gradInputs) { expectClose(g, e.tensor, atol: 1e-4, rtol: 1e-4, "\(name) input gradient") }
        // Keras's paths include an enclosing model's name (`inner/in1/kernel`); Lamina names a weight by its layer.
        #expect(vars.map { $0.name } == ref.trainablePaths.map { $0.split(separator: "/").suffix(2).joined(separator: "/") })
        for (g, e) in zip(grads.dropFirst(xs.count), ref.gradWeights) { expectClose(g, e.tensor, atol: 1e-4, rtol: 1e-4, "\(name) weight gradient") }
    }

    @Test(arguments: names) func threeTrainingSteps(_ name: String) throws {
        let ref = Reference.named(name)
        for step in ref.steps {
            let (model, compile) = Self.build(name)
            try model.setWeights(ref.weights.map(\.tensor))
            compile(model, step.optimizer == "sgd" ? SGD(learningRate: 0.1, momentum: 0.9) : Adam(learningRate: 0.01))
            for (i, expected) in step.logs.enumerated() {
                let (loss, logs) = try model.trainOnBatch(ref.inputs.map(\.tensor), ref.labels.map(\.tensor))
                #expect(abs(loss - expected["loss"]!) <= 1e-4 * max(1, abs(expected["loss"]!)), "\(name) \(step.optimizer) step \(i): \(loss) vs \(expected)")
                for (key, value) in expected where key != "loss" {
                    #expect(abs((logs[key] ?? .nan) - value) <= 1e-4 * max(1, abs(value)), "\(name) \(step.optimizer) step \(i) \(key): \(logs) vs \(expected)")
                }
            }
            for (w, e) in zip(model.getWeights(), step.weightsAfter) { expectClose(w, e.tensor, atol: 1e-4, rtol: 1e-4, "\(name) \(step.optimizer) weights after 3 steps") }
        }
    }

    /// Keras's multi-output log names and values: `<output>_loss` unweighted, `loss` weighted.
    @Test func multiOutputEvaluateLogs() throws {
        let ref = Reference.named("two_in_two_out")
        let (model, _) = Self.build("two_in_two_out")
        try model.setWeights(ref.weights.map(\.tensor))
        model.compile(optimizer: SGD(), loss: ["cls": .sparseCategoricalCrossentropy, "score": .meanSquaredError],
                      lossWeights: ["cls": 1, "score": 0.2], metrics: ["cls": [.accuracy], "score": [try Metric.named("mae")]])
        let (loss, metrics) = try model.evaluate(Dictionary(uniqueKeysWithValues: zip(ref.inputNames, ref.inputs.map(\.tensor))),
                                                 Dictionary(uniqueKeysWithValues: zip(ref.outputNames, ref.labels.map(\.tensor))))
        let expected = ref.evaluate!
        #expect(abs(loss - expected["loss"]!) < 1e-4)
        #expect(Set(metrics.keys) == Set(expected.keys).subtracting(["loss"]), "\(metrics.keys.sorted())")
        for (key, value) in expected where key != "loss" { #expect(abs((metrics[key] ?? .nan) - value) < 1e-4, "\(key)") }
        let history = try model.fit(ref.inputs.map(\.tensor), ref.labels.map(\.tensor), epochs: 1, batchSize: 4, verbose: 0)
        #expect(Set(history.history.keys) == Set(expected.keys))
    }

    @Test(arguments: names) func summaryMatchesKeras(_ name: String) throws {
        let ref = Reference.named(name)
        let (model, _) = Self.build(name)
        let text = model.summaryText(lineLength: 76)
        #expect(text + "\n" == ref.summary, "\(text)\n---- Keras:\n\(ref.summary)")
    }

    @Test func sharedLayerWeightsAreOneSet() throws {
        let (model, _) = Self.build("siamese")
        #expect(model.layers.map(\.name) == ["left", "right", "shared", "sub", "mul", "cat2", "same"])
        #expect(model.weights.count == 4)
    }

    @Test func definitionErrorsNameTheCallAndShapes() throws {
        let a = Input(shape: [5]), b = Input(shape: [4])
        let bad = Add()([Dense(3)(a), Dense(2)(b)])
        let model = Model(inputs: [a, b], outputs: Dense(1)(bad))
        let error = #expect(throws: LaminaError.self) { try model.predict([Tensor.zeros([2, 5]), Tensor.zeros([2, 4])]) }
        #expect(error?.message.contains("[*, 3]") == true && error?.message.contains("[*, 2]") == true, "\(String(describing: error))")

        let c = Input(shape: [3])
        let disconnected = Model(inputs: a, outputs: Dense(1)(c))
        #expect(throws: LaminaError.self) { try disconnected.predict(Tensor.zeros([1, 5])) }
        let conv = Conv2D(2, kernelSize: 3)(a)   // rank 1 input to a Conv2D
        #expect(conv.error != nil)
    }

    /// A model is a layer: a generator and a discriminator composed as Model(z, D(G(z))).
    @Test func modelsCallModels() throws {
        let z = Input(shape: [4])
        let generator = Model(inputs: z, outputs: Dense(6, activation: .tanh)(Dense(8, activation: .relu)(z)), name: "g")
        let x = Input(shape: [6])
        let discriminator = Model(inputs: x, outputs: Dense(1, activation: .sigmoid)(x), name: "d")
        let latent = Input(shape: [4])
        let gan = Model(inputs: latent, outputs: discriminator(generator(latent)), name: "gan")
        let noise = Tensor.randomNormal([3, 4], seed: 1)
        let direct = try discriminator.predict(try generator.predict(noise))
        expectClose(try gan.predict(noise), direct, atol: 1e-4, rtol: 1e-4, "composed")
        #expect(gan.countParams() == generator.countParams() + discriminator.countParams())
        discriminator.trainable = false
        gan.compile(optimizer: Adam(), loss: .binaryCrossentropy)
        let before = discriminator.getWeights(), g0 = generator.getWeights()
        try gan.trainOnBatch(noise, Tensor.ones([3, 1]))
        for (a, b) in zip(discriminator.getWeights(), before) { expectClose(a, b, atol: 0, rtol: 0, "frozen discriminator") }
        #expect(zip(generator.getWeights(), g0).contains { $0.0.scalarsAsDouble() != $0.1.scalarsAsDouble() })
    }
}
