import Foundation
import Testing
@testable import Lamina

/// `Model.loadONNX`: Lamina → ONNX → Lamina predicts what the original predicts (an MLP, a
/// convnet, a ResNet-style functional model, an LSTM classifier, every exported activation and
/// merge), and files made elsewhere — a PyTorch convnet and LSTM classifier from
/// `torch.onnx.export` and an `onnx.helper` graph with ONNX's own LSTM — predict onnxruntime's
/// outputs, recorded by
/// Fixtures/generate_onnx_import_fixtures.py, within 1e-4.
@Suite struct ONNXImportTests {
    static let fixtures = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .appendingPathComponent("Fixtures/onnx")

    func temporaryFile(_ name: String) -> URL {
        FileManager.default.temporaryDirectory.appendingPathComponent("lamina-onnx-import-\(UUID().uuidString.prefix(8))-\(name).onnx")
    }

    func largestDifference(_ a: [Tensor], _ b: [Tensor]) -> Double {
        zip(a, b).map { x, y in
            x.shape == y.shape ? zip(x.scalarsAsDouble(), y.scalarsAsDouble()).map { abs($0 - $1) }.max() ?? 0 : .infinity
        }.max() ?? .infinity
    }

    @Test func exportedModelsComeBackWithTheirPredictions() throws {
        let ids = Tensor(shape: [4, 7], scalars: (0..<28).map { Int32(($0 * 7) % 20) })
        let cases: [(String, Model, [Tensor])] = Lamina.withRandomSeed(5) { [
            ("mlp", ONNXExportTests.mlp(), [Tensor.randomNormal([5, 6], seed: 1)]),
            ("convnet", ONNXExportTests.convnet(), [Tensor.randomNormal([3, 12, 12, 2], seed: 2)]),
            ("resnet", ONNXExportTests.resnet(), [Tensor.randomNormal([2, 8, 8, 3], seed: 3)]),
            ("lstm", ONNXExportTests.lstm(), [ids]),
            ("activations", ONNXExportTests.activations(), [Tensor.randomNormal([4, 5], seed: 4), Tensor.randomNormal([4, 5], seed: 5)]),
        ] }
        for (name, model, inputs) in cases {
            if model.outputCount == 1 {   // a few steps, so BatchNormalization's statistics leave 0 and 1
                model.compile(optimizer: Adam(learningRate: 0.01), loss: .meanSquaredError)
                let target = try model.predict(inputs)[0] * 0.5
                for _ in 0..<3 { _ = try model.trainOnBatch(inputs, [target]) }
            }
            let url = temporaryFile(name)
            defer { try? FileManager.default.removeItem(at: url) }
            try model.saveONNX(url.path)
            let loaded = try Model.loadONNX(url.path)
            #expect(loaded.inputShapes! == model.inputShapes!, "\(name)")
            let difference = largestDifference(try loaded.predict(inputs), try model.predict(inputs))
            print("ONNX round trip \(name): largest difference \(difference)")
            // BatchNormalization is folded into a scale and an offset on export: float rounding only.
            #expect(difference <= 1e-5, "\(name): \(difference)")
            #expect(loaded.countParams() > 0)
        }
    }

    /// The round trip keeps the layers a Keras user would write, not a graph interpreter: the
    /// MLP comes back as Dense, Activation and (for the folded BatchNormalization) an affine
    /// BatchNormalization, and trains.
    @Test func anImportedModelIsAnOrdinaryTrainableModel() throws {
        let model = Lamina.withRandomSeed(8) { ONNXExportTests.mlp() }
        let url = temporaryFile("mlp")
        defer { try? FileManager.default.removeItem(at: url) }
        try model.saveONNX(url.path)
        let loaded = try Model.loadONNX(url.path)
        let kinds = loaded.layers.map(\.className)
        #expect(kinds.filter { $0 == "Dense" }.count == 2)
        #expect(kinds.contains("BatchNormalization"))
        #expect(kinds.filter { $0 == "Activation" }.count == 2)   // relu and softmax
        let x = Tensor.randomNormal([16, 6], seed: 2), y = Tensor(shape: [16], scalars: (0..<16).map { Int32($0 % 3) })
        loaded.compile(optimizer: Adam(learningRate: 0.01), loss: .sparseCategoricalCrossentropy)
        let history = try loaded.fit(x, y, epochs: 5, batchSize: 16, verbose: 0).history["loss"]!
        #expect(history.last! < history.first!)
    }

