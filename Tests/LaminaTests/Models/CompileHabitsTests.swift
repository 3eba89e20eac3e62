import Foundation
import Logging
import Testing
@testable import Lamina

/// Keras's compile habits: objects and names mixed in `compile`, every optimizer, loss and
/// metric by its Keras name, and the monitoring callbacks' mode "auto" reading each metric's
/// direction as Keras 3 does.
@Suite struct CompileHabitsTests {
    static func classifier() -> Sequential { Sequential([Dense(3, activation: .softmax, inputShape: [4])]) }

    /// `compile(optimizer: Adam(learningRate: 1e-3), loss: "sparse_categorical_crossentropy")`,
    /// Keras's most common form, and the other mixes of objects and names, single and several outputs.
    @Test func compileTakesAnyMixOfObjectsAndNames() throws {
        let model = Self.classifier()
        try model.compile(optimizer: Adam(learningRate: 1e-3), loss: "sparse_categorical_crossentropy")
        #expect(model.optimizer is Adam && model.optimizer?.learningRate == 1e-3 && model.loss is SparseCategoricalCrossentropy)
        let x = Tensor.randomNormal([6, 4], seed: 1), y = Tensor(shape: [6], scalars: [0, 1, 2, 0, 1, 2] as [Int32])
        #expect(try model.fit(x, y, epochs: 1, batchSize: 3, verbose: 0).history["loss"]?.count == 1)

        try model.compile(optimizer: "nadam", loss: .sparseCategoricalCrossentropy, metrics: [.accuracy])
        #expect(model.optimizer is Nadam && model.compiledMetrics.map(\.name) == ["accuracy"])
        try model.compile(optimizer: .adamax, loss: "sparse_categorical_crossentropy", metrics: ["accuracy", AUC(), .precision])
        #expect(model.optimizer is Adamax && model.compiledMetrics.map(\.name) == ["accuracy", "auc", "precision"])
        try model.compile(optimizer: SGD(learningRate: 0.1), loss: CategoricalCrossentropy(), metrics: ["acc", Metric.recall])
        #expect(model.optimizer is SGD && model.loss is CategoricalCrossentropy && model.compiledMetrics.map(\.name) == ["acc", "recall"])
        try model.compile(optimizer: "sgd", loss: "mse", metrics: ["mae"])
        #expect(model.optimizer is SGD && model.loss is MeanSquaredError && model.compiledMetrics.map(\.name) == ["mae"])
        try model.compile(loss: "mse")
        #expect(model.optimizer is RMSprop, "Keras's default optimizer")
        // Objects only stay a non-throwing call.
        model.compile(optimizer: .lion, loss: .mse, metrics: [.mae])
        #expect(model.optimizer is Lion)

        let error = #expect(throws: LaminaError.self) { try model.compile(optimizer: Adam(), loss: "sparse_categorical_crossentropyy") }
        #expect(error?.message.contains("sparse_categorical_crossentropy") == true, "lists the known names: \(error?.message ?? "")")

        // Several outputs: a list, and by output name.
        let a = Input(shape: [3], name: "a")
        let cls = Dense(2, activation: .softmax, name: "cls")(a), score = Dense(1, name: "score")(a)
        let twoOut = Model(inputs: a, outputs: [cls, score])
        try twoOut.compile(optimizer: "adam", loss: ["sparse_categorical_crossentropy", MeanSquaredError()], lossWeights: [1, 0.5],
                           metrics: [["accuracy"], [.mae]])
        #expect(twoOut.outputLosses.map { "\(type(of: $0))" } == ["SparseCategoricalCrossentropy", "MeanSquaredError"])
        #expect(twoOut.metricKeys == ["cls_accuracy", "score_mean_absolute_error"])
        try twoOut.compile(optimizer: RMSprop(), loss: ["cls": "sparse_categorical_crossentropy", "score": Loss.mae],
                           metrics: ["cls": [.accuracy, "auc"]])
        #expect(twoOut.outputLosses.map { "\(type(of: $0))" } == ["SparseCategoricalCrossentropy", "MeanAbsoluteError"])
        #expect(twoOut.metricKeys == ["cls_accuracy", "cls_auc"])
        let xs = Tensor.randomNormal([4, 3], seed: 2)
        let ys = [Tensor(shape: [4], scalars: [0, 1, 1, 0] as [Int32]), Tensor.randomNormal([4, 1], seed: 3)]
        // One input, two heads: fit builds both outputs.
        #expect(try twoOut.fit([xs], ys, epochs: 1, batchSize: 2, verbose: 0).history["cls_auc"]?.count == 1)
    }

