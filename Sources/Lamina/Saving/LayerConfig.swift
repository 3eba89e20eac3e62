import Foundation
import Synchronization

// Each built-in layer's config in Keras's schema (`get_config()` keys and spellings), and
// the way back. Both directions sit side by side so that a new argument is added to both.

extension Layer {
    /// Keras's serialized form: `{"module": "keras.layers", "class_name": "Dense", "config": {...},
    /// "build_config": {"input_shape": [null, 784]}}`.
    public func serialize() throws -> [String: Any] {
        guard LayerRegistry.factories.withLock({ $0[className] != nil }) else {
            throw LaminaError.configuration("\(name): \(className) cannot be saved; register it with LayerRegistry.register(\"\(className)\") { ... }")
        }
        var c = try config()
        c["name"] = name
        c["trainable"] = trainable
        c["dtype"] = dtype.rawValue
        var object = kerasObject(self is Sequential ? "keras" : "keras.layers", className, c)
        if let inputShape { object["build_config"] = ["input_shape": [NSNull()] + inputShape] }
        return object
    }
}

/// Builds layers from configs by Keras class name. The built-in layers are registered;
/// register a custom layer to load models that use it.
public enum LayerRegistry {
    public typealias Factory = @Sendable (ConfigReader) throws -> Layer

    static let factories = Mutex<[String: Factory]>(builtins)

    /// The most weight values a model built from a config may hold; loaders set it to what
    /// their file can supply, so that a hostile config cannot make Lamina allocate terabytes.
    @TaskLocal public static var weightElementLimit = 1 << 31

    /// Makes `className` loadable. The factory reads its arguments from the reader
    /// (`name`, `trainable` and `dtype` are applied afterwards).
    public static func register(_ className: String, _ factory: @escaping Factory) {
        factories.withLock { $0[className] = factory }
    }

    /// Keras's `to_snake_case`, which names auto-named layers and the groups of a `.keras`
    /// weights file: `MaxPooling2D` → `max_pooling2d`, `LeakyReLU` → `leaky_re_lu`.
    public static func snakeCase(_ className: String) -> String { NameScope.snakeCase(className) }

    /// A layer (or a nested Sequential) from its serialized form.
    public static func make(_ any: Any) throws -> Layer {
        let object = try SerializedObject(any, what: "layer")
        guard let factory = factories.withLock({ $0[object.className] }) else {
            let known = factories.withLock { $0.keys.sorted() }
            throw LaminaError.configuration("unknown layer class '\(object.className)'; Lamina has: \(known.joined(separator: ", "))")
        }
        let r = object.reader
        let layer = try factory(r)
        layer.trainable = try r.bool("trainable", default: true)
        layer.dtype = try r.dtype()
        try r.finish()
        return layer
    }

    static let builtins: [String: Factory] = [
        "Dense": { r in
            try Dense(r.int("units", minimum: 1), activation: r.activation(), useBias: r.bool("use_bias", default: true),
                      kernelInitializer: r.initializer("kernel_initializer", default: .glorotUniform),
                      biasInitializer: r.initializer("bias_initializer", default: .zeros), name: r.layerName())
        },
        "Conv2D": { r in
            try Conv2D(r.int("filters", minimum: 1), kernelSize: r.pair("kernel_size"), strides: r.pair("strides", default: (1, 1)),
                       padding: r.padding(), activation: r.activation(), useBias: r.bool("use_bias", default: true),
                       kernelInitializer: r.initializer("kernel_initializer", default: .glorotUniform),
                       biasInitializer: r.initializer("bias_initializer", default: .zeros), name: r.layerName())
        },
        "MaxPooling2D": { r in
            try MaxPooling2D(poolSize: r.pair("pool_size", default: (2, 2)), strides: r.optionalPair("strides"),
                             padding: r.padding(), name: r.layerName())
        },
        "AveragePooling2D": { r in
            try AveragePooling2D(poolSize: r.pair("pool_size", default: (2, 2)), strides: r.optionalPair("strides"),
                                 padding: r.padding(), name: r.layerName())
        },
        "Flatten": { r in try Flatten(name: r.layerName()) },
        "Dropout": { r in
            try Dropout(r.double("rate", in: 0...0.999_999), seed: r.optionalInt("seed", minimum: 0).map(UInt64.init),
                        name: r.layerName())
        },
        "BatchNormalization": { r in
            guard try r.int("axis", default: -1) == -1 else { throw r.error("only axis -1 (channels-last) is supported") }
            return try BatchNormalization(momentum: r.double("momentum", default: 0.99, in: 0...1),
                                          epsilon: r.double("epsilon", default: 1e-3, in: 0...1),
                                          center: r.bool("center", default: true), scale: r.bool("scale", default: true),
                                          name: r.layerName())
        },
        "SimpleRNN": { r in
            try SimpleRNN(r.int("units", minimum: 1), activation: r.activation(default: .tanh),
                          useBias: r.bool("use_bias", default: true),
                          kernelInitializer: r.initializer("kernel_initializer", default: .glorotUniform),
                          recurrentInitializer: r.initializer("recurrent_initializer", default: .orthogonal),
                          biasInitializer: r.initializer("bias_initializer", default: .zeros),
                          returnSequences: r.bool("return_sequences", default: false), name: r.layerName())
        },
        "LSTM": { r in
            _ = r.value("seed")   // only seeds recurrent dropout, which must be 0
            return try LSTM(r.int("units", minimum: 1), activation: r.activation(default: .tanh),
                            recurrentActivation: r.activation("recurrent_activation", default: .sigmoid),
                            useBias: r.bool("use_bias", default: true),
                            kernelInitializer: r.initializer("kernel_initializer", default: .glorotUniform),
                            recurrentInitializer: r.initializer("recurrent_initializer", default: .orthogonal),
                            biasInitializer: r.initializer("bias_initializer", default: .zeros),
                            unitForgetBias: r.bool("unit_forget_bias", default: true),
                            returnSequences: r.bool("return_sequences", default: false), name: r.layerName())
        },
        "LeakyReLU": { r in
            let slope = try r.value("alpha") != nil ? r.double("alpha") : r.double("negative_slope", default: 0.3)
            return try LeakyReLU(negativeSlope: slope, name: r.layerName())
        },
        "Reshape": { r in
            let target = try r.ints("target_shape", minimum: -1)
            guard target.filter({ $0 == -1 }).count <= 1, !target.contains(0) else {
                throw r.error("target_shape \(target) may hold one -1 and no 0")
            }
            return try Reshape(target, name: r.layerName())
        },
        "UpSampling2D": { r in try UpSampling2D(size: r.pair("size", default: (2, 2)), name: r.layerName()) },
        "Activation": { r in try Activation(r.activation(), name: r.layerName()) },
        "InputLayer": { r in
            var shape: [Int]
            if r.value("batch_shape") != nil {
                shape = Array(try r.ints("batch_shape", allowNull: true, minimum: -1).dropFirst())
            } else {
                shape = try r.ints("batch_input_shape", allowNull: true, minimum: -1).dropFirst().map { $0 }
            }
            guard !shape.contains(where: { $0 <= 0 }) else { throw r.error("input shape \(shape) must be fully known") }
            return try Input(shape: shape, name: r.layerName())
        },
        "Sequential": { r in try Sequential.fromConfig(r) },
    ]
}

