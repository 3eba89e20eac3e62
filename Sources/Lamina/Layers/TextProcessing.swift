import Foundation

// The string side of `TextVectorization`: standardization, splitting and ngrams as Keras 3
// (TensorFlow's `tf.strings` ops) does them, and the encoding that carries a batch of strings
// through Lamina's numeric tensors.

/// How `TextVectorization` standardizes each text before splitting it (Keras's `standardize`).
/// A Keras string (`"lower_and_strip_punctuation"`, `"lower"`, `"strip_punctuation"`) is accepted too.
public enum TextStandardize: Sendable, ExpressibleByStringLiteral, Equatable {
    /// `tf.strings.lower` (ASCII letters only, as Keras calls it without an encoding), then
    /// Python's `string.punctuation` removed.
    case lowerAndStripPunctuation
    /// `tf.strings.lower` only (ASCII letters). Keras: `"lower"`.
    case lower
    /// Python's `string.punctuation` removed only. Keras: `"strip_punctuation"`.
    case stripPunctuation
    /// A function of each text; `name` is what a saved config records (Keras saves a
    /// registered function by name), and a model holding one loads only where code supplies it.
    case custom(name: String, @Sendable (String) -> String)
    /// A name Keras does not know; the layer reports it at first use.
    case unknown(String)

    /// The standardization a Keras string names (`standardize: "lower"`).
    public init(stringLiteral value: String) { self = TextStandardize(name: value) }
    /// The standardization Keras's config `name` means; an unknown name gives `.unknown(name)`.
    public init(name: String) {
        switch name {
        case "lower_and_strip_punctuation": self = .lowerAndStripPunctuation
        case "lower": self = .lower
        case "strip_punctuation": self = .stripPunctuation
        default: self = .unknown(name)
        }
    }
    /// The Keras config value.
    public var name: String {
        switch self {
        case .lowerAndStripPunctuation: "lower_and_strip_punctuation"
        case .lower: "lower"
        case .stripPunctuation: "strip_punctuation"
        case .custom(let name, _), .unknown(let name): name
        }
    }
    /// Two standardizations are equal when their config names are.
    public static func == (a: TextStandardize, b: TextStandardize) -> Bool { a.name == b.name }

    func apply(_ text: String) -> String {
        switch self {
        case .lowerAndStripPunctuation: Text.stripPunctuation(Text.asciiLowercased(text))
        case .lower: Text.asciiLowercased(text)
        case .stripPunctuation: Text.stripPunctuation(text)
        case .custom(_, let f): f(text)
        case .unknown: text
        }
    }
}

/// How `TextVectorization` splits a standardized text into tokens (Keras's `split`).
public enum TextSplit: Sendable, ExpressibleByStringLiteral, Equatable {
    /// `tf.strings.split`: runs of ASCII whitespace (space, \t, \n, \v, \f, \r) separate tokens.
    case whitespace
    /// `tf.strings.unicode_split(…, "UTF-8")`: one token per Unicode scalar.
    case character
    /// A function of each text; `name` is what a saved config records.
    case custom(name: String, @Sendable (String) -> [String])
    /// A name Keras does not know; the layer reports it at first use.
    case unknown(String)

    /// The split a Keras string names (`split: "character"`).
    public init(stringLiteral value: String) { self = TextSplit(name: value) }
    /// The split Keras's config `name` means; an unknown name gives `.unknown(name)`.
    public init(name: String) {
        switch name {
        case "whitespace": self = .whitespace
        case "character": self = .character
        default: self = .unknown(name)
        }
    }
    /// The Keras config value.
    public var name: String {
        switch self {
        case .whitespace: "whitespace"
        case .character: "character"
        case .custom(let name, _), .unknown(let name): name
        }
    }
    /// Two splits are equal when their config names are.
    public static func == (a: TextSplit, b: TextSplit) -> Bool { a.name == b.name }

    func apply(_ text: String) -> [String] {
        switch self {
        case .whitespace: Text.splitOnWhitespace(text)
        case .character: text.unicodeScalars.map { String($0) }
        case .custom(_, let f): f(text)
        case .unknown: [text]
        }
    }
}

/// The ngram widths of `TextVectorization` (Keras's `ngrams`): `2` means widths 1 and 2,
/// `[1, 3]` exactly those widths.
public struct Ngrams: Sendable, Equatable, ExpressibleByIntegerLiteral, ExpressibleByArrayLiteral {
    /// The token-run widths produced, in order.
    public let widths: [Int]
    /// What Keras's config records: the integer, or the list.
    let configValue: Any & Sendable
    /// Widths 1 through `value` (Keras `ngrams=value`).
    public init(integerLiteral value: Int) { self.init(upTo: value) }
    /// Exactly the listed widths (Keras `ngrams=(1, 3)`).
    public init(arrayLiteral elements: Int...) { self.init(elements) }
    /// Widths 1 through `n` (Keras `ngrams=n`).
    public init(upTo n: Int) { widths = n >= 1 ? Array(1...n) : [n]; configValue = n }
    /// Exactly these widths (Keras `ngrams=(...)`).
    public init(_ widths: [Int]) { self.widths = widths; configValue = widths }
    /// Two settings are equal when their widths are.
    public static func == (a: Ngrams, b: Ngrams) -> Bool { a.widths == b.widths }
}

