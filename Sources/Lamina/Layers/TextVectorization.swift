import Foundation

/// Turns raw texts into token indices or bag-of-words vectors (Keras:
/// `keras.layers.TextVectorization`): each text is standardized, split into tokens, optionally
/// joined into ngrams, and looked up in a vocabulary learned by `adapt` or given.
///
/// ```swift
/// let vectorizer = TextVectorization(maxTokens: 20000, outputSequenceLength: 200)
/// try vectorizer.adapt(trainingTexts)
/// let ids = try vectorizer(["The cat sat on the mat."])       // int32 [1, 200]
///
/// let inputs = Input(shape: [1], dtype: "string")
/// var x = vectorizer(inputs)
/// x = Embedding(inputDim: 20000, outputDim: 16)(x)
/// x = GlobalAveragePooling1D()(x)
/// let model = Model(inputs: inputs, outputs: Dense(1, activation: .sigmoid)(x))
/// model.compile(optimizer: .adam, loss: .binaryCrossentropy)
/// try model.fit(texts: trainingTexts, labels, epochs: 5)
/// let scores = try model.predict(texts: ["what a film"])
/// ```
///
/// Vocabulary (Keras's `StringLookup` with mask token ""): in `.int` mode index 0 is padding
/// and 1 the out-of-vocabulary token `[UNK]`; the other modes have no padding entry, so
/// `[UNK]` is index 0. `adapt` orders tokens by frequency, equal counts by descending UTF-8
/// bytes, as Keras does; `maxTokens` counts the special tokens.
///
/// Output: `.int` gives int32 `[batch, outputSequenceLength]` (without a length: padded to the
/// longest text of the batch); `.multiHot`, `.count` and `.tfIdf` give float32
/// `[batch, vocabularySize]` (`[batch, maxTokens]` with `padToMaxTokens`). Keras gives int64
/// for `multi_hot`/`count`; Lamina's float32 holds the same values and feeds `Dense` directly.
///
/// Design: Lamina's tensors stay numeric. Strings travel as `Tensor(texts:)` (Unicode scalars
/// padded with -1), which survives batching and shuffling in `fit`; a string `Input` and
/// `fit(texts:)`, `predict(texts:)`, `evaluate(texts:)` use that encoding, and this layer
/// decodes it. Text can therefore only be consumed by this layer, as in Keras.
///
/// Saving: the vocabulary and idf weights go into the config (`vocabulary`, `idf_weights`), in
/// `.lamina` and `.keras` files alike; Keras loads such a layer as one built with a
/// vocabulary. Keras's own files keep an adapted vocabulary in `assets/…/vocabulary.txt`, which
/// `Model.loadKeras` reads too.
public final class TextVectorization: Layer {
    /// What the layer outputs: token indices (`int`), or one row per text over the vocabulary:
    /// `multi_hot` (0/1), `count`, or `tf_idf`. Keras's `output_mode`.
    public enum OutputMode: String, Sendable { case int, multiHot = "multi_hot", count, tfIdf = "tf_idf" }

    /// The vocabulary's size cap, special tokens included (nil: no cap). Keras's `max_tokens`.
    public let maxTokens: Int?
    /// How texts are normalized before splitting (nil: not at all).
    public let standardize: TextStandardize?
    /// How texts are cut into tokens (nil: each text is one token).
    public let split: TextSplit?
    /// The n-grams added to the tokens, if any.
    public let ngrams: Ngrams?
    /// What the layer outputs.
    public let outputMode: OutputMode
    /// With `.int`, pad or cut every text to this many tokens (nil: the longest text in the batch).
    public let outputSequenceLength: Int?
    /// With the row modes, make every row `maxTokens` wide even when the vocabulary is smaller.
    public let padToMaxTokens: Bool
    /// The vocabulary without the special tokens.
    private var tokens: [String] = []
    private var lookup: [String: Int] = [:]
    /// tf-idf weights by output index ([UNK] first; zeros padding up to `maxTokens` with `padToMaxTokens`).
    private var idf: [Float] = []
    /// Whether the vocabulary was given (Keras refuses to adapt such a layer).
    private var hasInputVocabulary = false
    /// Keras's config `vocabulary_size` of a layer whose vocabulary arrives later (a Keras
    /// file's asset): the output width for building the model before it is read.
    var declaredVocabularySize: Int?

