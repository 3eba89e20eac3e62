import Foundation
import Lamina

/// A problem with a request, answered with a 4xx status and a message that names it.
public struct RequestError: Error, Equatable, CustomStringConvertible {
    /// The HTTP status (400, 404, 413, ...).
    public let status: Int
    /// What was wrong, for the `{"error": ...}` body.
    public let message: String
    /// An error answered with `status` and `message`.
    public init(_ status: Int, _ message: String) { (self.status, self.message) = (status, message) }
    /// `status: message`.
    public var description: String { "\(status): \(message)" }
}

/// A TensorFlow Serving REST `:predict` body, read and checked against the model's input
/// shapes, as TF Serving's REST API takes it:
/// - row format `{"instances": [x₀, x₁, ...]}`: one nested list per sample, or one object per
///   sample by input name (`{"instances": [{"a": [...], "b": [...]}]}`, required with several
///   inputs);
/// - columnar format `{"inputs": [[...], ...]}` (a single input's batch) or `{"inputs": {"a":
///   [...], "b": [...]}}` (a batch per input by name);
/// - `signature_name` `"serving_default"` (TF Serving's default) or `"serve"` (what Keras 3's
///   `model.export` writes); other top-level keys are ignored, as TF Serving ignores them;
/// - numbers are float32 (`NaN`, `Infinity` and `-Infinity` included, as TF Serving takes them;
///   a finite number beyond float32's range is refused); the batch must not be empty; shapes
///   must match exactly (ragged lists are refused).
/// The body is read by `RequestReader`, a strict purpose-built parser that puts the numbers
/// straight into the input buffers. Nothing a client sends reaches a precondition: each
/// problem is a `RequestError`.
public struct PredictRequest: Sendable {
    /// TF Serving's row format (`instances`) or columnar format (`inputs`); the response mirrors it.
    public enum Format: Sendable { case instances, inputs }
    /// A batch of each model input, in the model's input order.
    public let inputs: [Tensor]
    /// Which format the request used.
    public let format: Format
    /// The batch of a single-input model.
    public var batch: Tensor { inputs[0] }

    /// The largest batch one request may carry (samples).
    public static let maximumSamples = 1 << 16

    /// The signature names accepted (TF Serving's default and Keras 3 `model.export`'s).
    public static let signatureNames: Set<String> = ["serving_default", "serve"]

    /// A request for a model of one input of `inputShape`.
    public static func parse(_ body: [UInt8], inputShape: [Int]) throws(RequestError) -> PredictRequest {
        try parse(body, inputNames: ["input"], inputShapes: [inputShape])
    }

    /// A request for a model of these inputs. With several inputs each instance is an object
    /// by input name (`{"instances": [{"a": [...], "b": [...]}]}`) and the columnar form an object
    /// of batches (`{"inputs": {"a": [[...]], "b": [[...]]}}`), as TensorFlow Serving takes them;
    /// a single input may be named too.
    public static func parse(_ body: [UInt8], inputNames: [String], inputShapes: [[Int]]) throws(RequestError) -> PredictRequest {
        do {
            return try body.withUnsafeBytes { bytes in try parse(bytes: bytes, inputNames: inputNames, inputShapes: inputShapes) }
        } catch let error as RequestError {
            throw error
        } catch {
            throw RequestError(400, "\(error)")
        }
    }

