import Foundation
import Testing
import Lamina
@testable import LaminaData
@testable import LaminaKeras

/// Models saved by Keras 3 (Fixtures/generate_keras_files.py) load and predict Keras's outputs.
@Suite struct KerasFileTests {
    static let data = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("Fixtures/data")
    var io: [String: Tensor] { get throws { try NumPy.loadArchive(Self.data.appendingPathComponent("keras_io.npz")) } }

    func maxError(_ a: Tensor, _ b: Tensor) -> Double {
        zip(a.scalarsAsDouble(), b.scalarsAsDouble()).map { Swift.abs($0 - $1) }.max() ?? .infinity
    }

    @Test(arguments: ["mlp", "cnn", "rnn", "nested", "modern", "text"])
    func predictsWhatKerasPredicted(_ name: String) throws {
        let model = try Sequential.loadKeras(Self.data.appendingPathComponent("\(name).keras").path)
        let x = try #require(try io["\(name)_x"]), expected = try #require(try io["\(name)_y"])
        let y = try model.predict(x)
        #expect(y.shape == expected.shape)
        #expect(maxError(y, expected) <= 1e-4, "\(name): max |Lamina − Keras| = \(maxError(y, expected))")
    }

    @Test func architectureAndCompileSettingsComeAcross() throws {
        let cnn = try KerasFile.load(Self.data.appendingPathComponent("cnn.keras"))
        #expect(cnn.layers.map(\.className) == ["Conv2D", "BatchNormalization", "MaxPooling2D", "Conv2D", "AveragePooling2D",
                                                "Flatten", "Dense", "LeakyReLU", "Dense"])
        #expect(cnn.layers.map(\.name) == ["conv2d", "batch_normalization", "max_pooling2d", "conv2d_1", "average_pooling2d",
                                           "flatten", "dense_2", "leaky_re_lu", "dense_3"])   // Keras's names
        let conv = try #require(cnn.layers[3] as? Conv2D)
        #expect(conv.strides == (1, 2) && conv.kernelSize == (2, 3) && (cnn.layers[7] as? LeakyReLU)?.negativeSlope == 0.2)
        #expect(cnn.optimizer is RMSprop && cnn.loss is BinaryCrossentropy)
        let rnn = try KerasFile.load(Self.data.appendingPathComponent("rnn.keras"))
        let sgd = try #require(rnn.optimizer as? SGD)
        #expect(sgd.nesterov && sgd.momentum == 0.9 && Swift.abs(sgd.learningRate - 0.05) < 1e-7)
        let mlp = try KerasFile.load(Self.data.appendingPathComponent("mlp.keras"))
        #expect(mlp.compiledMetrics.map(\.name) == ["accuracy"] && mlp.countParams() == 8 * 16 + 16 + 16 * 3 + 3)
        // The loaded model trains on in Swift.
        let x = try #require(try io["mlp_x"])
        let before = try mlp.evaluate(x, Tensor(shape: [32], scalars: (0..<32).map { Int32($0 % 3) })).loss
        try mlp.fit(x, Tensor(shape: [32], scalars: (0..<32).map { Int32($0 % 3) }), epochs: 20, batchSize: 8, verbose: 0)
        #expect(try mlp.evaluate(x, Tensor(shape: [32], scalars: (0..<32).map { Int32($0 % 3) })).loss < before)
    }

    /// The optimizer state comes in with the weights: one more step in Lamina from a Keras
    /// file gives the loss and weights of the same step taken in Keras (Adam with AMSGrad,
    /// Nadam, RMSprop, SGD with Nesterov momentum).
    @Test(arguments: ["cnn", "rnn", "modern", "text"])
    func trainingContinuesFromKerasOptimizerState(_ name: String) throws {
        let model = try KerasFile.load(Self.data.appendingPathComponent("\(name).keras"))
        let io = try io
        let x = try #require(io["\(name)_x"]).sliced(axis: 0, 0..<4)
        #expect(try #require(model.optimizer).iterations > 0, "\(name): the optimizer state was not imported")
        let target = try #require(io["\(name)_target"]).sliced(axis: 0, 0..<4)
        let (loss, _) = try model.trainOnBatch(x, target)
        let expected = try #require(io["\(name)_next_loss"]).scalarsAsDouble()[0]
        #expect(Swift.abs(loss - expected) <= 1e-4 * max(1, Swift.abs(expected)), "\(name): loss \(loss) vs Keras \(expected)")
        for (i, w) in model.getWeights().enumerated() {
            let k = try #require(io["\(name)_next_w\(i)"])
            #expect(maxError(w, k) <= 1e-4, "\(name) weight \(i) (\(model.weights[i].name)): max |Lamina − Keras| = \(maxError(w, k))")
        }
    }

    @Test func unsupportedOptionsAndDamagedArchivesAreNamed() throws {
        // A grouped convolution (Keras's groups=2) loads since the applications work (issue 20).
        let grouped = try KerasFile.load(Self.data.appendingPathComponent("grouped.keras"))
        let groups = grouped.layers.compactMap { ($0 as? Conv2D)?.groups }
        #expect(groups == [2])
        let functional = #expect(throws: LaminaError.self) {
            try KerasFile.model(fromConfigJSON: Array(#"{"class_name":"Functional","config":{}}"#.utf8))
        }
        #expect(functional?.message.contains("'layers' must be a list") == true, "\(functional?.message ?? "")")
        let subclassed = #expect(throws: LaminaError.self) {
            try KerasFile.model(fromConfigJSON: Array(#"{"class_name":"MyModel","config":{}}"#.utf8))
        }
        #expect(subclassed?.message.contains("Lamina loads Sequential and functional models") == true)

        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("lamina-keras-\(UUID().uuidString.prefix(8))")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        let original = try [UInt8](Data(contentsOf: Self.data.appendingPathComponent("mlp.keras")))
        var rng = RandomGenerator(seed: 1)
        var rejected = 0
        for trial in 0..<40 {   // truncations and flipped bytes anywhere: an error, never a crash
            var bytes = original
            if trial % 2 == 0 {
                bytes = Array(bytes.prefix(Int(rng.next() % UInt64(bytes.count))))
            } else {
                for _ in 0..<4 { bytes[Int(rng.next() % UInt64(bytes.count))] ^= 0xFF }
            }
            let url = dir.appendingPathComponent("damaged\(trial).keras")
            try Data(bytes).write(to: url)
            do { _ = try KerasFile.load(url) } catch is LaminaError { rejected += 1 }
        }
        #expect(rejected >= 20)
    }
}
