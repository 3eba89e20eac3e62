import Lamina
import Foundation
#if canImport(FoundationNetworking)
import FoundationNetworking
#endif

/// The MNIST digits, as `keras.datasets.mnist.load_data()` returns them: images float32
/// [N, 28, 28] with the raw 0–255 values and labels int32 [N]; reshape and scale yourself.
///
/// `load(directory:)` looks in `directory`, then `$LAMINA_DATA` (and `$LAMINA_DATA/mnist`),
/// then `~/.cache/lamina/mnist`. When the files are in none of them it downloads them into
/// the cache from the public mirrors, checking each file's SHA-256, and when that is not
/// possible it throws an error that lists where it looked and how to get the files.
public enum MNIST {
    /// Images float32 `[N, 28, 28]` in 0–255 and labels int32 `[N]`, as Keras returns them.
    public typealias Split = (x: Tensor, y: Tensor)

    /// The four files, with the SHA-256 of their decompressed contents (the original MNIST).
    public static let files: [(name: String, sha256: String)] = [
        ("train-images-idx3-ubyte", "ba891046e6505d7aadcbbe25680a0738ad16aec93bde7f9b65e87a2fc25776db"),
        ("train-labels-idx1-ubyte", "65a50cbbf4e906d70832878ad85ccda5333a97f0f4c3dd2ef09a8a9eef7101c5"),
        ("t10k-images-idx3-ubyte", "0fa7898d509279e482958e8ce81c8e77db3f2f8254e26661ceb7762c4d494ce7"),
        ("t10k-labels-idx1-ubyte", "ff7bcfd416de33731a308c3f266cc351222c34898ecbeaf847f06e48f7ec33f2"),
    ]

    /// Public copies of the gzipped files (the ones torchvision and TensorFlow use).
    public static let mirrors = [
        "https://ossci-datasets.s3.amazonaws.com/mnist/",
        "https://storage.googleapis.com/cvdf-datasets/mnist/",
    ]

    static let spec = IDXImages(name: "MNIST", folder: "mnist", files: files.map { ($0.name, .sha256OfContents($0.sha256)) },
                                mirrors: mirrors)

    /// Loads the training and test sets. `download: false` never touches the network;
    /// `mirrors` replaces the public URLs (a test serves the files on loopback).
    public static func load(directory: String? = nil, download: Bool = true,
                            mirrors: [String] = MNIST.mirrors) throws -> (train: Split, test: Split) {
        try spec.load(searching: spec.searchDirectories(explicit: directory), download: download, mirrors: mirrors)
    }

    static func load(searching candidates: [URL], download: Bool, mirrors: [String]) throws -> (train: Split, test: Split) {
        try spec.load(searching: candidates, download: download, mirrors: mirrors)
    }

    /// Where `load` looks, in order; the last one is the download cache.
    public static func searchDirectories(explicit: String?) -> [URL] { spec.searchDirectories(explicit: explicit) }
    static func hasAllFiles(_ folder: URL) -> Bool { spec.hasAllFiles(folder) }
}

/// Zalando's Fashion-MNIST (ten kinds of clothing, MNIST's format and sizes), as
/// `keras.datasets.fashion_mnist.load_data()` returns it: images float32 [N, 28, 28] in
/// 0–255, labels int32 [N]. Found like MNIST (in `directory`, `$LAMINA_DATA`,
/// `$LAMINA_DATA/fashion-mnist`, `~/.cache/lamina/fashion-mnist`) or downloaded from Keras's
/// mirror, each archive checked against the MD5 the dataset's authors publish.
public enum FashionMNIST {
    /// Images float32 `[N, 28, 28]` in 0–255 and labels int32 `[N]`.
    public typealias Split = MNIST.Split
    /// The class names, in label order.
    public static let classNames = ["T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot"]
    /// The four files with the MD5 of each `.gz` (github.com/zalandoresearch/fashion-mnist).
    public static let files: [(name: String, md5: String)] = [
        ("train-images-idx3-ubyte", "8d4fb7e6c68d591d4c3dfef9ec88bf0d"),
        ("train-labels-idx1-ubyte", "25c81989df183df01b3e8a0aad5dffbe"),
        ("t10k-images-idx3-ubyte", "bef4ecab320f06d8554ea6380940ec79"),
        ("t10k-labels-idx1-ubyte", "bb300cfdad3c16e7a12a480ee83cd310"),
    ]
    /// Where the archives are downloaded from, tried in order.
    public static let mirrors = [
        "https://storage.googleapis.com/tensorflow/tf-keras-datasets/",
        "http://fashion-mnist.s3-website.eu-central-1.amazonaws.com/",
    ]
    static let spec = IDXImages(name: "Fashion-MNIST", folder: "fashion-mnist", files: files.map { ($0.name, .md5OfArchive($0.md5)) },
                                mirrors: mirrors)

