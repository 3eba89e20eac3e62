import Lamina
import Foundation

/// The IMDB movie-review sentiment dataset (25,000 reviews for training, 25,000 for testing,
/// each a list of word indices; labels 1 = positive, 0 = negative), as
/// `keras.datasets.imdb.load_data(...)` returns it, with the same arguments and the same
/// order: Keras shuffles each split with NumPy's legacy `RandomState(seed)`, and Lamina runs
/// the same Mersenne Twister, so sample `i` here is sample `i` there.
///
/// Reviews come back as `[[Int]]` (Keras's object arrays of lists); pad them into a tensor
/// with ``padSequences(_:maxlen:padding:truncating:value:)``. Labels are int32 `[N]`.
/// The file is Keras's `imdb.npz`, found like ``CIFAR10``'s (folder `imdb`, Keras's cache
/// included) or downloaded from Keras's mirror with its SHA-256.
public enum IMDB {
    /// Reviews as word indices (one array each) and labels int32 `[N]` (1: positive).
    public typealias Split = (x: [[Int]], y: Tensor)
    /// Where `imdb.npz` is downloaded from (Keras's mirror).
    public static let mirrors = ["https://storage.googleapis.com/tensorflow/tf-keras-datasets/"]
    static let store = DatasetStore(name: "IMDB", folder: "imdb", mirrors: mirrors, usesKerasCache: true)
    static let sha256 = "69664113be75683a8fe16e3ed0ab59fda8886cb3cd7ada244f7d9544e4676b9f"
    static let wordIndexMD5 = "bfafd718b763782e994055a2d397834f"

    /// - Parameters: as Keras's: `numWords` keeps the most frequent words (index below it;
    ///   nil or 0 keeps all but, as in Keras, the largest index), `skipTop` drops the most
    ///   frequent ones, both replaced by `oovChar` (or removed when it is nil); `maxlen` drops
    ///   reviews of `maxlen` words or more (counting the start mark); indices are shifted by
    ///   `indexFrom` and each review starts with `startChar` (unless nil).
    public static func load(numWords: Int? = nil, skipTop: Int = 0, maxlen: Int? = nil, seed: Int = 113,
                            startChar: Int? = 1, oovChar: Int? = 2, indexFrom: Int = 3,
                            directory: String? = nil, download: Bool = true,
                            mirrors: [String] = IMDB.mirrors) throws -> (train: Split, test: Split) {
        guard (0...Int(UInt32.max)).contains(seed) else {
            throw LaminaError.value("IMDB.load: seed must be in 0...\(UInt32.max) (NumPy's RandomState), got \(seed)")
        }
        let url = try store.file("imdb.npz", checksum: .sha256OfFile(sha256), directory: directory, download: download, mirrors: mirrors)
        let entries = try NumPy.archiveEntries(url)
        func reviews(_ key: String) throws -> [[Int]] {
            guard let bytes = entries[key] else { throw LaminaError(.io, "\(url.path) has no '\(key)' array") }
            return try objectArrayOfInts(bytes, name: "\(url.lastPathComponent)/\(key).npy")
        }
        func labels(_ key: String) throws -> [Int] {
            guard let bytes = entries[key] else { throw LaminaError(.io, "\(url.path) has no '\(key)' array") }
            return try NumPy.parseNPY(bytes, name: "\(url.lastPathComponent)/\(key).npy").asArray(Int32.self).map { Int($0) }
        }
        return try prepare(train: (try reviews("x_train"), try labels("y_train")),
                           test: (try reviews("x_test"), try labels("y_test")),
                           numWords: numWords, skipTop: skipTop, maxlen: maxlen, seed: UInt32(seed),
                           startChar: startChar, oovChar: oovChar, indexFrom: indexFrom)
    }

    /// Keras's `imdb.get_word_index()`: word → rank by frequency (1 is the most frequent).
    /// Add `indexFrom` (3) to map into `load()`'s indices.
    public static func wordIndex(directory: String? = nil, download: Bool = true,
                                 mirrors: [String] = IMDB.mirrors) throws -> [String: Int] {
        let url = try store.file("imdb_word_index.json", checksum: .md5OfArchive(wordIndexMD5),
                                 directory: directory, download: download, mirrors: mirrors)
        guard let dict = try JSONSerialization.jsonObject(with: Data(readFileBytes(url))) as? [String: Int] else {
            throw LaminaError(.io, "\(url.path) is not a JSON object of word → index")
        }
        return dict
    }

