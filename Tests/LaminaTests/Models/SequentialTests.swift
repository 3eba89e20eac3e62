import Foundation
import Testing
import LaminaTestSupport
@testable import Lamina

@Suite(.serialized) struct SequentialTests {
    /// Parameter counts of Keras's own tutorial models equal Keras's (fixture counts).
    @Test func parameterCountsEqualKeras() {
        let counts = Fixture.keras.paramCounts
        let mlp = Sequential([Input(shape: [784]), Dense(512, activation: .relu), Dropout(0.2),
                              Dense(512, activation: .relu), Dropout(0.2), Dense(10, activation: .softmax)])
        let convnet = Sequential([Input(shape: [28, 28, 1]), Conv2D(32, kernelSize: (3, 3), activation: .relu),
                                  MaxPooling2D(poolSize: (2, 2)), Conv2D(64, kernelSize: (3, 3), activation: .relu),
                                  MaxPooling2D(poolSize: (2, 2)), Flatten(), Dropout(0.5), Dense(10, activation: .softmax)])
        let lstm = Sequential([Input(shape: [28, 28]), LSTM(128), Dense(10, activation: .softmax)])
        let generator = Sequential([
            Input(shape: [100]), Dense(7 * 7 * 128, useBias: false), BatchNormalization(), LeakyReLU(),
            Reshape([7, 7, 128]), UpSampling2D(), Conv2D(64, kernelSize: (5, 5), padding: .same, useBias: false),
            BatchNormalization(), LeakyReLU(), UpSampling2D(), Conv2D(1, kernelSize: (5, 5), padding: .same, activation: .tanh),
        ])
        let imdb = Sequential([Input(shape: [200]), Embedding(inputDim: 10000, outputDim: 16), GlobalAveragePooling1D(),
                               Dense(16, activation: .relu), Dense(1, activation: .sigmoid)])
        let textConv = Sequential([Input(shape: [100]), Embedding(inputDim: 5000, outputDim: 32), Conv1D(64, 5, activation: .relu),
                                   MaxPooling1D(poolSize: 2), GlobalMaxPooling1D(), Dense(1, activation: .sigmoid)])
        // The TensorFlow DCGAN tutorial's generator, the Keras bidirectional-LSTM IMDB example, a stacked GRU.
        let dcgan = Sequential([Input(shape: [100]), Dense(7 * 7 * 256, useBias: false), BatchNormalization(), LeakyReLU(),
                                Reshape([7, 7, 256]),
                                Conv2DTranspose(128, kernelSize: (5, 5), strides: (1, 1), padding: .same, useBias: false),
                                BatchNormalization(), LeakyReLU(),
                                Conv2DTranspose(64, kernelSize: (5, 5), strides: (2, 2), padding: .same, useBias: false),
                                BatchNormalization(), LeakyReLU(),
                                Conv2DTranspose(1, kernelSize: (5, 5), strides: (2, 2), padding: .same, activation: .tanh, useBias: false)])
        #expect(dcgan.outputShape == [28, 28, 1])
        let biLSTM = Sequential([Input(shape: [200]), Embedding(inputDim: 20000, outputDim: 128),
                                 Bidirectional(LSTM(64, returnSequences: true)), Bidirectional(LSTM(64)), Dense(1, activation: .sigmoid)])
        let gruText = Sequential([Input(shape: [80]), Embedding(inputDim: 1000, outputDim: 32), GRU(32, returnSequences: true),
                                  GRU(16), Dense(1, activation: .sigmoid)])
        for (name, model) in [("mlp", mlp), ("mnist_convnet", convnet), ("lstm_classifier", lstm), ("gan_generator", generator),
                              ("imdb_embedding_gap", imdb), ("text_conv1d", textConv), ("dcgan_generator", dcgan),
                              ("bidirectional_lstm_classifier", biLSTM), ("gru_text", gruText)] {
            let expected = counts[name]!
            #expect(model.countParams() == expected.total, "\(name)")
            #expect(model.trainableWeights.reduce(0) { $0 + $1.value.count } == expected.trainable, "\(name)")
            let text = model.summaryText(lineLength: 76)
            let total = expected.total.formatted(.number.grouping(.automatic).locale(Locale(identifier: "en_US")))
            #expect(text.contains(" Total params: \(total) ("), "\(name)")
        }
        #expect(convnet.layers.count == 7 && convnet.countParams() == 34_826)
    }

