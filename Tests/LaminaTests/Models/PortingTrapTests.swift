import Foundation
import Testing
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

    /// `Conv2D(32, (3, 3))` and `MaxPooling2D((2, 2))` as Keras writes them.
    @Test func positionalKernelAndPoolSizes() {
        let model = Sequential([Conv2D(4, (3, 3), activation: .relu, inputShape: [8, 8, 1]), MaxPooling2D((2, 2)),
                                AveragePooling2D((1, 3))])
        #expect(model.outputShape == [3, 1, 4])
        let conv = model.layers[0] as? Conv2D
        #expect(conv?.kernelSize.0 == 3 && conv?.kernelSize.1 == 3)
    }
}