    /// The steps of Keras's `load_data` after reading the file, in its order.
    static func prepare(train: ([[Int]], [Int]), test: ([[Int]], [Int]), numWords: Int?, skipTop: Int, maxlen: Int?,
                        seed: UInt32, startChar: Int?, oovChar: Int?, indexFrom: Int) throws -> (train: Split, test: Split) {
        for (name, split) in [("train", train), ("test", test)] where split.0.count != split.1.count {
            throw LaminaError(.io, "IMDB \(name): \(split.0.count) reviews but \(split.1.count) labels")
        }
        var rng = NumPyRandomState(seed: seed)
        func shuffled(_ split: ([[Int]], [Int])) -> ([[Int]], [Int]) {
            var order = Array(split.0.indices)
            rng.shuffle(&order)
            return (order.map { split.0[$0] }, order.map { split.1[$0] })
        }
        var (xTrain, yTrain) = shuffled(train)
        var (xTest, yTest) = shuffled(test)
        func mark(_ x: [[Int]]) -> [[Int]] {
            x.map { review in (startChar.map { [$0] } ?? []) + review.map { $0 + indexFrom } }
        }
        xTrain = mark(xTrain)
        xTest = mark(xTest)
        if let maxlen, maxlen != 0 {
            func keep(_ x: [[Int]], _ y: [Int]) -> ([[Int]], [Int]) {
                let kept = x.indices.filter { x[$0].count < maxlen }
                return (kept.map { x[$0] }, kept.map { y[$0] })
            }
            (xTrain, yTrain) = keep(xTrain, yTrain)
            (xTest, yTest) = keep(xTest, yTest)
            if xTrain.isEmpty || xTest.isEmpty {
                throw LaminaError.value("IMDB.load: after filtering for sequences shorter than maxlen=\(maxlen), no sequence was kept. Increase maxlen.")
            }
        }
        var xs = xTrain + xTest
        let limit = numWords.flatMap { $0 == 0 ? nil : $0 } ?? (xs.compactMap { $0.max() }.max() ?? 0)
        xs = xs.map { review in
            if let oovChar { return review.map { skipTop <= $0 && $0 < limit ? $0 : oovChar } }
            return review.filter { skipTop <= $0 && $0 < limit }
        }
        let labels = (yTrain + yTest).map { Int32(truncatingIfNeeded: $0) }
        let n = xTrain.count
        return ((Array(xs[..<n]), Tensor(shape: [n], scalars: Array(labels[..<n]))),
                (Array(xs[n...]), Tensor(shape: [labels.count - n], scalars: Array(labels[n...]))))
    }

    /// A `.npy` object array whose items are lists of ints (how `imdb.npz` stores reviews).
    static func objectArrayOfInts(_ bytes: [UInt8], name: String) throws -> [[Int]] {
        let header = try NumPy.header(bytes, name: name, allowObjects: true)
        guard case .object = header.kind else { throw LaminaError(.io, "\(name): expected an object array, found '\(header.descr)'") }
        let pickle = try Pickle(Array(bytes[header.payload...]), name: name)
        let array = try pickle.numpyArray(pickle.root, name: name)
        guard array.shape.count == 1 else { throw LaminaError(.io, "\(name): expected a 1-D object array, found \(array.shape)") }
        return try array.items.enumerated().map { try pickle.ints($1, name: "\(name) item \($0)") }
    }
}

/// NumPy's legacy `numpy.random.RandomState(seed)`: MT19937 seeded by `init_genrand`, and
/// `shuffle` as its Fisher–Yates with masked rejection sampling, so an order drawn in
/// Python (Keras's dataset shuffles) is drawn the same here.
struct NumPyRandomState {
    private var mt = [UInt32](repeating: 0, count: 624)
    private var index = 624

    init(seed: UInt32) {
        mt[0] = seed
        for i in 1..<624 { mt[i] = 1_812_433_253 &* (mt[i - 1] ^ (mt[i - 1] >> 30)) &+ UInt32(i) }
    }

    mutating func nextUInt32() -> UInt32 {
        if index >= 624 {
            for i in 0..<624 {
                let y = (mt[i] & 0x8000_0000) | (mt[(i + 1) % 624] & 0x7fff_ffff)
                mt[i] = mt[(i + 397) % 624] ^ (y >> 1) ^ (y & 1 == 0 ? 0 : 0x9908_b0df)
            }
            index = 0
        }
        var y = mt[index]
        index += 1
        y ^= y >> 11
        y ^= (y << 7) & 0x9d2c_5680
        y ^= (y << 15) & 0xefc6_0000
        y ^= y >> 18
        return y
    }

    mutating func nextUInt64() -> UInt64 { UInt64(nextUInt32()) << 32 | UInt64(nextUInt32()) }

    /// A uniform integer in 0...max (NumPy's `random_interval`).
    mutating func interval(_ max: UInt64) -> UInt64 {
        if max == 0 { return 0 }
        var mask = max
        for shift: UInt64 in [1, 2, 4, 8, 16, 32] { mask |= mask >> shift }
        while true {
            let value = max <= 0xffff_ffff ? UInt64(nextUInt32()) & mask : nextUInt64() & mask
            if value <= max { return value }
        }
    }

    mutating func shuffle<T>(_ items: inout [T]) {
        guard items.count > 1 else { return }
        for i in stride(from: items.count - 1, to: 0, by: -1) {
            items.swapAt(i, Int(interval(UInt64(i))))
        }
    }
}
