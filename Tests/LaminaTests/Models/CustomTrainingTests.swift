import Testing
import LaminaTestSupport
@testable import Lamina

/// A custom loop (valueAndGradients + optimizer.apply + metrics by hand) is the same training as
/// `fit`, on the same batches in the same order.
@Suite struct CustomTrainingTests {
    static func model() -> Model {
        let inputs = Input(shape: [4])
        let hidden = Dense(8, activation: .tanh, name: "hidden")(inputs)
        return Model(inputs: inputs, outputs: Dense(3, activation: .softmax, name: "probs")(hidden), name: "mlp")
    }

    @Test func customLoopReachesFitsWeights() throws {
        let x = Tensor.randomNormal([24, 4], seed: 1)
        let y = Tensor(shape: [24], scalars: (0..<24).map { Int32($0 % 3) })
        let (a, b) = (Lamina.withRandomSeed(2) { Self.model() }, Lamina.withRandomSeed(2) { Self.model() })
        #expect(a.getWeights().map { $0.asArray(Float.self) } == b.getWeights().map { $0.asArray(Float.self) })
        a.compile(optimizer: Adam(learningRate: 0.01), loss: .sparseCategoricalCrossentropy, metrics: [.accuracy])
        let history = try a.fit(x, y, epochs: 2, batchSize: 8, verbose: 0, shuffle: false)

        let optimizer = Adam(learningRate: 0.01), lossFunction = SparseCategoricalCrossentropy(), accuracy = Accuracy()
        var lastLoss = 0.0
        for _ in 0..<2 {
            accuracy.reset()
            var sum = 0.0
            for start in stride(from: 0, to: 24, by: 8) {
                let (xb, yb) = (x.sliced(axis: 0, start..<(start + 8)), y.sliced(axis: 0, start..<(start + 8)))
                var prediction = Tensor.zeros([1])
                let (loss, gradients) = try valueAndGradients(of: b) {
                    prediction = try b(xb, training: true)
                    return lossFunction(yb, prediction)
                }
                try optimizer.apply(gradients, to: b.trainableVariables)
                accuracy.update(yb, prediction.detached())
                sum += loss * 8
            }
            lastLoss = sum / 24
        }
        for (u, v) in zip(a.getWeights(), b.getWeights()) { expectClose(u, v, atol: 1e-6, rtol: 1e-6, "custom loop vs fit") }
        #expect(Swift.abs(history.history["loss"]!.last! - lastLoss) < 1e-6)
        #expect(Swift.abs(history.history["accuracy"]!.last! - accuracy.result()) < 1e-9)
    }

    @Test func mismatchedGradientsAreErrorsNotCrashes() throws {
        let model = Self.model()
        let variables = model.trainableVariables
        #expect(variables.count == 4)
        #expect(throws: LaminaError.self) { try Adam().apply([Tensor.zeros([2])], to: variables) }
        #expect(throws: LaminaError.self) { try Adam().apply(variables.map { _ in Tensor.zeros([1]) }, to: variables) }
        #expect(throws: LaminaError.self) { _ = try valueAndGradients(of: model) { try model(Tensor.zeros([2, 4])) } }   // not a scalar
    }
}
