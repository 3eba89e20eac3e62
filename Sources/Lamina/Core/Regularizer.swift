import Foundation

/// A weight penalty added to the training loss, as Keras adds `model.losses`:
/// `kernelRegularizer: .l2(0.01)`. Keras: `keras.regularizers` (`L1`, `L2`, `L1L2`).
/// Immutable once made; a class owns its round trip like layers do.
open class Regularizer: @unchecked Sendable {
    /// A regularizer (subclasses add their factors).
    public init() {}

    /// The penalty for one weight (differentiable).
    open func callAsFunction(_ w: Tensor) -> Tensor { fatalError("\(type(of: self)) must override callAsFunction(_:)") }

    /// The Keras class name this class saves as and loads from.
    open class var kerasClassName: String { String(describing: self) }
    /// Keras's config entries (`{"l2": 0.01}`).
    open func config() -> [String: Any] { [:] }
    /// A regularizer of this class from Keras's config. Registered classes override it.
    open class func fromKerasConfig(_ r: ConfigReader) throws -> Regularizer {
        throw LaminaError.configuration("\(kerasClassName) cannot be loaded: it does not override class func fromKerasConfig(_:)")
    }

    /// l1·Σ|w|. Keras: `L1(l1=0.01)`.
    public static func l1(_ l1: Double = 0.01) -> Regularizer { L1(l1) }
    /// l2·Σw². Keras: `L2(l2=0.01)`.
    public static func l2(_ l2: Double = 0.01) -> Regularizer { L2(l2) }
    /// l1·Σ|w| + l2·Σw². Keras: `L1L2(l1=0.0, l2=0.0)`.
    public static func l1l2(l1: Double = 0, l2: Double = 0) -> Regularizer { L1L2(l1: l1, l2: l2) }

    /// A regularizer from Keras's serialized form or name (`"l2"`).
    static func fromConfig(_ any: Any) throws -> Regularizer {
        if let name = any as? String {
            switch name.lowercased() {
            case "l1": return L1()
            case "l2": return L2()
            case "l1l2", "l1_l2": return L1L2(l1: 0.01, l2: 0.01)
            default: return try RegularizerRegistry.classes.require(name).fromKerasConfig(ConfigReader(className: name, values: [:]))
            }
        }
        let object = try SerializedObject(any, what: "regularizer")
        let r = object.reader
        let regularizer = try RegularizerRegistry.classes.require(object.className).fromKerasConfig(r)
        try r.finish()
        return regularizer
    }

    /// Keras's serialized form.
    func serialize() throws -> [String: Any] {
        try RegularizerRegistry.classes.checkSavable(type(of: self))
        return kerasObject("keras.regularizers", type(of: self).kerasClassName, config())
    }
}

/// l1·Σ|w|. Keras: `keras.regularizers.L1(l1=0.01)`.
public final class L1: Regularizer, @unchecked Sendable {
    /// The factor.
    public let l1: Double
    /// The penalty l1·Σ|w|.
    public init(_ l1: Double = 0.01) { self.l1 = l1 }
    public override func callAsFunction(_ w: Tensor) -> Tensor { w.abs().sum() * l1 }
    public override func config() -> [String: Any] { ["l1": l1] }
    public override class func fromKerasConfig(_ r: ConfigReader) throws -> Regularizer { L1(try r.double("l1", default: 0.01, in: 0...1e6)) }
}

/// l2·Σw². Keras: `keras.regularizers.L2(l2=0.01)`.
public final class L2: Regularizer, @unchecked Sendable {
    /// The factor.
    public let l2: Double
    /// The penalty l2·Σw².
    public init(_ l2: Double = 0.01) { self.l2 = l2 }
    public override func callAsFunction(_ w: Tensor) -> Tensor { w.square().sum() * l2 }
    public override func config() -> [String: Any] { ["l2": l2] }
    public override class func fromKerasConfig(_ r: ConfigReader) throws -> Regularizer { L2(try r.double("l2", default: 0.01, in: 0...1e6)) }
}

/// l1·Σ|w| + l2·Σw². Keras: `keras.regularizers.L1L2(l1=0.0, l2=0.0)`.
public final class L1L2: Regularizer, @unchecked Sendable {
    /// The two factors.
    public let l1: Double, l2: Double
    /// The penalty l1·Σ|w| + l2·Σw².
    public init(l1: Double = 0, l2: Double = 0) { (self.l1, self.l2) = (l1, l2) }
    public override func callAsFunction(_ w: Tensor) -> Tensor { w.abs().sum() * l1 + w.square().sum() * l2 }
    public override func config() -> [String: Any] { ["l1": l1, "l2": l2] }
    public override class func fromKerasConfig(_ r: ConfigReader) throws -> Regularizer {
        L1L2(l1: try r.double("l1", default: 0, in: 0...1e6), l2: try r.double("l2", default: 0, in: 0...1e6))
    }
}

/// Loadable regularizer classes by Keras class name; registering is naming the class.
public enum RegularizerRegistry {
    static let builtinTypes: [Regularizer.Type] = [L1.self, L2.self, L1L2.self]
    static let classes = KerasClasses<Regularizer.Type>("regularizer", registry: "RegularizerRegistry",
                                                        names: { [$0.kerasClassName] }, builtinTypes)
    /// Makes these classes savable and loadable under their `kerasClassName`.
    public static func register(_ types: Regularizer.Type...) { classes.register(types) }
}

extension ConfigReader {
    /// An optional regularizer under `key` (absent or null: none).
    public func regularizer(_ key: String) throws -> Regularizer? {
        guard let v = value(key) else { return nil }
        do { return try Regularizer.fromConfig(v) } catch let e as LaminaError { throw error("'\(key)': \(e.message)") }
    }
}