    /// Files made by PyTorch and onnx.helper, against onnxruntime's outputs for the same inputs.
    @Test func filesFromPyTorchAndOnnxHelperPredictWhatOnnxruntimePredicts() throws {
        let data = try Data(contentsOf: Self.fixtures.appendingPathComponent("onnx_import_reference.json"))
        let reference = try #require(try JSONSerialization.jsonObject(with: data) as? [String: [String: Any]])
        func tensor(_ spec: Any?) throws -> Tensor {
            let s = try #require(spec as? [String: Any])
            let shape = try #require(s["shape"] as? [Int]), values = try #require(s["data"] as? [Double])
            return Tensor(shape: shape, scalars: values.map { Float($0) })
        }
        for name in ["torch_cnn", "helper_lstm", "torch_lstm"] {
            let entry = try #require(reference[name])
            let model = try Model.loadONNX(Self.fixtures.appendingPathComponent(try #require(entry["file"] as? String)).path)
            let inputs = try #require(entry["inputs"] as? [String: Any])
            let feeds: [Tensor]
            if name == "torch_cnn" {   // NCHW in the file; Lamina takes channels-last images
                feeds = [try tensor(inputs["image"]).permuted([0, 2, 3, 1])]
            } else if name == "helper_lstm" {   // time-major in the file; Lamina takes batch-major sequences
                feeds = [try tensor(inputs["sequence"]).permuted([1, 0, 2]), try tensor(inputs["extra"])]
            } else {                            // PyTorch's batch_first LSTM: as it is
                feeds = [try tensor(inputs["sequence"])]
            }
            let expected = try (try #require(entry["outputs"] as? [Any])).map { try tensor($0) }
            let difference = largestDifference(try model.predict(feeds), expected)
            print("ONNX import \(name): largest difference from onnxruntime \(difference)")
            #expect(difference <= 1e-4, "\(name): \(difference)")
        }
        // PyTorch's padding=1 on a stride-2 convolution is not TensorFlow's "same": a ZeroPadding2D.
        let cnn = try Model.loadONNX(Self.fixtures.appendingPathComponent("torch_cnn.onnx").path)
        #expect(cnn.layers.contains { $0 is ZeroPadding2D })
        #expect(cnn.inputs[0].shape == [8, 8, 3])
    }

    /// A ModelProto written by hand: one node of `op`, input x [batch, 4], output y.
    func model(op: String, node: String) -> [UInt8] {
        func valueInfo(_ w: inout ProtobufWriter, _ name: String) {
            w.string(1, name)
            w.message(2) { $0.message(1) { t in t.int(1, 1); t.message(2) { s in s.message(1) { $0.string(2, "batch") }; s.message(1) { $0.int(1, 4) } } } }
        }
        var graph = ProtobufWriter()
        graph.message(1) { n in n.string(1, "x"); n.string(2, "y"); n.string(3, node); n.string(4, op) }
        graph.string(2, "g")
        graph.message(11) { valueInfo(&$0, "x") }
        graph.message(12) { valueInfo(&$0, "y") }
        var m = ProtobufWriter()
        m.int(1, 8)
        m.message(7) { $0.raw(graph.bytes) }
        m.message(8) { $0.string(1, ""); $0.int(2, 17) }
        return m.bytes
    }

    @Test func unsupportedOperatorsAndBrokenFilesAreErrors() throws {
        // The hand-made file itself reads: with Relu it is a model.
        let relu = try Model.loadONNX(bytes: model(op: "Relu", node: "act"))
        #expect(try relu.predict(Tensor(shape: [1, 4], scalars: [-1, 2, -3, 4] as [Float])).asArray(Float.self) == [0, 2, 0, 4])
        #expect { try Model.loadONNX(bytes: model(op: "Hardmax", node: "odd_one")) } throws: {
            ($0 as? LaminaError)?.message.contains("node 'odd_one' (Hardmax)") == true
        }
        #expect { try Model.loadONNX(bytes: model(op: "Erf", node: "lonely_erf")) } throws: {
            ($0 as? LaminaError)?.message.contains("node 'lonely_erf' (Erf)") == true
        }
        let good = model(op: "Relu", node: "act")
        for broken in [Array(good.dropLast(3)), [0xFF], [0x0A, 0x05, 0x01], Array(good.prefix(good.count / 2))] {
            #expect(throws: LaminaError.self) { try Model.loadONNX(bytes: broken) }
        }
        #expect(throws: LaminaError.self) { try Model.loadONNX("/nonexistent/model.onnx") }
    }

    /// Damaged files never crash the process: 900 copies of exported models with random bytes
    /// changed each load as a model or throw a `LaminaError`.
    @Test func damagedFilesAreErrorsNotCrashes() throws {
        let models: [Model] = Lamina.withRandomSeed(9) { [ONNXExportTests.mlp(), ONNXExportTests.convnet(), ONNXExportTests.lstm()] }
        var rng = RandomGenerator(seed: 4)
        var (loaded, refused) = (0, 0)
        for model in models {
            let url = temporaryFile("fuzz")
            defer { try? FileManager.default.removeItem(at: url) }
            try model.saveONNX(url.path)
            let original = [UInt8](try Data(contentsOf: url))
            for _ in 0..<900 / models.count {
                var bytes = original
                for _ in 0..<Int(1 + rng.next() % 4) {
                    bytes[Int(rng.next() % UInt64(bytes.count))] = UInt8(truncatingIfNeeded: rng.next())
                }
                do { _ = try Model.loadONNX(bytes: bytes); loaded += 1 } catch is LaminaError { refused += 1 }
            }
        }
        #expect(loaded + refused == 900 && refused > 0)
    }

    /// The decoder reads what the encoder writes: varints (multi-byte, negative), fixed32 and
    /// nested messages, and packed repeated integers.
    @Test func protobufReaderReadsTheWireFormat() throws {
        var w = ProtobufWriter()
        w.int(1, 150)
        w.int(2, -1)
        w.float(3, 1.5)
        w.message(4) { $0.string(1, "hi") }
        var r = ProtobufReader(w.bytes[...], what: "test")
        var fields: [(Int, ProtobufReader.Value)] = []
        while let f = try r.next() { fields.append(f) }
        #expect(fields.map(\.0) == [1, 2, 3, 4])
        #expect(fields[0].1.int == 150 && fields[1].1.int == -1 && fields[2].1.float == 1.5)
        var inner = ProtobufReader(try #require(fields[3].1.bytes), what: "inner")
        #expect(try inner.next()?.value.string == "hi")
        #expect(try ONNXTensorProto.ints(.bytes([0x03, 0x8E, 0x02, 0x9E, 0xA7, 0x05][...]), "packed") == [3, 270, 86942])
    }
}