    /// Every optimizer Lamina has resolves by Keras 3's name (`keras.optimizers.get`), in any
    /// case, with Keras's default learning rate (SGD 0.01, the others 0.001); Keras optimizers
    /// Lamina lacks are errors that list the names it knows.
    @Test func everyOptimizerByItsKerasName() throws {
        let expected: [(String, Optimizer.Type, Double)] = [
            ("sgd", SGD.self, 0.01), ("adam", Adam.self, 1e-3), ("adamw", AdamW.self, 1e-3), ("rmsprop", RMSprop.self, 1e-3),
            ("adagrad", Adagrad.self, 1e-3), ("nadam", Nadam.self, 1e-3), ("adamax", Adamax.self, 1e-3),
            ("adadelta", Adadelta.self, 1e-3), ("lion", Lion.self, 1e-3), ("ftrl", Ftrl.self, 1e-3),
        ]
        for (name, type, rate) in expected {
            for spelling in [name, name.uppercased(), "\(type)"] {
                let optimizer = try Optimizer.named(spelling)
                #expect(ObjectIdentifier(Swift.type(of: optimizer)) == ObjectIdentifier(type), "\(spelling)")
                #expect(optimizer.learningRate == rate, "\(spelling)")
            }
            let model = Self.classifier()
            try model.compile(optimizer: name, loss: "sparse_categorical_crossentropy")
            #expect(ObjectIdentifier(Swift.type(of: model.optimizer!)) == ObjectIdentifier(type))
        }
        #expect(Set(OptimizerRegistry.builtinTypes.map { ObjectIdentifier($0) }) == Set(expected.map { ObjectIdentifier($0.1) }),
                "every built-in optimizer is listed above")
        let error = #expect(throws: LaminaError.self) { try Optimizer.named("adafactor") }
        #expect(error?.message.contains("nadam") == true && error?.message.contains("lion") == true, "\(error?.message ?? "")")
    }

    /// Ftrl's steps equal Keras 3's (`keras.optimizers.Ftrl`, TensorFlow backend, float32):
    /// three steps with Keras's defaults, and with every option set.
    @Test func ftrlStepsAsKeras() throws {
        let grads: [[Float]] = [[0.1, -0.2, 0.3, 0.05], [-0.4, 0.5, 0, 0.2], [0.3, 0.1, -0.2, -0.6]]
        let cases: [(Ftrl, [Double])] = [
            (Ftrl(), [0.023236993700265884, -0.15526998043060303, 0.5487763285636902, 0.00016042805509641767]),
            (Ftrl(learningRate: 0.1, learningRatePower: -0.7, l1RegularizationStrength: 0.01, l2RegularizationStrength: 0.02,
                  l2ShrinkageRegularizationStrength: 0.03, beta: 0.5),
             [0.004534297157078981, -0.0923299491405487, 0.24451275169849396, 0.01993652805685997]),
        ]
        for (optimizer, expected) in cases {
            let v = Variable(name: "v", value: Tensor(shape: [4], scalars: [0.5, -1, 2, 0] as [Float]))
            for g in grads { try optimizer.apply([Tensor(shape: [4], scalars: g)], to: [v]) }
            let got = v.value.scalarsAsDouble()
            #expect(zip(got, expected).allSatisfy { Swift.abs($0 - $1) < 1e-6 }, "\(got) vs \(expected)")
        }
        // Its config round trip, and its accumulator starting at initial_accumulator_value.
        let ftrl = try Optimizer.fromConfig(try Ftrl(learningRate: 0.05, initialAccumulatorValue: 0.3, beta: 0.1).serialize()) as? Ftrl
        #expect(ftrl?.learningRate == 0.05 && ftrl?.initialAccumulatorValue == 0.3 && ftrl?.beta == 0.1)
        #expect(ftrl?.initialSlotValues == [0.3, 0] && ftrl?.slotNames == ["accumulator", "linear"])
    }

    /// `EarlyStopping(baseline:startFromEpoch:)` and `ReduceLROnPlateau(cooldown:)` stop and
    /// reduce at the epochs Keras 3's callbacks do, fed the same logs (expected values from
    /// Keras 3.15.1's callbacks driven with these sequences).
    @Test func baselineStartFromEpochAndCooldownAsKeras() {
        func stopEpoch(_ callback: EarlyStopping, _ values: [Double]) -> Int? {
            let model = Sequential([Dense(1, inputShape: [1])])
            model.compile(optimizer: SGD(learningRate: 1), loss: .mse)
            callback.model = model
            callback.onTrainBegin()
            for (epoch, v) in values.enumerated() {
                callback.onEpochEnd(epoch, logs: [callback.monitor: v])
                if model.stopTraining { return epoch }
            }
            return nil
        }
        #expect(stopEpoch(EarlyStopping(patience: 2, baseline: 0.5), [0.9, 0.8, 0.85, 0.7, 0.6]) == 2)
        #expect(stopEpoch(EarlyStopping(patience: 2), [0.9, 0.8, 0.85, 0.7, 0.6, 0.65, 0.66]) == 6)
        #expect(stopEpoch(EarlyStopping(patience: 1, startFromEpoch: 2), [0.5, 0.9, 0.95, 0.96, 0.97]) == 3)
        #expect(stopEpoch(EarlyStopping(monitor: "val_auc", patience: 1, mode: .max, baseline: 0.8), [0.7, 0.75, 0.74, 0.76, 0.77]) == 2)
        #expect(stopEpoch(EarlyStopping(monitor: "val_auc", patience: 2, mode: .max, baseline: 0.8),
                          [0.7, 0.85, 0.84, 0.9, 0.95, 0.94, 0.93]) == 6)

        func rates(_ callback: ReduceLROnPlateau, _ values: [Double]) -> [Double] {
            let model = Sequential([Dense(1, inputShape: [1])])
            model.compile(optimizer: SGD(learningRate: 1), loss: .mse)
            callback.model = model
            callback.onTrainBegin()
            return values.enumerated().map { epoch, v in
                callback.onEpochEnd(epoch, logs: ["val_loss": v])
                return model.optimizer!.learningRate
            }
        }
        func same(_ a: [Double], _ b: [Double]) -> Bool { a.count == b.count && zip(a, b).allSatisfy { Swift.abs($0 - $1) < 1e-6 } }
        let a = rates(ReduceLROnPlateau(factor: 0.5, patience: 1, minDelta: 0, cooldown: 2), [1, 1, 1, 1, 1, 1, 1, 1])
        #expect(same(a, [1, 0.5, 0.5, 0.25, 0.25, 0.125, 0.125, 0.0625]), "\(a)")
        let b = rates(ReduceLROnPlateau(factor: 0.1, patience: 2, minDelta: 0, cooldown: 1, minLR: 0.005), [1, 0.9, 0.9, 0.9, 0.8, 0.8, 0.8, 0.8])
        #expect(same(b, [1, 1, 1, 0.1, 0.1, 0.1, 0.01, 0.01]), "\(b)")
    }

    /// Every built-in loss and metric resolves by each of its Keras names.
    @Test func everyLossAndMetricByItsKerasNames() throws {
        for type in LossRegistry.builtinTypes {
            for name in [type.kerasClassName] + type.kerasAliases {
                let loss = try Loss.named(name)
                #expect(ObjectIdentifier(Swift.type(of: loss)) == ObjectIdentifier(type), "\(name)")
            }
        }
        for type in MetricRegistry.builtinTypes {
            for name in type.kerasNames {
                let metric = try Metric.named(name)
                #expect(ObjectIdentifier(Swift.type(of: metric)) == ObjectIdentifier(type), "\(name)")
            }
        }
    }

    /// Mode auto reads the direction from the compiled metric, as Keras 3's `_direction`:
    /// accuracy, AUC, precision, recall and F1 are maximized; errors and losses minimized.
    @Test func autoModeReadsEachMetricsDirection() throws {
        let model = Self.classifier()
        try model.compile(optimizer: "adam", loss: "sparse_categorical_crossentropy",
                          metrics: ["accuracy", AUC(), Precision(), Recall(), F1Score(), "mae", "mse", "top_k_categorical_accuracy",
                                    AUC(name: "roc")])
        let expected: [(String, MonitorMode)] = [
            ("val_accuracy", .max), ("accuracy", .max), ("val_auc", .max), ("val_precision", .max), ("val_recall", .max),
            ("val_f1_score", .max), ("f1_score", .max), ("val_mae", .min), ("val_mse", .min), ("val_loss", .min), ("loss", .min),
            ("val_top_k_categorical_accuracy", .max), ("val_roc", .max),
        ]
        for (monitor, mode) in expected {
            let callbacks: [MonitorCallback] = [EarlyStopping(monitor: monitor), ReduceLROnPlateau(monitor: monitor),
                                                ModelCheckpoint(filepath: "unused.lamina", monitor: monitor, saveBestOnly: true)]
            for callback in callbacks {
                callback.model = model
                callback.settleMode()
                #expect(callback.mode == mode, "\(type(of: callback)) \(monitor)")
                #expect(callback.requestedMode == .auto)
            }
        }
        // "roc" says nothing by its name: only the AUC object tells that it goes up.
        #expect(MonitorCallback.direction(of: "val_roc", model: nil) == nil)
        // Given modes stay as given.
        let given = EarlyStopping(monitor: "val_auc", mode: "min")
        given.model = model
        given.settleMode()
        #expect(given.mode == .min)

        // EarlyStopping keeps training while AUC rises and stops when it falls.
        let early = EarlyStopping(monitor: "val_auc", patience: 1)
        early.model = model
        early.onTrainBegin()
        for (epoch, auc) in [0.6, 0.7, 0.8].enumerated() { early.onEpochEnd(epoch, logs: ["val_auc": auc, "val_loss": 1]) }
        #expect(!model.stopTraining)
        early.onEpochEnd(3, logs: ["val_auc": 0.75, "val_loss": 0.5])
        #expect(model.stopTraining && early.stoppedEpoch == 3)
        model.stopTraining = false
    }
}

