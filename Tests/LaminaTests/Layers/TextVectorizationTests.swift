import Foundation
import Testing
import LaminaTestSupport
@testable import Lamina
@testable import LaminaData

/// TextVectorization against Keras 3 (Fixtures/generate_textvectorization_fixtures.py): the
/// vocabulary `adapt` learns (order and ties), idf weights and outputs for every output mode,
/// ngrams, maxTokens, outputSequenceLength and padToMaxTokens, on a corpus with punctuation,
/// capitals, Unicode and frequency ties; then models that train from strings and save.
@Suite struct TextVectorizationTests {
    struct Reference: Decodable {
        struct Case: Decodable {
            let name: String
            let vocabulary: [String]
            let vocabularySize: Int
            let output: Fixture.T
            let idfWeights: Fixture.T?
            let configKeys: [String]
        }
        struct Given: Decodable {
            let vocabularyIn: [String], idfIn: [Double], texts: [String], vocabulary: [String]
            let idfWeights: Fixture.T, output: Fixture.T
        }
        let corpus: [String], unseen: [String]
        let cases: [Case]
        let given: Given
        static let url = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .appendingPathComponent("Fixtures/textvectorization_reference.json")
        static let shared: Reference = {
            let decoder = JSONDecoder()
            decoder.keyDecodingStrategy = .convertFromSnakeCase
            return try! decoder.decode(Reference.self, from: Data(contentsOf: url))
        }()
        /// The Keras arguments of each case, as the generator wrote them.
        static func kwargs(_ name: String) throws -> [String: Any] {
            let json = try JSONSerialization.jsonObject(with: Data(contentsOf: url)) as! [String: Any]
            let cases = json["cases"] as! [[String: Any]]
            return cases.first { $0["name"] as? String == name }!["kwargs"] as! [String: Any]
        }
    }

    /// The layer a case describes, built from its Keras arguments through the config reader
    /// (so the Keras spelling of every option is exercised too).
    static func layer(_ name: String) throws -> TextVectorization {
        var config = try Reference.kwargs(name)
        config["name"] = "tv_\(name)"
        if config["ngrams"] == nil { config["ngrams"] = NSNull() }
        let object: [String: Any] = ["module": "keras.layers", "class_name": "TextVectorization", "config": config]
        return try #require(try LayerRegistry.make(object) as? TextVectorization)
    }

    static let names = Reference.shared.cases.map(\.name)

    @Test(arguments: names) func matchesKeras(_ name: String) throws {
        let ref = Reference.shared
        let expected = ref.cases.first { $0.name == name }!
        let layer = try Self.layer(name)
        try layer.adapt(ref.corpus)
        #expect(layer.getVocabulary() == expected.vocabulary)
        #expect(layer.vocabularySize() == expected.vocabularySize)
        let out = try layer(ref.corpus + ref.unseen)
        #expect(out.shape == expected.output.shape)
        #expect(out.dtype == (layer.outputMode == .int ? .int32 : .float32))
        let got = out.scalarsAsDouble(), want = expected.output.values
        let worst = zip(got, want).map { abs($0 - $1) / max(1, abs($1)) }.max() ?? 0
        #expect(worst <= 1e-6, "\(name): max relative error \(worst)")
        if let idf = expected.idfWeights {
            let e = zip(layer.idfWeights.map(Double.init), idf.values).map { abs($0 - $1) }.max() ?? 0
            #expect(layer.idfWeights.count == idf.values.count)
            #expect(e <= 1e-6)
        }
        // get_config keys as Keras's.
        let config = try layer.serialize()["config"] as! [String: Any]
        #expect(config.keys.sorted() == expected.configKeys)
    }

