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
    public let batch: Tensor
    public let format: Format

    /// The largest batch one request may carry (samples).
    public static let maximumSamples = 1 << 16

    public static func parse(_ body: [UInt8], inputShape: [Int]) throws(RequestError) -> PredictRequest {
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
        guard let list = rows as? [Any] else {
            if rows is [String: Any] { throw RequestError(400, "named inputs are not supported: the model has one unnamed input") }
            throw RequestError(400, "\"\(format == .instances ? "instances" : "inputs")\" must be a list of samples")
        }
        guard !list.isEmpty else { throw RequestError(400, "no instances: the batch is empty") }
        guard list.count <= maximumSamples else { throw RequestError(413, "\(list.count) samples in one request; the limit is \(maximumSamples)") }
        let perSample = inputShape.reduce(1, *)
        var values = [Float]()
        values.reserveCapacity(list.count * perSample)
        for (i, sample) in list.enumerated() {
            if sample is [String: Any] { throw RequestError(400, "instance \(i): named inputs are not supported: the model has one unnamed input") }
            try flatten(sample, expecting: inputShape[...], at: "instance \(i)", into: &values)
        }
        return PredictRequest(batch: Tensor(shape: [list.count] + inputShape, scalars: values), format: format)
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
        var text = format == .instances ? "{\"predictions\": " : "{\"outputs\": "
        let values = output.cast(to: .float32).asArray(Float.self)
        var index = 0
        func write(_ shape: ArraySlice<Int>) {
            guard let n = shape.first else {
                let v = values[index]
                index += 1
                text += v.isFinite ? "\(v)" : "null"
                return
            }
            text += "["
            for i in 0..<n {
                if i > 0 { text += ", " }
                write(shape.dropFirst())
            }
            text += "]"
        }
        write(output.shape[...])
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