extension LoggingTests {
    /// A misspelled monitor warns once per callback, naming the logged quantities (Keras warns
    /// every epoch); an unknown mode warns and falls back to auto, as Keras.
    @Test func misspelledMonitorsWarnOnceWithTheAvailableNames() throws {
        let saved = Lamina.logger
        defer { Lamina.logger = saved }
        let handler = CollectingHandler()
        Lamina.logger = Logger(label: "test") { _ in handler }
        let model = CompileHabitsTests.classifier()
        try model.compile(optimizer: "adam", loss: "sparse_categorical_crossentropy", metrics: ["accuracy"])
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("lamina-monitor-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: dir) }
        let x = Tensor.randomNormal([8, 4], seed: 1), y = Tensor(shape: [8], scalars: [0, 1, 2, 0, 1, 2, 0, 1] as [Int32])
        let callbacks: [Callback] = [
            EarlyStopping(monitor: "val_acc", patience: 5), ReduceLROnPlateau(monitor: "val_los"),
            ModelCheckpoint(filepath: dir.appendingPathComponent("m.lamina").path, monitor: "val_accuracyy", saveBestOnly: true),
        ]
        try model.fit(x, y, epochs: 3, batchSize: 4, verbose: 0, validationSplit: 0.5, callbacks: callbacks)
        let messages = handler.messages.withLock { $0 }
        for (name, monitor) in [("EarlyStopping", "val_acc"), ("ReduceLROnPlateau", "val_los"), ("ModelCheckpoint", "val_accuracyy")] {
            let warnings = messages.filter { $0.contains("\(name) is conditioned on '\(monitor)'") }
            #expect(warnings.count == 1, "\(name): \(messages)")
            #expect(warnings.first?.contains("Available metrics are: accuracy, loss, val_accuracy, val_loss") == true, "\(warnings)")
        }
        #expect(!FileManager.default.fileExists(atPath: dir.appendingPathComponent("m.lamina").path))

        let unknown = EarlyStopping(monitor: "val_accuracy", mode: "maximum")
        #expect(unknown.requestedMode == .auto && unknown.mode == .max)
        #expect(handler.messages.withLock { $0 }.contains { $0.contains("mode 'maximum' is unknown") })
    }
}