    /// Keras: `TextVectorization(max_tokens=None, standardize="lower_and_strip_punctuation",
    /// split="whitespace", ngrams=None, output_mode="int", output_sequence_length=None,
    /// pad_to_max_tokens=False, vocabulary=None, idf_weights=None)`; adapt it with `adapt(_:)` or
    /// give `vocabulary`.
    public init(maxTokens: Int? = nil, standardize: TextStandardize? = .lowerAndStripPunctuation,
                split: TextSplit? = .whitespace, ngrams: Ngrams? = nil, outputMode: OutputMode = .int,
                outputSequenceLength: Int? = nil, padToMaxTokens: Bool = false, vocabulary: [String]? = nil,
                idfWeights: [Double]? = nil, name: String? = nil) {
        (self.maxTokens, self.standardize, self.split, self.ngrams) = (maxTokens, standardize, split, ngrams)
        (self.outputMode, self.outputSequenceLength, self.padToMaxTokens) = (outputMode, outputSequenceLength, padToMaxTokens)
        super.init(name: name)
        if case .unknown(let s) = standardize { reject("standardize must be \"lower_and_strip_punctuation\", \"lower\", \"strip_punctuation\", nil or a function, got \"\(s)\"") }
        if case .unknown(let s) = split { reject("split must be \"whitespace\", \"character\", nil or a function, got \"\(s)\"") }
        if let maxTokens, maxTokens <= 1 { reject("maxTokens must be greater than 1, got \(maxTokens)") }
        if let ngrams, ngrams.widths.isEmpty || ngrams.widths.contains(where: { $0 < 1 }) { reject("ngrams must be positive, got \(ngrams.widths)") }
        if let outputSequenceLength {
            if outputMode != .int { reject("outputSequenceLength is only valid in .int mode, not \(outputMode.rawValue)") }
            if outputSequenceLength < 1 { reject("outputSequenceLength must be positive, got \(outputSequenceLength)") }
        }
        if padToMaxTokens && maxTokens == nil && outputMode != .int { reject("padToMaxTokens needs maxTokens") }
        if idfWeights != nil && outputMode != .tfIdf { reject("idfWeights are only used in .tfIdf mode") }
        if let vocabulary {
            if outputMode == .tfIdf && idfWeights == nil { reject("a vocabulary in .tfIdf mode needs its idfWeights") }
            do { try setVocabulary(vocabulary, idfWeights: idfWeights) } catch { reject((error as? LaminaError)?.message ?? "\(error)") }
            hasInputVocabulary = true
        }
    }

    // MARK: - Vocabulary

    private var specialTokens: [String] { outputMode == .int ? ["", "[UNK]"] : ["[UNK]"] }
    private var tokenStart: Int { specialTokens.count }

    /// The vocabulary by index, special tokens first unless `includeSpecialTokens` is false.
    /// Keras: `get_vocabulary()`.
    public func getVocabulary(includeSpecialTokens: Bool = true) -> [String] {
        includeSpecialTokens ? specialTokens + tokens : tokens
    }

    /// The number of indices, special tokens included. Keras: `vocabulary_size()`.
    public func vocabularySize() -> Int { tokenStart + tokens.count }

    /// The idf weights by output index ([UNK] first), in `.tfIdf` mode.
    public var idfWeights: [Float] { idf }

