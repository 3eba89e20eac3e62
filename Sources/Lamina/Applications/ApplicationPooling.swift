/// Global pooling after the last block when `includeTop` is false (Keras's `pooling=`).
public enum ApplicationPooling: Sendable { case average, max }

/// The name `ResNet50`'s pooling option had before `MobileNetV2` shared it.
@available(*, deprecated, renamed: "ApplicationPooling")
public typealias ResNetPooling = ApplicationPooling

/// The end of a `keras.applications` model: global average pooling and the `predictions` Dense
/// layer, or (without the top) the pooling asked for, under Keras's layer names for that model
/// (`poolingNames`: average, max; nil names a layer as Keras's default naming does).
func applicationTop(_ x: SymbolicTensor, includeTop: Bool, pooling: ApplicationPooling?, classes: Int,
                    classifierActivation: ActivationFunction, poolingNames: (String?, String?)) -> SymbolicTensor {
    if includeTop {
        let pooled = GlobalAveragePooling2D(name: poolingNames.0)(x)
        return Dense(classes, activation: classifierActivation, name: "predictions")(pooled)
    }
    switch pooling {
    case .average: return GlobalAveragePooling2D(name: poolingNames.0)(x)
    case .max: return GlobalMaxPooling2D(name: poolingNames.1)(x)
    case nil: return x
    }
}
