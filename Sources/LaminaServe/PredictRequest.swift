import Foundation
import Lamina

/// A problem with a request, answered with a 4xx status and a message that names it.
public struct RequestError: Error, Equatable, CustomStringConvertible {
    public let status: Int
    public let message: String
    public init(_ status: Int, _ message: String) { (self.status, self.message) = (status, message) }
    public var description: String { "\(status): \(message)" }
}

/// A TensorFlow Serving REST `:predict` body, read and checked against the model's input
/// shape: `{"instances": [x₀, x₁, ...]}` (row format: one nested list per sample) or
/// `{"inputs": [[...], ...]}` (columnar format; for a single-input model, the batch itself).
/// Every value must be a finite number; the batch must not be empty; shapes must match.
/// Nothing a client sends reaches a precondition: each problem is a `RequestError`.
public struct PredictRequest: Sendable {
    public enum Format: Sendable { case instances, inputs }
    /// A batch of each model input, in the model's input order.
    public let inputs: [Tensor]
    public let format: Format
    /// The batch of a single-input model.
    public var batch: Tensor { inputs[0] }

    /// The largest batch one request may carry (samples).
    public static let maximumSamples = 1 << 16

    /// A request for a model of one input of `inputShape`.
    public static func parse(_ body: [UInt8], inputShape: [Int]) throws(RequestError) -> PredictRequest {
        try parse(body, inputNames: ["input"], inputShapes: [inputShape])
    }

