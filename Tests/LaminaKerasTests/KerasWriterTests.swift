import Foundation
import Testing
@testable import Lamina
@testable import LaminaData
@testable import LaminaKeras

/// `.keras` files written by Lamina: every layer type, weights and optimizer state, read back
/// by Lamina and (where the peers' Python environment exists) by Keras itself.
@Suite struct KerasWriterTests {
    static func directory() throws -> URL {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("lamina-keras-write-\(UUID().uuidString.prefix(8))")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        return dir
    }

    /// An image model with every image layer type (the random augmentation layers and
    /// Normalization only with `dropout`: Keras's own random draws would differ in a training step).
    static func imageModel(dropout: Bool = true) -> Sequential {
        Sequential((dropout ? [Input(shape: [8, 8, 1]), Normalization(), RandomFlip(), RandomContrast(0.2), RandomRotation(0.1),
                              RandomTranslation(heightFactor: 0.1, widthFactor: 0.2), RandomZoom(0.2)] : [Input(shape: [8, 8, 1])]) + [
            Rescaling(0.5, offset: 0.1), ZeroPadding2D(padding: ((1, 1), (1, 1))),
            Conv2D(4, kernelSize: 3, padding: .same, dilationRate: 2, activation: .relu, kernelRegularizer: .l2(0.01)),
            DepthwiseConv2D(kernelSize: 3, padding: .same, depthMultiplier: 2, activation: .relu6),
            SeparableConv2D(4, kernelSize: 3, padding: .same, activation: .hardSilu), ReLU(maxValue: 6, negativeSlope: 0.1),
            LayerScale(initValues: 0.5, projectionDim: 4), BatchNormalization(), LeakyReLU(negativeSlope: 0.2), MaxPooling2D(poolSize: 2),
            Conv2DTranspose(3, kernelSize: 3, strides: 2, padding: .same), Cropping2D(cropping: ((1, 1), (1, 1))),
            UpSampling2D(), AveragePooling2D(poolSize: 2), Conv2D(2, (3, 3), activation: .tanh),
            GlobalMaxPooling2D(keepDims: true), GlobalAveragePooling2D(), Dropout(dropout ? 0.2 : 0),
            Dense(3), Activation(.softmax),
        ])
    }

    /// A sequence model with every sequence layer type and a nested model.
    static func sequenceModel() -> Sequential {
        Sequential([
            Input(shape: [10]), Embedding(inputDim: 20, outputDim: 4), Masking(maskValue: 0), Conv1D(4, 3, dilationRate: 2),
            MaxPooling1D(poolSize: 2), AveragePooling1D(poolSize: 2, strides: 1, padding: .same),
            Bidirectional(GRU(3, returnSequences: true), mergeMode: .concat),
            LSTM(3, returnSequences: true, goBackwards: true), SimpleRNN(3, returnSequences: true),
            Bidirectional(LSTM(2, returnSequences: true), mergeMode: .sum), LayerNormalization(),
            GlobalAveragePooling1D(), RepeatVector(2), TimeDistributed(Dense(3, activation: .relu)), Permute([2, 1]),
            GRU(2, returnSequences: true, resetAfter: false),
            GlobalMaxPooling1D(), Sequential([Dense(4, activation: .relu), Reshape([2, 2]), Flatten()], name: "head"),
            Dense(1, activation: .sigmoid),
        ])
    }

    /// A functional model with every merge layer, a shared layer and a nested functional model.
    static func mergeModel() -> Model {
        let x = Input(shape: [5], name: "features")
        let inner = Model(inputs: x, outputs: Dense(4, activation: .tanh, name: "inner_dense")(x), name: "inner_block")
        let outer = Input(shape: [5], name: "x")
        let shared = Dense(4, activation: .relu, name: "shared_dense")
        let a = shared(outer), b = inner(outer), c = shared(Dense(5, name: "pre")(outer))
        let merged: [SymbolicTensor] = [Add()([a, b]), Subtract()([a, b]), Multiply()([a, c]), Average()([a, b, c]),
                                        Maximum()([a, b]), Minimum()([b, c]), Dot(axes: 1, normalize: true)([a, c]),
                                        CustomScaleLayer(scale: 0.17)([a, c])]
        let out = Dense(3, activation: .softmax, name: "probs")(Concatenate(axis: -1)(merged))
        return Model(inputs: outer, outputs: out, name: "merges")
    }

