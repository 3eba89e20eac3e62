import Foundation
import Testing
import LaminaTestSupport
@testable import Lamina

/// The two-layer network of these tests as a subclass (Keras: `class MLP(keras.Model)`).
final class SubclassedMLP: Model {
    let hidden = Dense(8, activation: .tanh)
    let probs = Dense(3, activation: .softmax)
    override func call(_ x: Tensor, training: Bool) throws -> Tensor {
        try probs(hidden(x, training: training), training: training)
    }
}

/// The same network with its own training and test steps, written as Keras 3's
/// "customizing what happens in fit" guide: counts the steps it runs.
final class CustomStepMLP: Model {
    let hidden = Dense(8, activation: .tanh)
    let probs = Dense(3, activation: .softmax)
    var trainSteps = 0, testSteps = 0
    /// Scales the loss the step trains on (1: the compiled step's training).
    var lossScale = 1.0

    override func call(_ x: Tensor, training: Bool) throws -> Tensor {
        try probs(hidden(x, training: training), training: training)
    }

    override func trainStep(_ batch: TrainingBatch) throws -> [String: Double] {
        trainSteps += 1
        var prediction = batch.x
        let (_, gradients) = try valueAndGradients(of: self) {
            prediction = try self(batch.x, training: true)
            let loss = try computeLoss(y: batch.y, yPred: prediction, sampleWeight: batch.sampleWeight)
            return lossScale == 1 ? loss : loss * lossScale
        }
        try applyGradients(gradients, to: trainableVariables)
        return try computeMetrics(y: batch.y, yPred: prediction)
    }

    override func testStep(_ batch: TrainingBatch) throws -> [String: Double] {
        testSteps += 1
        let prediction = try self(batch.x, training: false)
        _ = try computeLoss(y: batch.y, yPred: prediction, training: false)
        return try computeMetrics(y: batch.y, yPred: prediction)
    }
}

/// Layers in arrays, dictionaries, optionals and a nested model are found, in declaration order.
final class TrackedContainers: Model {
    let stem = Dense(5)
    let blocks = [Dense(4, name: "block_a"), Dense(4, name: "block_b")]
    let heads: [String: Layer] = ["z_head": Dense(2, name: "z_head"), "a_head": Dense(2, name: "a_head")]
    let inner = Sequential([Dense(3, name: "inner_dense")], name: "inner")
    let maybe: Dense? = Dense(1, name: "maybe")
    let notALayer = [1, 2, 3]
    override func call(_ x: Tensor, training: Bool) throws -> Tensor {
        var h = try stem(x)
        for block in blocks { h = try block(h) }
        h = try heads["a_head"]!(h) + heads["z_head"]!(h)
        return try maybe!(inner(h, training: training))
    }
}

final class NoCall: Model {
    let dense = Dense(2)
}

@Suite struct SubclassedModelTests {
    static let x = Tensor.randomNormal([24, 4], seed: 11)
    static let y = Tensor(shape: [24], scalars: (0..<24).map { Int32(($0 * 7) % 3) })

    static func functional() -> Model {
        let inputs = Input(shape: [4])
        return Model(inputs: inputs, outputs: Dense(3, activation: .softmax)(Dense(8, activation: .tanh)(inputs)))
    }

    /// A built subclass with the functional model's weights.
    static func sameStart<M: Model>(_ model: M, as reference: Model) throws -> M {
        _ = try model.predict(x)
        try model.setWeights(reference.getWeights())
        return model
    }

    @Test func layersComeFromStoredPropertiesInDeclarationOrder() throws {
        let model = TrackedContainers(name: "tracked")
        #expect(model.isSubclassed)
        #expect(!Self.functional().isSubclassed && !Sequential().isSubclassed)
        #expect(!model.isBuilt)
        _ = try model.predict(Tensor.zeros([2, 6]))
        #expect(model.isBuilt)
        #expect(model.layers.map(\.name) == [model.stem.name, "block_a", "block_b", "a_head", "z_head", "inner", "maybe"])
        // Keras's count: 6·5+5, 5·4+4, 4·4+4, 4·2+2 twice, 2·3+3, 3·1+1
        #expect(model.countParams() == 35 + 24 + 20 + 10 + 10 + 9 + 4)
        #expect(model.weights.count == 14)
        #expect(model.weights.map(\.shape) == [[6, 5], [5], [5, 4], [4], [4, 4], [4], [4, 2], [2], [4, 2], [2], [2, 3], [3], [3, 1], [1]])
        #expect(model.outputShape == [1] && model.inputShape == [6])
    }

