import Foundation
import Testing
import LaminaTestSupport
@testable import Lamina
@testable import LaminaData

/// CIFAR-10, CIFAR-100 and IMDB on small files in the original formats (Python 2 pickles in
/// GNU tar.gz archives; `.npz` with pickled object arrays), against what Keras's own loaders
/// return for them (Fixtures/generate_keras_datasets.py).
@Suite struct KerasDatasetsTests {
    static let folder = dataFixtures.deletingLastPathComponent().appendingPathComponent("datasets")
    static var expected: [String: Any] {
        let data = try! Data(contentsOf: folder.appendingPathComponent("expected.json"))
        return try! JSONSerialization.jsonObject(with: data) as! [String: Any]
    }
    static func ints(_ case_: String, _ key: String) -> [Int] { (expected[case_] as! [String: Any])[key] as! [Int] }
    static func floats(_ case_: String, _ key: String) -> [Float] { ints(case_, key).map(Float.init) }

    /// A folder holding only `files` from the fixtures (so each test sees one layout).
    func folder(with files: [String]) throws -> URL {
        let dir = temporaryDirectory()
        for f in files { try FileManager.default.copyItem(at: Self.folder.appendingPathComponent(f), to: dir.appendingPathComponent(f)) }
        return dir
    }

    @Test func cifar10FromTheArchiveEqualsKeras() throws {
        let dir = try folder(with: ["cifar-10-python.tar.gz"])
        let (train, test) = try CIFAR10.load(directory: dir.path, download: false)
        #expect(train.x.shape == [11, 32, 32, 3] && train.y.shape == [11, 1] && test.x.shape == [4, 32, 32, 3])
        #expect(train.x.asArray(Float.self) == Self.floats("cifar10", "x_train"))
        #expect(train.y.asArray(Int32.self).map(Int.init) == Self.ints("cifar10", "y_train"))
        #expect(test.x.asArray(Float.self) == Self.floats("cifar10", "x_test"))
        #expect(test.y.asArray(Int32.self).map(Int.init) == Self.ints("cifar10", "y_test"))
    }

    /// Keras 3 extracts to `~/.keras/datasets/cifar-10-batches-py-target/cifar-10-batches-py`;
    /// the extracted folder in that layout loads the same as the archive.
    @Test func cifar10FromKerasExtractedFolder() throws {
        let root = temporaryDirectory()
        let inner = root.appendingPathComponent("cifar-10-batches-py-target/cifar-10-batches-py")
        try FileManager.default.createDirectory(at: inner, withIntermediateDirectories: true)
        let tar = try Tar(try readFileBytes(Self.folder.appendingPathComponent("cifar-10-python.tar.gz")), name: "fixture")
        #expect(tar.entries.count == 7)
        for entry in tar.entries {
            try Data(tar.bytes[entry.range]).write(to: root.appendingPathComponent("cifar-10-batches-py-target").appendingPathComponent(entry.path))
        }
        let (train, test) = try CIFAR10.load(directory: root.path, download: false)
        #expect(train.x.asArray(Float.self) == Self.floats("cifar10", "x_train"))
        #expect(test.y.asArray(Int32.self).map(Int.init) == Self.ints("cifar10", "y_test"))
    }

    @Test(arguments: [CIFAR100.LabelMode.fine, .coarse])
    func cifar100EqualsKeras(_ mode: CIFAR100.LabelMode) throws {
        let dir = try folder(with: ["cifar-100-python.tar.gz"])
        let (train, test) = try CIFAR100.load(labelMode: mode, directory: dir.path, download: false)
        let key = "cifar100_\(mode.rawValue)"
        let shapes = (Self.expected[key] as! [String: Any])["shapes"] as! [[Int]]
        #expect([train.x.shape, train.y.shape, test.x.shape, test.y.shape] == shapes)
        #expect(train.x.asArray(Float.self) == Self.floats(key, "x_train") && test.x.asArray(Float.self) == Self.floats(key, "x_test"))
        #expect(train.y.asArray(Int32.self).map(Int.init) == Self.ints(key, "y_train"))
        #expect(test.y.asArray(Int32.self).map(Int.init) == Self.ints(key, "y_test"))
    }

    /// The same batch as Python 3 pickles it (protocol 2 spells bytes as `_codecs.encode`,
    /// protocol 4 uses frames, `STACK_GLOBAL` and `MEMOIZE`) reads the same.
    @Test(arguments: [2, 4])
    func python3PicklesOfABatchReadTheSame(_ protocolVersion: Int) throws {
        let bytes = try readFileBytes(Self.folder.appendingPathComponent("cifar_batch_py3_protocol\(protocolVersion).pickle"))
        let (images, labels) = try PickledImages.batch(bytes, labelKey: "labels", classes: 10, name: "py3")
        #expect(images.shape == [3, 32, 32, 3])
        #expect(images.asArray(Float.self) == Array(Self.floats("cifar10", "x_train").prefix(3 * 3072)))
        #expect(labels == Array(Self.ints("cifar10", "y_train").prefix(3)))
    }

