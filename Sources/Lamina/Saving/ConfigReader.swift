import Foundation

/// Reads one Keras-style config object (`{"units": 10, "activation": "relu", ...}`) as it
/// arrives from a file: every value is checked for its type and range, and a problem
/// throws a `LaminaError` naming the class, the layer and the key. Nothing a file says
/// reaches an initializer's `precondition`.
///
/// Lamina's own model files and Keras's `config.json` share this schema, so one reader
/// serves both. `finish()` rejects options Lamina does not implement; keys that Keras
/// writes with a value that changes nothing (`"kernel_regularizer": null`,
/// `"data_format": "channels_last"`, ...) are accepted.
public final class ConfigReader {
    /// The class whose config this is (named in errors).
    public let className: String
    let values: [String: Any]
    private var used: Set<String> = []

    /// A reader of `values`, the config of a `className`.
    public init(className: String, values: [String: Any]) {
        self.className = className
        self.values = values
    }

    /// "Dense 'dense_1'" for messages.
    public var context: String {
        if let name = values["name"] as? String { return "\(className) '\(name)'" }
        return className
    }

    /// A configuration error naming the class and `message`.
    public func error(_ message: String) -> LaminaError { LaminaError.configuration("\(context): \(message)") }

    /// The raw value (nil when absent or JSON null), marking the key as understood.
    public func value(_ key: String) -> Any? {
        used.insert(key)
        guard let v = values[key], !(v is NSNull) else { return nil }
        return v
    }

    /// The integer at `key` (at least `minimum`), or `fallback` when absent; throws when it is
    /// missing without a fallback or not an integer.
    public func int(_ key: String, default fallback: Int? = nil, minimum: Int = .min) throws -> Int {
        guard let v = value(key) else {
            if let fallback { return fallback }
            throw error("missing '\(key)'")
        }
        guard let i = Self.integer(v), i >= minimum else {
            throw error("'\(key)' must be an integer\(minimum > .min ? " ≥ \(minimum)" : ""), got \(Self.show(v))")
        }
        return i
    }

    /// The integer at `key`, nil when absent or null.
    public func optionalInt(_ key: String, minimum: Int = .min) throws -> Int? {
        value(key) == nil ? nil : try int(key, minimum: minimum)
    }

    /// The number at `key` within `range`, or `fallback` when absent.
    public func double(_ key: String, default fallback: Double? = nil, in range: ClosedRange<Double> = -.greatestFiniteMagnitude ... .greatestFiniteMagnitude) throws -> Double {
        guard let v = value(key) else {
            if let fallback { return fallback }
            throw error("missing '\(key)'")
        }
        guard !Self.isBool(v), let d = (v as? NSNumber)?.doubleValue, d.isFinite, range.contains(d) else {
            throw error("'\(key)' must be a number in \(range.lowerBound)...\(range.upperBound), got \(Self.show(v))")
        }
        return d
    }

    /// The number at `key` within `range`, nil when absent or null.
    public func optionalDouble(_ key: String, in range: ClosedRange<Double> = 0 ... .greatestFiniteMagnitude) throws -> Double? {
        value(key) == nil ? nil : try double(key, in: range)
    }

    /// The Boolean at `key`, or `fallback` when absent.
    public func bool(_ key: String, default fallback: Bool? = nil) throws -> Bool {
        guard let v = value(key) else {
            if let fallback { return fallback }
            throw error("missing '\(key)'")
        }
        guard Self.isBool(v), let b = v as? Bool else { throw error("'\(key)' must be true or false, got \(Self.show(v))") }
        return b
    }

    /// The string at `key`, or `fallback` when absent.
    public func string(_ key: String, default fallback: String? = nil) throws -> String {
        guard let v = value(key) else {
            if let fallback { return fallback }
            throw error("missing '\(key)'")
        }
        guard let s = v as? String else { throw error("'\(key)' must be a string, got \(Self.show(v))") }
        return s
    }

    /// A list of integers; `null` entries (Keras's batch dimension) become -1 when allowed.
    public func ints(_ key: String, allowNull: Bool = false, minimum: Int = .min) throws -> [Int] {
        guard let v = value(key) else { throw error("missing '\(key)'") }
        guard let list = v as? [Any], list.count <= 64 else { throw error("'\(key)' must be a list of integers, got \(Self.show(v))") }
        return try list.map { item in
            if item is NSNull, allowNull { return -1 }
            guard let i = Self.integer(item), i >= minimum else {
                throw error("'\(key)' must be a list of integers\(minimum > .min ? " ≥ \(minimum)" : ""), got \(Self.show(v))")
            }
            return i
        }
    }

