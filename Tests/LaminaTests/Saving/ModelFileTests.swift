import Foundation
import Testing
import LaminaTestSupport
@testable import Lamina

@Suite struct ModelFileTests {
    /// Every layer type Lamina has, in one model.
    static func everyLayer() -> Sequential {
        Sequential([
            Input(shape: [8, 8, 1]),
            Conv2D(4, kernelSize: 3, padding: .same, activation: .relu, kernelInitializer: .heNormal, name: "conv"),
            BatchNormalization(momentum: 0.9), MaxPooling2D(poolSize: 2), UpSampling2D(size: (2, 1)),
            AveragePooling2D(poolSize: (2, 1), strides: (2, 1)), Reshape([16, 4]),
            SimpleRNN(3, returnSequences: true), LSTM(5, recurrentInitializer: .randomNormal(stddev: 0.1)),
            Dropout(0.25, seed: 11), Dense(6, kernelInitializer: .randomUniform(minval: -0.1, maxval: 0.2)),
            LeakyReLU(negativeSlope: 0.2), Flatten(), Dense(3, useBias: false), Activation(.softmax),
        ])
    }

    func data(_ n: Int, seed: UInt64) -> (Tensor, Tensor) {
        let x = Tensor.randomNormal([n, 8, 8, 1], seed: seed)
        let y = Tensor(shape: [n], scalars: (0..<n).map { Int32($0 % 3) })
        return (x, y)
    }