    /// The training (60,000) and test (10,000) images and labels. Keras: `keras.datasets.fashion_mnist.load_data()`.
    public static func load(directory: String? = nil, download: Bool = true,
                            mirrors: [String] = FashionMNIST.mirrors) throws -> (train: Split, test: Split) {
        try spec.load(searching: spec.searchDirectories(explicit: directory), download: download, mirrors: mirrors)
    }
}

/// A dataset in MNIST's form: four gzipped IDX files (`train-`/`t10k-` images and labels) of
/// 28×28 images with labels 0…9, found locally or downloaded and checked.
struct IDXImages: Sendable {
    let name: String, folder: String
    let files: [(name: String, checksum: DatasetStore.Checksum)]
    let mirrors: [String]

    var store: DatasetStore { DatasetStore(name: name, folder: folder, mirrors: mirrors) }

    func load(searching candidates: [URL], download: Bool, mirrors: [String]) throws -> (train: MNIST.Split, test: MNIST.Split) {
        let found: URL
        if let local = candidates.first(where: { hasAllFiles($0) }) {
            found = local
        } else if download, let cache = candidates.last {
            for file in files where fileURL(cache, file.name) == nil {
                try store.fetch(file.name + ".gz", checksum: file.checksum, into: cache, mirrors: mirrors,
                                looked: candidates, wanted: wanted)
            }
            found = cache
        } else {
            throw store.missing(looked: candidates, wanted: wanted, note: "downloading is switched off")
        }
        return (try split(found, "train", count: 60_000), try split(found, "t10k", count: 10_000))
    }

    private var wanted: String { files.map { $0.name + ".gz" }.joined(separator: ", ") }

    func searchDirectories(explicit: String?) -> [URL] { store.searchDirectories(explicit: explicit) }

    func fileURL(_ folder: URL, _ name: String) -> URL? {
        for candidate in [name + ".gz", name] {
            let url = folder.appendingPathComponent(candidate)
            if FileManager.default.fileExists(atPath: url.path) { return url }
        }
        return nil
    }

    func hasAllFiles(_ folder: URL) -> Bool { files.allSatisfy { fileURL(folder, $0.name) != nil } }

    private func split(_ folder: URL, _ prefix: String, count: Int) throws -> MNIST.Split {
        let images = try IDX.read(fileURL(folder, "\(prefix)-images-idx3-ubyte")!)
        let labels = try IDX.read(fileURL(folder, "\(prefix)-labels-idx1-ubyte")!)
        guard images.shape.count == 3, images.shape[1] == 28, images.shape[2] == 28,
              labels.shape == [images.shape[0]] else {
            throw LaminaError(.io, "\(name) \(prefix) files in \(folder.path) have shapes \(images.shape) "
                + "and \(labels.shape), expected [N, 28, 28] and [N]")
        }
        if images.shape[0] != count {
            // A subset is allowed (users cut files down), but say so once.
            Lamina.logger.notice("\(name) \(prefix) has \(images.shape[0]) samples, not \(count)")
        }
        if let bad = labels.bytes.first(where: { $0 > 9 }) {
            throw LaminaError(.io, "\(name) \(prefix) labels hold \(bad), outside 0...9 (corrupt file?)")
        }
        let x = Tensor.build(images.shape, as: Float.self) { out in
            images.bytes.withUnsafeBufferPointer { src in for i in src.indices { out[i] = Float(src[i]) } }
        }
        let y = Tensor(shape: labels.shape, scalars: labels.bytes.map { Int32($0) })
        return (x, y)
    }
}

/// A blocking HTTP GET with a timeout, for dataset downloads.
enum HTTP {
    private final class Box: @unchecked Sendable {
        var result: Result<[UInt8], Error> = .failure(LaminaError(.io, "no response"))
    }

    static func get(_ url: URL, timeout: TimeInterval = 60) throws -> [UInt8] {
        let box = Box()
        let done = DispatchSemaphore(value: 0)
        var request = URLRequest(url: url)
        request.timeoutInterval = timeout
        let task = URLSession.shared.dataTask(with: request) { data, response, error in
            if let error {
                box.result = .failure(LaminaError(.io, error.localizedDescription))
            } else if let http = response as? HTTPURLResponse, http.statusCode != 200 {
                box.result = .failure(LaminaError(.io, "HTTP status \(http.statusCode)"))
            } else {
                box.result = .success([UInt8](data ?? Data()))
            }
            done.signal()
        }
        task.resume()
        if done.wait(timeout: .now() + timeout + 5) == .timedOut {
            task.cancel()
            throw LaminaError(.io, "timed out after \(Int(timeout)) s")
        }
        return try box.result.get()
    }
}