    /// The same, from bytes in place (the server's request buffer).
    public static func parse(bytes: UnsafeRawBufferPointer, inputNames: [String], inputShapes: [[Int]]) throws(RequestError) -> PredictRequest {
        precondition(inputNames.count == inputShapes.count && !inputNames.isEmpty, "one name per input shape")
        var reader = RequestReader(bytes)
        reader.skipSpace()
        guard !reader.atEnd else { throw RequestError(400, "empty request body; send {\"instances\": [...]} or {\"inputs\": [...]}") }
        guard reader.consume(UInt8(ascii: "{")) else {
            try reader.skipValue()   // malformed JSON is named as such
            reader.skipSpace()
            guard reader.atEnd else { throw reader.malformed("trailing characters after the value") }
            throw RequestError(400, "the body must be a JSON object with \"instances\" or \"inputs\"")
        }
        var values = [[Float]](repeating: [], count: inputNames.count)
        var format: Format?
        var count = 0
        var tensorSeen = false
        if !reader.consume(UInt8(ascii: "}")) {
            repeat {
                reader.skipSpace()
                guard reader.peek() == UInt8(ascii: "\"") else { throw reader.malformed("expected a key") }
                let key = try reader.string()
                try reader.expect(UInt8(ascii: ":"), "':' after a key")
                reader.skipSpace()
                switch key {
                case "instances", "inputs":
                    guard !tensorSeen else {
                        throw RequestError(400, format == (key == "inputs" ? .inputs : .instances)
                                           ? "\"\(key)\" is given twice" : "give either \"instances\" or \"inputs\", not both")
                    }
                    tensorSeen = true
                    format = key == "instances" ? .instances : .inputs
                    var tensors = TensorReader(names: inputNames, shapes: inputShapes)
                    count = key == "instances" ? try tensors.instances(&reader) : try tensors.columns(&reader)
                    values = tensors.values
                case "signature_name":
                    guard reader.peek() == UInt8(ascii: "\"") else {
                        throw RequestError(400, "signature_name must be a string: \(signatureNames.sorted().map { "\"\($0)\"" }.joined(separator: " or "))")
                    }
                    let signature = try reader.string()
                    guard signatureNames.contains(signature) else {
                        throw RequestError(400, "unknown signature_name \"\(signature.prefix(100))\"; this server has \(signatureNames.sorted().map { "\"\($0)\"" }.joined(separator: " or "))")
                    }
                default:
                    try reader.skipValue(depth: 1)   // TF Serving ignores keys it does not know
                }
            } while reader.consume(UInt8(ascii: ","))
            try reader.expect(UInt8(ascii: "}"), "',' or '}' in an object")
        }
        reader.skipSpace()
        guard reader.atEnd else { throw reader.malformed("trailing characters after the object") }
        guard let format else { throw RequestError(400, "the body needs \"instances\" or \"inputs\"") }
        guard count > 0 else { throw RequestError(400, "no instances: the batch is empty") }
        let tensors = zip(values, inputShapes).map { Tensor(shape: [count] + $1, scalars: $0) }
        return PredictRequest(inputs: tensors, format: format)
    }
}

/// Reads the tensor part of a request (`instances` or `inputs`) into one buffer per input.
struct TensorReader {
    let names: [String]
    let shapes: [[Int]]
    var values: [[Float]]
    var indices: [Int] = []
    var several: Bool { names.count > 1 }

    init(names: [String], shapes: [[Int]]) {
        (self.names, self.shapes) = (names, shapes)
        values = shapes.map { _ in [] }
        indices.reserveCapacity(16)
    }

    /// `count` samples are within the limit (an empty batch is refused once the whole body is read).
    static func check(_ count: Int) throws(RequestError) {
        guard count <= PredictRequest.maximumSamples else {
            throw RequestError(413, "over \(PredictRequest.maximumSamples) samples in one request; the limit is \(PredictRequest.maximumSamples)")
        }
    }

    func index(of key: String) -> Int? { names.firstIndex(of: key) }

    func nameError(_ path: String, missing: [String], unknown: [String]) -> RequestError {
        RequestError(400, "\(path): the model's inputs are \(names)"
                     + (missing.isEmpty ? "" : "; missing \(missing)") + (unknown.isEmpty ? "" : "; unknown \(unknown.map { String($0.prefix(100)) })"))
    }

