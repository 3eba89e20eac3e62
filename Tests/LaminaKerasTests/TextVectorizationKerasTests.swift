import Foundation
import Testing
@testable import Lamina
@testable import LaminaKeras

/// TextVectorization models through `.keras` files in both directions, with Python's Keras
/// (skipped, with a message, without the peers' environment): Keras loads Lamina's files and
/// vectorizes and predicts the same; Lamina loads Keras's files (vocabulary in `assets/`,
/// idf weights in the weights file) and predicts the same.
@Suite struct TextVectorizationKerasTests {
    static let texts = ["The cat sat on the mat.", "The dog ate my homework!", "Crème brûlée, CAFÉ and café",
                        "cat cat dog", "a b c d e f", "Emoji 🙂 twice 🙂", "", "unseen words here"]

    static func model(_ name: String) throws -> Model {
        Lamina.setRandomSeed(11)
        let input = Input(shape: [1], dtype: "string", name: "text")
        var x: SymbolicTensor
        switch name {
        case "int":
            let tv = TextVectorization(maxTokens: 30, outputSequenceLength: 6, name: "tv")
            try tv.adapt(texts)
            x = GlobalAveragePooling1D(name: "gap")(Embedding(inputDim: 30, outputDim: 4, name: "emb")(tv(input)))
        case "multi_hot":
            let tv = TextVectorization(ngrams: 2, outputMode: .multiHot, name: "tv")
            try tv.adapt(texts)
            x = tv(input)
        default:
            let tv = TextVectorization(maxTokens: 20, outputMode: .tfIdf, padToMaxTokens: true, name: "tv")
            try tv.adapt(texts)
            x = tv(input)
        }
        return Model(inputs: input, outputs: Dense(2, name: "out")(x))
    }

    func maxError(_ a: [Double], _ b: [Double]) -> Double {
        a.count == b.count ? zip(a, b).map { abs($0 - $1) }.max() ?? 0 : .infinity
    }

    @Test func roundTripsWithKeras() throws {
        let names = ["int", "multi_hot", "tf_idf"]
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("lamina-text-\(UUID().uuidString.prefix(8))")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        var models: [String: Model] = [:]
        for name in names {
            let model = try Self.model(name)
            try model.saveKeras(dir.appendingPathComponent("\(name).keras").path)
            // Lamina reads its own file back.
            let back = try KerasFile.load(dir.appendingPathComponent("\(name).keras"))
            #expect(maxError(try back.predict(texts: Self.texts).scalarsAsDouble(), try model.predict(texts: Self.texts).scalarsAsDouble()) == 0)
            models[name] = model
        }
        guard let python = KerasReadsLaminaTests.python else {
            print("TextVectorizationKerasTests: skipped — no Python with Keras (run ../shared/peers/setup.sh or set LAMINA_PEERS_PYTHON)")
            return
        }
        try JSONSerialization.data(withJSONObject: Self.texts).write(to: dir.appendingPathComponent("texts.json"))
        let process = Process()
        process.executableURL = URL(fileURLWithPath: python)
        process.arguments = [URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("Fixtures/keras_text_roundtrip.py").path,
                             dir.path] + names
        let errors = Pipe()
        process.standardError = errors
        try process.run()
        let log = String(decoding: errors.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        process.waitUntilExit()
        if process.terminationStatus == 77 { print("TextVectorizationKerasTests: skipped — \(python) has no Keras"); return }
        try #require(process.terminationStatus == 0, "the Keras script failed: \(log.suffix(3000))")
        let result = try #require(try JSONSerialization.jsonObject(with: Data(contentsOf: dir.appendingPathComponent("result.json"))) as? [String: Any])
        for name in names {
            let keras = try #require(result[name] as? [String: Any])
            let model = models[name]!
            let tv = try #require(model.layers.compactMap { $0 as? TextVectorization }.first)
            // Keras loads Lamina's file: same vocabulary, same vectors, same predictions.
            #expect(keras["vocabulary"] as? [String] == tv.getVocabulary(), "\(name)")
            let vectors = try tv(Self.texts).scalarsAsDouble()
            #expect(maxError(vectors, keras["vectorized"] as! [Double]) <= 1e-6, "\(name): vectors differ")
            let ours = try model.predict(texts: Self.texts).scalarsAsDouble()
            #expect(maxError(ours, keras["prediction"] as! [Double]) <= 1e-5, "\(name): predictions differ")
            // Lamina loads Keras's file: its adapted vocabulary (assets) and predictions.
            let theirs = try KerasFile.load(dir.appendingPathComponent("\(name)_keras.keras"))
            let theirTV = try #require(theirs.layers.compactMap { $0 as? TextVectorization }.first)
            #expect(theirTV.getVocabulary() == keras["keras_vocabulary"] as? [String], "\(name)")
            #expect(theirTV.getVocabulary() == tv.getVocabulary(), "\(name): Keras and Lamina adapt differently")
            let predicted = try theirs.predict(texts: Self.texts).scalarsAsDouble()
            #expect(maxError(predicted, keras["keras_prediction"] as! [Double]) <= 1e-5, "\(name): Keras's file predicts differently in Lamina")
        }
    }
}
