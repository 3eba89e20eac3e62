import Lamina
import Foundation

/// CIFAR-10 (60,000 32×32 colour images in ten classes), as `keras.datasets.cifar10.load_data()`
/// returns it: images float32 `[N, 32, 32, 3]` (channels last) with the raw 0–255 values,
/// labels int32 `[N, 1]`; 50,000 for training, 10,000 for testing.
///
/// The files are the original `cifar-10-python.tar.gz` (Python pickles of NumPy arrays),
/// read straight from the archive or from its extracted `cifar-10-batches-py` folder, found in
/// `directory`, `$LAMINA_DATA` (and `$LAMINA_DATA/cifar-10`), Keras's cache
/// `~/.keras/datasets`, or `~/.cache/lamina/cifar-10`, and otherwise downloaded from the
/// authors' site with the SHA-256 Keras checks. The pickles are read by Lamina's own reader,
/// which accepts NumPy arrays, lists, dicts and strings and never runs code.
public enum CIFAR10 {
    /// Images float32 `[N, 32, 32, 3]` in 0–255 and labels int32 `[N, 1]`, as Keras returns them.
    public typealias Split = (x: Tensor, y: Tensor)
    /// The ten class names, in label order.
    public static let classNames = ["airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck"]
    /// Where the archive is downloaded from, tried in order (the authors' site).
    public static let mirrors = ["https://www.cs.toronto.edu/~kriz/"]
    static let spec = PickledImages(
        name: "CIFAR-10", folder: "cifar-10", archive: "cifar-10-python.tar.gz", inner: "cifar-10-batches-py",
        kerasTarget: "cifar-10-batches-py-target",
        sha256: "6d958be074577803d12ecdefd02955f39262c83c16fe9348329d7fe0b5c001ce",
        train: ["data_batch_1", "data_batch_2", "data_batch_3", "data_batch_4", "data_batch_5"], test: ["test_batch"],
        counts: (50_000, 10_000), mirrors: mirrors)

    /// The training (50,000) and test (10,000) images and labels. Keras: `keras.datasets.cifar10.load_data()`.
    /// - Parameters:
    ///   - directory: a folder to look in first.
    ///   - download: whether to download the archive when no folder has it (else an error says where it looked).
    ///   - mirrors: the download sites, tried in order.
    public static func load(directory: String? = nil, download: Bool = true,
                            mirrors: [String] = CIFAR10.mirrors) throws -> (train: Split, test: Split) {
        try spec.load(searching: spec.store.searchDirectories(explicit: directory), labelKey: "labels", classes: 10,
                      download: download, mirrors: mirrors)
    }
}

/// CIFAR-100 (100 fine classes grouped into 20 coarse ones), as
/// `keras.datasets.cifar100.load_data(label_mode=)` returns it: images float32
/// `[N, 32, 32, 3]` in 0–255, labels int32 `[N, 1]`. Found and downloaded like ``CIFAR10``
/// (folder `cifar-100`, archive `cifar-100-python.tar.gz`).
public enum CIFAR100 {
    /// Images float32 `[N, 32, 32, 3]` in 0–255 and labels int32 `[N, 1]`.
    public typealias Split = CIFAR10.Split
    /// Keras's `label_mode`: the 100 fine classes or the 20 superclasses.
    public enum LabelMode: String, Sendable { case fine, coarse }
    /// Where the archive is downloaded from (CIFAR-10's site).
    public static let mirrors = CIFAR10.mirrors
    static let spec = PickledImages(
        name: "CIFAR-100", folder: "cifar-100", archive: "cifar-100-python.tar.gz", inner: "cifar-100-python",
        kerasTarget: "cifar-100-python-target",
        sha256: "85cd44d02ba6437773c5bbd22e183051d648de2e7d6b014e1ef29b855ba677a7",
        train: ["train"], test: ["test"], counts: (50_000, 10_000), mirrors: mirrors)

    /// The training and test images with fine (100) or coarse (20) labels. Keras:
    /// `keras.datasets.cifar100.load_data(label_mode="fine")`.
    public static func load(labelMode: LabelMode = .fine, directory: String? = nil, download: Bool = true,
                            mirrors: [String] = CIFAR100.mirrors) throws -> (train: Split, test: Split) {
        try spec.load(searching: spec.store.searchDirectories(explicit: directory), labelKey: "\(labelMode.rawValue)_labels",
                      classes: labelMode == .fine ? 100 : 20, download: download, mirrors: mirrors)
    }
}

/// A dataset in CIFAR's form: pickled dicts with `data` (uint8 `[n, 3072]`, planes R, G, B)
/// and a list of labels, in a `.tar.gz` or its extracted folder.
struct PickledImages: Sendable {
    let name: String, folder: String, archive: String, inner: String, kerasTarget: String, sha256: String
    let train: [String], test: [String]
    let counts: (train: Int, test: Int)
    let mirrors: [String]

    var store: DatasetStore { DatasetStore(name: name, folder: folder, mirrors: mirrors, usesKerasCache: true) }

    /// Reads the named member from an extracted folder or from an archive.
    typealias Files = (String) throws -> [UInt8]

