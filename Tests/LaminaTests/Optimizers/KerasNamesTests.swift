import Foundation
import Testing
@testable import Lamina

/// Every name Keras 3 resolves for an optimizer, loss, metric or learning-rate schedule
/// (listed by Fixtures/generate_keras_names.py from Keras's own tables) resolves in Lamina,
/// except the classes Lamina does not have, which are listed here by name; and every class
/// Lamina registers answers to its Keras names.
@Suite struct KerasNamesTests {
    static var reference: [String: Any] {
        let url = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .appendingPathComponent("Fixtures/keras_names.json")
        return try! JSONSerialization.jsonObject(with: Data(contentsOf: url)) as! [String: Any]
    }

    func names(_ key: String) -> [String] { Self.reference[key] as! [String] }

    /// Keras's optimizers Lamina lacks.
    static let missingOptimizers: Set = ["adafactor", "muon", "schedulefreeadamw"]
    /// Keras's losses Lamina lacks (`Loss` is Keras's abstract base).
    static let missingLosses: Set = ["CTC", "ctc", "CategoricalFocalCrossentropy", "categorical_focal_crossentropy", "Circle", "circle",
                                     "Dice", "dice", "Tversky", "tversky", "Loss"]
    /// Keras's metrics Lamina lacks (`Metric` is Keras's abstract base; `Accuracy` is Keras's
    /// exact-match metric, which Lamina's `accuracy` is not).
    static let missingMetrics: Set = [
        "Accuracy", "BCE", "bce", "BinaryCrossentropy", "binary_crossentropy", "BinaryIoU", "binary_io_u",
        "CategoricalCrossentropy", "categorical_crossentropy", "CategoricalHinge", "categorical_hinge",
        "ConcordanceCorrelation", "concordance_correlation", "CosineSimilarity", "cosine_similarity",
        "FalseNegatives", "false_negatives", "FalsePositives", "false_positives", "Hinge", "hinge", "KLDivergence", "kl_divergence",
        "LogCoshError", "log_cosh_error", "Mean", "mean", "Metric", "metric", "PearsonCorrelation", "pearson_correlation",
        "Poisson", "poisson", "R2Score", "r2_score", "RootMeanSquaredError", "root_mean_squared_error",
        "SparseCategoricalCrossentropy", "sparse_categorical_crossentropy", "SquaredHinge", "squared_hinge", "Sum", "sum",
        "TrueNegatives", "true_negatives", "TruePositives", "true_positives", "f_beta_score",
    ]

    @Test func kerasOptimizerNamesResolve() throws {
        let unresolved = Set(names("optimizers").filter { (try? Optimizer.named($0)) == nil })
        #expect(unresolved == Self.missingOptimizers)
        for name in names("optimizers") where !Self.missingOptimizers.contains(name) {
            #expect(type(of: try Optimizer.named(name)).kerasClassName.lowercased() == name)
        }
        // Every registered optimizer answers to the name Keras knows it by.
        for type in OptimizerRegistry.builtinTypes {
            #expect(names("optimizers").contains(type.kerasClassName.lowercased()), "\(type)")
        }
    }

