import Foundation

// TensorBoard's event files, written without TensorFlow: TFRecord framing around serialized
// `tensorflow.Event` protocol buffers.
//
// Why a hand encoder and not swift-protobuf: an event file needs six small messages (`Event`,
// `Summary`, `Summary.Value`, `HistogramProto`, `SummaryMetadata` with its `PluginData`, and a
// string `TensorProto` with an empty `TensorShapeProto`), about twenty fields in all, and only
// writing. Protobuf's wire format for them is four rules (varints, 64-bit and 32-bit
// little-endian numbers, length-delimited bytes), which `ProtoWriter` implements in some thirty
// lines. swift-protobuf would add a package dependency and a code-generation step (vendored
// `.proto` files from TensorFlow and TensorBoard, `protoc` with its plugin to regenerate them) to
// every user of `import Lamina`, for a feature that never parses a message. The field numbers
// below are TensorFlow's (`tensorflow/core/util/event.proto`,
// `tensorflow/core/framework/summary.proto`, `tensor.proto`, `tensor_shape.proto`,
// `types.proto`); the tests read the files back with TensorBoard's own reader.

/// CRC-32C (Castagnoli, reflected polynomial 0x82F63B78), as TFRecord frames use it.
package enum CRC32C {
    static let table: [UInt32] = (0..<256).map { i -> UInt32 in
        var c = UInt32(i)
        for _ in 0..<8 { c = c & 1 != 0 ? (c >> 1) ^ 0x82F6_3B78 : c >> 1 }
        return c
    }

    /// The CRC-32C of `bytes` (`"123456789"` gives 0xE3069283).
    package static func checksum<C: Collection>(_ bytes: C) -> UInt32 where C.Element == UInt8 {
        var crc: UInt32 = 0xFFFF_FFFF
        for b in bytes { crc = table[Int((crc ^ UInt32(b)) & 0xFF)] ^ (crc >> 8) }
        return crc ^ 0xFFFF_FFFF
    }

    /// TFRecord's masked CRC: rotated right by 15 bits plus 0xA282EAD8 (so that a CRC of data
    /// holding CRCs stays well distributed).
    package static func masked<C: Collection>(_ bytes: C) -> UInt32 where C.Element == UInt8 {
        let crc = checksum(bytes)
        return ((crc >> 15) | (crc << 17)) &+ 0xA282_EAD8
    }
}

/// TFRecord framing: little-endian UInt64 length, masked CRC-32C of those 8 bytes, the data,
/// masked CRC-32C of the data.
package enum TFRecord {
    package static func frame(_ data: [UInt8]) -> [UInt8] {
        var out: [UInt8] = []
        out.reserveCapacity(data.count + 16)
        let length = withUnsafeBytes(of: UInt64(data.count).littleEndian, Array.init)
        out += length
        out += withUnsafeBytes(of: CRC32C.masked(length).littleEndian, Array.init)
        out += data
        out += withUnsafeBytes(of: CRC32C.masked(data).littleEndian, Array.init)
        return out
    }

    /// The records of a TFRecord file, each checked against its CRCs (nil where the file is cut
    /// short or a CRC differs).
    package static func records(_ bytes: [UInt8]) -> [[UInt8]]? {
        var out: [[UInt8]] = [], i = 0
        func u32(_ at: Int) -> UInt32 { (0..<4).reduce(0) { $0 | UInt32(bytes[at + $1]) << (8 * $1) } }
        while i < bytes.count {
            guard i + 12 <= bytes.count else { return nil }
            let lengthBytes = Array(bytes[i..<i + 8])
            let length = (0..<8).reduce(UInt64(0)) { $0 | UInt64(lengthBytes[$1]) << (8 * $1) }
            guard u32(i + 8) == CRC32C.masked(lengthBytes), length <= UInt64(bytes.count - i - 16) else { return nil }
            let data = Array(bytes[i + 12..<i + 12 + Int(length)])
            guard u32(i + 12 + Int(length)) == CRC32C.masked(data) else { return nil }
            out.append(data)
            i += 16 + Int(length)
        }
        return out
    }
}

/// Protocol-buffer wire format, for the messages above (writing only).
package struct ProtoWriter {
    package var bytes: [UInt8] = []
    package init() {}

    mutating func varint(_ value: UInt64) {
        var v = value
        while v >= 0x80 { bytes.append(UInt8(v & 0x7F) | 0x80); v >>= 7 }
        bytes.append(UInt8(v))
    }
    mutating func key(_ field: Int, _ wireType: Int) { varint(UInt64(field << 3 | wireType)) }

    /// int64, int32 or enum (wire type 0; negatives as ten-byte two's complement, as protobuf does).
    package mutating func int(_ field: Int, _ value: Int64) { key(field, 0); varint(UInt64(bitPattern: value)) }
    package mutating func double(_ field: Int, _ value: Double) {
        key(field, 1); bytes += withUnsafeBytes(of: value.bitPattern.littleEndian, Array.init)
    }
    package mutating func float(_ field: Int, _ value: Float) {
        key(field, 5); bytes += withUnsafeBytes(of: value.bitPattern.littleEndian, Array.init)
    }
    package mutating func bytes(_ field: Int, _ value: [UInt8]) { key(field, 2); varint(UInt64(value.count)); bytes += value }
    package mutating func string(_ field: Int, _ value: String) { bytes(field, Array(value.utf8)) }
    package mutating func message(_ field: Int, _ build: (inout ProtoWriter) -> Void) {
        var inner = ProtoWriter()
        build(&inner)
        bytes(field, inner.bytes)
    }
    /// A packed repeated double.
    package mutating func doubles(_ field: Int, _ values: [Double]) {
        var packed: [UInt8] = []
        packed.reserveCapacity(values.count * 8)
        for v in values { packed += withUnsafeBytes(of: v.bitPattern.littleEndian, Array.init) }
        bytes(field, packed)
    }
}