    /// Keras's int-or-tuple arguments (`kernel_size: 3` or `[3, 3]`), positive.
    public func pair(_ key: String, default fallback: (Int, Int)? = nil) throws -> (Int, Int) {
        guard let v = value(key) else {
            if let fallback { return fallback }
            throw error("missing '\(key)'")
        }
        if let i = Self.integer(v), i > 0 { return (i, i) }
        if let list = v as? [Any], list.count == 2, let a = Self.integer(list[0]), let b = Self.integer(list[1]), a > 0, b > 0 {
            return (a, b)
        }
        throw error("'\(key)' must be a positive integer or a pair of them, got \(Self.show(v))")
    }

    /// The positive pair `[a, b]` (or one integer for both) at `key`, nil when absent.
    public func optionalPair(_ key: String) throws -> (Int, Int)? {
        value(key) == nil ? nil : try pair(key)
    }

    /// The activation named (or serialized) at `key`, `fallback` when absent.
    public func activation(_ key: String = "activation", default fallback: ActivationFunction = .linear) throws -> ActivationFunction {
        guard let v = value(key) else { return fallback }
        guard let name = v as? String else {
            throw error("'\(key)' must be an activation name, got \(Self.show(v)) (custom activations cannot be loaded)")
        }
        do { return try ActivationFunction(named: name) } catch let e as LaminaError { throw error(e.message) }
    }

    /// The initializer named or serialized at `key`, `fallback` when absent.
    public func initializer(_ key: String, default fallback: Initializer) throws -> Initializer {
        guard let v = value(key) else { return fallback }
        do { return try Initializer(config: v) } catch let e as LaminaError { throw error("'\(key)': \(e.message)") }
    }

    /// `"valid"` or `"same"` at `key` (valid when absent).
    public func padding(_ key: String = "padding") throws -> Padding {
        switch try string(key, default: "valid").lowercased() {
        case "valid": return .valid
        case "same": return .same
        case let other: throw error("'\(key)' must be \"valid\" or \"same\", got \"\(other)\"")
        }
    }

    /// The weights' dtype: Lamina writes `"float32"`, Keras a `DTypePolicy` object. An input
    /// (`integer: true`) may also be `"int32"` (token ids).
    public func dtype(integer: Bool = false) throws -> DType {
        guard let v = value("dtype") else { return .float32 }
        var name = v as? String
        if let policy = v as? [String: Any], let config = policy["config"] as? [String: Any] { name = config["name"] as? String }
        switch name {
        case "float32": return .float32
        case "float64": return .float64
        case "int32" where integer: return .int32
        default: throw error("dtype \(Self.show(v)) is not supported (float32 or float64\(integer ? " or int32" : ""))")
        }
    }

    /// Throws when a key was neither read nor is one of Keras's no-effect settings.
    public func finish() throws {
        var unsupported: [String] = []
        for (key, v) in values.sorted(by: { $0.key < $1.key }) where !used.contains(key) && !(v is NSNull) {
            if let accepts = Self.inert[key], accepts(v) { continue }
            unsupported.append("\(key)=\(Self.show(v))")
        }
        guard unsupported.isEmpty else {
            throw error("option\(unsupported.count > 1 ? "s" : "") not supported by Lamina: \(unsupported.joined(separator: ", "))")
        }
    }

    /// Keys Keras writes whose given value is what Lamina does anyway.
    static let inert: [String: @Sendable (Any) -> Bool] = {
        typealias Test = @Sendable (Any) -> Bool
        func equals(_ s: String) -> Test { { ($0 as? String) == s } }
        func initializer(_ kind: Initializer.Kind) -> Test { { (try? Initializer(config: $0))?.kind == kind } }
        let isFalse: Test = { isBool($0) && ($0 as? Bool) == false }
        let isZero: Test = { ($0 as? NSNumber)?.doubleValue == 0 && !isBool($0) }
        let any: Test = { _ in true }
        let allOnes: Test = { v in
            if let i = integer(v) { return i == 1 }
            return (v as? [Any])?.allSatisfy { integer($0) == 1 } ?? false
        }
        return [
            "data_format": equals("channels_last"), "dilation_rate": allOnes, "groups": allOnes,
            "interpolation": equals("nearest"), "return_state": isFalse, "go_backwards": isFalse,
            "stateful": isFalse, "unroll": any, "zero_output_for_mask": any, "dropout": isZero,
            "recurrent_dropout": isZero, "synchronized": isFalse, "renorm": isFalse, "renorm_momentum": any,
            "sparse": isFalse, "ragged": isFalse, "optional": isFalse,
            "gamma_initializer": initializer(.ones), "beta_initializer": initializer(.zeros),
            "moving_mean_initializer": initializer(.zeros), "moving_variance_initializer": initializer(.ones),
            "use_ema": isFalse, "ema_momentum": any, "loss_scale_factor": any,
            "gradient_accumulation_steps": allOnes, "run_eagerly": any, "steps_per_execution": allOnes,
            "jit_compile": any, "auto_scale_loss": any, "shared_object_id": any,
        ]
    }()