    /// `[x₀, x₁, ...]` or `[{"a": ..., "b": ...}, ...]`: the number of samples.
    mutating func instances(_ reader: inout RequestReader) throws(RequestError) -> Int {
        guard try reader.openSampleList("\"instances\" must be a list of samples") else { return 0 }
        var count = 0
        var seen = [Bool](repeating: false, count: names.count)
        repeat {
            try Self.check(count + 1)
            reader.skipSpace()
            let i = count
            if reader.peek() == UInt8(ascii: "{") {
                reader.at += 1
                for k in seen.indices { seen[k] = false }
                if !reader.consume(UInt8(ascii: "}")) {
                    repeat {
                        reader.skipSpace()
                        guard reader.peek() == UInt8(ascii: "\"") else { throw reader.malformed("expected a key") }
                        let key = try reader.string()
                        guard let k = index(of: key) else { throw nameError("instance \(i)", missing: [], unknown: [key]) }
                        guard !seen[k] else { throw RequestError(400, "instance \(i): \"\(key)\" is given twice") }
                        seen[k] = true
                        try reader.expect(UInt8(ascii: ":"), "':' after a key")
                        let several = several
                        indices.removeAll(keepingCapacity: true)
                        try reader.sample(shapes[k], into: &values[k], at: several ? "instance \(i).\(key)" : "instance \(i)", indices: &indices)
                    } while reader.consume(UInt8(ascii: ","))
                    try reader.expect(UInt8(ascii: "}"), "',' or '}' in an object")
                }
                let missing = names.indices.filter { !seen[$0] }.map { names[$0] }
                guard missing.isEmpty else { throw nameError("instance \(i)", missing: missing, unknown: []) }
            } else if several {
                throw RequestError(400, "instance \(i): the model has \(names.count) inputs; give each instance as an object {\(names.map { "\"\($0)\": ..." }.joined(separator: ", "))}")
            } else {
                indices.removeAll(keepingCapacity: true)
                try reader.sample(shapes[0], into: &values[0], at: "instance \(i)", indices: &indices)
            }
            count += 1
        } while reader.consume(UInt8(ascii: ","))
        try reader.expect(UInt8(ascii: "]"), "',' or ']' in a list")
        return count
    }

    /// `[x₀, x₁, ...]` (a single input's batch) or `{"a": [...], "b": [...]}`: the number of samples.
    mutating func columns(_ reader: inout RequestReader) throws(RequestError) -> Int {
        if reader.peek() == UInt8(ascii: "{") {
            reader.at += 1
            var counts = [Int?](repeating: nil, count: names.count)
            if !reader.consume(UInt8(ascii: "}")) {
                repeat {
                    reader.skipSpace()
                    guard reader.peek() == UInt8(ascii: "\"") else { throw reader.malformed("expected a key") }
                    let key = try reader.string()
                    guard let k = index(of: key) else { throw nameError("inputs", missing: [], unknown: [key]) }
                    guard counts[k] == nil else { throw RequestError(400, "inputs: \"\(key)\" is given twice") }
                    try reader.expect(UInt8(ascii: ":"), "':' after a key")
                    counts[k] = try batch(k, &reader, path: several ? { "\(key)[\($0)]" } : { "instance \($0)" })
                } while reader.consume(UInt8(ascii: ","))
                try reader.expect(UInt8(ascii: "}"), "',' or '}' in an object")
            }
            let missing = names.indices.filter { counts[$0] == nil }.map { names[$0] }
            guard missing.isEmpty else { throw nameError("inputs", missing: missing, unknown: []) }
            let first = counts[0]!
            for k in names.indices where counts[k]! != first {
                throw RequestError(400, "inputs \(names[k]) has \(counts[k]!) samples, \(names[0]) has \(first)")
            }
            return first
        }
        guard !several else {
            try reader.skipValue(depth: 1)   // malformed JSON is named as such
            throw RequestError(400, "the model has \(names.count) inputs; give \"inputs\" as an object of batches by name \(names)")
        }
        return try batch(0, &reader, path: { "instance \($0)" })
    }

    /// A list of samples of input `k`: their number.
    private mutating func batch(_ k: Int, _ reader: inout RequestReader, path: (Int) -> String) throws(RequestError) -> Int {
        guard try reader.openSampleList("inputs \(names[k]) must be a list of samples") else { return 0 }
        var count = 0
        repeat {
            try Self.check(count + 1)
            indices.removeAll(keepingCapacity: true)
            try reader.sample(shapes[k], into: &values[k], at: path(count), indices: &indices)
            count += 1
        } while reader.consume(UInt8(ascii: ","))
        try reader.expect(UInt8(ascii: "]"), "',' or ']' in a list")
        return count
    }
}

/// TensorFlow Serving's response bodies.
enum ResponseBody {
    /// `{"predictions": [...]}` for row requests, `{"outputs": [...]}` for columnar ones: one
    /// nested list per sample, in the model's per-sample output shape.
    static func predictions(_ output: Tensor, format: PredictRequest.Format) -> [UInt8] {
        predictions([output], names: ["output"], format: format)
    }

    /// Several outputs by name, as TensorFlow Serving answers: row format one object per sample
    /// (`{"predictions": [{"cls": [...], "score": [...]}, ...]}`), columnar one batch per name
    /// (`{"outputs": {"cls": [...], "score": [...]}}`). One output: its nested lists alone.
    static func predictions(_ outputs: [Tensor], names: [String], format: PredictRequest.Format) -> [UInt8] {
        let values = outputs.map { $0.dtype == .float32 ? $0.asArray(Float.self) : $0.cast(to: .float32).asArray(Float.self) }
        var out = JSONWriter(capacity: 32 + values.reduce(0) { $0 + $1.count * 12 })
        out.raw(format == .instances ? "{\"predictions\": " : "{\"outputs\": ")
        if outputs.count == 1 {
            var index = 0
            values[0].withUnsafeBufferPointer { out.nested($0, outputs[0].shape[...], &index) }
        } else if format == .inputs {
            out.byte(UInt8(ascii: "{"))
            for k in outputs.indices {
                var index = 0
                if k > 0 { out.raw(", ") }
                out.string(names[k])
                out.raw(": ")
                values[k].withUnsafeBufferPointer { out.nested($0, outputs[k].shape[...], &index) }
            }
            out.byte(UInt8(ascii: "}"))
        } else {
            var indices = [Int](repeating: 0, count: outputs.count)
            out.byte(UInt8(ascii: "["))
            for row in 0..<(outputs.first?.shape.first ?? 0) {
                if row > 0 { out.raw(", ") }
                out.byte(UInt8(ascii: "{"))
                for k in outputs.indices {
                    if k > 0 { out.raw(", ") }
                    out.string(names[k])
                    out.raw(": ")
                    values[k].withUnsafeBufferPointer { out.nested($0, outputs[k].shape.dropFirst(), &indices[k]) }
                }
                out.byte(UInt8(ascii: "}"))
            }
            out.byte(UInt8(ascii: "]"))
        }
        out.byte(UInt8(ascii: "}"))
        return out.bytes
    }