/// Text helpers working on UTF-8 bytes as TensorFlow's string ops do.
enum Text {
    /// Keras's `DEFAULT_STRIP_REGEX` character class: `!"#$%&()*+,-./:;<=>?@[\]^_`{|}~'`.
    static let punctuation: Set<UInt8> = Set("!\"#$%&()*+,-./:;<=>?@[\\]^_`{|}~'".utf8)
    /// ASCII whitespace as `absl::ascii_isspace`.
    static let whitespace: Set<UInt8> = [0x20, 0x09, 0x0A, 0x0B, 0x0C, 0x0D]

    static func asciiLowercased(_ s: String) -> String {
        String(decoding: s.utf8.map { (0x41...0x5A).contains($0) ? $0 + 32 : $0 }, as: UTF8.self)
    }
    static func stripPunctuation(_ s: String) -> String {
        String(decoding: s.utf8.filter { !punctuation.contains($0) }, as: UTF8.self)
    }
    static func splitOnWhitespace(_ s: String) -> [String] {
        s.utf8.split(whereSeparator: { whitespace.contains($0) }).map { String(decoding: $0, as: UTF8.self) }
    }
    /// `tf.strings.ngrams(tokens, ngram_width: widths, separator: " ")`: for each width in
    /// order, every window joined by a space; none for a width longer than the tokens.
    static func ngrams(_ tokens: [String], widths: [Int]) -> [String] {
        var out: [String] = []
        for w in widths where w >= 1 && w <= tokens.count {
            for start in 0...(tokens.count - w) { out.append(tokens[start..<(start + w)].joined(separator: " ")) }
        }
        return out
    }
    /// Keras's tie break in `adapt`: `np.lexsort((tokens, counts))[::-1]` — most frequent
    /// first, equal counts in descending byte order of the UTF-8 token.
    static func precedes(_ a: (String, Int), _ b: (String, Int)) -> Bool {
        if a.1 != b.1 { return a.1 > b.1 }
        return b.0.utf8.lexicographicallyPrecedes(a.0.utf8)
    }
}

// MARK: - Strings in tensors

extension Tensor {
    /// A batch of texts as a numeric tensor, so that strings travel through `fit`, `predict`,
    /// batching and shuffling unchanged: row `i` holds the Unicode scalars of `texts[i]`
    /// (code points, exact in float32), padded with -1 to the longest text; shape `[n, L]`.
    /// `TextVectorization` reads it back. Lamina keeps its tensors numeric rather than adding
    /// a string dtype to the core: text enters a model only through this layer, as in Keras.
    public init(texts: [String]) {
        let rows = texts.map { $0.unicodeScalars.map { Int32(bitPattern: $0.value) } }
        let width = Swift.max(1, rows.map(\.count).max() ?? 0)
        var scalars = [Int32](repeating: -1, count: rows.count * width)
        for (i, row) in rows.enumerated() { for (j, v) in row.enumerated() { scalars[i * width + j] = v } }
        self.init(shape: [rows.count, width], scalars: scalars)
    }

    /// The texts of a tensor made by `Tensor(texts:)` (any numeric dtype: training casts it to
    /// float32). Throws when the values are not Unicode scalars.
    public func texts() throws -> [String] {
        guard rank >= 1 else { throw LaminaError.shape("texts: expected a batch of encoded texts, got a scalar") }
        let n = shape[0], width = n == 0 ? 0 : count / n
        let values = scalarsAsDouble()
        return try (0..<n).map { i in
            var s = String.UnicodeScalarView()
            for v in values[(i * width)..<((i + 1) * width)] {
                if v == -1 { continue }
                guard v >= 0, v == v.rounded(), v <= 0x10FFFF, let u = Unicode.Scalar(UInt32(v)) else {
                    throw LaminaError.value("text input: \(v) is not a Unicode scalar; give texts as Tensor(texts:) or through fit(texts:)/predict(texts:)")
                }
                s.append(u)
            }
            return String(s)
        }
    }
}

extension Model {
    /// Outputs for a batch of raw texts: a model whose input is a string `Input` (or whose first
    /// layer is a `TextVectorization`). Keras: `model.predict(["some text", ...])`.
    public func predict(texts: [String], batchSize: Int = 32) throws -> Tensor {
        try predict(Tensor(texts: texts), batchSize: batchSize)
    }

    /// Trains on raw texts and their labels. Keras: `model.fit(np.array(texts), y)`.
    @discardableResult
    public func fit(texts: [String], _ y: Tensor, epochs: Int = 1, batchSize: Int = 32, verbose: Int = 1,
                    validationSplit: Double = 0, shuffle: Bool = true, callbacks: [Callback] = []) throws -> History {
        try fit(Tensor(texts: texts), y, epochs: epochs, batchSize: batchSize, verbose: verbose,
                validationSplit: validationSplit, shuffle: shuffle, callbacks: callbacks)
    }

    /// Loss and metrics on raw texts and their labels.
    public func evaluate(texts: [String], _ y: Tensor, batchSize: Int = 32, verbose: Int = 0) throws -> (loss: Double, metrics: [String: Double]) {
        try evaluate(Tensor(texts: texts), y, batchSize: batchSize, verbose: verbose)
    }
}