    /// A request for a model of these inputs. With several inputs each instance is an object
    /// by input name (`{"instances": [{"a": [...], "b": [...]}]}`) and the columnar form an object
    /// of batches (`{"inputs": {"a": [[...]], "b": [[...]]}}`), as TensorFlow Serving takes them;
    /// a single input may be named too.
    public static func parse(_ body: [UInt8], inputNames: [String], inputShapes: [[Int]]) throws(RequestError) -> PredictRequest {
        guard !body.isEmpty else { throw RequestError(400, "empty request body; send {\"instances\": [...]} or {\"inputs\": [...]}") }
        let object: Any
        do {
            object = try JSONSerialization.jsonObject(with: Data(body), options: [])
        } catch {
            let text = String(decoding: body.prefix(1 << 20), as: UTF8.self)
            if text.contains("NaN") || text.contains("Infinity") {
                throw RequestError(400, "the request holds NaN or Infinity; inputs must be finite numbers")
            }
            throw RequestError(400, "malformed JSON: \(Self.describe(error))")
        }
        guard let fields = object as? [String: Any] else {
            throw RequestError(400, "the body must be a JSON object with \"instances\" or \"inputs\"")
        }
        let unknown = fields.keys.filter { $0 != "instances" && $0 != "inputs" && $0 != "signature_name" }.sorted()
        guard unknown.isEmpty else { throw RequestError(400, "unknown field\(unknown.count > 1 ? "s" : "") \(unknown.joined(separator: ", "))") }
        if let signature = fields["signature_name"], (signature as? String) != "serving_default" {
            throw RequestError(400, "signature_name must be \"serving_default\"")
        }
        let format: Format
        let rows: Any
        switch (fields["instances"], fields["inputs"]) {
        case let (instances?, nil): (format, rows) = (.instances, instances)
        case let (nil, inputs?): (format, rows) = (.inputs, inputs)
        case (.some, .some): throw RequestError(400, "give either \"instances\" or \"inputs\", not both")
        case (nil, nil): throw RequestError(400, "the body needs \"instances\" or \"inputs\"")
        }
        let several = inputNames.count > 1
        /// The named parts of an object: exactly the model's inputs.
        func named(_ object: [String: Any], at path: String) throws(RequestError) -> [Any] {
            let extra = Set(object.keys).subtracting(inputNames), missing = inputNames.filter { object[$0] == nil }
            guard extra.isEmpty && missing.isEmpty else {
                throw RequestError(400, "\(path): the model's inputs are \(inputNames)"
                    + (missing.isEmpty ? "" : "; missing \(missing)") + (extra.isEmpty ? "" : "; unknown \(extra.sorted())"))
            }
            return inputNames.map { object[$0]! }
        }
        var values = [[Float]](repeating: [], count: inputNames.count)
        var count = 0
        switch format {
        case .instances:
            guard let list = rows as? [Any] else { throw RequestError(400, "\"instances\" must be a list of samples") }
            count = list.count
            try check(count)
            for (i, sample) in list.enumerated() {
                let parts: [Any]
                if let object = sample as? [String: Any] {
                    parts = try named(object, at: "instance \(i)")
                } else if several {
                    throw RequestError(400, "instance \(i): the model has \(inputNames.count) inputs; give each instance as an object {\(inputNames.map { "\"\($0)\": ..." }.joined(separator: ", "))}")
                } else {
                    parts = [sample]
                }
                for (k, part) in parts.enumerated() {
                    try flatten(part, expecting: inputShapes[k][...], at: several ? "instance \(i).\(inputNames[k])" : "instance \(i)", into: &values[k])
                }
            }
        case .inputs:
            let batches: [Any]
            if let object = rows as? [String: Any] {
                batches = try named(object, at: "inputs")
            } else if several {
                throw RequestError(400, "the model has \(inputNames.count) inputs; give \"inputs\" as an object of batches by name \(inputNames)")
            } else {
                batches = [rows]
            }
            for (k, batch) in batches.enumerated() {
                guard let list = batch as? [Any] else { throw RequestError(400, "inputs \(inputNames[k]) must be a list of samples") }
                if k == 0 { count = list.count; try check(count) }
                guard list.count == count else {
                    throw RequestError(400, "inputs \(inputNames[k]) has \(list.count) samples, \(inputNames[0]) has \(count)")
                }
                for (i, sample) in list.enumerated() {
                    try flatten(sample, expecting: inputShapes[k][...], at: several ? "\(inputNames[k])[\(i)]" : "instance \(i)", into: &values[k])
                }
            }
        }
        let tensors = zip(values, inputShapes).map { Tensor(shape: [count] + $1, scalars: $0) }
        return PredictRequest(inputs: tensors, format: format)
    }

    private static func check(_ count: Int) throws(RequestError) {
        guard count > 0 else { throw RequestError(400, "no instances: the batch is empty") }
        guard count <= maximumSamples else { throw RequestError(413, "\(count) samples in one request; the limit is \(maximumSamples)") }
    }

    /// Appends the numbers of a nested list of `shape`, checking each level's length and each value.
    private static func flatten(_ value: Any, expecting shape: ArraySlice<Int>, at path: String,
                                into out: inout [Float]) throws(RequestError) {
        guard let length = shape.first else {
            out.append(try number(value, at: path))
            return
        }
        guard let list = value as? [Any] else {
            throw RequestError(400, "\(path): expected a list of \(length) (sample shape \(Array(shape))), got \(kind(value))")
        }
        guard list.count == length else {
            throw RequestError(400, "\(path): expected \(length) values at this level (sample shape \(Array(shape))), got \(list.count)")
        }
        for (i, item) in list.enumerated() {
            try flatten(item, expecting: shape.dropFirst(), at: "\(path)[\(i)]", into: &out)
        }
    }

    private static func number(_ value: Any, at path: String) throws(RequestError) -> Float {
        guard let n = value as? NSNumber, !isBool(n) else { throw RequestError(400, "\(path): expected a number, got \(kind(value))") }
        let d = n.doubleValue
        guard d.isFinite, Swift.abs(d) <= Double(Float.greatestFiniteMagnitude) else {
            throw RequestError(400, "\(path): \(d) is not a finite float32 value")
        }
        return Float(d)
    }

    private static func isBool(_ n: NSNumber) -> Bool { String(cString: n.objCType) == "c" }

    private static func kind(_ value: Any) -> String {
        switch value {
        case let n as NSNumber: return isBool(n) ? "a boolean" : "a number"
        case is String: return "a string"
        case is [Any]: return "a list"
        case is [String: Any]: return "an object"
        case is NSNull: return "null"
        default: return "\(type(of: value))"
        }
    }

    private static func describe(_ error: Error) -> String {
        let text = "\(error)"
        return text.count > 200 ? String(text.prefix(200)) + "…" : text
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
        var text = format == .instances ? "{\"predictions\": " : "{\"outputs\": "
        let values = outputs.map { $0.cast(to: .float32).asArray(Float.self) }
        func write(_ k: Int, _ shape: ArraySlice<Int>, _ index: inout Int) {
            guard let n = shape.first else {
                let v = values[k][index]
                index += 1
                text += v.isFinite ? "\(v)" : "null"
                return
            }
            text += "["
            for i in 0..<n {
                if i > 0 { text += ", " }
                write(k, shape.dropFirst(), &index)
            }
            text += "]"
        }
        if outputs.count == 1 {
            var index = 0
            write(0, outputs[0].shape[...], &index)
        } else if format == .inputs {
            text += "{"
            for k in outputs.indices {
                var index = 0
                text += (k > 0 ? ", " : "") + "\"\(names[k])\": "
                write(k, outputs[k].shape[...], &index)
            }
            text += "}"
        } else {
            var indices = [Int](repeating: 0, count: outputs.count)
            text += "["
            for row in 0..<(outputs.first?.shape.first ?? 0) {
                text += (row > 0 ? ", " : "") + "{"
                for k in outputs.indices {
                    text += (k > 0 ? ", " : "") + "\"\(names[k])\": "
                    write(k, outputs[k].shape.dropFirst(), &indices[k])
                }
                text += "}"
            }
            text += "]"
        }
        text += "}"
        return Array(text.utf8)
    }

    static func error(_ message: String) -> [UInt8] {
        json(["error": message])
    }

    static func json(_ object: Any) -> [UInt8] {
        (try? JSONSerialization.data(withJSONObject: object, options: [.sortedKeys])).map { Array($0) } ?? Array("{}".utf8)
    }
}
