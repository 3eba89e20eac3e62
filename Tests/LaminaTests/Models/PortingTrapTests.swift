import Foundation
import Testing
import LaminaTestSupport
@testable import Lamina

/// Line-by-line ports that went wrong (issue 12's "porting traps"), one test each.
@Suite struct PortingTrapTests {
    /// Seed 002's generator checks `model.output_shape` after each `add`.
    @Test func outputShapeFollowsEveryAdd() {
        let model = Sequential()
        model.add(Dense(196, inputShape: [10]))
        #expect(model.outputShape == [196])
        model.add(BatchNormalization())
        model.add(LeakyReLU(negativeSlope: 0.2))
        model.add(Reshape([7, 7, 4]))
        #expect(model.outputShape == [7, 7, 4])
        model.add(UpSampling2D())
        #expect(model.outputShape == [14, 14, 4])
    }

    /// A GAN's combined model of two built models is built too: summary shows shapes and counts.
    @Test func nestedBuiltModelsMakeABuiltModel() {
        let generator = Sequential([Dense(8, inputShape: [4]), Dense(6)], name: "generator")
        let discriminator = Sequential([Dense(3, inputShape: [6]), Dense(1)], name: "discriminator")
        let gan = Sequential([generator, discriminator], name: "gan")
        #expect(gan.isBuilt && gan.outputShape == [1])
        let summary = gan.summaryText()
        #expect(!summary.contains("unbuilt"), "\(summary)")
        #expect(summary.contains("(None, 6)") && summary.contains("(None, 1)"))
        #expect(gan.countParams() == generator.countParams() + discriminator.countParams())
    }

    /// `model.save("model.keras")` must not write a safetensors file under a `.keras` name.
    @Test func saveRefusesFormatsItDoesNotWrite() throws {
        let model = Sequential([Dense(2, inputShape: [3])])
        let dir = temporaryDirectory()
        for name in ["model.keras", "model.h5", "model.pt"] {
            let e = #expect(throws: LaminaError.self) { try model.save(dir.appendingPathComponent(name).path) }
            #expect(e?.message.contains(name) == true)
            #expect(!FileManager.default.fileExists(atPath: dir.appendingPathComponent(name).path))
        }
        try model.save(dir.appendingPathComponent("model.lamina").path)
    }

    /// `ReduceLROnPlateau(monitor: "val_accuracy")` lowers the rate when accuracy stops rising,
    /// not when it rises (Keras's mode "auto").
    @Test func reduceLROnPlateauFollowsTheMonitoredDirection() {
        let model = Sequential([Dense(1, inputShape: [1])])
        model.compile(optimizer: SGD(learningRate: 1), loss: .mse)
        let callback = ReduceLROnPlateau(monitor: "val_accuracy", factor: 0.5, patience: 1)
        callback.model = model
        callback.onTrainBegin()
        for (epoch, accuracy) in [0.5, 0.6, 0.7, 0.8].enumerated() { callback.onEpochEnd(epoch, logs: ["val_accuracy": accuracy]) }
        #expect(model.optimizer?.learningRate == 1, "accuracy kept improving")
        callback.onEpochEnd(4, logs: ["val_accuracy": 0.75])
        #expect(model.optimizer?.learningRate == 0.5, "accuracy fell")
        #expect(ReduceLROnPlateau(monitor: "val_loss").mode == "min" && ReduceLROnPlateau(monitor: "val_accuracy").mode == "max")
    }

    /// `Conv2D(32, (3, 3))`, `MaxPooling2D((2, 2))` and `padding: "same"` as Keras writes them.
    @Test func positionalKernelAndPoolSizes() {
        let model = Sequential([Conv2D(4, (3, 3), activation: .relu, inputShape: [8, 8, 1]), MaxPooling2D((2, 2)),
                                AveragePooling2D((1, 3))])
        #expect(model.outputShape == [3, 1, 4])
        let same = Sequential([Conv2D(4, (3, 3), padding: "same", inputShape: [7, 7, 1]), MaxPooling2D((2, 2), padding: "SAME"),
                               Conv2DTranspose(2, (3, 3), strides: (2, 2), padding: "same"), Reshape([64, 2]),
                               Conv1D(2, 3, padding: "same")])
        #expect(same.addError == nil && same.outputShape == [64, 2], "\(same.outputShape ?? [])")
        let conv = model.layers[0] as? Conv2D
        #expect(conv?.kernelSize.0 == 3 && conv?.kernelSize.1 == 3)
    }