    @Test(arguments: ["imdb.npz", "imdb_py2.npz"], ["default", "num_words", "maxlen", "no_oov", "raw"])
    func imdbEqualsKeras(_ file: String, _ case_: String) throws {
        let entry = Self.expected["\(file):\(case_)"] as! [String: Any]
        let kw = entry["kwargs"] as! [String: Any]
        let dir = try folder(with: [])
        try FileManager.default.copyItem(at: Self.folder.appendingPathComponent(file), to: dir.appendingPathComponent("imdb.npz"))
        let (train, test) = try IMDB.load(numWords: kw["num_words"] as? Int, skipTop: kw["skip_top"] as? Int ?? 0,
                                          maxlen: kw["maxlen"] as? Int, seed: kw["seed"] as? Int ?? 113,
                                          startChar: kw.keys.contains("start_char") ? nil : 1,
                                          oovChar: kw.keys.contains("oov_char") ? nil : 2,
                                          indexFrom: kw["index_from"] as? Int ?? 3, directory: dir.path, download: false)
        #expect(train.x == entry["x_train"] as! [[Int]] && test.x == entry["x_test"] as! [[Int]])
        #expect(train.y.asArray(Int32.self).map(Int.init) == entry["y_train"] as! [Int])
        #expect(test.y.asArray(Int32.self).map(Int.init) == entry["y_test"] as! [Int])
    }

    @Test func numpyLegacyShuffleOrders() {
        for (key, value) in Self.expected["shuffle"] as! [String: [Int]] {
            let parts = key.split(separator: ":").map { Int($0)! }
            var rng = NumPyRandomState(seed: UInt32(parts[0]))
            var order = Array(0..<parts[1])
            rng.shuffle(&order)
            #expect(Array(order.prefix(50)) == value, "RandomState(\(parts[0])).shuffle(arange(\(parts[1])))")
        }
    }

    /// A missing archive is downloaded, checked by SHA-256 and kept; a mirror serving other
    /// bytes is refused; without downloads the error says where Lamina looked.
    @Test func cifarDownloadsAreChecked() throws {
        let archive = try readFileBytes(Self.folder.appendingPathComponent("cifar-10-python.tar.gz"))
        let server = try LoopbackHTTPServer(root: Self.folder)
        defer { server.stop() }
        func spec(_ sha: String) -> PickledImages {
            let s = CIFAR10.spec
            return PickledImages(name: s.name, folder: s.folder, archive: s.archive, inner: s.inner, kerasTarget: s.kerasTarget,
                                 sha256: sha, train: s.train, test: s.test, counts: s.counts, mirrors: [])
        }
        let cache = temporaryDirectory()
        let mirror = ["http://127.0.0.1:\(server.port)/"]
        let (train, _) = try spec(SHA256.hex(archive)).load(searching: [cache], labelKey: "labels", classes: 10, download: true, mirrors: mirror)
        #expect(train.y.asArray(Int32.self).map(Int.init) == Self.ints("cifar10", "y_train"))
        #expect(FileManager.default.fileExists(atPath: cache.appendingPathComponent("cifar-10-python.tar.gz").path))
        let refused = #expect(throws: LaminaError.self) {
            _ = try spec(String(repeating: "0", count: 64)).load(searching: [temporaryDirectory()], labelKey: "labels", classes: 10,
                                                                download: true, mirrors: mirror)
        }
        #expect(refused?.message.contains("SHA-256") == true)
        let empty = temporaryDirectory()
        let missing = #expect(throws: LaminaError.self) { _ = try CIFAR10.load(directory: empty.path, download: false) }
        #expect(missing?.message.contains(empty.path) == true && missing?.message.contains("cifar-10-python.tar.gz") == true)
    }

    /// Damaged files are errors that name them, never crashes.
    @Test func damagedFilesThrow() throws {
        let archive = try readFileBytes(Self.folder.appendingPathComponent("cifar-10-python.tar.gz"))
        let tar = try Tar(archive, name: "fixture")
        for cut in [0, 100, 511, 700, tar.bytes.count / 2] {
            #expect(throws: LaminaError.self) {
                let t = try Tar(Array(tar.bytes.prefix(cut)), name: "cut")
                _ = try PickledImages.batch(t.file(endingWith: "data_batch_1") ?? [], labelKey: "labels", classes: 10, name: "cut")
            }
        }
        let batch = try #require(tar.file(endingWith: "data_batch_1"))
        for cut in [0, 1, 2, 40, batch.count / 2, batch.count - 1] {
            let error = #expect(throws: LaminaError.self) {
                _ = try PickledImages.batch(Array(batch.prefix(cut)), labelKey: "labels", classes: 10, name: "data_batch_1")
            }
            #expect(error?.message.contains("data_batch_1") == true)
        }
        // Labels outside the classes, and a missing key.
        #expect(throws: LaminaError.self) { _ = try PickledImages.batch(batch, labelKey: "labels", classes: 2, name: "b") }
        #expect(throws: LaminaError.self) { _ = try PickledImages.batch(batch, labelKey: "fine_labels", classes: 100, name: "b") }
        // A list that holds itself is data, not a cycle or a crash.
        let selfList: [UInt8] = [0x80, 0x02, 0x5d, 0x71, 0x00, 0x68, 0x00, 0x61, 0x2e]  // [] put0 get0 append stop
        let pickle = try Pickle(selfList, name: "loop")
        #expect(pickle.list(pickle.root)?.count == 1)
    }
}