    @Test func summaryAndCountParams() throws {
        let model = SubclassedMLP(name: "mlp_sub")
        #expect(model.name == "mlp_sub" && SubclassedMLP().name.hasPrefix("subclassed_mlp"))
        _ = try model.predict(Tensor.zeros([1, 4]))
        #expect(model.countParams() == 4 * 8 + 8 + 8 * 3 + 3)
        let text = model.summaryText(lineLength: 76)
        #expect(text.contains("Model: \"mlp_sub\""))
        #expect(text.contains("\(model.hidden.name) (Dense)"))
        #expect(text.contains("(None, 8)") && text.contains("(None, 3)"))
        #expect(text.contains("Total params: 67"))
        #expect(model.className == "SubclassedMLP")
    }

    @Test func fitEvaluatePredictMatchTheFunctionalModel() throws {
        let reference = Lamina.withRandomSeed(3) { Self.functional() }
        let model = try Self.sameStart(SubclassedMLP(), as: reference)
        for m in [reference, model] { m.compile(optimizer: Adam(learningRate: 0.02), loss: .sparseCategoricalCrossentropy, metrics: [.accuracy]) }
        let h1 = try reference.fit(Self.x, Self.y, epochs: 3, batchSize: 8, verbose: 0, shuffle: false)
        let h2 = try model.fit(Self.x, Self.y, epochs: 3, batchSize: 8, verbose: 0, shuffle: false)
        for (u, v) in zip(reference.getWeights(), model.getWeights()) { expectClose(u, v, atol: 1e-6, rtol: 1e-6, "subclass vs functional") }
        #expect(Swift.abs(h1.history["loss"]!.last! - h2.history["loss"]!.last!) < 1e-6)
        #expect(h1.history["accuracy"]! == h2.history["accuracy"]!)
        let (e1, e2) = (try reference.evaluate(Self.x, Self.y), try model.evaluate(Self.x, Self.y))
        #expect(Swift.abs(e1.loss - e2.loss) < 1e-6 && e1.metrics == e2.metrics)
        expectClose(try reference.predict(Self.x), try model.predict(Self.x), atol: 1e-6, rtol: 1e-6, "predict")
        let (b1, b2) = (try reference.trainOnBatch(Self.x, Self.y), try model.trainOnBatch(Self.x, Self.y))
        #expect(Swift.abs(b1.loss - b2.loss) < 1e-6 && b1.metrics == b2.metrics)
    }

    @Test func customLoopOnASubclassReachesFitsWeights() throws {
        let reference = Lamina.withRandomSeed(4) { Self.functional() }
        let fitted = try Self.sameStart(SubclassedMLP(), as: reference)
        let looped = try Self.sameStart(SubclassedMLP(), as: reference)
        fitted.compile(optimizer: Adam(learningRate: 0.01), loss: .sparseCategoricalCrossentropy)
        try fitted.fit(Self.x, Self.y, epochs: 2, batchSize: 8, verbose: 0, shuffle: false)
        let optimizer = Adam(learningRate: 0.01), lossFunction = SparseCategoricalCrossentropy()
        for _ in 0..<2 {
            for start in stride(from: 0, to: 24, by: 8) {
                let (xb, yb) = (Self.x.sliced(axis: 0, start..<(start + 8)), Self.y.sliced(axis: 0, start..<(start + 8)))
                let (_, gradients) = try valueAndGradients(of: looped) { lossFunction(yb, try looped(xb, training: true)) }
                try optimizer.apply(gradients, to: looped.trainableVariables)
            }
        }
        for (u, v) in zip(fitted.getWeights(), looped.getWeights()) { expectClose(u, v, atol: 1e-6, rtol: 1e-6, "custom loop vs fit") }
    }