    /// The same vocabulary from a corpus in batches (a dataset of strings) and from a Dataset
    /// of encoded texts.
    @Test func adaptOnBatchesAndDatasets() throws {
        let corpus = Reference.shared.corpus
        let expected = Reference.shared.cases.first { $0.name == "tf_idf" }!
        let batches = stride(from: 0, to: corpus.count, by: 7).map { Array(corpus[$0..<min(corpus.count, $0 + 7)]) }
        let fromBatches = TextVectorization(outputMode: .tfIdf)
        try fromBatches.adapt(batches: batches)
        #expect(fromBatches.getVocabulary() == expected.vocabulary)
        #expect(zip(fromBatches.idfWeights.map(Double.init), expected.idfWeights!.values).allSatisfy { abs($0 - $1) <= 1e-6 })
        let fromDataset = TextVectorization(outputMode: .tfIdf)
        try fromDataset.adapt(Dataset.fromTensors(Tensor(texts: corpus)).batch(5))
        #expect(fromDataset.getVocabulary() == expected.vocabulary)
    }

    /// A given vocabulary and idf weights (Keras: `vocabulary=`, `idf_weights=`): [UNK] weighs their mean.
    @Test func givenVocabularyMatchesKeras() throws {
        let g = Reference.shared.given
        let layer = TextVectorization(outputMode: .tfIdf, vocabulary: g.vocabularyIn, idfWeights: g.idfIn)
        #expect(layer.getVocabulary() == g.vocabulary)
        #expect(zip(layer.idfWeights.map(Double.init), g.idfWeights.values).allSatisfy { abs($0 - $1) <= 1e-7 })
        let out = try layer(g.texts)
        #expect(out.shape == g.output.shape)
        #expect(zip(out.scalarsAsDouble(), g.output.values).allSatisfy { abs($0 - $1) <= 1e-7 }, "\(out.scalarsAsDouble()) vs \(g.output.values)")
        // setVocabulary accepts getVocabulary()'s list back, special tokens included.
        let other = TextVectorization(outputMode: .tfIdf)
        try other.setVocabulary(layer.getVocabulary(), idfWeights: layer.idfWeights.map(Double.init))
        #expect(try other(g.texts).scalarsAsDouble() == out.scalarsAsDouble())
    }

    @Test func closuresNgramListAndTensorRoundTrip() throws {
        let layer = TextVectorization(standardize: .custom(name: "upper") { $0.uppercased() },
                                      split: .custom(name: "commas") { $0.split(separator: ",").map(String.init) },
                                      ngrams: [1, 2], outputMode: .count)
        try layer.adapt(["a,b", "b,c"])
        // counts: A 1, B 2, C 1, "A B" 1, "B C" 1; ties by descending bytes.
        #expect(layer.getVocabulary() == ["[UNK]", "B", "C", "B C", "A B", "A"])
        // X, "B B" and "B X" are out of the vocabulary.
        #expect(try layer(["b,b,x"]).asArray(Float.self) == [3, 2, 0, 0, 0, 0])
        #expect(throws: LaminaError.self) { _ = try layer.serialize() }   // a closure cannot be saved
        // Unsplit, an empty text is the mask token "": padding, never counted (Keras).
        let whole = TextVectorization(split: nil, outputMode: .count)
        try whole.adapt(["a", "b", "a", ""])
        #expect(try whole(["", "a", "zz"]).asArray(Float.self) == [0, 0, 0, 0, 1, 0, 1, 0, 0])
        let texts = ["Crème 🙂", "", "a\u{0}b"]
        #expect(try Tensor(texts: texts).texts() == texts)
        #expect(try Tensor(texts: texts).cast(to: .float32).texts() == texts)
    }