    /// Replaces the vocabulary (the special tokens may lead it, as `getVocabulary()` gives
    /// them) and, in `.tfIdf` mode, the idf weights (one per token; one more when the
    /// vocabulary starts with `[UNK]`, else [UNK]'s is their mean, as Keras).
    /// Keras: `set_vocabulary(vocabulary, idf_weights)`.
    public func setVocabulary(_ vocabulary: [String], idfWeights: [Double]? = nil) throws {
        var list = vocabulary, weights = idfWeights
        var oovWeight: Double?
        if outputMode == .int, list.first == "" { list.removeFirst() }
        if list.first == "[UNK]" {
            list.removeFirst()
            if let w = weights, w.count >= list.count + 1 { oovWeight = w[0]; weights = Array(w[1..<(list.count + 1)]) }
        }
        if let bad = list.first(where: { $0 == "" || $0 == "[UNK]" }) {
            throw LaminaError.value("\(name).setVocabulary: the special token \"\(bad)\" may only lead the vocabulary")
        }
        var seen: [String: Int] = [:]
        for (i, t) in list.enumerated() {
            if seen[t] != nil { throw LaminaError.value("\(name).setVocabulary: the token \"\(t)\" appears twice") }
            seen[t] = tokenStart + i
        }
        if let maxTokens, list.count + tokenStart > maxTokens {
            throw LaminaError.value("\(name).setVocabulary: \(list.count + tokenStart) tokens (with special tokens) exceed maxTokens \(maxTokens)")
        }
        if outputMode == .tfIdf {
            guard let weights else { throw LaminaError.value("\(name).setVocabulary: .tfIdf mode needs idfWeights") }
            guard weights.count == list.count else {
                throw LaminaError.value("\(name).setVocabulary: \(weights.count) idf weights for \(list.count) tokens")
            }
            guard weights.allSatisfy(\.isFinite) else { throw LaminaError.value("\(name).setVocabulary: idf weights must be finite") }
            setIdf(weights.map { Float($0) }, oov: oovWeight.map { Float($0) })
        } else if idfWeights != nil {
            throw LaminaError.value("\(name).setVocabulary: idfWeights are only used in .tfIdf mode")
        }
        (tokens, lookup) = (list, seen)
    }

    /// [UNK]'s weight (default: the mean, in float32 as TensorFlow's `reduce_mean`), the
    /// tokens' weights, zeros up to `maxTokens` with `padToMaxTokens`.
    private func setIdf(_ weights: [Float], oov: Float?) {
        let mean = weights.isEmpty ? 0 : Float(weights.reduce(0.0) { $0 + Double($1) } / Double(weights.count))
        idf = [oov ?? mean] + weights
        if padToMaxTokens, let maxTokens, idf.count < maxTokens { idf += [Float](repeating: 0, count: maxTokens - idf.count) }
    }

    /// Learns the vocabulary (and idf weights) from `texts`. Keras: `adapt(data)`.
    public func adapt(_ texts: [String]) throws { try adapt(batches: CollectionOfOne(texts)) }

    /// Learns the vocabulary from every batch of texts (a dataset of strings: any sequence of
    /// `[String]` batches, read once). Keras: `adapt(dataset)`.
    public func adapt<S: Sequence>(batches: S) throws where S.Element == [String] {
        var iterator = batches.makeIterator()
        try adapt(nextBatch: { iterator.next() })
    }

    /// `adapt` over the batches `nextBatch` gives until nil (`import LaminaData` adds `adapt(_:)` on a Dataset).
    package func adapt(nextBatch: () throws -> [String]?) throws {
        if let argumentError { throw argumentError }
        guard !hasInputVocabulary else { throw LaminaError.configuration("\(name) was given its vocabulary; adapt would discard it") }
        var counts: [String: Int] = [:], documents: [String: Int] = [:], documentCount = 0
        while let batch = try nextBatch() {
            for text in batch {
                let ts = tokenize(text)
                for t in ts { counts[t, default: 0] += 1 }
                if outputMode == .tfIdf { for t in Set(ts) { documents[t, default: 0] += 1 } }
                documentCount += 1
            }
        }
        counts[""] = nil
        counts["[UNK]"] = nil
        var sorted = counts.map { ($0.key, $0.value) }.sorted(by: Text.precedes)
        if let maxTokens { sorted = Array(sorted.prefix(max(0, maxTokens - tokenStart))) }
        tokens = sorted.map(\.0)
        lookup = Dictionary(uniqueKeysWithValues: tokens.enumerated().map { ($1, tokenStart + $0) })
        if outputMode == .tfIdf {
            // Keras: log(1 + num_documents / (1 + document_count)) in float64, cast to float32.
            setIdf(tokens.map { Float(Foundation.log(1 + Double(documentCount) / Double(1 + documents[$0, default: 0]))) }, oov: nil)
        }
    }

