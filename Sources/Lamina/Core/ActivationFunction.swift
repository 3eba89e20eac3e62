import Foundation

/// An activation, by case or by Keras name: `activation: .relu` or `activation: "relu"`.
/// (The layer that applies one is `Activation`, hence this type's longer name.)
public struct ActivationFunction: Sendable, Equatable, ExpressibleByStringLiteral, CustomStringConvertible {
    /// The activations, with Keras's names as raw values.
    public enum Kind: String, Sendable, CaseIterable {
        /// The identity, max(x, 0), 1/(1+e⁻ˣ), tanh, softmax over the last axis, elu (alpha 1), selu, log(1+eˣ), x/(1+|x|).
        case linear, relu, sigmoid, tanh, softmax, elu, selu, softplus, softsign
        /// `swish` saves as `silu`, Keras 3's name for it (`swish` still loads).
        case leakyRelu = "leaky_relu", gelu, swish = "silu"
        /// Keras 3's `relu6`, `hard_sigmoid` (relu6(x + 3) / 6), `hard_silu` (alias `hard_swish`),
        /// `mish`, `exponential` and `log_softmax` (last axis).
        case relu6, hardSigmoid = "hard_sigmoid", hardSilu = "hard_silu", mish, exponential, logSoftmax = "log_softmax"
    }
    /// Which activation.
    public let kind: Kind
    /// Set when a string literal named no activation: the layer given it reports this error
    /// when used (see `Layer.argumentError`); the activation itself acts as linear.
    public let nameError: String?

    /// The activation of `kind`.
    public init(_ kind: Kind) { (self.kind, self.nameError) = (kind, nil) }
    private init(kind: Kind, nameError: String) { (self.kind, self.nameError) = (kind, nameError) }

    /// The Keras name; throws for unknown names.
    public init(named name: String) throws {
        let aliases = ["swish": Kind.swish, "hard_swish": .hardSilu, "leakyrelu": .leakyRelu, "None": .linear]
        guard let kind = Kind(rawValue: name) ?? aliases[name] else {
            throw LaminaError.configuration("unknown activation '\(name)'; known: \(Kind.allCases.map(\.rawValue).joined(separator: ", "))")
        }
        (self.kind, self.nameError) = (kind, nil)
    }

    /// `activation: "relu"`. A name that is no activation is kept as an error that the layer
    /// throws when it is used (never a crash).
    public init(stringLiteral name: String) {
        do { self = try Self(named: name) } catch {
            self = Self(kind: .linear, nameError: (error as? LaminaError)?.message ?? "\(error)")
        }
    }

    /// Keras's `"linear"` (the identity, every layer's default), `"relu"`, `"sigmoid"`.
    public static let linear = Self(.linear), relu = Self(.relu), sigmoid = Self(.sigmoid)
    /// Keras's `"tanh"`, `"softmax"` (last axis), `"elu"`, `"selu"`.
    public static let tanh = Self(.tanh), softmax = Self(.softmax), elu = Self(.elu), selu = Self(.selu)
    /// Keras's `"softplus"`, `"softsign"`, `"leaky_relu"` (slope 0.2, Keras's activation default).
    public static let softplus = Self(.softplus), softsign = Self(.softsign), leakyRelu = Self(.leakyRelu)
    /// `gelu` is Keras's exact default (x·Φ(x)); Keras names no activation for its tanh approximation.
    public static let gelu = Self(.gelu), swish = Self(.swish)
    /// x · sigmoid(x), Keras's `silu` (the same as `swish`).
    public static let silu = Self(.swish)
    /// min(max(x, 0), 6). Keras: `"relu6"`.
    public static let relu6 = Self(.relu6)
    /// relu6(x + 3) / 6, Keras 3's `"hard_sigmoid"`.
    public static let hardSigmoid = Self(.hardSigmoid)
    /// x · hardSigmoid(x), Keras's `"hard_silu"` (alias `"hard_swish"`).
    public static let hardSilu = Self(.hardSilu), hardSwish = Self(.hardSilu)
    /// x · tanh(softplus(x)). Keras: `"mish"`.
    public static let mish = Self(.mish)
    /// eˣ. Keras: `"exponential"`.
    public static let exponential = Self(.exponential)
    /// log(softmax(x)) over the last axis. Keras: `"log_softmax"`.
    public static let logSoftmax = Self(.logSoftmax)

    /// The Keras name.
    public var description: String { kind.rawValue }

    /// Applies the activation (softmax over the last axis, as Keras).
    public func callAsFunction(_ x: Tensor) -> Tensor {
        switch kind {
        case .linear: return x
        case .relu: return x.relu()
        case .sigmoid: return x.sigmoid()
        case .tanh: return x.tanh()
        case .softmax: return x.softmax(axis: -1)
        case .elu: return x.elu()
        // SELU constants from Klambauer et al. (Keras's values).
        case .selu: return x.elu(alpha: 1.6732632423543772) * 1.0507009873554805
        case .softplus: return x.softplus()
        case .softsign: return x / (x.abs() + 1)
        case .leakyRelu: return x.leakyRelu(alpha: 0.2)   // keras.activations.leaky_relu default
        // Keras's `activations.gelu` is exact by default: x·Φ(x) = 0.5·x·(1 + erf(x/√2)).
        case .gelu: return x * 0.5 * ((x * (0.5).squareRoot()).erf() + 1)
        case .swish: return x * x.sigmoid()
        case .relu6: return x.relu6()
        case .hardSigmoid: return x.hardSigmoid()
        case .hardSilu: return x.hardSilu()
        case .mish: return x.mish()
        case .exponential: return x.exp()
        case .logSoftmax: return x.logSoftmax(axis: -1)
        }
    }
}
