import Lamina

/// The regular files of a tar archive (POSIX ustar, GNU long names, pax `path`), for dataset
/// archives such as `cifar-10-python.tar.gz`, read in memory without extracting anything.
struct Tar {
    struct Entry { let path: String; let range: Range<Int> }

    let bytes: [UInt8]
    let entries: [Entry]

    /// `bytes` may be gzipped (`.tar.gz`); it is inflated first, up to `limit` bytes.
    init(_ bytes: [UInt8], name: String, limit: Int = NumPy.maximumBytes) throws {
        let raw = bytes.starts(with: [0x1f, 0x8b]) ? try Zlib.inflate(bytes, limit: limit, what: name) : bytes
        func fail(_ why: String) -> LaminaError { LaminaError(.io, "\(name): not a readable tar archive (\(why))") }
        func field(_ at: Int, _ length: Int) -> ArraySlice<UInt8> {
            let slice = raw[at..<(at + length)]
            return slice.prefix { $0 != 0 }
        }
        func octal(_ at: Int, _ length: Int) throws -> Int {
            let text = String(decoding: field(at, length), as: UTF8.self).trimmingCharacters(in: .whitespaces)
            guard let n = Int(text.isEmpty ? "0" : text, radix: 8), n >= 0 else { throw fail("bad number '\(text)' at byte \(at)") }
            return n
        }
        var entries = [Entry]()
        var at = 0
        var longName: String?
        while at + 512 <= raw.count {
            if raw[at..<(at + 512)].allSatisfy({ $0 == 0 }) { break }   // end of archive
            let checksum = try octal(at + 148, 8)
            let sum = raw[at..<(at + 512)].enumerated().reduce(0) { $0 + ((148..<156).contains($1.offset) ? 32 : Int($1.element)) }
            guard sum == checksum else { throw fail("header checksum mismatch at byte \(at)") }
            let size = try octal(at + 124, 12)
            let type = raw[at + 156]
            let start = at + 512
            guard size <= raw.count - start else { throw fail("entry at byte \(at) is truncated") }
            var path = String(decoding: field(at, 100), as: UTF8.self)
            if raw[(at + 257)..<(at + 262)].elementsEqual("ustar".utf8) {
                let prefix = String(decoding: field(at + 345, 155), as: UTF8.self)
                if !prefix.isEmpty { path = prefix + "/" + path }
            }
            switch type {
            case UInt8(ascii: "L"):                       // GNU long name for the next entry
                longName = String(decoding: raw[start..<(start + size)].prefix { $0 != 0 }, as: UTF8.self)
            case UInt8(ascii: "x"):                       // pax extended header: look for path=
                let text = String(decoding: raw[start..<(start + size)], as: UTF8.self)
                for record in text.split(separator: "\n") {
                    if let eq = record.firstIndex(of: "="), record[..<eq].hasSuffix(" path") {
                        longName = String(record[record.index(after: eq)...])
                    }
                }
            case 0, UInt8(ascii: "0"), UInt8(ascii: "7"):  // regular file
                entries.append(Entry(path: longName ?? path, range: start..<(start + size)))
                longName = nil
            default:
                longName = nil
            }
            at = start + (size + 511) / 512 * 512
        }
        self.bytes = raw
        self.entries = entries
    }

    /// The contents of the file whose path ends with `suffix` (`"data_batch_1"` finds
    /// `cifar-10-batches-py/data_batch_1`).
    func file(endingWith suffix: String) -> [UInt8]? {
        entries.first { $0.path == suffix || $0.path.hasSuffix("/" + suffix) }.map { Array(bytes[$0.range]) }
    }
}