    /// The attention layers over a float sequence: causal self-attention (MultiHeadAttention),
    /// dot-product attention with a learned scale and additive attention between two projections.
    static func attentionModel() -> Model {
        let x = Input(shape: [4, 6], name: "seq")
        let a = MultiHeadAttention(numHeads: 2, keyDim: 3, name: "mha")(x, x, useCausalMask: true)
        let q = Dense(6, name: "query")(a)
        let b = Attention(useScale: true, name: "dot")([q, x])
        let c = AdditiveAttention(name: "additive")([q, a])
        let pooled = GlobalAveragePooling1D(name: "pool")(Add(name: "sum")([b, c]))
        return Model(inputs: x, outputs: Dense(3, activation: .softmax, name: "probs")(pooled), name: "attention")
    }

    /// Per-step classes over zero-padded ids: the mask of Embedding(maskZero:) passes Dense on to the loss.
    static func maskedModel() -> Model {
        let ids = Input(shape: [6], dtype: .int32, name: "ids")
        let x = Dense(5, activation: .relu, name: "hidden")(Embedding(inputDim: 12, outputDim: 4, maskZero: true, name: "emb")(ids))
        return Model(inputs: ids, outputs: Dense(3, activation: .softmax, name: "tags")(x), name: "masked")
    }

    /// Zero-padded ids through masked recurrent layers: a Bidirectional LSTM returning sequences
    /// (masked steps zeroed), then a GRU that skips them, then per-sample classes.
    static func maskedRecurrentModel() -> Model {
        let ids = Input(shape: [6], dtype: .int32, name: "ids")
        var x = Embedding(inputDim: 12, outputDim: 4, maskZero: true, name: "emb")(ids)
        x = Bidirectional(LSTM(3, returnSequences: true, name: "lstm"), name: "bi")(x)
        x = GRU(3, name: "gru")(x)
        return Model(inputs: ids, outputs: Dense(3, activation: .softmax, name: "probs")(x), name: "masked_recurrent")
    }

    static func data() -> (image: (Tensor, Tensor), sequence: (Tensor, Tensor)) {
        let xi = Tensor.randomNormal([6, 8, 8, 1], seed: 3)
        let yi = Tensor(shape: [6], scalars: (0..<6).map { Int32($0 % 3) })
        let xs = Tensor(shape: [6, 10], scalars: (0..<60).map { Float(($0 * 7) % 20) })
        let ys = Tensor(shape: [6, 1], scalars: (0..<6).map { Float($0 % 2) })
        return ((xi, yi), (xs, ys))
    }

