import Foundation
import Testing
import LaminaTestSupport
@testable import Lamina
@testable import LaminaData

let sharedMNIST = sharedMNISTFolder(where: MNIST.hasAllFiles)

@Suite struct ChecksumAndZlibTests {
    @Test func sha256MatchesTheStandardVectors() {
        #expect(SHA256.hex([]) == "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855")
        #expect(SHA256.hex(Array("abc".utf8)) == "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad")
        #expect(SHA256.hex(Array("abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq".utf8))
                == "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1")
        #expect(SHA256.hex([UInt8](repeating: 0x61, count: 1_000_000))
                == "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0")
    }

    @Test func deflateThenInflateRoundTripsAndCorruptionThrows() throws {
        let input = (0..<10_000).map { UInt8(truncatingIfNeeded: $0 * 7 / 3) }
        let packed = Zlib.deflate(input)
        #expect(try Zlib.inflate(packed, limit: 1 << 20, what: "t") == input)
        #expect(throws: LaminaError.self) { try Zlib.inflate(Array(packed.prefix(packed.count / 2)), limit: 1 << 20, what: "t") }
        var flipped = packed
        flipped[packed.count / 2] ^= 0xff
        #expect(throws: LaminaError.self) { try Zlib.inflate(flipped, limit: 1 << 20, what: "t") }
        #expect(throws: LaminaError.self) { try Zlib.inflate(packed, limit: 100, what: "t") }  // bomb guard
        #expect(Zlib.crc32(Array("123456789".utf8)) == 0xCBF4_3926)
    }
}

@Suite struct IDXTests {
    func idx(_ shape: [Int], _ values: [UInt8]) -> [UInt8] {
        var bytes: [UInt8] = [0, 0, 8, UInt8(shape.count)]
        for d in shape { bytes += [UInt8(d >> 24), UInt8(d >> 16 & 255), UInt8(d >> 8 & 255), UInt8(d & 255)] }
        return bytes + values
    }

    @Test func readsRawAndGzippedIDX() throws {
        let bytes = idx([2, 3], [1, 2, 3, 4, 5, 6])
        let raw = try IDX.parse(bytes, name: "t")
        #expect(raw.shape == [2, 3] && raw.bytes == [1, 2, 3, 4, 5, 6])
        let gz = try IDX.parse(gzip(bytes), name: "t")
        #expect(gz.shape == [2, 3] && gz.bytes == [1, 2, 3, 4, 5, 6])
    }

    @Test func truncatedOrHostileIDXThrowsClearly() {
        let good = idx([2, 3], [1, 2, 3, 4, 5, 6])
        for cut in [0, 3, 7, 10] {
            #expect(throws: LaminaError.self) { try IDX.parse(Array(good.prefix(cut)), name: "t") }
        }
        let error = #expect(throws: LaminaError.self) { try IDX.parse(Array(good.dropLast()), name: "t") }
        #expect(error?.message.contains("truncated") == true)
        #expect(throws: LaminaError.self) { try IDX.parse(idx([65535, 65535, 65535], []), name: "huge") }
        #expect(throws: LaminaError.self) { try IDX.parse([0, 0, 0x0D, 1, 0, 0, 0, 1, 0, 0, 0, 0], name: "float") }
        #expect(throws: LaminaError.self) { try IDX.parse(Array(gzip(good).dropLast(9)), name: "gz") }
    }

    /// A gzip stream made by zlib's deflate with a gzip wrapper.
    func gzip(_ bytes: [UInt8]) -> [UInt8] {
        // Deflate with zlib, then rewrap: gzip header, the raw deflate body, CRC32 and size.
        let z = Zlib.deflate(bytes)
        let body = Array(z[2..<(z.count - 4)])
        let crc = Zlib.crc32(bytes), n = UInt32(bytes.count)
        return [0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 0, 255] + body
            + [UInt8(crc & 255), UInt8(crc >> 8 & 255), UInt8(crc >> 16 & 255), UInt8(crc >> 24)]
            + [UInt8(n & 255), UInt8(n >> 8 & 255), UInt8(n >> 16 & 255), UInt8(n >> 24)]
    }
}

@Suite struct MNISTTests {
    @Test(.enabled(if: sharedMNIST != nil, "needs ../shared/data/mnist or $LAMINA_DATA"))
    func loadsTheRealMNISTLikeKeras() throws {
        let (train, test) = try MNIST.load(directory: sharedMNIST!.path, download: false)
        #expect(train.x.shape == [60_000, 28, 28] && train.x.dtype == .float32)
        #expect(train.y.shape == [60_000] && train.y.dtype == .int32)
        #expect(test.x.shape == [10_000, 28, 28] && test.y.shape == [10_000])
        #expect(Array(train.y.asArray(Int32.self).prefix(8)) == [5, 0, 4, 1, 9, 2, 1, 3])
        #expect(Array(test.y.asArray(Int32.self).prefix(5)) == [7, 2, 1, 0, 4])
        #expect(train.x.max().item(Float.self) == 255 && train.x.min().item(Float.self) == 0)
        // Keras's well-known mean pixel of the training set, 33.318...
        #expect(abs(train.x.mean().item(Float.self) - 33.3184) < 1e-3)
    }