extension ConfigReader {
    /// The `name` entry, if any.
    public func layerName() throws -> String? { value("name") == nil ? nil : try string("name") }
}

extension Sequential {
    /// A model from its config (Lamina's or Keras's `config.json` "config"), built when the
    /// config gives the input shape. Weights are freshly initialized.
    public static func fromConfig(_ r: ConfigReader) throws -> Sequential {
        guard let list = r.value("layers") as? [Any] else { throw r.error("'layers' must be a list") }
        let model = Sequential(name: try r.layerName())
        model.dtype = try r.dtype()   // before building
        var input = try r.value("build_input_shape") == nil ? nil : Array(r.ints("build_input_shape", allowNull: true).dropFirst())
        for item in list {
            let layer = try LayerRegistry.make(item)
            if let declared = layer as? Input {
                guard model.layers.isEmpty else { throw r.error("InputLayer must come first") }
                input = declared.declaredInputShape
            } else {
                model.appendWithoutBuilding(layer)
            }
        }
        if let input {
            guard !input.contains(where: { $0 <= 0 }) else { throw r.error("build_input_shape \(input) must be fully known") }
            // Refuse absurd sizes from a file before allocating anything.
            let planned = try model.plannedWeightCount(input)
            if let planned, planned > LayerRegistry.weightElementLimit {
                throw r.error("the layers would hold \(planned == .max ? "over \(Int.max)" : "\(planned)") weight values, "
                    + "more than this file can supply (\(LayerRegistry.weightElementLimit))")
            }
            try model.setDeclaredInput(input)
        }
        return model
    }

    /// The number of weight values the layers would create for `input`, from shapes alone
    /// (`.max` on overflow; nil when a custom layer's count cannot be known in advance).
    func plannedWeightCount(_ input: [Int]) throws -> Int? {
        var shape = input, total = 0
        func add(_ factors: Int...) {
            var n = 1
            for f in factors {
                let (p, o) = n.multipliedReportingOverflow(by: f)
                n = o ? .max : p
            }
            let (t, o) = total.addingReportingOverflow(n)
            total = o ? .max : t
        }
        for layer in layers {
            switch layer {
            case let nested as Sequential:
                guard let n = try nested.plannedWeightCount(shape) else { return nil }
                add(n)
                shape = try nested.layers.reduce(shape) { try $1.computeOutputShape($0) }
                continue
            case let d as Dense: add(shape.last ?? 0, d.units); if d.useBias { add(d.units) }
            case let c as Conv2D:
                _ = try c.computeOutputShape(shape)
                add(c.kernelSize.0, c.kernelSize.1, shape[2], c.filters); if c.useBias { add(c.filters) }
            case let b as BatchNormalization: add(shape.last ?? 0, 2 + (b.center ? 1 : 0) + (b.scale ? 1 : 0))
            case let r as Recurrent:
                _ = try r.computeOutputShape(shape)
                add(r.gates, r.units, shape[1] + r.units); if r.useBias { add(r.gates, r.units) }
            case is Flatten, is Dropout, is Pooling2D, is Reshape, is UpSampling2D, is Activation, is LeakyReLU: break
            default: return nil
            }
            shape = try layer.computeOutputShape(shape)
        }
        return total
    }
}