    // MARK: - Vectorizing

    /// The tokens of one text: standardized, split and joined into ngrams.
    public func tokenize(_ text: String) -> [String] {
        let standardized = standardize?.apply(text) ?? text
        let split = self.split.map { $0.apply(standardized) } ?? [standardized]
        guard let ngrams else { return split }
        return Text.ngrams(split, widths: ngrams.widths)
    }

    /// The width of a bag-of-words output.
    private var outputWidth: Int {
        padToMaxTokens ? (maxTokens ?? vocabularySize()) : tokens.isEmpty ? (declaredVocabularySize ?? vocabularySize()) : vocabularySize()
    }

    /// Vectorizes `texts` (the layer's call on strings). Keras: `layer(["text", ...])`.
    public func callAsFunction(_ texts: [String]) throws -> Tensor {
        if let argumentError { throw argumentError }
        return try vectorize(texts)
    }

    private func vectorize(_ texts: [String]) throws -> Tensor {
        let oov = tokenStart - 1   // [UNK]: 1 in .int mode (after padding), else 0
        // The mask token "" (an empty text unsplit) is padding: 0 in .int mode, not counted otherwise.
        let rows = texts.map { tokenize($0).map { $0.isEmpty ? oov - 1 : lookup[$0] ?? oov } }
        if outputMode == .int {
            let length = outputSequenceLength ?? (rows.map(\.count).max() ?? 0)
            var ids = [Int32](repeating: 0, count: rows.count * length)
            for (i, row) in rows.enumerated() { for (j, id) in row.prefix(length).enumerated() { ids[i * length + j] = Int32(id) } }
            return Tensor(shape: [rows.count, length], scalars: ids)
        }
        guard !tokens.isEmpty || padToMaxTokens else {
            throw LaminaError.configuration("\(name): call adapt(_:) or setVocabulary(_:) before vectorizing in \(outputMode.rawValue) mode")
        }
        let width = outputWidth
        var out = [Float](repeating: 0, count: rows.count * width)
        for (i, row) in rows.enumerated() {
            for k in row {
                guard k >= 0, k < width else { continue }
                switch outputMode {
                case .multiHot: out[i * width + k] = 1
                default: out[i * width + k] += 1
                }
            }
            if outputMode == .tfIdf { for k in 0..<width where out[i * width + k] != 0 { out[i * width + k] *= k < idf.count ? idf[k] : 0 } }
        }
        return Tensor(shape: [rows.count, width], scalars: out)
    }

    // MARK: - The layer in a model

    public override func checkInputShape(_ shape: [Int]) throws {
        guard shape.count <= 1 else {
            throw LaminaError.shape("\(name) expects texts ([batch] or [batch, 1] strings, encoded as Tensor(texts:)), got \(describe(shape))")
        }
    }

    public override func computeOutputShape(_ inputShape: [Int]) throws -> [Int] {
        try checkInputShape(inputShape)
        if outputMode == .int {
            guard let outputSequenceLength else {
                throw LaminaError.shape("\(name): give outputSequenceLength: to use TextVectorization in .int mode inside a model (the layers after it need a fixed length)")
            }
            return [outputSequenceLength]
        }
        guard !tokens.isEmpty || padToMaxTokens || declaredVocabularySize != nil else {
            throw LaminaError.configuration("\(name): adapt it or give it a vocabulary before building a model with it (its output width is the vocabulary size)")
        }
        return [outputWidth]
    }

    public override func call(_ x: Tensor, training: Bool) throws -> Tensor {
        try vectorize(try x.texts())
    }

    // MARK: - Config (Keras's `get_config` keys)