    @Test func missingFilesListWhereItLooked() throws {
        let empty = temporaryDirectory()
        let error = #expect(throws: LaminaError.self) {
            try MNIST.load(searching: [empty], download: false, mirrors: [])
        }
        #expect(error?.message.contains(empty.path) == true)
        #expect(error?.message.contains("LAMINA_DATA") == true)
    }

    @Test(.enabled(if: sharedMNIST != nil, "needs ../shared/data/mnist or $LAMINA_DATA"))
    func downloadsFromAMirrorAndVerifiesDigests() throws {
        let server = try LoopbackHTTPServer(root: sharedMNIST!)
        defer { server.stop() }
        let cache = temporaryDirectory()
        let bad = "http://127.0.0.1:\(server.port)/nowhere/"  // 404s first, then the good mirror
        let (train, test) = try MNIST.load(searching: [cache], download: true,
                                           mirrors: [bad, "http://127.0.0.1:\(server.port)/"])
        #expect(train.x.shape == [60_000, 28, 28] && test.y.shape == [10_000])
        #expect(MNIST.hasAllFiles(cache))
        let leftovers = try FileManager.default.contentsOfDirectory(atPath: cache.path).filter { $0.hasPrefix(".") }
        #expect(leftovers.isEmpty, "temporary files left behind: \(leftovers)")
    }

    @Test func aMirrorServingWrongBytesIsRejected() throws {
        let root = temporaryDirectory()
        for file in MNIST.files {  // valid gzip, wrong contents
            try Data(Zlib.deflate(Array("not mnist".utf8))).write(to: root.appendingPathComponent(file.name + ".gz"))
        }
        let server = try LoopbackHTTPServer(root: root)
        defer { server.stop() }
        let cache = temporaryDirectory()
        let error = #expect(throws: LaminaError.self) {
            try MNIST.load(searching: [cache], download: true, mirrors: ["http://127.0.0.1:\(server.port)/"])
        }
        #expect(error?.message.contains("SHA-256") == true)
        #expect(!MNIST.hasAllFiles(cache))
    }

    @Test func corruptMNISTFileGivesAClearError() throws {
        guard let shared = sharedMNIST else { return }
        let folder = temporaryDirectory()
        for file in MNIST.files {
            let source = shared.appendingPathComponent(file.name + ".gz")
            var bytes = try Data(contentsOf: source)
            if file.name.hasPrefix("t10k-images") { bytes = bytes.prefix(bytes.count / 2) }  // truncated download
            try bytes.write(to: folder.appendingPathComponent(file.name + ".gz"))
        }
        let error = #expect(throws: LaminaError.self) { try MNIST.load(directory: folder.path, download: false) }
        #expect(error?.message.contains("t10k-images") == true)
    }
}

@Suite struct NumPyAndCSVTests {
    let a = (0..<24).map { Float($0) * 0.5 - 3 }

    @Test func readsNpyFilesWrittenByNumPy() throws {
        let f4 = try NumPy.load(dataFixtures.appendingPathComponent("f4.npy"))
        #expect(f4.shape == [2, 3, 4] && f4.dtype == .float32 && f4.asArray(Float.self) == a)
        let f8 = try NumPy.load(dataFixtures.appendingPathComponent("f8.npy"))
        #expect(f8.dtype == .float64 && f8.asArray(Double.self) == a.map(Double.init))
        let i8 = try NumPy.load(dataFixtures.appendingPathComponent("i8.npy"))
        #expect(i8.shape == [3, 4] && i8.asArray(Int32.self) == Array(-5..<7))
        let u1 = try NumPy.load(dataFixtures.appendingPathComponent("u1.npy"))
        #expect(u1.asArray(Int32.self) == Array(250..<256))
        let fortran = try NumPy.load(dataFixtures.appendingPathComponent("fortran.npy"))
        #expect(fortran.shape == [3, 4] && fortran.asArray(Float.self) == Array(a[0..<12]))
        let scalar = try NumPy.load(dataFixtures.appendingPathComponent("scalar.npy"))
        #expect(scalar.shape == [] && scalar.item(Float.self) == 7.25)
    }

