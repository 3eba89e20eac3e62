import Foundation
import Testing
@testable import Lamina
@testable import LaminaData
@testable import LaminaKeras

/// `.keras` round trips of a model with MultiHeadAttention called with keyword arguments
/// (`attention_mask=`, `use_causal_mask=True`) over a padding mask from Embedding(maskZero:):
/// Keras reads Lamina's file and predicts the same; Lamina reads Keras's file and predicts the
/// same. Skipped without the peers' Python.
@Suite struct AttentionKerasTests {
    static let script = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("Fixtures/attention_round_trip.py")

    static func model() -> Model {
        let ids = Input(shape: [6], dtype: .int32, name: "ids"), mask = Input(shape: [6, 6], name: "mask")
        var x = Embedding(inputDim: 12, outputDim: 8, maskZero: true, name: "emb")(ids)
        let a = MultiHeadAttention(numHeads: 2, keyDim: 4, name: "mha")(x, x, attentionMask: mask, useCausalMask: true)
        x = LayerNormalization(name: "ln")(Add(name: "res")([x, a]))
        return Model(inputs: [ids, mask], outputs: Dense(3, activation: .softmax, name: "probs")(x))
    }

    static let ids = Tensor(shape: [3, 6], scalars: [3, 7, 1, 0, 0, 0, 5, 2, 9, 11, 4, 6, 8, 0, 0, 0, 0, 0] as [Int32])
    static let mask = Tensor(shape: [3, 6, 6], scalars: (0..<108).map { Float(($0 * 7) % 5 == 0 ? 0 : 1) })

    static func maxError(_ a: Tensor, _ b: Tensor) -> Double {
        guard a.shape == b.shape else { return .infinity }
        return zip(a.scalarsAsDouble(), b.scalarsAsDouble()).map { Swift.abs($0 - $1) }.max() ?? .infinity
    }

    /// Lamina's own round trip (no Python): the functional config keeps the keyword arguments.
    @Test func laminaRoundTripKeepsKeywordArguments() throws {
        let model = Lamina.withRandomSeed(3) { Self.model() }
        let dir = try KerasWriterTests.directory()
        let path = dir.appendingPathComponent("m.keras").path
        try model.saveKeras(path)
        let back = try KerasFile.load(URL(fileURLWithPath: path))
        let x = [Self.ids.cast(to: .float32), Self.mask]
        #expect(Self.maxError(try model.predict(x)[0], try back.predict(x)[0]) <= 1e-6)
        let config = try model.functionalConfig()
        let mha = try #require((config["layers"] as? [[String: Any]])?.first { $0["name"] as? String == "mha" })
        let node = try #require((mha["inbound_nodes"] as? [[String: Any]])?.first)
        let kwargs = try #require(node["kwargs"] as? [String: Any])
        #expect(kwargs["use_causal_mask"] as? Bool == true && (node["args"] as? [Any])?.count == 2)
        #expect((kwargs["attention_mask"] as? [String: Any])?["class_name"] as? String == "__keras_tensor__")
    }

    @Test func kerasAndLaminaReadEachOthersFiles() throws {
        guard let python = KerasReadsLaminaTests.python else {
            print("AttentionKerasTests: skipped — no Python with Keras (set LAMINA_PEERS_PYTHON)")
            return
        }
        let dir = try KerasWriterTests.directory()
        let model = Lamina.withRandomSeed(4) { Self.model() }
        try model.saveKeras(dir.appendingPathComponent("lamina_mha.keras").path)
        try NumPy.save(Self.ids, to: dir.appendingPathComponent("ids.npy"))
        try NumPy.save(Self.mask, to: dir.appendingPathComponent("mask.npy"))
        let process = Process()
        process.executableURL = URL(fileURLWithPath: python)
        process.arguments = [Self.script.path, dir.path]
        let errors = Pipe()
        process.standardError = errors
        try process.run()
        let log = String(decoding: errors.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        process.waitUntilExit()
        if process.terminationStatus == 77 { print("AttentionKerasTests: skipped — \(python) has no Keras"); return }
        try #require(process.terminationStatus == 0, "the Keras script failed: \(log.suffix(3000))")
        let x = [Self.ids.cast(to: .float32), Self.mask]
        let kerasPredicted = try NumPy.load(dir.appendingPathComponent("keras_pred.npy"))
        #expect(Self.maxError(try model.predict(x)[0], kerasPredicted) <= 1e-5, "Keras reading Lamina's file predicts differently")
        let loaded = try KerasFile.load(dir.appendingPathComponent("keras_mha.keras"))
        let kerasOwn = try NumPy.load(dir.appendingPathComponent("keras_own_pred.npy"))
        #expect(Self.maxError(try loaded.predict(x)[0], kerasOwn) <= 1e-5, "Lamina reading Keras's file predicts differently")
    }
}
