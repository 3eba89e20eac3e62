import Lamina
import Foundation

/// The IDX format of MNIST: a 4-byte magic (two zero bytes, a type code, the rank), the
/// dimensions as big-endian UInt32, then the values. Lamina reads the unsigned-byte type,
/// gzipped or not, and checks every size against the bytes actually present.
public enum IDX {
    /// The largest file Lamina decompresses (a little above MNIST's 47 MB training images).
    public static let maximumBytes = 1 << 30

    /// Reads an IDX file of unsigned bytes (`.gz` or raw) and returns its shape and values.
    public static func read(_ url: URL) throws -> (shape: [Int], bytes: [UInt8]) {
        try parse(try readFileBytes(url), name: url.lastPathComponent)
    }

    /// Parses IDX bytes (gzip-compressed or not); `name` appears in error messages.
    public static func parse(_ raw: [UInt8], name: String) throws -> (shape: [Int], bytes: [UInt8]) {
        var data = raw.starts(with: [0x1f, 0x8b])
            ? try Zlib.inflate(raw, limit: maximumBytes, what: name)
            : raw
        guard data.count >= 4, data[0] == 0, data[1] == 0 else {
            throw LaminaError(.io, "\(name): not an IDX file (bad magic number)")
        }
        guard data[2] == 0x08 else {
            throw LaminaError(.io, "\(name): IDX type code 0x\(String(data[2], radix: 16)) is not unsigned byte (0x08)")
        }
        let rank = Int(data[3])
        guard rank >= 1, rank <= 8, data.count >= 4 + 4 * rank else {
            throw LaminaError(.io, "\(name): IDX header is truncated or has rank \(rank)")
        }
        var shape = [Int]()
        var count = 1
        for i in 0..<rank {
            let o = 4 + 4 * i
            let dim = Int(data[o]) << 24 | Int(data[o + 1]) << 16 | Int(data[o + 2]) << 8 | Int(data[o + 3])
            let (product, overflow) = count.multipliedReportingOverflow(by: dim)
            guard !overflow, product <= maximumBytes else {
                throw LaminaError(.io, "\(name): IDX dimensions \(shape + [dim]) are too large")
            }
            shape.append(dim)
            count = product
        }
        let header = 4 + 4 * rank
        guard data.count - header == count else {
            throw LaminaError(.io, "\(name): IDX header promises \(count) values for shape \(shape), "
                + "the file holds \(data.count - header) (truncated or corrupt)")
        }
        data.removeSubrange(0..<header)  // in place: no second copy of a 47 MB file
        return (shape, data)
    }
}