/// Writes TensorBoard event files: scalars, histograms and text-like tensors, each at a step.
/// TensorFlow: `tf.summary.create_file_writer(logdir)`; PyTorch: `torch.utils.tensorboard.SummaryWriter`.
///
/// ```swift
/// let writer = try SummaryWriter(logDir: "logs/run1")
/// for step in 0..<100 { try writer.scalar("loss", value: loss, step: step) }
/// try writer.close()
/// ```
///
/// Each writer makes one file, `events.out.tfevents.<seconds>.<host>.<pid>.<n>.v2`, in `logDir`
/// (created with its parents), beginning with the `brain.Event:2` version record as TensorFlow's
/// writer does. Scalars are written as `simple_value` and histograms as `HistogramProto`, the
/// forms TensorBoard's scalar and histogram dashboards (and its `EventAccumulator`) read.
public final class SummaryWriter {
    /// The folder of the file.
    public let logDir: String
    /// The event file's path.
    public let path: String
    private var handle: FileHandle?
    private static let counter = Locked(0)

    /// A writer of a new event file in `logDir` (created when missing), named as TensorFlow names them.
    public init(logDir: String) throws {
        self.logDir = logDir
        do {
            try FileManager.default.createDirectory(atPath: logDir, withIntermediateDirectories: true)
        } catch {
            throw LaminaError(.io, "SummaryWriter: cannot create \(logDir): \(error.localizedDescription)")
        }
        let n = Self.counter.withLock { $0 += 1; return $0 }
        let host = ProcessInfo.processInfo.hostName.split(separator: ".").first.map(String.init) ?? "localhost"
        let name = "events.out.tfevents.\(Int(Date().timeIntervalSince1970)).\(host).\(ProcessInfo.processInfo.processIdentifier).\(n).v2"
        path = (logDir as NSString).appendingPathComponent(name)
        guard FileManager.default.createFile(atPath: path, contents: nil), let h = FileHandle(forWritingAtPath: path) else {
            throw LaminaError(.io, "SummaryWriter: cannot create \(path)")
        }
        handle = h
        try write { $0.string(3, "brain.Event:2") }
    }

    deinit { try? handle?.close() }

    /// One `Event` with the wall time, `step` and what `body` adds (field 3: file_version,
    /// field 5: summary).
    private func write(step: Int? = nil, _ body: (inout ProtoWriter) -> Void) throws {
        guard let handle else { throw LaminaError(.io, "SummaryWriter: \(path) is closed") }
        var event = ProtoWriter()
        event.double(1, Date().timeIntervalSince1970)
        if let step { event.int(2, Int64(step)) }
        body(&event)
        do { try handle.write(contentsOf: TFRecord.frame(event.bytes)) } catch {
            throw LaminaError(.io, "SummaryWriter: cannot write \(path): \(error.localizedDescription)")
        }
    }

    /// A scalar (`tf.summary.scalar`; stored as float32, as TensorFlow stores it).
    public func scalar(_ tag: String, value: Double, step: Int) throws {
        try write(step: step) { e in
            e.message(5) { s in s.message(1) { v in v.string(1, tag); v.float(2, Float(value)) } }
        }
    }

    /// A histogram of `values` in `buckets` equal-width buckets between their minimum and
    /// maximum (`tf.summary.histogram`, whose default is 30 buckets). Non-finite values are
    /// left out; nothing is written when none remains.
    public func histogram(_ tag: String, values: [Double], step: Int, buckets: Int = 30) throws {
        let finite = values.filter(\.isFinite)
        guard let lo = finite.min(), let hi = finite.max() else { return }
        let count = hi > lo ? Swift.max(buckets, 1) : 1
        var limits = (1...count).map { lo + (hi - lo) * Double($0) / Double(count) }
        limits[count - 1] = hi
        var counts = [Double](repeating: 0, count: count)
        for v in finite {
            let i = hi > lo ? Int((v - lo) / (hi - lo) * Double(count)) : 0
            counts[Swift.min(Swift.max(i, 0), count - 1)] += 1
        }
        let sum = finite.reduce(0, +), squares = finite.reduce(0) { $0 + $1 * $1 }
        try write(step: step) { e in
            e.message(5) { s in
                s.message(1) { v in
                    v.string(1, tag)
                    v.message(5) { h in   // HistogramProto
                        h.double(1, lo); h.double(2, hi); h.double(3, Double(finite.count))
                        h.double(4, sum); h.double(5, squares)
                        h.doubles(6, limits); h.doubles(7, counts)
                    }
                }
            }
        }
    }

    /// A string tensor with a plugin's metadata (Keras writes its model config so, tag "keras",
    /// plugin "graph_keras_model", for TensorBoard's graph dashboard).
    public func text(_ tag: String, _ value: String, step: Int, plugin: String = "text", pluginContent: [UInt8] = []) throws {
        try write(step: step) { e in
            e.message(5) { s in
                s.message(1) { v in
                    v.string(1, tag)
                    v.message(9) { m in m.message(1) { p in p.string(1, plugin); if !pluginContent.isEmpty { p.bytes(2, pluginContent) } } }
                    v.message(8) { t in
                        t.int(1, 7)               // DT_STRING
                        t.message(2) { _ in }     // a scalar's empty shape
                        t.string(8, value)
                    }
                }
            }
        }
    }

    /// Writes what is buffered (each event is written as it comes; this syncs the file).
    public func flush() throws {
        try handle?.synchronize()
    }

    /// Closes the file; later writes throw.
    public func close() throws {
        guard let h = handle else { return }
        handle = nil
        try h.close()
    }
}
