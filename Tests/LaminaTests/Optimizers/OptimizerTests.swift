import Foundation
import Testing
@testable import Lamina

/// One or two steps of each optimizer against its closed form (Keras's formulas).
@Suite struct OptimizerTests {
    func step(_ optimizer: Optimizer, w: [Double], grads: [[Double]]) -> [Double] {
        let v = Variable(name: "w", value: Tensor(shape: [w.count], scalars: w))
        for g in grads { try! optimizer.apply([Tensor(shape: [g.count], scalars: g)], to: [v]) }
        return v.value.asArray(Double.self)
    }

    func expectNear(_ a: [Double], _ b: [Double], sourceLocation: SourceLocation = #_sourceLocation) {
        for (x, y) in zip(a, b) { #expect(Swift.abs(x - y) < 1e-12, "\(a) vs \(b)", sourceLocation: sourceLocation) }
    }

    @Test func rmspropAdagradAdamW() {
        // RMSprop: v = 0.1·g², w −= lr·g/√(v + ε)
        let g = 0.5, w = 1.0
        let v = 0.1 * g * g
        expectNear(step(RMSprop(learningRate: 0.01), w: [w], grads: [[g]]), [w - 0.01 * g / (v + 1e-7).squareRoot()])
        // Adagrad: acc = 0.1 + g², w −= lr·g/(√acc + ε)
        let acc = 0.1 + g * g
        expectNear(step(Adagrad(learningRate: 0.1), w: [w], grads: [[g]]), [w - 0.1 * g / (acc.squareRoot() + 1e-7)])
        // AdamW: decay then Adam; at t = 1, α·m/(√v+ε) = lr·g·0.1·√0.001/(0.1·(√(0.001·g²)+ε))
        let decayed = w - w * 0.004 * 0.001
        let alpha = 0.001 * (1 - 0.999).squareRoot() / (1 - 0.9)
        let m1 = 0.1 * g, v1 = 0.001 * g * g
        expectNear(step(AdamW(), w: [w], grads: [[g]]), [decayed - alpha * m1 / (v1.squareRoot() + 1e-7)])
    }

    @Test func clippingAndSchedules() {
        // clipnorm: gradient (3, 4) has norm 5 → scaled to norm 1.
        expectNear(step(SGD(learningRate: 1, clipnorm: 1), w: [0, 0], grads: [[3, 4]]), [-0.6, -0.8])
        expectNear(step(SGD(learningRate: 1, clipvalue: 0.5), w: [0, 0], grads: [[3, -0.25]]), [-0.5, 0.25])
        let decay = LearningRateSchedule.exponentialDecay(initial: 0.1, decaySteps: 10, decayRate: 0.5)
        #expect(Swift.abs(decay(20) - 0.025) < 1e-15)
        let stair = LearningRateSchedule.exponentialDecay(initial: 0.1, decaySteps: 10, decayRate: 0.5, staircase: true)
        #expect(stair(19) == 0.05)
        let piecewise = LearningRateSchedule.piecewiseConstant(boundaries: [2, 4], values: [1, 0.5, 0.1])
        #expect([0, 2, 3, 5].map { piecewise($0) } == [1, 1, 0.5, 0.1])
        // The optimizer uses the schedule at its own step count: steps 0 and 1 use 0.1 and 0.05.
        let opt = SGD(schedule: .exponentialDecay(initial: 0.1, decaySteps: 1, decayRate: 0.5))
        expectNear(step(opt, w: [0], grads: [[1], [1]]), [-0.15])
    }

    @Test func stringsResolveAndUnknownNamesThrow() throws {
        #expect(try Optimizer.named("adam") is Adam)
        #expect(throws: LaminaError.self) { try Optimizer.named("adamax9") }
        #expect(throws: LaminaError.self) { try Loss.named("cross_entropy_typo") }
        #expect(throws: LaminaError.self) { try Metric.named("accuracyy") }
        #expect(throws: LaminaError.self) { try ActivationFunction(named: "rellu") }
        #expect(try ActivationFunction(named: "relu") == .relu)
        let model = Sequential([Dense(1, inputShape: [2])])
        try model.compile(optimizer: "sgd", loss: "mse", metrics: ["mae"])
        // Keras logs a metric given by a string under that string: metrics=["mae"] → "mae".
        #expect(model.loss is MeanSquaredError && model.compiledMetrics.map(\.name) == ["mae"])
    }
}

/// Keras 3's schedules, read from the configs Keras wrote, give Keras's learning rates
/// (fixtures), and save back to configs that load as the same schedule.
@Suite struct KerasScheduleTests {
    @Test func schedulesMatchKeras() throws {
        var url = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        url.appendPathComponent("Fixtures/keras_reference.json")
        let json = try JSONSerialization.jsonObject(with: Data(contentsOf: url)) as! [String: Any]
        let cases = try #require(json["schedules"] as? [[String: Any]])
        #expect(cases.count == 6)
        for c in cases {
            let name = c["name"] as! String
            let schedule = try LearningRateSchedule.fromConfig(c["config"]!)
            let again = try LearningRateSchedule.fromConfig(try schedule.serialize())
            for (step, expected) in zip(c["steps"] as! [Int], c["values"] as! [Double]) {
                #expect(Swift.abs(schedule(step) - expected) <= 1e-7 + 1e-5 * expected, "\(name) at step \(step): \(schedule(step)) vs Keras \(expected)")
                #expect(again(step) == schedule(step), "\(name) round trip")
            }
        }
    }
}