    /// JSON's true/false (Foundation hands numbers and booleans out as NSNumber; `is Bool`
    /// also holds for the numbers 0 and 1).
    static func isBool(_ v: Any) -> Bool {
        guard let n = v as? NSNumber else { return false }
        return String(cString: n.objCType) == "c"
    }

    static func integer(_ v: Any) -> Int? {
        guard !isBool(v), let n = v as? NSNumber else { return nil }
        let d = n.doubleValue
        guard d.isFinite, d == d.rounded(), Swift.abs(d) < 1e15 else { return nil }
        return Int(d)
    }

    static func show(_ v: Any) -> String {
        if let s = v as? String { return "\"\(s.prefix(60))\"" }
        if let data = try? JSONSerialization.data(withJSONObject: v, options: [.fragmentsAllowed, .sortedKeys]),
           let text = String(data: data, encoding: .utf8) {
            return text.count > 80 ? text.prefix(77) + "..." : text
        }
        return String(describing: v).prefix(80).description
    }
}

/// A `{"class_name": ..., "config": {...}}` object, as Keras serializes layers, optimizers,
/// losses and initializers. Strings stand for a class with its defaults.
struct SerializedObject {
    let className: String
    let config: [String: Any]

    init(_ any: Any, what: String) throws {
        if let name = any as? String {
            (className, config) = (name, [:])
            return
        }
        guard let object = any as? [String: Any], let name = object["class_name"] as? String else {
            throw LaminaError.configuration("\(what) must be a name or {\"class_name\", \"config\"}, got \(ConfigReader.show(any))")
        }
        guard let config = (object["config"] ?? [String: Any]()) as? [String: Any] else {
            throw LaminaError.configuration("\(what) \(name): 'config' must be an object")
        }
        (className, self.config) = (name, config)
    }

    var reader: ConfigReader { ConfigReader(className: className, values: config) }
}

/// Keras's `{"module": ..., "class_name": ..., "config": ...}` wrapper.
func kerasObject(_ module: String, _ className: String, _ config: [String: Any]) -> [String: Any] {
    ["module": module, "class_name": className, "config": config, "registered_name": NSNull()]
}

extension Initializer {
    /// Keras's serialized form: `{"class_name": "GlorotUniform", "config": {"seed": null}}`.
    public var config: [String: Any] {
        var c: [String: Any] = ["seed": seed.map { NSNumber(value: $0) } ?? NSNull()]
        switch kind {
        case .zeros, .ones: c = [:]
        case .constant: c = ["value": a]
        case .randomNormal: c["mean"] = a; c["stddev"] = b
        case .randomUniform: c["minval"] = a; c["maxval"] = b
        case .orthogonal: c["gain"] = a == 0 ? 1 : a
        case .varianceScaling: c["scale"] = a; c["mode"] = mode.rawValue; c["distribution"] = distribution.rawValue
        default: break
        }
        let className = kind.rawValue.split(separator: "_").map { $0.prefix(1).uppercased() + $0.dropFirst() }.joined()
        return kerasObject("keras.initializers", className, c)
    }

    /// From a Keras name (`"glorot_uniform"`) or serialized object.
    public init(config any: Any) throws {
        let object = try SerializedObject(any, what: "initializer")
        let snake = NameScope.snakeCase(object.className)
        guard let kind = Kind(rawValue: snake) ?? Kind(rawValue: object.className) else {
            throw LaminaError.configuration("unknown initializer '\(object.className)'; known: \(Kind.allCases.map(\.rawValue).joined(separator: ", "))")
        }
        let r = object.reader
        let seed = try r.optionalInt("seed", minimum: 0).map(UInt64.init)
        switch kind {
        case .constant: self.init(.constant, try r.double("value", default: 0))
        case .randomNormal:
            self.init(.randomNormal, try r.double("mean", default: 0), try r.double("stddev", default: 0.05, in: 0...1e6), seed: seed)
        case .randomUniform:
            self.init(.randomUniform, try r.double("minval", default: -0.05), try r.double("maxval", default: 0.05), seed: seed)
        case .orthogonal: self.init(.orthogonal, try r.double("gain", default: 1), seed: seed)
        case .varianceScaling:
            let modeName = try r.string("mode", default: "fan_in"), distributionName = try r.string("distribution", default: "truncated_normal")
            guard let mode = FanMode(rawValue: modeName) else { throw r.error("'mode' must be fan_in, fan_out or fan_avg, got '\(modeName)'") }
            // Keras takes "normal" as "truncated_normal".
            guard let distribution = Distribution(rawValue: distributionName == "normal" ? "truncated_normal" : distributionName) else {
                throw r.error("'distribution' must be truncated_normal, untruncated_normal or uniform, got '\(distributionName)'")
            }
            self.init(.varianceScaling, try r.double("scale", default: 1, in: 1e-12...1e12), seed: seed, mode: mode, distribution: distribution)
        default: self.init(kind, seed: seed)
        }
        _ = r.value("input_axes"); _ = r.value("output_axes")
        try r.finish()
    }
}
