import Foundation

/// A protocol-buffers message writer: the wire format (varint keys, varints, fixed32, length-
/// delimited fields) for the few messages Lamina writes (ONNX models). A hand encoder of about
/// forty lines rather than a swift-protobuf dependency and generated code: writing needs no
/// parsing, reflection or unknown-field handling, and the message layouts are written once,
/// beside their field numbers, in the one file that uses them.
package struct ProtobufWriter {
    package private(set) var bytes: [UInt8] = []
    package init() {}

    private mutating func varint(_ value: UInt64) {
        var v = value
        while v >= 0x80 { bytes.append(UInt8(v & 0x7F) | 0x80); v >>= 7 }
        bytes.append(UInt8(v))
    }
    private mutating func key(_ field: Int, _ wireType: UInt64) { varint(UInt64(field) << 3 | wireType) }

    /// An int32/int64/enum/bool field (negative values as ten-byte two's complement, as protobuf).
    package mutating func int(_ field: Int, _ value: Int) { key(field, 0); varint(UInt64(bitPattern: Int64(value))) }
    package mutating func float(_ field: Int, _ value: Float) {
        key(field, 5)
        withUnsafeBytes(of: value.bitPattern.littleEndian) { bytes += $0 }
    }
    package mutating func data(_ field: Int, _ value: [UInt8]) { key(field, 2); varint(UInt64(value.count)); bytes += value }
    package mutating func string(_ field: Int, _ value: String) { data(field, Array(value.utf8)) }
    /// Fields already encoded (a message's fields written by another writer).
    package mutating func raw(_ encoded: [UInt8]) { bytes += encoded }
    /// An embedded message, written by `body`.
    package mutating func message(_ field: Int, _ body: (inout ProtobufWriter) throws -> Void) rethrows {
        var inner = ProtobufWriter()
        try body(&inner)
        data(field, inner.bytes)
    }
}

/// The matching reader: walks a message's fields in order (`next()`), each as its field
/// number and wire value, for the messages Lamina reads (ONNX models). Malformed input —
/// a truncated varint or field, a length past the end, an unknown wire type — is a thrown
/// `LaminaError` naming `what`, never a crash.
package struct ProtobufReader {
    /// A field's value as the wire format carries it.
    package enum Value {
        case varint(UInt64), fixed64(UInt64), bytes(ArraySlice<UInt8>), fixed32(UInt32)
    }

    private let bytes: ArraySlice<UInt8>
    private var offset: Int
    private let what: String

    /// A reader over one message's encoded fields.
    package init(_ bytes: ArraySlice<UInt8>, what: String) {
        (self.bytes, offset, self.what) = (bytes, bytes.startIndex, what)
    }

    private func fail(_ why: String) -> LaminaError { LaminaError(.io, "\(what): malformed protobuf: \(why)") }

    private mutating func varint() throws -> UInt64 {
        var value: UInt64 = 0, shift: UInt64 = 0
        while true {
            guard offset < bytes.endIndex else { throw fail("truncated varint") }
            let b = bytes[offset]; offset += 1
            guard shift < 64 else { throw fail("varint longer than ten bytes") }
            value |= UInt64(b & 0x7F) << shift
            if b < 0x80 { return value }
            shift += 7
        }
    }

    private mutating func take(_ n: Int) throws -> ArraySlice<UInt8> {
        guard n >= 0, bytes.endIndex - offset >= n else { throw fail("field of \(n) bytes runs past the end") }
        defer { offset += n }
        return bytes[offset..<offset + n]
    }

    /// The next field, or nil at the end of the message.
    package mutating func next() throws -> (field: Int, value: Value)? {
        guard offset < bytes.endIndex else { return nil }
        let key = try varint()
        let field = Int(truncatingIfNeeded: key >> 3)
        guard field > 0 else { throw fail("field number 0") }
        switch key & 7 {
        case 0: return (field, .varint(try varint()))
        case 1: return (field, .fixed64(try take(8).reversed().reduce(0) { $0 << 8 | UInt64($1) }))
        case 2:
            let n = try varint()
            guard n <= UInt64(Int.max) else { throw fail("length \(n)") }
            return (field, .bytes(try take(Int(n))))
        case 5: return (field, .fixed32(try take(4).reversed().reduce(0) { $0 << 8 | UInt32($1) }))
        default: throw fail("wire type \(key & 7) (groups are not supported)")
        }
    }
}

extension ProtobufReader.Value {
    /// An int32/int64/enum/bool field's value (two's complement, as protobuf writes negatives).
    package var int: Int? {
        if case .varint(let v) = self { return Int(truncatingIfNeeded: Int64(bitPattern: v)) }
        return nil
    }
    /// A float field's value.
    package var float: Float? {
        if case .fixed32(let v) = self { return Float(bitPattern: v) }
        return nil
    }
    /// A length-delimited field's bytes (strings, messages, packed repeated fields).
    package var bytes: ArraySlice<UInt8>? {
        if case .bytes(let b) = self { return b }
        return nil
    }
    /// A string field's value (UTF-8).
    package var string: String? { bytes.map { String(decoding: $0, as: UTF8.self) } }
}