    @Test func roundTripKeepsEveryLayerWeightsAndPredictions() throws {
        let (x, y) = data(24, seed: 1)
        let a = Lamina.withRandomSeed(2) { Self.everyLayer() }
        a.compile(optimizer: Adam(learningRate: 3e-3, amsgrad: true), loss: .sparseCategoricalCrossentropy, metrics: [.accuracy])
        try Lamina.withRandomSeed(3) { _ = try a.fit(x, y, epochs: 2, batchSize: 8, verbose: 0) }

        let url = temporaryDirectory().appendingPathComponent("model.lamina")
        try a.save(url.path)
        let b = try Lamina.withRandomSeed(4) { try Sequential.load(url.path) }
        #expect(b.layers.map(\.className) == a.layers.map(\.className))
        #expect(b.layers.map(\.name) == a.layers.map(\.name))
        #expect(b.countParams() == a.countParams())
        #expect(b.weights.map(\.name) == a.weights.map(\.name))
        for (u, v) in zip(a.getWeights(), b.getWeights()) { #expect(u.asArray(Float.self) == v.asArray(Float.self)) }
        #expect(try a.predict(x).asArray(Float.self) == b.predict(x).asArray(Float.self))
        // Architecture arguments, compile settings and optimizer state come back too.
        #expect(try ModelFile.json(b.serialize()) == ModelFile.json(a.serialize()))
        let (bo, ao) = (try #require(b.optimizer as? Adam), try #require(a.optimizer as? Adam))
        #expect(bo.amsgrad && bo.learningRate == 3e-3 && bo.iterations == ao.iterations && ao.iterations == 6)
        #expect(b.loss is SparseCategoricalCrossentropy && b.compiledMetrics.map(\.name) == ["accuracy"])
        #expect(b.epoch == 2)
        for v in a.variablesToTrain {
            let w = try #require(b.variablesToTrain.first { $0.name == v.name })
            let (sa, sb) = (try #require(ao.slots(for: v)), try #require(bo.slots(for: w)))
            #expect(sa.count == 3 && sa.map { $0.asArray(Float.self) } == sb.map { $0.asArray(Float.self) })
        }
        let (ga, gb) = (try #require((a.layers[8] as? Dropout)?.generator), try #require((b.layers[8] as? Dropout)?.generator))
        #expect(ga.state == gb.state)
    }

    /// Training two epochs, saving, loading and training two more gives the same losses as
    /// four epochs in one go: weights, optimizer slots and iterations, the shuffle order and
    /// the dropout masks (the default generator's state) all continue.
    @Test(arguments: ["adam", "sgd-nesterov", "rmsprop"])
    func resumedTrainingMatchesAnUninterruptedRun(_ optimizerName: String) throws {
        func makeOptimizer() -> Optimizer {
            switch optimizerName {
            case "adam": Adam(learningRate: 0.01)
            case "sgd-nesterov": SGD(learningRate: 0.05, momentum: 0.9, nesterov: true)
            default: RMSprop(learningRate: 0.005)
            }
        }
        func make() -> Sequential {
            let m = Sequential([Dense(16, activation: .relu, inputShape: [4]), Dropout(0.3), BatchNormalization(),
                                Dense(3, activation: .softmax)])
            m.compile(optimizer: makeOptimizer(), loss: .sparseCategoricalCrossentropy, metrics: [.accuracy])
            return m
        }
        let x = Tensor.randomNormal([60, 4], seed: 5)
        let y = Tensor(shape: [60], scalars: (0..<60).map { Int32(($0 * 7) % 3) })

        let whole = try Lamina.withRandomSeed(9) {
            try make().fit(x, y, epochs: 4, batchSize: 16, verbose: 0, validationSplit: 0.2).history
        }
        let url = temporaryDirectory().appendingPathComponent("half.lamina")
        let first = try Lamina.withRandomSeed(9) {
            let m = make()
            let h = try m.fit(x, y, epochs: 2, batchSize: 16, verbose: 0, validationSplit: 0.2).history
            try m.save(url.path)
            return h
        }
        let second = try Lamina.withRandomSeed(12345) {   // another stream: load must restore the saved one
            let m = try Sequential.load(url.path)
            #expect(m.epoch == 2)
            return try m.fit(x, y, epochs: 4, batchSize: 16, verbose: 0, validationSplit: 0.2, initialEpoch: m.epoch).history
        }
        #expect(first["loss"]! + second["loss"]! == whole["loss"]!)
        #expect(first["val_loss"]! + second["val_loss"]! == whole["val_loss"]!)
        #expect(first["accuracy"]! + second["accuracy"]! == whole["accuracy"]!)
        #expect(Set(whole["loss"]!).count == 4)   // the run did train
    }

    @Test func nestedModelsAndFrozenLayersRoundTrip() throws {
        // The Keras 2 GAN recipe: the discriminator is frozen inside the combined model only.
        let (g, d) = Lamina.withRandomSeed(1) {
            (Sequential([Dense(8, inputShape: [2]), LeakyReLU(negativeSlope: 0.2), Dense(4, activation: .tanh)], name: "generator"),
             Sequential([Dense(8, inputShape: [4]), Dense(1, activation: .sigmoid)], name: "discriminator"))
        }
        d.compile(optimizer: Adam(learningRate: 2e-4, beta1: 0.5), loss: .binaryCrossentropy)
        d.trainable = false
        let gan = Sequential([g, d], name: "gan")
        gan.compile(optimizer: Adam(learningRate: 2e-4, beta1: 0.5), loss: .binaryCrossentropy)
        d.trainable = true
        let z = Tensor.randomNormal([16, 2], seed: 2)
        try gan.trainOnBatch(z, .ones([16, 1]))

        let url = temporaryDirectory().appendingPathComponent("gan.lamina")
        try gan.save(to: url)
        let loaded = try Sequential.load(from: url, restoreRandomState: false)
        #expect(loaded.layers.map(\.name) == ["generator", "discriminator"])
        #expect(try loaded.predict(z).asArray(Float.self) == gan.predict(z).asArray(Float.self))
        // Still frozen where it was at compile: a step changes the generator only.
        let before = loaded.layers[1].getWeights().map { $0.asArray(Float.self) }
        let gBefore = loaded.layers[0].getWeights().map { $0.asArray(Float.self) }
        try loaded.trainOnBatch(z, .ones([16, 1]))
        #expect(loaded.layers[1].getWeights().map { $0.asArray(Float.self) } == before)
        #expect(loaded.layers[0].getWeights().map { $0.asArray(Float.self) } != gBefore)
        #expect(loaded.layers[1].trainable)
    }

    @Test func float64ModelsRoundTripInFloat64() throws {
        let m = Sequential([Dense(3, activation: .tanh), Dense(1)])   // built by float64 data
        let x = Tensor(shape: [4, 2], scalars: [0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8] as [Double])
        m.compile(optimizer: .sgd, loss: .mse)
        try m.fit(x, Tensor(shape: [4, 1], scalars: [1, 2, 3, 4] as [Double]), epochs: 1, verbose: 0)
        let url = temporaryDirectory().appendingPathComponent("f64.lamina")
        try m.save(to: url)
        let loaded = try Sequential.load(from: url, restoreRandomState: false)
        #expect(loaded.weights.allSatisfy { $0.value.dtype == .float64 })
        #expect(try loaded.predict(x).asArray(Double.self) == m.predict(x).asArray(Double.self))
    }

    // MARK: - Files that do not fit

    /// A model file whose config is replaced by `config`.
    func file(withConfig config: String) throws -> [UInt8] {
        let m = Sequential([Dense(2, inputShape: [3], name: "d")])
        var (tensors, metadata) = try ModelFile.contents(of: m)
        metadata["config"] = config
        _ = tensors
        return [UInt8](try Safetensors.encode(tensors, metadata: metadata))
    }

    /// The error message loading a file with this config gives, or nil when it loads.
    func loadError(_ config: String) throws -> String? {
        let bytes = try file(withConfig: config)
        do {
            _ = try Sequential.load(bytes: bytes, name: "m.lamina", restoreRandomState: false)
            return nil
        } catch let error as LaminaError {
            return error.message
        }
    }

    @Test func configsThatLaminaCannotHonourAreNamed() throws {
        func dense(_ extra: String) -> String {
            #"{"class_name":"Sequential","config":{"name":"s","layers":[{"class_name":"InputLayer","config":{"batch_shape":[null,3]}},"#
                + #"{"class_name":"Dense","config":{"name":"d","units":2\#(extra)}}]}}"#
        }
        #expect(try loadError(dense("")) == nil)
        #expect(try loadError(dense(#","kernel_constraint":{"class_name":"MaxNorm","config":{"max_value":2}}"#))?
            .contains("Dense 'd': option not supported by Lamina: kernel_constraint=") == true)
        #expect(try loadError(dense(#","kernel_regularizer":{"class_name":"L3","config":{"l3":0.01}}"#))?
            .contains("'kernel_regularizer': unknown regularizer 'L3'") == true)
        #expect(try loadError(dense(#","kernel_regularizer":null,"bias_constraint":null"#)) == nil)
        #expect(try loadError(dense(#","activation":"swoosh""#))?.contains("unknown activation 'swoosh'") == true)
        #expect(try loadError(dense(#","kernel_initializer":{"class_name":"TruncatedNormal","config":{}}"#))?
            .contains("unknown initializer 'TruncatedNormal'") == true)
        let units = try loadError(#"{"class_name":"Sequential","config":{"layers":[{"class_name":"Dense","config":{"name":"d","units":-3}}]}}"#)
        #expect(units?.contains("Dense 'd': 'units' must be an integer ≥ 1, got -3") == true)
        let unknown = try loadError(#"{"class_name":"Sequential","config":{"layers":[{"class_name":"Conv3D","config":{}}]}}"#)
        #expect(unknown?.contains("unknown layer class 'Conv3D'") == true)
        let grouped = try loadError(#"{"class_name":"Sequential","config":{"layers":[{"class_name":"Conv2D","config":{"filters":2,"kernel_size":3,"groups":0}}]}}"#)
        #expect(grouped?.contains("'groups' must be an integer ≥ 1") == true, "\(grouped ?? "")")
        #expect(try loadError("[1, 2")?.contains("metadata 'config' is not a JSON object") == true)
        // Shapes that do not chain are an error, not a crash.
        let chain = try loadError(#"{"class_name":"Sequential","config":{"layers":[{"class_name":"InputLayer","config":{"batch_shape":[null,3]}},{"class_name":"Conv2D","config":{"filters":2,"kernel_size":3}}]}}"#)
        #expect(chain?.contains("expects [*, height, width, channels]") == true)
        // Sizes the file cannot supply are refused before anything is allocated.
        let huge = try loadError(#"{"class_name":"Sequential","config":{"layers":[{"class_name":"InputLayer","config":{"batch_shape":[null,3000000]}},{"class_name":"Dense","config":{"units":4000000}},{"class_name":"Dense","config":{"units":4000000}}]}}"#)
        #expect(huge?.contains("would hold 28000008000000 weight values, more than this file can supply (8)") == true, "\(huge ?? "")")
    }

    @Test func weightsFilesAndForeignFilesAreToldApart() throws {
        let dir = temporaryDirectory()
        let m = Sequential([Dense(2, inputShape: [3])])
        try m.saveWeights(to: dir.appendingPathComponent("w.safetensors"))
        let e = #expect(throws: LaminaError.self) { try Sequential.load(from: dir.appendingPathComponent("w.safetensors"), restoreRandomState: false) }
        #expect(e?.message.contains("holds weights only") == true)
        let python = #expect(throws: LaminaError.self) { try Sequential.load(from: dataFixtures.appendingPathComponent("python.safetensors"), restoreRandomState: false) }
        #expect(python?.message.contains("not a Lamina model file") == true)
    }

    @Test func damagedModelFilesThrowInsteadOfCrashing() throws {
        let m = Lamina.withRandomSeed(1) { Self.everyLayer() }
        m.compile(optimizer: .adam, loss: .sparseCategoricalCrossentropy)
        let (x, y) = data(4, seed: 2)
        try m.trainOnBatch(x, y)
        let bytes = try Lamina.withRandomSeed(3) { () throws -> [UInt8] in
            let (t, meta) = try ModelFile.contents(of: m)
            return [UInt8](try Safetensors.encode(t, metadata: meta))
        }
        _ = try Sequential.load(bytes: bytes, restoreRandomState: false)
        if ProcessInfo.processInfo.environment["LAMINA_WRITE_FIXTURES"] != nil {   // a seed for Fuzz/run.sh
            let seeds = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("../../../Fuzz/corpus/model")
            try AtomicFile.write(Data(bytes), to: seeds.appendingPathComponent("every_layer.lamina").standardized)
        }
        var rng = RandomGenerator(seed: 4)
        var loaded = 0, rejected = 0
        let headerLength = Int(bytes[0]) | Int(bytes[1]) << 8 | Int(bytes[2]) << 16
        for _ in 0..<400 {   // flips in the JSON header: config, training state, offsets
            var damaged = bytes
            let at = 8 + Int(rng.next() % UInt64(headerLength))
            damaged[at] ^= UInt8(1 << (rng.next() % 7))
            do { _ = try Sequential.load(bytes: damaged, restoreRandomState: false); loaded += 1 } catch is LaminaError { rejected += 1 }
        }
        #expect(loaded + rejected == 400 && rejected > 200)
    }
}

/// Python's `safetensors` reads a Lamina model file: the test rebuilds the checked-in file
/// byte for byte, and compares what Python read from it (Fixtures/read_lamina_file.py).
@Suite struct PythonReadsLaminaFilesTests {
    static func model() throws -> (Sequential, [UInt8]) {
        try Lamina.withRandomSeed(21) {
            let m = Sequential([Conv2D(2, kernelSize: 2, inputShape: [3, 3, 1], name: "conv"), Flatten(name: "flat"),
                                Dense(3, activation: .softmax, name: "out")], name: "fixture")   // no auto names: they depend on other tests
            try m.setWeights(m.weights.enumerated().map { i, v in
                Tensor(shape: v.shape, scalars: (0..<v.value.count).map { Float(i + 1) * 0.125 - Float($0) / 64 })
            })
            m.compile(optimizer: SGD(learningRate: 0.1, momentum: 0.5), loss: .sparseCategoricalCrossentropy, metrics: [.accuracy])
            m.epoch = 3
            let (t, meta) = try ModelFile.contents(of: m)
            return (m, [UInt8](try Safetensors.encode(t, metadata: meta)))
        }
    }

    @Test func pythonReadsALaminaModelFile() throws {
        let (model, bytes) = try Self.model()
        let url = dataFixtures.appendingPathComponent("lamina_model.safetensors")
        if ProcessInfo.processInfo.environment["LAMINA_WRITE_FIXTURES"] != nil { try AtomicFile.write(Data(bytes), to: url) }
        #expect(try [UInt8](Data(contentsOf: url)) == bytes, "Lamina's output changed: rerun with LAMINA_WRITE_FIXTURES=1 and read_lamina_file.py")

        struct Seen: Decodable {
            struct T: Decodable { let dtype: String; let shape: [Int]; let values: [Double] }
            let tensors: [String: T]
            let metadata_keys: [String], layer_classes: [String], optimizer: String, epoch: Int
        }
        let seen = try JSONDecoder().decode(Seen.self, from: Data(contentsOf: dataFixtures.appendingPathComponent("lamina_model.python.json")))
        #expect(seen.tensors.keys.sorted() == model.weights.map(\.name).sorted())
        for v in model.weights {
            let t = try #require(seen.tensors[v.name])
            #expect(t.dtype == "float32" && t.shape == v.shape && t.values.map { Float($0) } == v.value.asArray(Float.self))
        }
        #expect(seen.metadata_keys == ["config", "format", "format_version", "training_state"])
        #expect(seen.layer_classes == ["InputLayer", "Conv2D", "Flatten", "Dense"] && seen.optimizer == "SGD" && seen.epoch == 3)
    }
}
