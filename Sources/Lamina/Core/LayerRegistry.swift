import Foundation

/// Builds layers from configs by Keras class name. Each class owns its round trip
/// (`config()` and `fromKerasConfig`, `weightShapes(for:)`, `kerasVariablesPath`); registering
/// is naming the class: `LayerRegistry.register(MyLayer.self)`.
public enum LayerRegistry {
    /// Builds a layer from its Keras config (a `ConfigReader` over the layer's `config` dict); throws when the config is invalid.
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
    private static let entries = Locked(Entries(types: Dictionary(uniqueKeysWithValues: builtinTypes.map { ($0.kerasClassName, $0) })))

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