    @Test(arguments: ["stored.npz", "compressed.npz"])
    func readsNpzArchives(file: String) throws {
        let arrays = try NumPy.loadArchive(dataFixtures.appendingPathComponent(file))
        #expect(Set(arrays.keys) == ["x", "y"])
        #expect(arrays["x"]?.asArray(Float.self) == a)
        #expect(arrays["y"]?.asArray(Int32.self) == [0, 1, 2])
    }

    @Test func savedNpyReadsBackByteForByteLikeNumPys() throws {
        let original = try Data(contentsOf: dataFixtures.appendingPathComponent("f4.npy"))
        let tensor = try NumPy.parseNPY([UInt8](original), name: "f4")
        #expect(NumPy.npyBytes(tensor) == [UInt8](original))  // same header padding as numpy 2
        let url = temporaryDirectory().appendingPathComponent("t.npy")
        try NumPy.save(Tensor(shape: [2], scalars: [1.5, -2] as [Double]), to: url)
        #expect(try NumPy.load(url).asArray(Double.self) == [1.5, -2])
    }

    @Test func damagedNpyAndNpzThrowInsteadOfCrashing() throws {
        let npy = [UInt8](try Data(contentsOf: dataFixtures.appendingPathComponent("f4.npy")))
        for cut in [0, 5, 9, 60, 127, npy.count - 1] {
            #expect(throws: LaminaError.self) { try NumPy.parseNPY(Array(npy.prefix(cut)), name: "cut") }
        }
        let npz = [UInt8](try Data(contentsOf: dataFixtures.appendingPathComponent("compressed.npz")))
        let damaged = temporaryDirectory().appendingPathComponent("damaged.npz")
        for cut in [0, 21, npz.count / 2, npz.count - 1] {
            try Data(npz.prefix(cut)).write(to: damaged)
            #expect(throws: LaminaError.self) { try NumPy.loadArchive(damaged) }
        }
        var flipped = npz
        flipped[60] ^= 0x55  // inside the first entry's compressed data
        try Data(flipped).write(to: damaged)
        #expect(throws: LaminaError.self) { try NumPy.loadArchive(damaged) }
    }

    @Test func readsNumericCSVWithHeader() throws {
        let table = try CSV.read(dataFixtures.appendingPathComponent("table.csv"))
        #expect(table.columns == ["x", "y", "label"])
        #expect(table.values.shape == [5, 3])
        #expect(table["x"]?.asArray(Float.self) == [0, 0.5, 1, 1.5, 2])
        #expect(table["label"]?.asArray(Float.self) == [0, 1, 0, 1, 0])
        let plain = try CSV.parse("1;2\n3;4\n", delimiter: ";")
        #expect(plain.columns == ["column_0", "column_1"] && plain.values.asArray(Float.self) == [1, 2, 3, 4])
    }

    /// RFC 4180 quoting: delimiters, line breaks and doubled quotes inside quoted fields, CRLF
    /// records, quoted numbers; the records equal Python's `csv.reader` on the same text.
    @Test func quotedFieldsAsRFC4180() throws {
        let text = "\"price, in €\",\"say \"\"hi\"\"\",\"multi\nline\"\r\n1.5,\"2\",  3 \r\n\"-4\" ,5,6\n"
        let table = try CSV.parse(text)
        #expect(table.columns == ["price, in €", "say \"hi\"", "multi\nline"])
        #expect(table.values.asArray(Float.self) == [1.5, 2, 3, -4, 5, 6])
        let records = try CSV.records(text, ",", name: "t")
        #expect(records.map(\.number) == [1, 3, 4])   // the line each record starts on
        #expect(records[0].fields == ["price, in €", "say \"hi\"", "multi\nline"])
        let open = #expect(throws: LaminaError.self) { try CSV.parse("a,b\n1,\"2\n3,4\n") }
        #expect(open?.message.contains("line 2: a quoted field is not closed") == true)
        let after = #expect(throws: LaminaError.self) { try CSV.parse("a,b\n\"1\"x,2\n") }
        #expect(after?.message.contains("line 2") == true)
        // Python's csv.reader gives the same fields for the same text (where the peers' venv exists).
        let python = "/root/peers-venv/bin/python"
        if FileManager.default.isExecutableFile(atPath: python) {
            let process = Process()
            process.executableURL = URL(fileURLWithPath: python)
            process.arguments = ["-c", "import csv, io, json, sys; print(json.dumps([[f.strip() for f in r] for r in csv.reader(io.StringIO(sys.stdin.read(), newline=''))]))"]
            let input = Pipe(), output = Pipe()
            (process.standardInput, process.standardOutput) = (input, output)
            try process.run()
            input.fileHandleForWriting.write(Data(text.utf8))
            try input.fileHandleForWriting.close()
            let data = output.fileHandleForReading.readDataToEndOfFile()
            process.waitUntilExit()
            let expected = try JSONSerialization.jsonObject(with: data) as? [[String]]
            #expect(expected == records.map(\.fields))
        }
    }