    /// The files of the first candidate folder that has them, extracted or archived.
    func locate(_ candidates: [URL]) throws -> Files? {
        let fm = FileManager.default
        for base in candidates {
            for dir in [base.appendingPathComponent(kerasTarget).appendingPathComponent(inner),
                        base.appendingPathComponent(inner), base]
            where (train + test).allSatisfy({ fm.fileExists(atPath: dir.appendingPathComponent($0).path) }) {
                return { try readFileBytes(dir.appendingPathComponent($0)) }
            }
            for file in [archive, kerasTarget + "_archive"] {
                let url = base.appendingPathComponent(file)
                if fm.fileExists(atPath: url.path) { return try members(of: url) }
            }
        }
        return nil
    }

    private func members(of url: URL) throws -> Files {
        let tar = try Tar(try readFileBytes(url), name: url.lastPathComponent)
        return { member in
            guard let bytes = tar.file(endingWith: "\(inner)/\(member)") ?? tar.file(endingWith: member) else {
                throw LaminaError(.io, "\(url.path) has no \(inner)/\(member) (is it \(archive)?)")
            }
            return bytes
        }
    }

    func load(searching candidates: [URL], labelKey: String, classes: Int,
              download: Bool, mirrors: [String]) throws -> (train: CIFAR10.Split, test: CIFAR10.Split) {
        var files = try locate(candidates)
        if files == nil {
            guard download, let cache = candidates.last else {
                throw store.missing(looked: candidates, wanted: archive, note: "downloading is switched off")
            }
            let url = try store.fetch(archive, checksum: .sha256OfFile(sha256), into: cache, mirrors: mirrors,
                                      looked: candidates, wanted: archive)
            files = try members(of: url)
        }
        let read = files!
        func split(_ members: [String], count: Int, what: String) throws -> CIFAR10.Split {
            let batches = try members.map { try Self.batch(try read($0), labelKey: labelKey, classes: classes, name: "\(name) \($0)") }
            let n = batches.reduce(0) { $0 + $1.labels.count }
            if n != count { Lamina.logger.notice("\(name) \(what) has \(n) samples, not \(count)") }
            return (Tensor.concatenated(batches.map(\.images), axis: 0),
                    Tensor(shape: [n, 1], scalars: batches.flatMap(\.labels).map { Int32($0) }))
        }
        return (try split(train, count: counts.train, what: "train"), try split(test, count: counts.test, what: "test"))
    }

    /// One pickled batch: images `[n, 32, 32, 3]` float32 and its labels.
    static func batch(_ bytes: [UInt8], labelKey: String, classes: Int, name: String) throws -> (images: Tensor, labels: [Int]) {
        let pickle = try Pickle(bytes, name: name)
        guard let dataValue = pickle.entry(pickle.root, "data"), let labelValue = pickle.entry(pickle.root, labelKey) else {
            throw LaminaError(.io, "\(name): expected a dict with 'data' and '\(labelKey)'")
        }
        let data = try pickle.numpyArray(dataValue, name: name)
        let labels = try pickle.ints(labelValue, name: "\(name) \(labelKey)")
        guard data.descr == "u1", data.shape.count == 2, data.shape[1] == 3 * 32 * 32, data.shape[0] == labels.count else {
            throw LaminaError(.io, "\(name): 'data' is '\(data.descr)' \(data.shape) with \(labels.count) labels, "
                + "expected uint8 [n, 3072] and n labels")
        }
        if let bad = labels.first(where: { !(0..<classes).contains($0) }) {
            throw LaminaError(.io, "\(name): label \(bad) is outside 0..<\(classes)")
        }
        let n = labels.count
        let images = Tensor.build([n, 32, 32, 3], as: Float.self) { out in
            data.raw.withUnsafeBufferPointer { src in
                // [n, 3, 32, 32] (planes) → [n, 32, 32, 3] (channels last), as Keras transposes.
                for i in 0..<n {
                    for c in 0..<3 {
                        for p in 0..<1024 { out[(i * 1024 + p) * 3 + c] = Float(src[(i * 3 + c) * 1024 + p]) }
                    }
                }
            }
        }
        return (images, labels)
    }
}

/// The dataset archive readers as fuzz targets (SPI for the fuzzers, not an API).
@_spi(Fuzzing) public enum DatasetFormats {
    /// Reads `bytes` as a CIFAR batch and, failing that, as an IMDB object array's pickle.
    public static func fuzzPickle(_ bytes: [UInt8]) throws {
        do {
            _ = try PickledImages.batch(bytes, labelKey: "labels", classes: 10, name: "fuzz")
        } catch is LaminaError {
            let pickle = try Pickle(bytes, name: "fuzz")
            let array = try pickle.numpyArray(pickle.root, name: "fuzz")
            for item in array.items { _ = try? pickle.ints(item, name: "fuzz") }
        }
    }

    /// Reads `bytes` as a tar archive; returns the number of entries (or throws).
    public static func fuzzTar(_ bytes: [UInt8]) throws -> Int {
        let tar = try Tar(bytes, name: "fuzz", limit: 1 << 24)
        return tar.entries.reduce(0) { $0 + (tar.file(endingWith: $1.path)?.count ?? 0) }
    }
}
