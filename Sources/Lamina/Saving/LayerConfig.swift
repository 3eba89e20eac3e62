import Foundation
import Synchronization

// Each built-in layer's config in Keras's schema (`get_config()` keys and spellings), and
// the way back. Both directions sit side by side so that a new argument is added to both.

extension Layer {
    /// Keras's serialized form: `{"module": "keras.layers", "class_name": "Dense", "config": {...},
    /// "build_config": {"input_shape": [null, 784]}}`.
    public func serialize() throws -> [String: Any] {
        if let model = self as? Model, model.isSubclassed { _ = try model.config() }   // says to save the weights, unless overridden
        guard LayerRegistry.isRegistered(className) else {
            throw LaminaError.configuration("\(name): \(className) cannot be saved; give it class func fromKerasConfig and register it with LayerRegistry.register(\(className).self)")
        }
        var c = try config()
        c["name"] = name
        c["trainable"] = trainable
        c["dtype"] = dtype.rawValue
        let module = type(of: self).kerasModule
        var object = kerasObject(module, className, c)
        if module != "keras" && module != "keras.layers" { object["registered_name"] = className }
        if let inputShape { object["build_config"] = ["input_shape": [NSNull()] + inputShape] }
        return object
    }
}

/// Builds layers from configs by Keras class name. Each class owns its round trip
/// (`config()` and `fromKerasConfig`, `weightShapes(for:)`, `kerasVariablesPath`); registering
/// is naming the class: `LayerRegistry.register(MyLayer.self)`.
public enum LayerRegistry {
    /// Makes a layer from its Keras config.
    public typealias Factory = @Sendable (ConfigReader) throws -> Layer

    /// The built-in layer classes.
    static let builtinTypes: [Layer.Type] = [
        Dense.self, Conv2D.self, MaxPooling2D.self, AveragePooling2D.self, Flatten.self, Dropout.self,
        BatchNormalization.self, SimpleRNN.self, LSTM.self, LeakyReLU.self, Reshape.self, UpSampling2D.self,
        Activation.self, Input.self, Sequential.self, Model.self, GlobalAveragePooling2D.self, GlobalMaxPooling2D.self,
        RepeatVector.self, Rescaling.self, ZeroPadding2D.self, Cropping2D.self, Embedding.self, Masking.self, Conv1D.self,
        MaxPooling1D.self, AveragePooling1D.self, GlobalAveragePooling1D.self, GlobalMaxPooling1D.self, LayerNormalization.self,
        Conv2DTranspose.self, GRU.self, Bidirectional.self, TimeDistributed.self, Permute.self, Normalization.self, RandomFlip.self, RandomContrast.self,
        RandomRotation.self, RandomTranslation.self, RandomZoom.self,
        Add.self, Subtract.self, Multiply.self, Average.self, Maximum.self, Minimum.self, Concatenate.self,
        ReLU.self, DepthwiseConv2D.self, SeparableConv2D.self, LayerScale.self, Dot.self, CustomScaleLayer.self,
        MultiHeadAttention.self, Attention.self, AdditiveAttention.self, TextVectorization.self,
    ]

    /// Loadable classes by Keras class name, and factories registered by name for layers that
    /// are not built by their class's `fromKerasConfig`.
    private struct Entries {
        var types: [String: Layer.Type] = [:]
        var factories: [String: Factory] = [:]
        var names: [String] { (Array(types.keys) + Array(factories.keys)).sorted() }
    }
    private static let entries = Mutex(Entries(types: Dictionary(uniqueKeysWithValues: builtinTypes.map { ($0.kerasClassName, $0) })))

    /// The most weight values a model built from a config may hold; loaders set it to what
    /// their file can supply, so that a hostile config cannot make Lamina allocate terabytes.
    @TaskLocal public static var weightElementLimit = 1 << 31

    /// Makes these classes loadable, each under its `kerasClassName`.
    public static func register(_ types: Layer.Type...) {
        entries.withLock { e in for t in types { e.types[t.kerasClassName] = t } }
    }

    /// Makes `className` loadable through a factory (for a layer whose class does not build
    /// itself from a config). The factory reads its arguments from the reader (`name`,
    /// `trainable` and `dtype` are applied afterwards).
    public static func register(_ className: String, _ factory: @escaping Factory) {
        entries.withLock { $0.factories[className] = factory }
    }

    static func isRegistered(_ className: String) -> Bool {
        entries.withLock { $0.types[className] != nil || $0.factories[className] != nil }
    }

    /// Keras's `to_snake_case`, which names auto-named layers and the groups of a `.keras`
    /// weights file: `MaxPooling2D` → `max_pooling2d`, `LeakyReLU` → `leaky_re_lu`.
    public static func snakeCase(_ className: String) -> String { NameScope.snakeCase(className) }

    /// A layer (or a nested Sequential) from its serialized form.
    public static func make(_ any: Any) throws -> Layer {
        let object = try SerializedObject(any, what: "layer")
        let (type, factory, known) = entries.withLock { ($0.types[object.className], $0.factories[object.className], $0.names) }
        let r = object.reader
        let layer: Layer
        if let type {
            layer = try type.fromKerasConfig(r)
        } else if let factory {
            layer = try factory(r)
        } else {
            throw LaminaError.configuration("unknown layer class '\(object.className)'; Lamina has: \(known.joined(separator: ", "))")
        }
        layer.trainable = try r.bool("trainable", default: true)
        if (layer as? Input)?.isText == true { _ = r.value("dtype") } else { layer.dtype = try r.dtype(integer: layer is Input) }
        try r.finish()
        return layer
    }
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
            if planned > LayerRegistry.weightElementLimit {
                throw r.error("the layers would hold \(planned == .max ? "over \(Int.max)" : "\(planned)") weight values, "
                    + "more than this file can supply (\(LayerRegistry.weightElementLimit))")
            }
            try model.setDeclaredInput(input)
            try model.checkDeclaredWeights(input)
        }
        return model
    }

    /// The number of weight values the layers would create for `input`, from their declared
    /// `weightShapes(for:)` alone (`.max` on overflow).
    func plannedWeightCount(_ input: [Int]) throws -> Int {
        var shape = input, total = 0
        func add(_ n: Int) {
            let (t, o) = total.addingReportingOverflow(n)
            total = o ? .max : t
        }
        for layer in layers {
            if let nested = layer as? Sequential {
                add(try nested.plannedWeightCount(shape))
            } else {
                for weight in try layer.weightShapes(for: shape) {
                    var n = 1
                    for d in weight {
                        let (p, o) = n.multipliedReportingOverflow(by: Swift.max(d, 0))
                        n = o ? .max : p
                    }
                    add(n)
                }
            }
            shape = try layer.computeOutputShape(shape)
        }
        return total
    }

    /// After building: every layer holds exactly the weights it declared, so the size guard
    /// above cannot be bypassed by a layer that creates more than it says.
    func checkDeclaredWeights(_ input: [Int]) throws {
        var shape = input
        for layer in layers {
            if let nested = layer as? Sequential {
                try nested.checkDeclaredWeights(shape)
            } else {
                let declared = try layer.weightShapes(for: shape), built = layer.weights.map(\.shape)
                guard declared == built else {
                    throw LaminaError.configuration("\(layer.name) (\(layer.className)) created weights \(built) but declares \(declared) "
                        + "in weightShapes(for:); a loadable layer must declare what it creates")
                }
            }
            shape = try layer.computeOutputShape(shape)
        }
    }
}