    /// Through .lamina, and Lamina → .keras → Lamina: the same layers, weights, predictions and optimizer state, and
    /// the next training step is the same step.
    @Test func everyLayerTypeRoundTripsThroughLaminaAndKeras() throws {
        let dir = try Self.directory()
        let (image, sequence) = Self.data()
        let merge = (Tensor.randomNormal([6, 5], seed: 4), image.1)
        let attention = (Tensor.randomNormal([6, 4, 6], seed: 8), image.1)
        for (index, (make, optimizer, loss, data)) in [
            ({ Self.imageModel() as Model }, { Adam(learningRate: 1e-2, amsgrad: true) as Optimizer }, Loss.sparseCategoricalCrossentropy, image),
            ({ Self.sequenceModel() }, { Nadam(learningRate: 5e-3) as Optimizer }, Loss.binaryCrossentropy, sequence),
            ({ Self.mergeModel() }, { SGD(learningRate: 0.05, momentum: 0.9) as Optimizer }, Loss.sparseCategoricalCrossentropy, merge),
            ({ Self.attentionModel() }, { Adam(learningRate: 1e-2) as Optimizer }, Loss.sparseCategoricalCrossentropy, attention),
        ].enumerated() {
            let a = Lamina.withRandomSeed(UInt64(index)) { make() }
            try a.checkDefinition()
            a.compile(optimizer: optimizer(), loss: loss)
            for _ in 0..<2 { _ = try Lamina.withRandomSeed(5) { try a.trainOnBatch(data.0, data.1) } }
            // Lamina's own format keeps them too.
            let own = dir.appendingPathComponent("model\(index).lamina")
            try a.save(own.path)
            let c = try Model.load(own.path, restoreRandomState: false)
            #expect(try c.predict(data.0).asArray(Float.self) == a.predict(data.0).asArray(Float.self))
            #expect(c.layers.map(\.name) == a.layers.map(\.name) && c.countParams() == a.countParams())
            let url = dir.appendingPathComponent("model\(index).keras")
            try a.saveKeras(url.path)
            let b = try KerasFile.load(url)
            #expect(b.layers.map(\.className) == a.layers.map(\.className))
            #expect(b.layers.map(\.name) == a.layers.map(\.name))
            for (u, v) in zip(a.getWeights(), b.getWeights()) { #expect(u.asArray(Float.self) == v.asArray(Float.self)) }
            #expect(try a.predict(data.0).asArray(Float.self) == b.predict(data.0).asArray(Float.self))
            let (sa, sb) = (try #require(a.kerasOptimizerState()), try #require(b.kerasOptimizerState()))
            #expect(sb.iterations == 2 && sa.iterations == 2 && sa.learningRate == sb.learningRate)
            #expect(sa.slots.count == sb.slots.count && sa.trailingScalars.count == sb.trailingScalars.count)
            #expect(zip(sa.slots, sb.slots).allSatisfy { $0.asArray(Float.self) == $1.asArray(Float.self) })
            let la = try Lamina.withRandomSeed(6) { try a.trainOnBatch(data.0, data.1).loss }
            let lb = try Lamina.withRandomSeed(6) { try b.trainOnBatch(data.0, data.1).loss }
            #expect(la == lb, "model \(index): next step \(la) vs \(lb) after the round trip")
            for (u, v) in zip(a.getWeights(), b.getWeights()) { #expect(u.asArray(Float.self) == v.asArray(Float.self)) }
        }
        // Every built-in layer class was in one of the four models (TextVectorization takes strings:
        // its round trips, Keras both ways, are TextVectorizationKerasTests).
        let used = Set((Self.imageModel().layers + Self.sequenceModel().layers + Self.mergeModel().layers + Self.attentionModel().layers)
            .flatMap { [$0] + $0.descendants }.map(\.className))
        let builtIn = Set(LayerRegistry.builtinTypes.map(\.kerasClassName)).subtracting(["InputLayer", "TextVectorization"])
        #expect(builtIn.subtracting(used).isEmpty, "not round-tripped: \(builtIn.subtracting(used).sorted())")
    }

    /// An untrained, uncompiled model has no optimizer group; the wrong extension is an error.
    @Test func untrainedModelsAndBadNames() throws {
        let dir = try Self.directory()
        let model = Sequential([Input(shape: [3]), Dense(2)])
        let url = dir.appendingPathComponent("plain.keras")
        try model.saveKeras(url.path)
        let back = try KerasFile.load(url)
        #expect(back.optimizer == nil && back.getWeights().map { $0.asArray(Float.self) } == model.getWeights().map { $0.asArray(Float.self) })
        let wrong = #expect(throws: LaminaError.self) { try model.saveKeras(dir.appendingPathComponent("plain.h5").path) }
        #expect(wrong?.message.contains("is named .keras") == true)
        let core = #expect(throws: LaminaError.self) { try model.save(dir.appendingPathComponent("x.keras").path) }
        #expect(core?.message.contains("saveKeras") == true, "\(core?.message ?? "")")
        #expect(!FileManager.default.fileExists(atPath: dir.appendingPathComponent("x.keras").path))
    }
}

/// Python's Keras opens Lamina's `.keras` files (skipped, with a message, without the peers'
/// environment: `../shared/peers/setup.sh`, or `LAMINA_PEERS_PYTHON` naming a Python with Keras).
@Suite struct KerasReadsLaminaTests {
    static var python: String? {
        if let path = ProcessInfo.processInfo.environment["LAMINA_PEERS_PYTHON"] { return path }
        let venv = "/root/peers-venv/bin/python"
        return FileManager.default.isExecutableFile(atPath: venv) ? venv : nil
    }
    static let script = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("Fixtures/keras_reads_lamina.py")

    func maxError(_ a: Tensor, _ b: Tensor) -> Double {
        zip(a.scalarsAsDouble(), b.scalarsAsDouble()).map { Swift.abs($0 - $1) }.max() ?? .infinity
    }

    /// Keras predicts what Lamina predicts, takes the same next training step (loss, then the
    /// weights and optimizer slots it saves, read back by Lamina), from Lamina's optimizer state.
    @Test func kerasLoadsPredictsAndTrainsOn() throws {
        guard let python = Self.python else {
            print("KerasReadsLaminaTests: skipped — no Python with Keras (run ../shared/peers/setup.sh or set LAMINA_PEERS_PYTHON)")
            return
        }
        let dir = try KerasWriterTests.directory()
        let (image, _) = KerasWriterTests.data()
        // Distinct indices in the batch: Keras on TensorFlow treats repeated embedding rows
        // differently in Adam-family optimizers (see generate_keras_files.py); SGD is exact.
        let xs = Tensor(shape: [2, 10], scalars: (0..<20).map { Float(($0 * 7) % 20) })
        let ys = Tensor(shape: [2, 1], scalars: [0, 1] as [Float])
        let cases: [(String, Model, Optimizer, Loss, Tensor, Tensor)] = [
            ("image", Lamina.withRandomSeed(1) { KerasWriterTests.imageModel(dropout: false) }, Adam(learningRate: 1e-2),
             .sparseCategoricalCrossentropy, image.0, image.1),
            ("sequence", Lamina.withRandomSeed(2) { KerasWriterTests.sequenceModel() }, SGD(learningRate: 0.05, momentum: 0.9, nesterov: true),
             .binaryCrossentropy, xs, ys),
            ("functional", Lamina.withRandomSeed(3) { KerasWriterTests.mergeModel() }, Adam(learningRate: 1e-2),
             .sparseCategoricalCrossentropy, Tensor.randomNormal([4, 5], seed: 9), Tensor(shape: [4], scalars: [0, 2, 1, 2] as [Int32])),
            // Zero-padded ids whose mask (Embedding maskZero) reaches the per-step loss and accuracy.
            ("masked", Lamina.withRandomSeed(4) { KerasWriterTests.maskedModel() }, Adam(learningRate: 1e-2), .sparseCategoricalCrossentropy,
             Tensor(shape: [2, 6], scalars: [3, 7, 1, 0, 0, 0, 5, 2, 9, 11, 4, 0] as [Int32]),
             Tensor(shape: [2, 6], scalars: [0, 2, 1, 2, 2, 2, 1, 1, 0, 2, 0, 1] as [Int32])),
            // The same ids through masked Bidirectional LSTM and GRU layers.
            ("masked_recurrent", Lamina.withRandomSeed(5) { KerasWriterTests.maskedRecurrentModel() }, Adam(learningRate: 1e-2),
             .sparseCategoricalCrossentropy, Tensor(shape: [2, 6], scalars: [3, 7, 1, 0, 0, 0, 5, 2, 9, 11, 4, 0] as [Int32]),
             Tensor(shape: [2], scalars: [2, 0] as [Int32])),
        ]
        for (name, model, optimizer, loss, x, y) in cases {
            model.compile(optimizer: optimizer, loss: loss, metrics: name == "sequence" ? [.accuracy, AUC(curve: .pr, name: "pr_auc")] : [.accuracy])
            for _ in 0..<2 { _ = try model.trainOnBatch(x, y) }
            try model.saveKeras(dir.appendingPathComponent("\(name).keras").path)
            try NumPy.save(x, to: dir.appendingPathComponent("\(name)_x.npy"))
            try NumPy.save(y, to: dir.appendingPathComponent("\(name)_y.npy"))
        }
        let process = Process()
        process.executableURL = URL(fileURLWithPath: python)
        process.arguments = [Self.script.path, dir.path] + cases.map(\.0)
        let errors = Pipe()
        process.standardError = errors
        try process.run()
        let log = String(decoding: errors.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        process.waitUntilExit()
        if process.terminationStatus == 77 {
            print("KerasReadsLaminaTests: skipped — \(python) has no Keras")
            return
        }
        try #require(process.terminationStatus == 0, "the Keras script failed (status \(process.terminationStatus)): \(log.suffix(3000))")
        let result = try #require(try JSONSerialization.jsonObject(with: Data(contentsOf: dir.appendingPathComponent("keras_result.json"))) as? [String: Any])
        print("KerasReadsLaminaTests: Keras \(result["keras"] ?? "?") loaded, predicted and trained on Lamina's files")
        for (name, model, _, _, x, y) in cases {
            let keras = try #require(result[name] as? [String: Any])
            let predicted = try NumPy.load(dir.appendingPathComponent("\(name)_keras_pred.npy"))
            let ours = try model.predict(x)
            #expect(maxError(ours, predicted) <= 1e-4, "\(name): predictions differ by \(maxError(ours, predicted))")
            #expect(keras["loadedIterations"] as? Int == 2, "\(name): Keras did not take Lamina's optimizer state")
            let (loss, metrics) = try model.trainOnBatch(x, y)
            let logs = try #require(keras["logs"] as? [String: Double])
            #expect(Set(logs.keys) == Set(metrics.keys).union(["loss"]), "\(name): Keras logs \(logs.keys.sorted())")
            #expect(Swift.abs(logs["loss", default: .nan] - loss) <= 1e-4, "\(name): step loss Keras \(logs["loss", default: .nan]) vs Lamina \(loss)")
            for (key, value) in metrics {
                #expect(Swift.abs(logs[key, default: .nan] - value) <= 1e-6, "\(name): \(key) Keras \(logs[key, default: .nan]) vs Lamina \(value)")
            }
            // Keras → Lamina: the weights and slots after Keras's step are Lamina's after its step.
            let back = try KerasFile.load(dir.appendingPathComponent("\(name)_back.keras"))
            for (i, (u, v)) in zip(model.getWeights(), back.getWeights()).enumerated() {
                #expect(maxError(u, v) <= 1e-4, "\(name) weight \(i) (\(model.weights[i].name)): \(maxError(u, v))")
            }
            let (sa, sb) = (try #require(model.kerasOptimizerState()), try #require(back.kerasOptimizerState()))
            #expect(sb.iterations == 3 && sa.slots.count == sb.slots.count)
            for (u, v) in zip(sa.slots, sb.slots) { #expect(maxError(u, v) <= 1e-4, "\(name) optimizer slot: \(maxError(u, v))") }
        }
    }
}

extension KerasReadsLaminaTests {
    /// A functional model whose LSTM starts from initial states given as inputs and returns its
    /// states (several outputs of one node): Keras loads Lamina's file and predicts the same.
    @Test func kerasLoadsRecurrentStateModels() throws {
        guard let python = Self.python else {
            print("KerasReadsLaminaTests: skipped — no Python with Keras (set LAMINA_PEERS_PYTHON)")
            return
        }
        let dir = try KerasWriterTests.directory()
        let model = Lamina.withRandomSeed(8) { () -> Model in
            let x = Input(shape: [5, 3], name: "x"), h0 = Input(shape: [4], name: "h0"), c0 = Input(shape: [4], name: "c0")
            let masked = Masking(maskValue: 0, name: "mask")(x)
            let outs = LSTM(4, returnSequences: true, returnState: true, name: "lstm")(masked, initialState: [h0, c0])
            let gru = GRU(4, returnState: true, name: "gru").callAll(outs[0])
            return Model(inputs: [x, h0, c0], outputs: [outs[1], outs[2], gru[0], gru[1]], name: "states")
        }
        try model.checkDefinition()
        var x = Tensor.randomNormal([2, 5, 3], seed: 1)
        x = x * Tensor(shape: [2, 5, 1], scalars: [1, 1, 1, 0, 0, 1, 1, 1, 1, 1] as [Float])
        let xs = [x, Tensor.randomNormal([2, 4], seed: 2), Tensor.randomNormal([2, 4], seed: 3)]
        try model.saveKeras(dir.appendingPathComponent("states.keras").path)
        for (i, t) in xs.enumerated() { try NumPy.save(t, to: dir.appendingPathComponent("states_x\(i).npy")) }
        let code = """
            import sys, os, numpy as np
            os.environ.setdefault("KERAS_BACKEND", "tensorflow")
            try:
                import keras
            except ImportError:
                sys.exit(77)
            d = sys.argv[1]
            m = keras.saving.load_model(os.path.join(d, "states.keras"))
            outs = m.predict([np.load(os.path.join(d, f"states_x{i}.npy")) for i in range(3)], verbose=0)
            for i, o in enumerate(outs):
                np.save(os.path.join(d, f"states_keras_{i}.npy"), np.asarray(o, dtype=np.float32))
            """
        let process = Process()
        process.executableURL = URL(fileURLWithPath: python)
        process.arguments = ["-c", code, dir.path]
        process.environment = ProcessInfo.processInfo.environment.merging(["TF_CPP_MIN_LOG_LEVEL": "3"]) { $1 }
        let errors = Pipe()
        process.standardError = errors
        try process.run()
        let log = String(decoding: errors.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        process.waitUntilExit()
        if process.terminationStatus == 77 { print("KerasReadsLaminaTests: skipped — \(python) has no Keras"); return }
        try #require(process.terminationStatus == 0, "Keras failed: \(log.suffix(3000))")
        let ours = try model.forward(xs, training: false)
        for (i, o) in ours.enumerated() {
            let theirs = try NumPy.load(dir.appendingPathComponent("states_keras_\(i).npy"))
            #expect(theirs.shape == o.shape && maxError(o, theirs) <= 1e-5, "output \(i): \(maxError(o, theirs))")
        }
    }
}