    @Test func fitRoutesEveryBatchThroughAnOverriddenTrainStep() throws {
        let reference = Lamina.withRandomSeed(5) { Self.functional() }
        let plain = try Self.sameStart(SubclassedMLP(), as: reference)
        let custom = try Self.sameStart(CustomStepMLP(), as: reference)
        for m in [plain, custom] as [Model] { m.compile(optimizer: SGD(learningRate: 0.1), loss: .sparseCategoricalCrossentropy, metrics: [.accuracy]) }
        let h1 = try plain.fit(Self.x, Self.y, epochs: 2, batchSize: 8, verbose: 0, validationData: (Self.x, Self.y), shuffle: false)
        let h2 = try custom.fit(Self.x, Self.y, epochs: 2, batchSize: 8, verbose: 0, validationData: (Self.x, Self.y), shuffle: false)
        #expect(custom.trainSteps == 6)          // 3 batches × 2 epochs
        #expect(custom.testSteps == 6)           // 3 validation batches of 8 per epoch
        // The custom step is the compiled one written out: same weights and logs.
        for (u, v) in zip(plain.getWeights(), custom.getWeights()) { expectClose(u, v, atol: 1e-6, rtol: 1e-6, "custom trainStep vs default") }
        for key in ["loss", "accuracy", "val_loss", "val_accuracy"] {
            let (a, b) = (h1.history[key]!, h2.history[key]!)
            #expect(zip(a, b).allSatisfy { Swift.abs($0 - $1) < 1e-6 }, "\(key): \(a) vs \(b)")
        }
        let batch = try custom.trainOnBatch(Self.x, Self.y)
        #expect(custom.trainSteps == 7 && batch.metrics["accuracy"] != nil && batch.loss.isFinite)

        // A step that trains on twice the loss moves SGD's weights twice as far (closed form).
        let start = try Self.sameStart(CustomStepMLP(), as: reference), doubled = try Self.sameStart(CustomStepMLP(), as: reference)
        doubled.lossScale = 2
        for m in [start, doubled] { m.compile(optimizer: SGD(learningRate: 0.05), loss: .sparseCategoricalCrossentropy) }
        try start.trainOnBatch(Self.x, Self.y)
        try doubled.trainOnBatch(Self.x, Self.y)
        for ((r, once), twice) in zip(zip(reference.getWeights(), start.getWeights()), doubled.getWeights()) {
            expectClose(twice - r, (once - r) * 2, atol: 1e-6, rtol: 1e-5, "twice the loss, twice the step")
        }
    }

    @Test func weightsSaveAndLoadIntoANewInstance() throws {
        let model = Lamina.withRandomSeed(6) { SubclassedMLP() }
        model.compile(optimizer: .adam, loss: .sparseCategoricalCrossentropy)
        try model.fit(Self.x, Self.y, epochs: 1, batchSize: 8, verbose: 0)
        let url = temporaryDirectory().appendingPathComponent("mlp.safetensors")
        try model.saveWeights(to: url)
        let restored = Lamina.withRandomSeed(7) { SubclassedMLP() }
        _ = try restored.predict(Tensor.zeros([1, 4]))    // build, as Keras: call once, then load
        try restored.loadWeights(from: url)
        for (u, v) in zip(model.getWeights(), restored.getWeights()) { #expect(u.asArray(Float.self) == v.asArray(Float.self)) }
        #expect(try model.predict(Self.x).asArray(Float.self) == restored.predict(Self.x).asArray(Float.self))
        // The architecture is code: saving the whole model says what to do instead.
        #expect { _ = try model.config() } throws: { ($0 as? LaminaError)?.message.contains("saveWeights") == true }
        #expect { try model.save(temporaryDirectory().appendingPathComponent("m.lamina").path) } throws: {
            ($0 as? LaminaError)?.message.contains("saveWeights") == true
        }
    }

    @Test func inferenceSnapshotOfASubclass() throws {
        let model = Lamina.withRandomSeed(8) { SubclassedMLP() }
        #expect(throws: LaminaError.self) { _ = try model.inferenceModel(rebuiltBy: { SubclassedMLP() }) }   // not built yet
        _ = try model.predict(Self.x)
        #expect { _ = try model.inferenceModel() } throws: { ($0 as? LaminaError)?.message.contains("rebuiltBy") == true }
        #expect(throws: LaminaError.self) { _ = try model.inferenceModel(rebuiltBy: { CustomStepMLP() }) }
        let snapshot = try model.inferenceModel(rebuiltBy: { SubclassedMLP() })
        #expect(snapshot.inputShape == [4] && snapshot.outputShape == [3] && snapshot.parameterCount == 67)
        let before = try model.predict(Self.x)
        model.compile(optimizer: SGD(learningRate: 0.5), loss: .sparseCategoricalCrossentropy)
        try model.trainOnBatch(Self.x, Self.y)                  // training the original leaves the snapshot alone
        #expect(try snapshot.predict(Self.x).asArray(Float.self) == before.asArray(Float.self))
        #expect(try model.predict(Self.x).asArray(Float.self) != before.asArray(Float.self))
    }

