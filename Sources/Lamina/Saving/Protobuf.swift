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
