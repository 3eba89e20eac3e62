import Foundation
import Testing
@testable import Lamina

/// `saveONNX`: onnxruntime (PyPI) loads the exported files, onnx.checker accepts them, and they
/// predict Lamina's outputs within 1e-4 — an MLP, a convnet, a ResNet-style functional model
/// with a nested Sequential, an LSTM classifier over embedded ids, and every translated
/// activation and merge layer (Fixtures/onnx_predict.py; skipped with a message without a
/// Python that has onnxruntime: `pip install onnxruntime onnx` in ../shared/peers' venv).
@Suite struct ONNXExportTests {
    static var python: String? {
        let candidate = ProcessInfo.processInfo.environment["LAMINA_PEERS_PYTHON"] ?? "/root/peers-venv/bin/python"
        guard FileManager.default.isExecutableFile(atPath: candidate) else { return nil }
        let probe = Process()
        probe.executableURL = URL(fileURLWithPath: candidate)
        probe.arguments = ["-c", "import onnxruntime, onnx"]
        probe.standardError = FileHandle.nullDevice
        guard (try? probe.run()) != nil else { return nil }
        probe.waitUntilExit()
        return probe.terminationStatus == 0 ? candidate : nil
    }
    static let script = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .appendingPathComponent("Fixtures/onnx_predict.py")

    static func mlp() -> Model {
        Sequential([Input(shape: [6]), Dense(8, activation: .relu), Dropout(0.3), BatchNormalization(), Dense(3, activation: .softmax)])
    }
    static func convnet() -> Model {
        Sequential([Input(shape: [12, 12, 2]), Conv2D(4, kernelSize: 3, padding: .same, activation: .relu), MaxPooling2D(poolSize: 2),
                    Conv2D(6, kernelSize: 3, strides: 2, padding: .same, dilationRate: 1, activation: .tanh),
                    AveragePooling2D(poolSize: 2, strides: 1, padding: .same), BatchNormalization(),
                    Conv2D(4, kernelSize: 2, dilationRate: 2), Flatten(), Dense(5, activation: .softmax)])
    }
    static func resnet() -> Model {
        let input = Input(shape: [8, 8, 3], name: "image")
        var x = Conv2D(8, kernelSize: 3, padding: .same, name: "stem")(input)
        x = ReLU()(BatchNormalization(name: "stem_bn")(x))
        let shortcut = x
        var y = Conv2D(8, kernelSize: 3, padding: .same, useBias: false, name: "block_conv1")(x)
        y = Activation(.relu)(BatchNormalization(name: "block_bn1")(y))
        y = Conv2D(8, kernelSize: 3, padding: .same, name: "block_conv2")(y)
        x = ReLU(maxValue: 6)(Add()([y, shortcut]))
        let head = Sequential([Dense(6, activation: .gelu), Dense(4, activation: .softmax)], name: "head")
        return Model(inputs: input, outputs: head(GlobalAveragePooling2D()(x)), name: "resnet_block")
    }
    static func lstm() -> Model {
        let ids = Input(shape: [7], dtype: .int32, name: "ids")
        var x = Embedding(inputDim: 20, outputDim: 5)(ids)
        x = LSTM(6, returnSequences: true)(x)
        x = LSTM(4)(x)
        return Model(inputs: ids, outputs: Dense(1, activation: .sigmoid)(x), name: "lstm_classifier")
    }
    static func activations() -> Model {
        let a = Input(shape: [5], name: "a"), b = Input(shape: [5], name: "b")
        let kinds: [ActivationFunction.Kind] = [.linear, .relu, .sigmoid, .tanh, .elu, .selu, .softplus, .softsign, .leakyRelu,
                                                 .gelu, .swish, .relu6, .hardSigmoid, .hardSilu, .exponential, .logSoftmax]
        var parts = kinds.map { Dense(5, activation: ActivationFunction($0))(a) }
        parts += [Subtract()([a, b]), Multiply()([a, b]), Average()([a, b, a]), Maximum()([a, b]), Minimum()([a, b]),
                  LeakyReLU(negativeSlope: 0.1)(b), ReLU(maxValue: 0.5, negativeSlope: 0.05)(b)]
        let joined = Concatenate()(parts)
        let reshaped = Flatten()(Reshape([parts.count, 5])(joined))
        return Model(inputs: [a, b], outputs: [Dense(2)(reshaped), Activation(.softmax)(b)], name: "activations")
    }