    @Test func badArgumentsThrow() throws {
        let cases: [TextVectorization] = [
            TextVectorization(standardize: "upper"), TextVectorization(split: "comma"), TextVectorization(maxTokens: 1),
            TextVectorization(ngrams: 0), TextVectorization(outputMode: .count, outputSequenceLength: 4),
            TextVectorization(outputMode: .multiHot, padToMaxTokens: true), TextVectorization(idfWeights: [1]),
            TextVectorization(outputMode: .tfIdf, vocabulary: ["a"]), TextVectorization(vocabulary: ["a", "a"]),
            TextVectorization(maxTokens: 3, vocabulary: ["a", "b"]),
        ]
        for layer in cases { #expect(throws: LaminaError.self) { _ = try layer(["a"]) } }
        let given = TextVectorization(vocabulary: ["a"])
        #expect(throws: LaminaError.self) { try given.adapt(["b"]) }
        let unadapted = TextVectorization(outputMode: .multiHot)
        #expect(throws: LaminaError.self) { _ = try unadapted(["a"]) }
        let model = Sequential([TextVectorization(outputSequenceLength: 3, vocabulary: ["a"]), Dense(1)])
        #expect(throws: LaminaError.self) { _ = try model.predict(Tensor(shape: [1, 2], scalars: [0.5, 2] as [Float])) }
        #expect(throws: LaminaError.self) { _ = try model.predict(Tensor(shape: [1, 2, 2], scalars: [1, 2, 3, 4] as [Float])) }
        // .int mode in a model needs a fixed length.
        let text = Input(shape: [1], dtype: "string")
        let unbounded = Model(inputs: text, outputs: TextVectorization(vocabulary: ["a"])(text))
        #expect(throws: LaminaError.self) { _ = try unbounded.predict(texts: ["a"]) }
        #expect(throws: LaminaError.self) { _ = try Input(shape: [1], dtype: "text").symbolic.error.map { throw $0 } }
    }

    /// Positive and negative reviews in a handful of words: the classifier of Keras's text
    /// examples (TextVectorization → Embedding → GlobalAveragePooling1D → Dense) learns them
    /// from strings, and keeps its vocabulary and predictions through a .lamina file.
    @Test func modelTrainsFromStringsAndSaves() throws {
        Lamina.setRandomSeed(3)
        let good = ["great film", "loved it", "wonderful acting, great story", "a great joy", "loved the story!", "wonderful"]
        let bad = ["awful film", "hated it", "boring acting, awful story", "a dull mess", "hated the story!", "boring"]
        let texts = good + bad
        let labels = Tensor(shape: [12, 1], scalars: [Float](repeating: 1, count: 6) + [Float](repeating: 0, count: 6))
        let vectorizer = TextVectorization(maxTokens: 40, outputSequenceLength: 5)
        try vectorizer.adapt(texts)
        let inputs = Input(shape: [1], dtype: "string", name: "text")
        var x = vectorizer(inputs)
        x = Embedding(inputDim: 40, outputDim: 8)(x)
        x = GlobalAveragePooling1D()(x)
        let model = Model(inputs: inputs, outputs: Dense(1, activation: .sigmoid)(x))
        model.compile(optimizer: Adam(learningRate: 0.05), loss: .binaryCrossentropy, metrics: [.accuracy])
        let before = try model.evaluate(texts: texts, labels).loss
        let history = try model.fit(texts: texts, labels, epochs: 30, batchSize: 4, verbose: 0)
        let after = try model.evaluate(texts: texts, labels)
        #expect(after.loss < before / 4, "loss \(before) → \(after.loss), history \(history.history["loss"] ?? [])")
        #expect(after.metrics["accuracy"] == 1)
        let scores = try model.predict(texts: ["great story", "awful story"]).asArray(Float.self)
        #expect(scores[0] > 0.5 && scores[1] < 0.5)

        let url = temporaryDirectory().appendingPathComponent("text.lamina")
        try model.save(to: url)
        let loaded = try Model.load(from: url)
        let tv = try #require(loaded.layers.compactMap { $0 as? TextVectorization }.first)
        #expect(tv.getVocabulary() == vectorizer.getVocabulary())
        #expect(try loaded.predict(texts: texts).asArray(Float.self) == model.predict(texts: texts).asArray(Float.self))

        // Sequential, with the vectorizer as its first layer (multi_hot into Dense).
        let bag = TextVectorization(outputMode: .multiHot)
        try bag.adapt(texts)
        let sequential = Sequential([bag, Dense(1, activation: .sigmoid)])
        sequential.compile(optimizer: Adam(learningRate: 0.1), loss: .binaryCrossentropy, metrics: [.accuracy])
        try sequential.fit(texts: texts, labels, epochs: 30, batchSize: 12, verbose: 0)
        #expect(try sequential.evaluate(texts: texts, labels).metrics["accuracy"] == 1)
    }
}
