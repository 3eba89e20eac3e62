import Foundation
import Testing
import Lamina
@testable import LaminaData

/// `Dataset.textDatasetFromDirectory` against Keras's `text_dataset_from_directory` on a fixture
/// folder (Fixtures/generate_text_folder.py: texts, labels in each mode, max_length, the split).
@Suite struct TextFolderTests {
    static let fixtures = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("Fixtures")
    static let folder = fixtures.appendingPathComponent("texts").path

    struct Expected: Decodable {
        struct Case: Decodable {
            let class_names: [String]
            let rows: [Row]
        }
        /// A text and its label: an int, a binary float, or a one-hot row.
        struct Row: Decodable {
            let text: String, label: [Double]
            init(from decoder: any Decoder) throws {
                var c = try decoder.unkeyedContainer()
                text = try c.decode(String.self)
                if let one = try? c.decode(Double.self) { label = [one] } else { label = try c.decode([Double].self) }
            }
        }
        let cases: [String: Case]
    }

    @Test func readsWhatKerasReads() throws {
        let expected = try JSONDecoder().decode(Expected.self, from: Data(contentsOf: Self.fixtures.appendingPathComponent("texts_keras.json")))
        let settings: [(String, ImageFolder.LabelMode, Int?, Double?, ImageFolder.Subset?)] = [
            ("int", .int, nil, nil, nil), ("max_length", .int, 10, nil, nil), ("categorical", .categorical, nil, nil, nil),
            ("binary", .binary, nil, nil, nil), ("training", .int, nil, 0.34, .training), ("validation", .int, nil, 0.34, .validation),
        ]
        for (name, mode, maxLength, split, subset) in settings {
            let want = try #require(expected.cases[name])
            let (dataset, source) = try Dataset.textDatasetFromDirectory(Self.folder, labelMode: mode, batchSize: 3, maxLength: maxLength,
                                                                         shuffle: false, validationSplit: split, subset: subset)
            #expect(source.classNames == want.class_names)
            var texts: [String] = [], labels: [[Double]] = []
            let it = try dataset.makeIterator()
            while let (x, y) = try it.next() {
                texts += try x.texts()
                let y = try #require(y)
                let width = y.rank == 1 ? 1 : y.shape[1]
                let values = y.scalarsAsDouble()
                labels += (0..<y.shape[0]).map { Array(values[($0 * width)..<(($0 + 1) * width)]) }
            }
            #expect(texts == want.rows.map(\.text), "\(name)")
            #expect(labels == want.rows.map(\.label), "\(name)")
        }
    }

    /// The README's path: adapt a TextVectorization on the folder's batches, fit a string-input
    /// model on them; predictions equal those of predict(texts:) on the same texts.
    @Test func adaptsAndFitsAStringModel() throws {
        let (reviews, source) = try Dataset.textDatasetFromDirectory(Self.folder, batchSize: 3, seed: 2)
        let vectorize = TextVectorization(maxTokens: 40, outputSequenceLength: 8)
        try vectorize.adapt(reviews)
        #expect(vectorize.vocabularySize() > 10)
        let text = Input(shape: [1], dtype: "string")
        let x = GlobalAveragePooling1D()(Embedding(inputDim: 40, outputDim: 4)(vectorize(text)))
        let model = Model(inputs: text, outputs: Dense(2, activation: .softmax)(x))
        model.compile(optimizer: Adam(learningRate: 0.05), loss: .sparseCategoricalCrossentropy)
        let history = try model.fit(reviews, epochs: 5, verbose: 0)
        let losses = try #require(history.history["loss"])
        #expect(losses.count == 5 && losses.last! < losses.first!)
        let texts = try (0..<source.count).map(source.text)
        let (plain, _) = try Dataset.textDatasetFromDirectory(Self.folder, batchSize: 7, shuffle: false)
        #expect(try model.predict(plain).asArray(Float.self) == model.predict(texts: texts).asArray(Float.self))
    }

    @Test func shufflesSplitsAndRefusesBadArguments() throws {
        let (a, _) = try Dataset.textDatasetFromDirectory(Self.folder, batchSize: nil, seed: 4)
        var seen: [String] = []
        let it = try a.makeIterator()
        while let (x, _) = try it.next() { seen += try x.reshaped(to: [1] + x.shape).texts() }
        let (plain, _) = try Dataset.textDatasetFromDirectory(Self.folder, shuffle: false)
        let all = try plain.makeIterator().next()!.x.texts()
        #expect(seen.sorted() == all.sorted() && seen.count == 7)
        // A seeded split: disjoint parts that cover the folder.
        let (_, training) = try Dataset.textDatasetFromDirectory(Self.folder, seed: 9, validationSplit: 0.3, subset: .training)
        let (_, validation) = try Dataset.textDatasetFromDirectory(Self.folder, seed: 9, validationSplit: 0.3, subset: .validation)
        #expect(Set(training.files).isDisjoint(with: validation.files) && training.count + validation.count == 7 && validation.count == 2)
        #expect(throws: LaminaError.self) { _ = try Dataset.textDatasetFromDirectory(Self.folder, maxLength: 0) }
        #expect(throws: LaminaError.self) { _ = try Dataset.textDatasetFromDirectory(Self.folder + "/missing") }
        #expect(throws: LaminaError.self) { _ = try Dataset.textDatasetFromDirectory(Self.folder, validationSplit: 0.2) }
        #expect(throws: LaminaError.self) { _ = try Dataset.textDatasetFromDirectory(Self.folder, classNames: ["neg", "other"]) }
    }
}