    /// Trains a step or two (BatchNormalization's statistics move off 0 and 1), exports, and
    /// compares onnxruntime's outputs with predict's.
    func check(_ name: String, _ model: Model, inputs: [Tensor], python: String) throws -> Double {
        if model.outputCount == 1 {
            model.compile(optimizer: Adam(learningRate: 0.01), loss: .meanSquaredError)
            let target = try model.predict(inputs)[0] * 0.5
            for _ in 0..<3 { _ = try model.trainOnBatch(inputs, [target]) }
        }
        let expected = try model.predict(inputs)
        let url = FileManager.default.temporaryDirectory.appendingPathComponent("lamina-onnx-\(UUID().uuidString.prefix(8))-\(name).onnx")
        defer { try? FileManager.default.removeItem(at: url) }
        try model.saveONNX(url.path)
        let request: [String: Any] = ["model": url.path, "inputs": inputs.map { t -> [String: Any] in
            ["shape": t.shape, "dtype": t.dtype == .int32 ? "int32" : "float32", "data": t.scalarsAsDouble()]
        }]
        let process = Process()
        process.executableURL = URL(fileURLWithPath: python)
        process.arguments = [Self.script.path]
        let input = Pipe(), output = Pipe(), errors = Pipe()
        (process.standardInput, process.standardOutput, process.standardError) = (input, output, errors)
        try process.run()
        input.fileHandleForWriting.write(try JSONSerialization.data(withJSONObject: request))
        try input.fileHandleForWriting.close()
        let data = output.fileHandleForReading.readDataToEndOfFile()
        let message = String(decoding: errors.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        process.waitUntilExit()
        #expect(process.terminationStatus == 0, "\(name): \(message.prefix(1500))")
        let reply = try #require(try JSONSerialization.jsonObject(with: data) as? [String: Any])
        #expect(reply["opset"] as? Int == 17)
        let outputs = try #require(reply["outputs"] as? [[String: Any]])
        #expect(outputs.count == expected.count)
        var worst = 0.0
        for (got, want) in zip(outputs, expected) {
            #expect(got["shape"] as? [Int] == want.shape, "\(name)")
            let values = try #require(got["data"] as? [Double])
            worst = max(worst, zip(values, want.scalarsAsDouble()).map { abs($0 - $1) }.max() ?? .infinity)
        }
        return worst
    }

    @Test func onnxruntimePredictsWhatLaminaPredicts() throws {
        guard let python = Self.python else {
            print("ONNXExportTests: skipped — no Python with onnxruntime and onnx (pip install onnxruntime onnx; or set LAMINA_PEERS_PYTHON)")
            return
        }
        let ids = Tensor(shape: [4, 7], scalars: (0..<28).map { Int32(($0 * 7) % 20) })
        let cases: [(String, Model, [Tensor])] = Lamina.withRandomSeed(3) { [
            ("mlp", Self.mlp(), [Tensor.randomNormal([5, 6], seed: 1)]),
            ("convnet", Self.convnet(), [Tensor.randomNormal([3, 12, 12, 2], seed: 2)]),
            ("resnet", Self.resnet(), [Tensor.randomNormal([2, 8, 8, 3], seed: 3)]),
            ("lstm", Self.lstm(), [ids]),
            ("activations", Self.activations(), [Tensor.randomNormal([4, 5], seed: 4), Tensor.randomNormal([4, 5], seed: 5)]),
        ] }
        for (name, model, inputs) in cases {
            let error = try check(name, model, inputs: inputs, python: python)
            print("ONNX export \(name): largest difference from onnxruntime \(error)")
            #expect(error <= 1e-4, "\(name): \(error)")
        }
    }

    @Test func untranslatableModelsAreErrorsNamingTheLayer() throws {
        let model = Sequential([Input(shape: [4, 3]), GRU(2)])
        let url = FileManager.default.temporaryDirectory.appendingPathComponent("lamina-onnx-gru.onnx")
        #expect { try model.saveONNX(url.path) } throws: { ($0 as? LaminaError)?.message.contains("(GRU) has no ONNX translation") == true }
        #expect(!FileManager.default.fileExists(atPath: url.path))
        final class Sub: Model {
            let dense = Dense(2)
            override func call(_ x: Tensor, training: Bool) throws -> Tensor { try dense(x) }
        }
        #expect { try Sub().saveONNX(url.path) } throws: { ($0 as? LaminaError)?.message.contains("subclassed") == true }
    }

    /// The wire format of the encoder: varints (multi-byte and negative), fixed32 floats and
    /// nested length-delimited messages, byte for byte as protobuf's specification encodes them.
    @Test func protobufWireFormat() {
        var w = ProtobufWriter()
        w.int(1, 150)                                  // 08 96 01 (the specification's example)
        w.int(2, -1)                                   // 10 + ten bytes
        w.float(3, 1.5)                                // 1d 00 00 c0 3f
        w.message(4) { $0.string(1, "hi") }            // 22 04 0a 02 68 69
        #expect(w.bytes == [0x08, 0x96, 0x01, 0x10] + [UInt8](repeating: 0xff, count: 9) + [0x01,
                            0x1d, 0x00, 0x00, 0xc0, 0x3f, 0x22, 0x04, 0x0a, 0x02, 0x68, 0x69])
    }
}