    @Test func kerasLossNamesResolve() throws {
        let unresolved = Set(names("losses").filter { (try? Loss.named($0)) == nil })
        #expect(unresolved == Self.missingLosses)
        for type in LossRegistry.builtinTypes {
            #expect(names("losses").contains(type.kerasClassName), "\(type)")
            for alias in type.kerasAliases { #expect(Swift.type(of: try Loss.named(alias)) == type, "\(alias)") }
        }
        // compile takes each of them.
        let model = Sequential([Dense(1, inputShape: [2])])
        for name in names("losses") where !Self.missingLosses.contains(name) { try model.compile(optimizer: "sgd", loss: name) }
    }

    @Test func kerasMetricNamesResolve() throws {
        let unresolved = Set(names("metrics").filter { (try? Metric.named($0)) == nil })
        #expect(unresolved == Self.missingMetrics)
        for type in MetricRegistry.builtinTypes {
            #expect(type.kerasNames.contains(where: names("metrics").contains), "\(type)")
            for name in type.kerasNames { #expect(Swift.type(of: try Metric.named(name)) == type, "\(name)") }
        }
    }

    /// Each of Keras's schedule classes, from Keras's own serialized form, gives Keras's rates.
    @Test func everyKerasScheduleDeserializesAndMatchesKeras() throws {
        let classes = names("schedule_classes")
        #expect(classes.allSatisfy { ScheduleRegistry.classes.type(named: $0) != nil }, "\(classes)")
        let cases = try #require(Self.reference["schedules"] as? [[String: Any]])
        var seen = Set<String>()
        for c in cases {
            let serialized = try #require(c["serialized"] as? [String: Any])
            let schedule = try LearningRateSchedule.deserialize(serialized)
            seen.insert(type(of: schedule).kerasClassName)
            let steps = try #require(c["steps"] as? [Int]), values = try #require(c["values"] as? [Double])
            for (step, want) in zip(steps, values) {
                // Keras computes in float32.
                #expect(abs(schedule(step) - want) <= 1e-6 * Swift.max(1, abs(want)), "\(serialized["class_name"]!) at \(step): \(schedule(step)) vs \(want)")
            }
            // Lamina's serialized form loads back to the same rates.
            let again = try LearningRateSchedule.deserialize(try schedule.serialized())
            #expect(steps.map { again($0) } == steps.map { schedule($0) })
        }
        #expect(seen == Set(classes))
        // Bad arguments are errors, not crashes.
        #expect(throws: LaminaError.self) { try CosineDecayRestarts(initialLearningRate: 0.1, firstDecaySteps: 0) }
        #expect(throws: LaminaError.self) { try CosineDecayRestarts(initialLearningRate: 0.1, firstDecaySteps: 5, tMul: 0) }
        #expect(throws: LaminaError.self) {
            try LearningRateSchedule.deserialize(["class_name": "CosineDecayRestarts", "config": ["initial_learning_rate": 0.1, "first_decay_steps": -2]])
        }
    }

    /// `compile(optimizer:)` with Keras's serialized Adam whose learning rate is a serialized
    /// ExponentialDecay (as `keras.optimizers.serialize` wrote it).
    @Test func compileTakesASerializedOptimizerWithASchedule() throws {
        let config = try #require(Self.reference["optimizer_with_schedule"] as? [String: Any])
        let model = Sequential([Dense(1, inputShape: [2])])
        try model.compile(optimizer: config, loss: "mse", metrics: ["mape", ["class_name": "MeanSquaredLogarithmicError", "config": [:]] as [String: Any]])
        let adam = try #require(model.optimizer as? Adam)
        #expect(adam.beta1 == 0.8)
        let schedule = try #require(adam.schedule as? ExponentialDecay)
        #expect(schedule.decaySteps == 4 && schedule.initialLearningRate == 0.01)
        let x = Tensor.randomNormal([8, 2], seed: 1), y = Tensor.randomNormal([8, 1], seed: 2)
        try model.fit(x, y, epochs: 4, batchSize: 8, verbose: 0)
        #expect(abs(adam.currentLearningRate - 0.005) < 1e-12)   // 0.01 · 0.5^(4/4)
        #expect(model.compiledMetrics.map(\.name) == ["mape", "mean_squared_logarithmic_error"])
    }

    /// MAPE and MSLE against Keras's formulas, worked by hand.
    @Test func relativeErrorLossesFollowKeras() {
        let y = Tensor(shape: [2, 2], scalars: [1, 2, 0, 4] as [Float]), p = Tensor(shape: [2, 2], scalars: [1.5, 1, 1, 4] as [Float])
        let mape = MeanAbsolutePercentageError()(y, p).item(Float.self)
        // rows: 100·(0.5/1 + 1/2)/2 = 50; 100·(1/1e-7 + 0)/2 = 5e8; mean 2.5e8 + 25
        #expect(abs(Double(mape) - (50 + 5e8) / 2) / ((50 + 5e8) / 2) < 1e-5)
        let msle = MeanSquaredLogarithmicError()(y, p).item(Float.self)
        // (prediction, label) pairs; a label of 0 is clipped to epsilon.
        let pairs: [(Double, Double)] = [(1.5, 1.0), (1.0, 2.0), (1.0, 1e-7), (4.0, 4.0)]
        var total = 0.0
        for (p, y) in pairs {
            let d: Double = Foundation.log(p + 1) - Foundation.log(y + 1)
            total += d * d
        }
        #expect(abs(Double(msle) - total / 4) < 1e-6)
    }
}