    @Test func autoNamesFollowKeras() {
        Lamina.clearSession()
        let names = [Dense(1), Dense(1), Conv2D(1, kernelSize: 1), MaxPooling2D(), LeakyReLU(), SimpleRNN(1),
                     BatchNormalization(), UpSampling2D(), AveragePooling2D(), LSTM(1)].map(\.name)
        #expect(names == ["dense", "dense_1", "conv2d", "max_pooling2d", "leaky_re_lu", "simple_rnn",
                          "batch_normalization", "up_sampling2d", "average_pooling2d", "lstm"])
        #expect(Sequential().name == "sequential")
    }

    @Test func mlpLearnsXOR() throws { try Lamina.withRandomSeed(1) {
        let x: Tensor = [[0, 0], [0, 1], [1, 0], [1, 1]]
        let y: Tensor = [[0], [1], [1], [0]]
        let model = Sequential([Dense(8, activation: .tanh, inputShape: [2]), Dense(1, activation: .sigmoid)])
        model.compile(optimizer: Adam(learningRate: 0.05), loss: .binaryCrossentropy, metrics: [.accuracy])
        let history = try model.fit(x, y, epochs: 300, batchSize: 4, verbose: 0)
        #expect(history.history["loss"]!.last! < 0.05)
        let p = try model.predict(x).asArray(Float.self)
        #expect(p[0] < 0.2 && p[1] > 0.8 && p[2] > 0.8 && p[3] < 0.2)
        #expect(try model.evaluate(x, y).metrics["accuracy"] == 1)
    } }

    /// Two synthetic image classes (a bright top half vs a bright bottom half, plus noise).
    static func images(_ n: Int, seed: UInt64) -> (Tensor, Tensor) {
        var rng = RandomGenerator(seed: seed)
        var pixels: [Float] = [], labels: [Int32] = []
        for i in 0..<n {
            let label = Int32(i % 2)
            for r in 0..<8 { for _ in 0..<8 {
                let bright = (r < 4) == (label == 0)
                pixels.append(Float((bright ? 0.8 : 0.2) + 0.3 * rng.nextNormal()))
            } }
            labels.append(label)
        }
        return (Tensor(shape: [n, 8, 8, 1], scalars: pixels), Tensor(labels))
    }

    @Test func tinyCNNSeparatesTwoImageClassesReproducibly() throws {
        func run() throws -> ([Double], Double) { try Lamina.withRandomSeed(42) {
            let (x, y) = Self.images(128, seed: 5)
            let model = Sequential([Conv2D(4, kernelSize: 3, activation: .relu, inputShape: [8, 8, 1]), MaxPooling2D(),
                                    Flatten(), Dropout(0.2), Dense(2, activation: .softmax)])
            model.compile(optimizer: .adam, loss: .sparseCategoricalCrossentropy, metrics: [.accuracy])
            let h = try model.fit(x, y, epochs: 30, batchSize: 16, verbose: 0, validationSplit: 0.25)
            let (tx, ty) = Self.images(64, seed: 6)
            return (h.history["loss"]!, try model.evaluate(tx, ty).metrics["accuracy"]!)
        } }
        let (losses, accuracy) = try run()
        #expect(losses.last! < losses.first! * 0.5)
        #expect(accuracy >= 0.95)
        let (again, accuracyAgain) = try run()
        #expect(again == losses && accuracyAgain == accuracy)   // bit-identical under a seed
    }

    @Test func fitReportsKerasHistoryKeysAndValidation() throws {
        let (x, y) = Self.images(40, seed: 7)
        let model = Sequential([Flatten(inputShape: [8, 8, 1]), Dense(2, activation: .softmax)])
        model.compile(optimizer: .sgd, loss: .sparseCategoricalCrossentropy, metrics: [.accuracy])
        let h = try model.fit(x, y, epochs: 2, batchSize: 8, verbose: 0, validationSplit: 0.2)
        #expect(Set(h.history.keys) == ["loss", "accuracy", "val_loss", "val_accuracy"])
        #expect(h.history["loss"]!.count == 2)
    }

    @Test func badInputsThrowNamedErrors() throws {
        let model = Sequential([Dense(10, inputShape: [784], name: "dense_in"), Dense(2, activation: .softmax)])
        model.compile(optimizer: .adam, loss: .sparseCategoricalCrossentropy)
        do {
            _ = try model.predict(Tensor.zeros([32, 28, 28]))
            Issue.record("expected a shape error")
        } catch let e as LaminaError {
            #expect(e.message == "dense_in expects [*, 784], got [*, 28, 28]")
        }
        #expect(throws: LaminaError.self) { try model.fit(Tensor.zeros([4, 784]), Tensor([0, 1, 1] as [Int32]), verbose: 0) }
        #expect(throws: LaminaError.self) { try model.fit(Tensor.zeros([3, 784]), Tensor([0, 1, 2] as [Int32]), verbose: 0) }
        #expect(throws: LaminaError.self) { try model.fit(Tensor.zeros([3, 784]), Tensor([0, 1, 5] as [Float]), verbose: 0) }
        #expect(throws: LaminaError.self) { try model.setWeights([Tensor.zeros([2, 2])]) }
        let uncompiled = Sequential([Dense(1, inputShape: [2])])
        #expect(throws: LaminaError.self) { try uncompiled.fit(Tensor.zeros([2, 2]), Tensor.zeros([2, 1]), verbose: 0) }
    }

    @Test func terminateOnNaNStopsAndWarningKeepsGoing() throws {
        let x = Tensor(shape: [4, 1], scalars: [1, 2, 3, .nan] as [Float]), y = Tensor.zeros([4, 1])
        let model = Sequential([Dense(1, inputShape: [1])])
        model.compile(optimizer: .sgd, loss: .mse)
        let stop = TerminateOnNaN()
        let h = try model.fit(x, y, epochs: 5, batchSize: 4, verbose: 0, callbacks: [stop])
        #expect(stop.terminated && h.history["loss"]!.count == 1)
        let h2 = try model.fit(x, y, epochs: 2, batchSize: 4, verbose: 0)
        #expect(h2.history["loss"]!.count == 2 && h2.history["loss"]!.allSatisfy { $0.isNaN })
    }

    /// The Keras 2 GAN recipe: compile D, freeze it, compile the combined model; training
    /// the combined model leaves D unchanged, training D still changes it.
    @Test func frozenLayersStayFrozenForModelsCompiledAfter() throws {
        Lamina.setRandomSeed(3)
        let generator = Sequential([Dense(4, activation: .relu, inputShape: [2]), Dense(3)])
        let discriminator = Sequential([Dense(4, activation: .relu, inputShape: [3]), BatchNormalization(), Dense(1, activation: .sigmoid)])
        discriminator.compile(optimizer: Adam(learningRate: 0.01), loss: .binaryCrossentropy)
        discriminator.trainable = false
        let gan = Sequential([generator, discriminator])
        gan.compile(optimizer: Adam(learningRate: 0.01), loss: .binaryCrossentropy)
        #expect(gan.trainableWeights.count == 4 && gan.nonTrainableWeights.count == 8)
        let dBefore = discriminator.getWeights().map { $0.asArray(Float.self) }
        let gBefore = generator.getWeights().map { $0.asArray(Float.self) }
        try gan.trainOnBatch(Tensor.randomNormal([8, 2]), Tensor.ones([8, 1]))
        #expect(discriminator.getWeights().map { $0.asArray(Float.self) } == dBefore)   // moving stats too: frozen BN infers
        #expect(generator.getWeights().map { $0.asArray(Float.self) } != gBefore)
        try discriminator.trainOnBatch(Tensor.randomNormal([8, 3]), Tensor.ones([8, 1]))
        #expect(discriminator.getWeights().map { $0.asArray(Float.self) } != dBefore)
    }

    @Test func callbacksEarlyStoppingSchedulerAndCSV() throws {
        let x = Tensor.randomNormal([32, 3], seed: 1), y = Tensor.randomNormal([32, 1], seed: 2)
        let model = Sequential([Dense(1, inputShape: [3])])
        model.compile(optimizer: SGD(learningRate: 0), loss: .mse)   // lr 0: no improvement
        let early = EarlyStopping(monitor: "loss", patience: 2)
        var rates: [Double] = []
        let scheduler = LearningRateScheduler { epoch, lr in rates.append(lr); return epoch == 0 ? 0 : lr }
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("lamina-\(UUID()).csv").path
        let h = try model.fit(x, y, epochs: 10, verbose: 0, callbacks: [early, scheduler, CSVLogger(path)])
        #expect(h.history["loss"]!.count == 3 && early.stoppedEpoch == 2)
        let csv = try String(contentsOfFile: path, encoding: .utf8).split(separator: "\n")
        #expect(csv.first == "epoch,loss" && csv.count == 4)
        #expect(rates.count == 3)
    }

    @Test func toCategoricalMakesOneHotRows() throws {
        let y = try toCategorical(Tensor([2, 0] as [Int32]), numClasses: 3)
        #expect(y.shape == [2, 3] && y.asArray(Float.self) == [0, 0, 1, 1, 0, 0])
        #expect(throws: LaminaError.self) { try toCategorical(Tensor([3] as [Int32]), numClasses: 3) }
    }
}