    static func error(_ message: String) -> [UInt8] {
        var out = JSONWriter(capacity: message.utf8.count + 16)
        out.raw("{\"error\": ")
        out.string(message)
        out.byte(UInt8(ascii: "}"))
        return out.bytes
    }

    static func json(_ object: Any) -> [UInt8] {
        (try? JSONSerialization.data(withJSONObject: object, options: [.sortedKeys])).map { Array($0) } ?? Array("{}".utf8)
    }
}

/// Writes JSON into a byte buffer: numbers without a `String` each (the standard library's
/// shortest round-trip formatting, `Float.description`'s digits, handed over as ASCII bytes
/// through `TextOutputStream._writeASCII`); non-finite values as TF Serving writes them
/// (`NaN`, `Infinity`, `-Infinity`).
struct JSONWriter: TextOutputStream {
    var bytes: [UInt8] = []

    init(capacity: Int) { bytes.reserveCapacity(capacity) }

    @inline(__always) mutating func byte(_ b: UInt8) { bytes.append(b) }
    mutating func raw(_ text: StaticString) {
        text.withUTF8Buffer { bytes.append(contentsOf: $0) }
    }

    /// A JSON string, escaped.
    mutating func string(_ text: String) {
        bytes.append(UInt8(ascii: "\""))
        for c in text.utf8 {
            switch c {
            case UInt8(ascii: "\""): raw("\\\"")
            case UInt8(ascii: "\\"): raw("\\\\")
            case 0x0A: raw("\\n")
            case 0x0D: raw("\\r")
            case 0x09: raw("\\t")
            case 0..<0x20:
                let hex = Array("0123456789abcdef".utf8)
                raw("\\u00")
                bytes.append(hex[Int(c >> 4)])
                bytes.append(hex[Int(c & 15)])
            default: bytes.append(c)
            }
        }
        bytes.append(UInt8(ascii: "\""))
    }

    @inline(__always) mutating func number(_ v: Float) {
        if v.isFinite {
            // Small integers (class scores of 0 and 1, counts) without the general formatter.
            if v == v.rounded(.towardZero) && Swift.abs(v) < 1e6 && !(v == 0 && v.sign == .minus) {
                var n = Int(v)
                if n < 0 { bytes.append(UInt8(ascii: "-")); n = -n }
                var digits: (UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8) = (0, 0, 0, 0, 0, 0, 0)
                var count = 0
                withUnsafeMutableBytes(of: &digits) { d in
                    repeat { d[count] = UInt8(ascii: "0") + UInt8(n % 10); n /= 10; count += 1 } while n > 0
                    for k in stride(from: count - 1, through: 0, by: -1) { bytes.append(d[k]) }
                }
                raw(".0")
            } else {
                v.write(to: &self)
            }
        } else if v.isNaN {
            raw("NaN")
        } else {
            raw(v < 0 ? "-Infinity" : "Infinity")
        }
    }

    /// `shape`'s nested lists of `values` from `index` on.
    mutating func nested(_ values: UnsafeBufferPointer<Float>, _ shape: ArraySlice<Int>, _ index: inout Int) {
        guard let n = shape.first else {
            number(values[index])
            index += 1
            return
        }
        bytes.append(UInt8(ascii: "["))
        if shape.count == 1 {
            for i in 0..<n {
                if i > 0 { bytes.append(UInt8(ascii: ",")); bytes.append(UInt8(ascii: " ")) }
                number(values[index + i])
            }
            index += n
        } else {
            for i in 0..<n {
                if i > 0 { bytes.append(UInt8(ascii: ",")); bytes.append(UInt8(ascii: " ")) }
                nested(values, shape.dropFirst(), &index)
            }
        }
        bytes.append(UInt8(ascii: "]"))
    }

    // TextOutputStream: `Float.write(to:)` hands its digits to `_writeASCII` from a stack buffer.
    mutating func write(_ string: String) { bytes.append(contentsOf: string.utf8) }
    mutating func _writeASCII(_ buffer: UnsafeBufferPointer<UInt8>) { bytes.append(contentsOf: buffer) }
}
