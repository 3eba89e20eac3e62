import Testing
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
}
