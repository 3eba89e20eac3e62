import Lamina
/// Just enough of the zip format for `.npz` archives: the central directory, stored and
/// deflated entries, CRC checks. Every offset and size is checked against the bytes present.
struct ZipReader {
    struct Entry {
        let name: String
        let method: UInt16
        let crc: UInt32
        let compressedSize: Int
        let size: Int
        let dataRange: Range<Int>
        let archive: [UInt8]
        let archiveName: String

        func contents(limit: Int) throws -> [UInt8] {
            let what = "\(archiveName)/\(name)"
            guard size <= limit else { throw LaminaError(.io, "\(what): \(size) bytes is over the limit of \(limit)") }
            let raw = Array(archive[dataRange])
            let bytes: [UInt8]
            switch method {
            case 0: bytes = raw
            case 8: bytes = try Zlib.inflate(raw, format: .raw, limit: size, what: what)
            default: throw LaminaError(.io, "\(what): zip compression method \(method) is not supported (stored or deflate only)")
            }
            guard bytes.count == size else {
                throw LaminaError(.io, "\(what): \(bytes.count) bytes after decompression, the directory says \(size)")
            }
            guard Zlib.crc32(bytes) == crc else { throw LaminaError(.io, "\(what): CRC mismatch (corrupt archive)") }
            return bytes
        }
    }

    let data: [UInt8]
    let name: String

    init(_ data: [UInt8], name: String) {
        self.data = data
        self.name = name
    }

    private func fail(_ why: String) -> LaminaError { LaminaError(.io, "\(name): \(why)") }

    private func u16(_ o: Int) throws -> Int {
        guard o >= 0, o + 2 <= data.count else { throw fail("truncated zip structure") }
        return Int(data[o]) | Int(data[o + 1]) << 8
    }

    private func u32(_ o: Int) throws -> Int {
        guard o >= 0, o + 4 <= data.count else { throw fail("truncated zip structure") }
        return Int(data[o]) | Int(data[o + 1]) << 8 | Int(data[o + 2]) << 16 | Int(data[o + 3]) << 24
    }

    func entries() throws -> [Entry] {
        // The end-of-central-directory record sits in the last 22 + 65,535 bytes.
        guard data.count >= 22 else { throw fail("not a zip archive (too short)") }
        var end = -1
        for o in stride(from: data.count - 22, through: max(0, data.count - 22 - 65_535), by: -1)
        where data[o] == 0x50 && data[o + 1] == 0x4b && data[o + 2] == 5 && data[o + 3] == 6 {
            end = o
            break
        }
        guard end >= 0 else { throw fail("not a zip archive (no end of central directory)") }
        let count = try u16(end + 10)
        let directorySize = try u32(end + 12), directoryOffset = try u32(end + 16)
        guard directoryOffset != 0xFFFF_FFFF, count != 0xFFFF else { throw fail("zip64 archives are not supported") }
        guard directoryOffset <= end, directorySize <= end - directoryOffset else {
            throw fail("central directory lies outside the file")
        }
        var result = [Entry]()
        var o = directoryOffset
        for _ in 0..<count {
            guard try u32(o) == 0x0201_4b50 else { throw fail("corrupt central directory") }
            let method = UInt16(try u16(o + 10))
            let crc = UInt32(try u32(o + 16))
            let compressed = try u32(o + 20), size = try u32(o + 24)
            let nameLength = try u16(o + 28), extraLength = try u16(o + 30), commentLength = try u16(o + 32)
            let local = try u32(o + 42)
            guard o + 46 + nameLength <= data.count else { throw fail("truncated central directory") }
            let entryName = String(decoding: data[(o + 46)..<(o + 46 + nameLength)], as: UTF8.self)
            guard compressed != 0xFFFF_FFFF, size != 0xFFFF_FFFF, local != 0xFFFF_FFFF else {
                throw fail("\(entryName): zip64 entries are not supported")
            }
            guard try u32(local) == 0x0403_4b50 else { throw fail("\(entryName): bad local header") }
            let start = local + 30 + (try u16(local + 26)) + (try u16(local + 28))
            guard start <= data.count, compressed <= data.count - start else {
                throw fail("\(entryName): data runs past the end of the file (truncated)")
            }
            result.append(Entry(name: entryName, method: method, crc: crc, compressedSize: compressed, size: size,
                                dataRange: start..<(start + compressed), archive: data, archiveName: name))
            o += 46 + nameLength + extraLength + commentLength
        }
        return result
    }
}
