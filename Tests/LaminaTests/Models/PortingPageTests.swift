import Testing
import LaminaTestSupport
@testable import Lamina

/// The Swift snippets of docs/porting.md, as written there, build the models Keras builds.
@Suite struct PortingPageTests {
    @Test func seedsAndTutorialsBuildAsThePageSays() throws {
        let convnet = Sequential([
            Input(shape: [28, 28, 1]),
            Conv2D(32, (3, 3), activation: .relu),
            MaxPooling2D((2, 2)),
            Conv2D(64, (3, 3), activation: .relu),
            MaxPooling2D((2, 2)),
            Flatten(),
            Dropout(0.5),
            Dense(10, activation: .softmax),
        ])
        try convnet.compile(optimizer: "adam", loss: "sparse_categorical_crossentropy", metrics: ["accuracy"])
        #expect(convnet.countParams() == Fixture.keras.paramCounts["mnist_convnet"]!.total)

        let latentDim = 100
        let generator = Sequential([
            Input(shape: [latentDim]),
            Dense(7 * 7 * 64, activation: .relu), Reshape([7, 7, 64]),
            UpSampling2D(), Conv2D(64, kernelSize: 3, padding: "same"),
            BatchNormalization(momentum: 0.8), Activation(.relu),
            UpSampling2D(), Conv2D(32, kernelSize: 3, padding: "same"),
            BatchNormalization(momentum: 0.8), Activation(.relu),
            Conv2D(1, kernelSize: 3, padding: "same", activation: .tanh),
        ], name: "generator")
        #expect(generator.addError == nil && generator.outputShape == [28, 28, 1])

        let dcgan = Sequential([
            Input(shape: [100]),
            Dense(7 * 7 * 256, useBias: false), BatchNormalization(), LeakyReLU(),
            Reshape([7, 7, 256]),
            Conv2DTranspose(128, kernelSize: (5, 5), strides: (1, 1), padding: .same, useBias: false),
            BatchNormalization(), LeakyReLU(),
            Conv2DTranspose(64, kernelSize: (5, 5), strides: (2, 2), padding: .same, useBias: false),
            BatchNormalization(), LeakyReLU(),
            Conv2DTranspose(1, kernelSize: (5, 5), strides: (2, 2), padding: .same, activation: .tanh, useBias: false),
        ])
        #expect(dcgan.countParams() == Fixture.keras.paramCounts["dcgan_generator"]!.total && dcgan.countParams() == 2_330_944)

        let simple = Sequential([Input(shape: [200]), Embedding(inputDim: 10000, outputDim: 16), GlobalAveragePooling1D(),
                                 Dense(16, activation: .relu), Dense(1, activation: .sigmoid)])
        let bidirectional = Sequential([Input(shape: [200]), Embedding(inputDim: 20000, outputDim: 128),
                                        Bidirectional(LSTM(64, returnSequences: true)), Bidirectional(LSTM(64)),
                                        Dense(1, activation: .sigmoid)])
        bidirectional.compile(optimizer: Adam(), loss: .binaryCrossentropy, metrics: [.accuracy, AUC()])
        #expect(simple.countParams() == Fixture.keras.paramCounts["imdb_embedding_gap"]!.total)
        #expect(bidirectional.countParams() == Fixture.keras.paramCounts["bidirectional_lstm_classifier"]!.total)

        let model = Sequential([Input(shape: [30]),
                                Dense(16, activation: .relu, kernelRegularizer: .l2(1e-3)), Dropout(0.5),
                                Dense(1, activation: .sigmoid)])
        model.compile(optimizer: Adam(), loss: .binaryCrossentropy, metrics: [.accuracy, AUC(curve: .pr, name: "prc")])
        let recurrent = GRU(8, recurrentRegularizer: .l2(1e-4), dropout: 0.2, recurrentDropout: 0.2, returnSequences: true)
        #expect(model.addError == nil && recurrent.argumentError == nil)
        let scheduled = Adam(learningRate: 1e-3, schedule: CosineDecay(initialLearningRate: 1e-3, decaySteps: 1000,
                                                                       warmupTarget: 1e-2, warmupSteps: 100))
        #expect(scheduled.schedule != nil)
    }

    /// The functional snippets of docs/porting.md, as written there, against Keras's parameter
    /// counts (residual: 10,602; two heads: 118, from Keras 3.15) and log names.
    @Test func functionalSnippetsRunAsThePageSays() throws {
        let inputs = Input(shape: [32, 32, 3])
        var x = Conv2D(32, kernelSize: 3, padding: .same, activation: .relu)(inputs)
        let shortcut = x
        x = Conv2D(32, kernelSize: 3, padding: .same)(x)
        x = BatchNormalization()(x)
        x = Activation(.relu)(Add()([x, shortcut]))
        x = GlobalAveragePooling2D()(x)
        let outputs = Dense(10, activation: .softmax)(x)
        let model = Model(inputs: inputs, outputs: outputs)
        try model.checkDefinition()
        #expect(model.countParams() == 896 + 9_248 + 128 + 330)

        let title = Input(shape: [5], name: "title")
        let body = Input(shape: [4], name: "body")
        let features = Concatenate()([Dense(6, activation: .relu)(title), Dense(6, activation: .tanh)(body)])
        let priority = Dense(1, name: "priority")(features)
        let department = Dense(3, activation: .softmax, name: "department")(features)
        let twoHeads = Model(inputs: [title, body], outputs: [priority, department])
        twoHeads.compile(optimizer: Adam(), loss: [.meanSquaredError, .sparseCategoricalCrossentropy], lossWeights: [1.0, 0.2],
                         metrics: [[], [.accuracy]])
        let (xt, xb) = (Tensor.randomNormal([8, 5], seed: 1), Tensor.randomNormal([8, 4], seed: 2))
        let (yp, yd) = (Tensor.randomNormal([8, 1], seed: 3), Tensor(shape: [8], scalars: (0..<8).map { Int32($0 % 3) }))
        let history = try twoHeads.fit(["title": xt, "body": xb], ["priority": yp, "department": yd], epochs: 2, verbose: 0)
        #expect(Set(history.history.keys) == ["loss", "priority_loss", "department_loss", "department_accuracy"])
        #expect(twoHeads.countParams() == 36 + 30 + 13 + 39)
    }
}