    public override func config() throws -> [String: Any] {
        let idfList: Any = outputMode == .tfIdf && !tokens.isEmpty
            ? idf[1..<(1 + tokens.count)].map { Double($0) } : NSNull()
        return [
            "max_tokens": maxTokens.map { $0 as Any } ?? NSNull(),
            "standardize": try standardize.map { s -> Any in
                if case .custom = s { throw LaminaError.configuration("\(name): a custom standardize function cannot be saved") }
                return s.name
            } ?? NSNull(),
            "split": try split.map { s -> Any in
                if case .custom = s { throw LaminaError.configuration("\(name): a custom split function cannot be saved") }
                return s.name
            } ?? NSNull(),
            "ngrams": ngrams.map { $0.configValue as Any } ?? NSNull(),
            "output_mode": outputMode.rawValue,
            "output_sequence_length": outputSequenceLength.map { $0 as Any } ?? NSNull(),
            "pad_to_max_tokens": padToMaxTokens,
            "sparse": false, "ragged": false, "encoding": "utf-8",
            "vocabulary": tokens.isEmpty ? NSNull() : tokens as Any,
            "idf_weights": idfList,
            "vocabulary_size": vocabularySize(),
        ]
    }

    public override class func fromKerasConfig(_ r: ConfigReader) throws -> Layer {
        func option(_ key: String, _ fallback: String) throws -> String? {
            guard r.values[key] != nil else { return fallback }   // absent: Keras's default; null: none
            guard let v = r.value(key) else { return nil }
            guard let s = v as? String else { throw r.error("'\(key)' is a custom function; Lamina loads only the built-in options") }
            return s
        }
        guard let mode = OutputMode(rawValue: try r.string("output_mode", default: "int")) else {
            throw r.error("'output_mode' must be int, multi_hot, count or tf_idf")
        }
        var ngrams: Ngrams?
        if let v = r.value("ngrams"), !(v is NSNull) {
            if let n = ConfigReader.integer(v) { ngrams = Ngrams(upTo: n) }
            else if let list = v as? [Any] { ngrams = Ngrams(try list.map { guard let i = ConfigReader.integer($0) else { throw r.error("'ngrams' must be integers") }; return i }) }
            else { throw r.error("'ngrams' must be null, an integer or a list of integers") }
        }
        if try r.bool("sparse", default: false) || r.bool("ragged", default: false) { throw r.error("sparse and ragged outputs are not supported") }
        _ = r.value("encoding")   // utf-8 only
        var vocabulary: [String]?
        if let v = r.value("vocabulary"), !(v is NSNull) {
            guard let list = v as? [Any], let strings = list as? [String] else { throw r.error("'vocabulary' must be a list of strings (a file path is not supported)") }
            vocabulary = strings
        }
        var idf: [Double]?
        if let v = r.value("idf_weights"), !(v is NSNull) {
            guard let list = v as? [Any] else { throw r.error("'idf_weights' must be a list of numbers") }
            idf = try list.map { guard let n = $0 as? NSNumber else { throw r.error("'idf_weights' must be numbers") }; return n.doubleValue }
        }
        let layer = TextVectorization(
            maxTokens: try r.optionalInt("max_tokens"), standardize: try option("standardize", "lower_and_strip_punctuation").map(TextStandardize.init(name:)),
            split: try option("split", "whitespace").map(TextSplit.init(name:)), ngrams: ngrams, outputMode: mode,
            outputSequenceLength: try r.optionalInt("output_sequence_length"),
            padToMaxTokens: try r.bool("pad_to_max_tokens", default: false), vocabulary: vocabulary, idfWeights: idf,
            name: try r.layerName())
        if let error = layer.argumentError { throw r.error(error.message) }
        // A Keras file keeps an adapted vocabulary in its assets, read after the model is built.
        if vocabulary == nil { layer.declaredVocabularySize = try r.optionalInt("vocabulary_size", minimum: 0) } else { _ = r.value("vocabulary_size") }
        return layer
    }

    /// Loads a vocabulary saved as Keras's `vocabulary.txt` asset (one token a line, special
    /// tokens first), for a layer whose config holds none; `idfWeights` from the weights file.
    public func loadVocabularyAsset(_ text: String, idfWeights: [Double]? = nil) throws {
        var lines = text.components(separatedBy: "\n")
        while lines.last == "" && lines.count > (outputMode == .int ? 1 : 0) { lines.removeLast() }
        hasInputVocabulary = false
        try setVocabulary(lines, idfWeights: idfWeights)
        if let declared = declaredVocabularySize, declared != vocabularySize() {
            throw LaminaError.value("\(name): the vocabulary asset has \(vocabularySize()) tokens, the config says \(declared)")
        }
    }
}