    @Test func mistakesAreErrors() throws {
        let model = NoCall()
        #expect { _ = try model.predict(Tensor.zeros([2, 3])) } throws: { ($0 as? LaminaError)?.message.contains("override call") == true }
        let mlp = SubclassedMLP()
        #expect(throws: LaminaError.self) { try mlp.fit(Self.x, Self.y, verbose: 0) }    // not compiled
        mlp.compile(optimizer: .adam, loss: .sparseCategoricalCrossentropy)
        #expect(throws: LaminaError.self) { try mlp.fit(Tensor.zeros([4, 4]), Tensor.zeros([3]), verbose: 0) }
        #expect(throws: LaminaError.self) { _ = try mlp.computeLoss(y: Tensor.zeros([4]), yPred: Tensor.zeros([3, 3])) }
        #expect(throws: LaminaError.self) { try mlp.applyGradients([Tensor.zeros([1])], to: mlp.trainableVariables) }
    }
}

/// Fixtures/generate_subclass_fixtures.py's `Net`, property for attribute: the head is declared
/// before the nested model but called after it.
final class KerasNet: Model {
    let stem = Dense(5, activation: .relu, name: "stem")
    let blocks = [Dense(4, activation: .tanh, name: "block_a"), Dense(4, activation: .tanh, name: "block_b")]
    let norm = BatchNormalization(name: "norm")
    let head = Dense(3, activation: .softmax, name: "head")
    let inner = Sequential([Dense(4, activation: .relu, name: "inner_dense")], name: "inner")
    override func call(_ x: Tensor, training: Bool) throws -> Tensor {
        var h = try stem(x)
        for block in blocks { h = try block(h) }
        h = try norm(h, training: training)
        return try head(inner(h, training: training))
    }
}

/// A Keras 3 subclassed model (Fixtures/generate_subclass_fixtures.py): the same weight order
/// (assignment order, not call order), outputs, two epochs of fit and evaluate.
@Suite struct SubclassedModelKerasTests {
    struct Reference: Decodable {
        let names: [String], weights: [Fixture.T], x: Fixture.T, y: Fixture.T, output: Fixture.T
        let history: [String: [Double]], weightsAfter: [Fixture.T], evaluate: [String: Double]
    }
    static let reference: Reference = {
        let url = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .appendingPathComponent("Fixtures/subclass_reference.json")
        return try! JSONDecoder().decode(Reference.self, from: Data(contentsOf: url))
    }()

    @Test func matchesKeras() throws {
        let r = Self.reference
        let model = KerasNet(name: "net")
        let x = r.x.tensor, y = r.y.tensor.cast(to: .int32)
        _ = try model.predict(x)
        #expect(model.weights.map { "net/" + $0.name } == r.names.map { $0.replacingOccurrences(of: "inner/inner_dense", with: "inner_dense") })
        #expect(model.weights.map(\.shape) == r.weights.map(\.shape))
        try model.setWeights(r.weights.map(\.tensor))
        expectClose(try model.predict(x), r.output.tensor, atol: 1e-5, rtol: 1e-5, "inference output")
        model.compile(optimizer: SGD(learningRate: 0.1), loss: .sparseCategoricalCrossentropy, metrics: [.accuracy])
        let history = try model.fit(x, y, epochs: 2, batchSize: 4, verbose: 0, shuffle: false)
        for key in ["loss", "accuracy"] {
            #expect(zip(history.history[key]!, r.history[key]!).allSatisfy { Swift.abs($0 - $1) < 1e-5 }, "\(key): \(history.history[key]!) vs \(r.history[key]!)")
        }
        for (w, k) in zip(model.getWeights(), r.weightsAfter) { expectClose(w, k.tensor, atol: 1e-5, rtol: 1e-4, "weights after fit") }
        let evaluated = try model.evaluate(x, y, batchSize: 4)
        #expect(Swift.abs(evaluated.loss - r.evaluate["loss"]!) < 1e-5 && Swift.abs(evaluated.metrics["accuracy"]! - r.evaluate["accuracy"]!) < 1e-6)
    }
}
