import Lamina
import Foundation
import LaminaZip

/// NumPy's `.npy` and `.npz` files, so data prepared in Python comes over as it is.
/// Float32, float64 and int32 arrays load as such; other integer and bool arrays load as
/// int32 (values are range-checked). Fortran-ordered arrays are transposed into C order.
public enum NumPy {
    /// The largest array payload Lamina will read or inflate.
    public static let maximumBytes = 1 << 32

    /// The array in the `.npy` file at `url`. NumPy: `numpy.load(path)`.
    public static func load(_ url: URL) throws -> Tensor {
        try parseNPY(try readFileBytes(url), name: url.lastPathComponent)
    }

    /// The arrays of an `.npz` archive (`numpy.savez` / `savez_compressed`), by name
    /// without the `.npy` suffix.
    public static func loadArchive(_ url: URL) throws -> [String: Tensor] {
        var result = [String: Tensor]()
        for (key, bytes) in try archiveEntries(url) {
            result[key] = try parseNPY(bytes, name: "\(url.lastPathComponent)/\(key).npy")
        }
        return result
    }

    /// The raw `.npy` bytes of every array in an `.npz`, read with ZIPFoundation from the file
    /// (CRC-32 checked; every entry's size bounded before and while it is inflated).
    static func archiveEntries(_ url: URL) throws -> [String: [UInt8]] {
        let archive = try BoundedArchive.open(url, what: ".npz")
        var result = [String: [UInt8]]()
        for entry in archive where entry.type == .file && entry.path.hasSuffix(".npy") {
            result[String(entry.path.dropLast(4))] = try BoundedArchive.contents(
                of: entry, in: archive, limit: maximumBytes, name: "\(url.lastPathComponent)/\(entry.path)")
        }
        return result
    }

    /// Writes `tensor` as a version 1.0 `.npy` file (atomically), readable by `numpy.load`.
    public static func save(_ tensor: Tensor, to url: URL) throws {
        try AtomicFile.write(Data(npyBytes(tensor)), to: url)
    }

    static func npyBytes(_ tensor: Tensor) -> [UInt8] {
        let descr: String
        switch tensor.dtype {
        case .float32: descr = "<f4"
        case .float64: descr = "<f8"
        case .int32: descr = "<i4"
        }
        let shape = tensor.shape.isEmpty ? "()" : tensor.shape.count == 1 ? "(\(tensor.shape[0]),)"
            : "(" + tensor.shape.map(String.init).joined(separator: ", ") + ")"
        var header = "{'descr': '\(descr)', 'fortran_order': False, 'shape': \(shape), }"
        while (10 + header.utf8.count + 1) % 64 != 0 { header += " " }
        header += "\n"
        var bytes: [UInt8] = [0x93] + Array("NUMPY".utf8) + [1, 0]
        bytes += [UInt8(header.utf8.count & 0xff), UInt8(header.utf8.count >> 8)]
        bytes += Array(header.utf8)
        tensor.withUnsafeRawBytes { bytes.append(contentsOf: $0) }
        return bytes
    }

    /// What a `.npy` header says: element kind, Fortran order, shape, and where the values start.
    struct Header {
        let kind: Element, fortran: Bool, shape: [Int], count: Int, payload: Int, descr: String
    }

    /// Parses the header at the start of `data` (which may be only the file's first bytes).
    static func header(_ data: [UInt8], name: String, allowObjects: Bool = false) throws -> Header {
        func fail(_ why: String) -> LaminaError { LaminaError(.io, "\(name): \(why)") }
        guard data.count >= 10, data[0] == 0x93, Array(data[1..<6]) == Array("NUMPY".utf8) else {
            throw fail("not a .npy file (bad magic)")
        }
        let major = data[6]
        let headerLength: Int, headerStart: Int
        switch major {
        case 1: headerLength = Int(data[8]) | Int(data[9]) << 8; headerStart = 10
        case 2, 3:
            guard data.count >= 12 else { throw fail("truncated header") }
            headerLength = Int(data[8]) | Int(data[9]) << 8 | Int(data[10]) << 16 | Int(data[11]) << 24
            headerStart = 12
        default: throw fail(".npy version \(major) is not supported")
        }
        guard headerLength <= data.count - headerStart else { throw fail("truncated header") }
        guard let header = String(bytes: data[headerStart..<(headerStart + headerLength)], encoding: .utf8) else {
            throw fail("header is not text")
        }
        let dict = try HeaderDict(header, fail: fail)
        let descr = try dict.string("descr")
        let fortran = try dict.bool("fortran_order")
        let shape = try dict.shape("shape")
        var count = 1
        for dim in shape {
            let (p, o) = count.multipliedReportingOverflow(by: dim)
            guard !o, dim >= 0 else { throw fail("shape \(shape) is too large") }
            count = p
        }
        guard let kind = Element(descr) else {
            throw fail("dtype '\(descr)' is not supported (use float32, float64 or integer arrays)")
        }
        if case .object = kind, !allowObjects {
            throw fail("holds Python objects (dtype 'O'), which only Lamina's dataset loaders unpickle; save numeric arrays")
        }
        return Header(kind: kind, fortran: fortran, shape: shape, count: count, payload: headerStart + headerLength, descr: descr)
    }