    /// Bad arguments and layers that do not fit never stop the process: the model keeps the
    /// first error and throws it from fit, evaluate, predict and save.
    @Test func badArgumentsAndMisfitsAreErrorsNotCrashes() throws {
        let x = Tensor.randomNormal([4, 3], seed: 1), y = Tensor.randomNormal([4, 2], seed: 2)
        func firstError(_ build: () -> Sequential) -> String? {
            let model = build()
            model.compile(optimizer: .sgd, loss: .mse)
            var messages: [String] = []
            for action in [{ _ = try model.fit(x, y, epochs: 1, verbose: 0) }, { _ = try model.predict(x) },
                           { _ = try model.evaluate(x, y) },
                           { try model.save(temporaryDirectory().appendingPathComponent("m.lamina").path) }] as [() throws -> Void] {
                do { try action() } catch let e as LaminaError { messages.append(e.message) } catch { messages.append("\(error)") }
            }
            #expect(messages.count == 4 && Set(messages).count == 1, "\(messages)")
            return messages.first
        }
        let dropout = firstError { Sequential([Dense(2, inputShape: [3]), Dropout(1.5)]) }
        #expect(dropout?.contains("rate must be in [0, 1), got 1.5") == true, "\(dropout ?? "")")
        let typo = firstError { Sequential([Dense(2, activation: "rleu", inputShape: [3])]) }
        #expect(typo?.contains("unknown activation 'rleu'") == true, "\(typo ?? "")")
        let padding = firstError { Sequential([Reshape([3, 1, 1], inputShape: [3]), Conv2D(2, (1, 1), padding: "smae"), Flatten(), Dense(2)]) }
        #expect(padding?.contains("padding must be \"valid\" or \"same\", got \"smae\"") == true, "\(padding ?? "")")
        let units = firstError { Sequential([Dense(-2, inputShape: [3])]) }
        #expect(units?.contains("units must be positive, got -2") == true, "\(units ?? "")")
        let misfit = firstError {
            let m = Sequential()
            m.add(Dense(4, inputShape: [3]))
            m.add(Conv2D(2, kernelSize: 3))   // a Conv2D cannot take [4]
            m.add(Dense(2))
            return m
        }
        #expect(misfit?.contains(".add(") == true && misfit?.contains("after [*, 4]") == true, "\(misfit ?? "")")
        let input = firstError { Sequential([Dense(2, inputShape: [3]), Input(shape: [3])]) }
        #expect(input?.contains("an Input must come first") == true, "\(input ?? "")")
        // A layer called directly throws its argument error too.
        #expect(throws: LaminaError.self) { _ = try Dropout(-0.1)(x) }
    }

    /// A user's callback ends `fit` with its own error.
    @Test func callbacksCanEndFitWithAnError() throws {
        struct Enough: Error {}
        let model = Sequential([Dense(1, inputShape: [2])])
        model.compile(optimizer: .sgd, loss: .mse)
        var epochs = 0
        let stop = LambdaCallback(onEpochEnd: { epoch, _ in
            epochs += 1
            if epoch == 1 { throw Enough() }
        })
        #expect(throws: Enough.self) {
            _ = try model.fit(Tensor.randomNormal([8, 2], seed: 1), Tensor.randomNormal([8, 1], seed: 2), epochs: 5, verbose: 0,
                              callbacks: [stop])
        }
        #expect(epochs == 2)
    }
}

/// `fit(..., classWeight:, sampleWeight:)` with Keras's semantics (the weighted training step
/// itself is checked against Keras in KerasReferenceTests).
@Suite struct SampleWeightTests {
    @Test func weightsScaleTheLossAndBadWeightsAreErrors() throws {
        let x = Tensor.randomNormal([8, 3], seed: 1)
        let y = Tensor(shape: [8], scalars: (0..<8).map { Int32($0 % 2) })
        func run(_ body: (Sequential) throws -> History) throws -> Double {
            let m = Lamina.withRandomSeed(2) { Sequential([Dense(2, activation: .softmax, inputShape: [3])]) }
            m.compile(optimizer: SGD(learningRate: 0), loss: .sparseCategoricalCrossentropy)
            return try body(m).history["loss"]![0]
        }
        let plain = try run { try $0.fit(x, y, epochs: 1, batchSize: 8, verbose: 0) }
        let doubled = try run { try $0.fit(x, y, epochs: 1, batchSize: 8, verbose: 0, sampleWeight: Tensor(shape: [8], scalars: [Float](repeating: 2, count: 8))) }
        let classDoubled = try run { try $0.fit(x, y, epochs: 1, batchSize: 8, verbose: 0, classWeight: [0: 2, 1: 2]) }
        #expect(Swift.abs(doubled - 2 * plain) < 1e-6 && Swift.abs(classDoubled - 2 * plain) < 1e-6)
        let m = Sequential([Dense(2, activation: .softmax, inputShape: [3])])
        m.compile(optimizer: .sgd, loss: .sparseCategoricalCrossentropy)
        let missing = #expect(throws: LaminaError.self) { try m.fit(x, y, verbose: 0, classWeight: [0: 1]) }
        #expect(missing?.message.contains("no weight for class 1") == true)
        let shape = #expect(throws: LaminaError.self) { try m.fit(x, y, verbose: 0, sampleWeight: Tensor.ones([5])) }
        #expect(shape?.message.contains("must be [8]") == true)
        let negative = #expect(throws: LaminaError.self) {
            try m.fit(x, y, verbose: 0, sampleWeight: Tensor(shape: [8], scalars: [1, 1, 1, -1, 1, 1, 1, 1] as [Float]))
        }
        #expect(negative?.message.contains("sampleWeight[3]") == true)
    }

    @Test func validationFreqValidatesEveryNthEpoch() throws {
        let x = Tensor.randomNormal([12, 3], seed: 1), y = Tensor(shape: [12], scalars: (0..<12).map { Int32($0 % 2) })
        let m = Sequential([Dense(2, activation: .softmax, inputShape: [3])])
        m.compile(optimizer: .sgd, loss: .sparseCategoricalCrossentropy)
        var validated: [Int] = []
        let probe = LambdaCallback(onEpochEnd: { epoch, logs in if logs["val_loss"] != nil { validated.append(epoch + 1) } })
        let h = try m.fit(x, y, epochs: 7, verbose: 0, validationSplit: 0.25, callbacks: [probe], validationFreq: 3)
        #expect(validated == [3, 6])
        #expect(h.history["val_loss"]?.count == 2 && h.history["loss"]?.count == 7)
        #expect(throws: LaminaError.self) { try m.fit(x, y, verbose: 0, validationFreq: 0) }
    }
}