    @Test func badCSVNamesTheLineAndColumn() {
        let ragged = #expect(throws: LaminaError.self) { try CSV.parse("a,b\n1,2\n3\n") }
        #expect(ragged?.message.contains("line 3") == true)
        let text = #expect(throws: LaminaError.self) { try CSV.parse("a,b\n1,2\n3,x\n") }
        #expect(text?.message.contains("line 3, column 2 (b)") == true)
    }
}

/// Fashion-MNIST: MNIST's IDX format under another name, downloads checked by MD5.
@Suite struct FashionMNISTTests {
    /// An IDX file (big-endian header, then bytes), gzipped as the original archives are.
    static func idx(_ dims: [Int], _ bytes: [UInt8]) -> [UInt8] {
        var header: [UInt8] = [0, 0, 0x08, UInt8(dims.count)]
        for d in dims { header += [UInt8(d >> 24 & 0xff), UInt8(d >> 16 & 0xff), UInt8(d >> 8 & 0xff), UInt8(d & 0xff)] }
        let raw = header + bytes, zlib = Zlib.deflate(raw)
        let crc = Zlib.crc32(raw), size = UInt32(raw.count)
        // gzip: its header, the raw deflate stream (zlib's without its 2-byte header and Adler-32), CRC-32 and size.
        return [0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 0, 3] + zlib[2..<(zlib.count - 4)]
            + (0..<4).map { UInt8(truncatingIfNeeded: crc >> (8 * UInt32($0))) } + (0..<4).map { UInt8(truncatingIfNeeded: size >> (8 * UInt32($0))) }
    }

    @Test func md5MatchesTheStandardVectors() {
        #expect(MD5.hex([]) == "d41d8cd98f00b204e9800998ecf8427e")
        #expect(MD5.hex(Array("abc".utf8)) == "900150983cd24fb0d6963f7d28e17f72")
        #expect(MD5.hex(Array("The quick brown fox jumps over the lazy dog".utf8)) == "9e107d9d372bb6826bd81d3542a419d6")
        #expect(MD5.hex(Array(repeating: 0x61, count: 1000)) == "cabe45dcc9ae5b66ba86600cca6b8ba8")
    }

    /// Files in the original format load as Keras's arrays; a download is checked by MD5 and
    /// a mirror serving other bytes is refused.
    @Test func loadsAndChecksDownloads() throws {
        let root = temporaryDirectory()
        let files: [(String, [UInt8])] = [
            ("train-images-idx3-ubyte", Self.idx([3, 28, 28], (0..<(3 * 784)).map { UInt8($0 % 256) })),
            ("train-labels-idx1-ubyte", Self.idx([3], [9, 0, 4])),
            ("t10k-images-idx3-ubyte", Self.idx([2, 28, 28], (0..<(2 * 784)).map { UInt8(255 - $0 % 256) })),
            ("t10k-labels-idx1-ubyte", Self.idx([2], [1, 8])),
        ]
        for (name, bytes) in files { try Data(bytes).write(to: root.appendingPathComponent(name + ".gz")) }
        let (train, test) = try FashionMNIST.load(directory: root.path, download: false)
        #expect(train.x.shape == [3, 28, 28] && train.y.asArray(Int32.self) == [9, 0, 4] && test.y.asArray(Int32.self) == [1, 8])
        #expect(train.x.asArray(Float.self)[300] == 44 && FashionMNIST.classNames[9] == "Ankle boot")

        let server = try LoopbackHTTPServer(root: root)
        defer { server.stop() }
        let spec = IDXImages(name: "Fashion-MNIST", folder: "fashion-mnist",
                             files: files.map { ($0.0, .md5OfArchive(MD5.hex($0.1))) }, mirrors: [])
        let cache = temporaryDirectory()
        let (downloaded, _) = try spec.load(searching: [cache], download: true, mirrors: ["http://127.0.0.1:\(server.port)/"])
        #expect(downloaded.y.asArray(Int32.self) == [9, 0, 4] && spec.hasAllFiles(cache))
        let wrong = IDXImages(name: "Fashion-MNIST", folder: "fashion-mnist",
                              files: files.map { ($0.0, .md5OfArchive(String(repeating: "0", count: 32))) }, mirrors: [])
        let error = #expect(throws: LaminaError.self) {
            _ = try wrong.load(searching: [temporaryDirectory()], download: true, mirrors: ["http://127.0.0.1:\(server.port)/"])
        }
        #expect(error?.message.contains("MD5") == true)
    }
}