    /// The array in `.npy` bytes; `name` names them in errors.
    public static func parseNPY(_ data: [UInt8], name: String) throws -> Tensor {
        func fail(_ why: String) -> LaminaError { LaminaError(.io, "\(name): \(why)") }
        let h = try header(data, name: name)
        let (kind, fortran, shape, count, descr) = (h.kind, h.fortran, h.shape, h.count, h.descr)
        let payload = h.payload
        let (needed, overflow) = count.multipliedReportingOverflow(by: kind.size)
        guard !overflow, needed <= maximumBytes, data.count - payload == needed else {
            throw fail("header promises \(count) values of '\(descr)' (\(needed) bytes), "
                + "the file holds \(data.count - payload) bytes (truncated or corrupt)")
        }
        var tensor = try data.withUnsafeBytes { raw in
            try kind.decode(UnsafeRawBufferPointer(rebasing: raw[payload...]), count: count,
                            shape: fortran ? shape.reversed() : shape, fail: fail)
        }
        if fortran && shape.count > 1 {
            tensor = tensor.permuted(Array((0..<shape.count).reversed()))
        }
        return tensor
    }

    enum Element {
        case f4, f8, i4, wide(size: Int, signed: Bool), bool
        case object   // pickled Python objects; only the IMDB loader reads them

        init?(_ descr: String) {
            if descr == "|O" { self = .object; return }
            let order = descr.first, code = descr.dropFirst()
            if descr.count >= 3, order == ">", code != "u1", code != "i1", code != "b1" { return nil }  // big-endian
            switch code {
            case "f4": self = .f4
            case "f8": self = .f8
            case "i4": self = .i4
            case "b1": self = .bool
            case "u1", "u2", "u4", "u8", "i1", "i2", "i8":
                self = .wide(size: Int(String(code.dropFirst()))!, signed: code.first == "i")
            default: return nil
            }
        }

        var size: Int {
            switch self {
            case .f4, .i4: 4
            case .f8: 8
            case .bool: 1
            case .object: 0
            case .wide(let size, _): size
            }
        }

        func decode(_ raw: UnsafeRawBufferPointer, count: Int, shape: [Int],
                    fail: (String) -> LaminaError) throws -> Tensor {
            switch self {
            case .f4: return Tensor(shape: shape, scalars: (0..<count).map { Float(bitPattern: raw.loadUnaligned(fromByteOffset: 4 * $0, as: UInt32.self).littleEndian) })
            case .f8: return Tensor(shape: shape, scalars: (0..<count).map { Double(bitPattern: raw.loadUnaligned(fromByteOffset: 8 * $0, as: UInt64.self).littleEndian) })
            case .i4: return Tensor(shape: shape, scalars: (0..<count).map { Int32(littleEndian: raw.loadUnaligned(fromByteOffset: 4 * $0, as: Int32.self)) })
            case .bool: return Tensor(shape: shape, scalars: (0..<count).map { Int32(raw[$0] != 0 ? 1 : 0) })
            case .object: throw fail("object arrays do not become tensors")
            case .wide(let size, let signed):
                var values = [Int32]()
                values.reserveCapacity(count)
                for i in 0..<count {
                    var bits: UInt64 = 0
                    for b in 0..<size { bits |= UInt64(raw[i * size + b]) << UInt64(8 * b) }
                    let value: Int64
                    if signed, size < 8, bits >> UInt64(8 * size - 1) & 1 == 1 {
                        value = Int64(bitPattern: bits | ~((1 << UInt64(8 * size)) - 1))
                    } else {
                        value = Int64(bitPattern: bits)
                    }
                    guard let narrowed = Int32(exactly: value), signed || bits <= UInt64(Int32.max) else {
                        throw fail("value \(signed ? String(value) : String(bits)) at index \(i) does not fit in int32")
                    }
                    values.append(narrowed)
                }
                return Tensor(shape: shape, scalars: values)
            }
        }
    }

    /// The Python dict literal of a `.npy` header, read just far enough for its three keys.
    private struct HeaderDict {
        let text: String
        let fail: (String) -> LaminaError
        init(_ text: String, fail: @escaping (String) -> LaminaError) throws {
            self.text = text
            self.fail = fail
        }
        func value(_ key: String) throws -> Substring {
            guard let range = text.range(of: "'\(key)':") else { throw fail("header has no '\(key)'") }
            return text[range.upperBound...].drop(while: { $0 == " " })
        }
        func string(_ key: String) throws -> String {
            let rest = try value(key)
            guard rest.first == "'", let end = rest.dropFirst().firstIndex(of: "'") else { throw fail("bad '\(key)' in header") }
            return String(rest[rest.index(after: rest.startIndex)..<end])
        }
        func bool(_ key: String) throws -> Bool {
            let rest = try value(key)
            if rest.hasPrefix("True") { return true }
            if rest.hasPrefix("False") { return false }
            throw fail("bad '\(key)' in header")
        }
        func shape(_ key: String) throws -> [Int] {
            let rest = try value(key)
            guard rest.first == "(", let end = rest.firstIndex(of: ")") else { throw fail("bad '\(key)' in header") }
            let inner = rest[rest.index(after: rest.startIndex)..<end]
            return try inner.split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) }
                .filter { !$0.isEmpty }.map {
                    guard let dim = Int($0.hasSuffix("L") ? String($0.dropLast()) : $0), dim >= 0 else {
                        throw fail("bad dimension '\($0)' in shape")
                    }
                    return dim
                }
        }
    }
}
