/// ResNet50 as `keras.applications.ResNet50(weights=None)` builds it: the same graph, layer
/// names (`conv2_block1_1_conv`, ...), parameter count and weight order, so weights move between
/// the two with `getWeights` / `setWeights` and a Keras-saved ResNet50 loads by name.
///
/// `inputShape` defaults to Keras's 224×224×3; `includeTop: false` stops at the last block
/// (with `pooling` `.average` or `.max` adding global pooling, as Keras's `pooling=`).
public func ResNet50(includeTop: Bool = true, inputShape: [Int] = [224, 224, 3], pooling: ApplicationPooling? = nil,
                     classes: Int = 1000, classifierActivation: ActivationFunction = .softmax, name: String = "resnet50") -> Model {
    /// One bottleneck block (Keras's `block1`): 1x1 → 3x3 → 1x1 with batch normalization, plus
    /// the input or its 1x1 projection.
    func block(_ x: SymbolicTensor, _ filters: Int, stride: Int = 1, projection: Bool = true, _ name: String) -> SymbolicTensor {
        var shortcut = x
        if projection {
            shortcut = Conv2D(4 * filters, kernelSize: 1, strides: stride, name: name + "_0_conv")(x)
            shortcut = BatchNormalization(axis: 3, epsilon: 1.001e-5, name: name + "_0_bn")(shortcut)
        }
        var y = Conv2D(filters, kernelSize: 1, strides: stride, name: name + "_1_conv")(x)
        y = BatchNormalization(axis: 3, epsilon: 1.001e-5, name: name + "_1_bn")(y)
        y = Activation(.relu, name: name + "_1_relu")(y)
        y = Conv2D(filters, kernelSize: 3, padding: .same, name: name + "_2_conv")(y)
        y = BatchNormalization(axis: 3, epsilon: 1.001e-5, name: name + "_2_bn")(y)
        y = Activation(.relu, name: name + "_2_relu")(y)
        y = Conv2D(4 * filters, kernelSize: 1, name: name + "_3_conv")(y)
        y = BatchNormalization(axis: 3, epsilon: 1.001e-5, name: name + "_3_bn")(y)
        return Activation(.relu, name: name + "_out")(Add(name: name + "_add")([shortcut, y]))
    }
    /// `blocks` blocks of `filters`, the first projecting (Keras's `stack1`).
    func stack(_ x: SymbolicTensor, _ filters: Int, _ blocks: Int, stride: Int = 2, _ name: String) -> SymbolicTensor {
        var x = block(x, filters, stride: stride, name + "_block1")
        for i in 2...blocks { x = block(x, filters, projection: false, name + "_block\(i)") }
        return x
    }
    let input = Input(shape: inputShape, name: "input_layer")
    var x = ZeroPadding2D(padding: ((3, 3), (3, 3)), name: "conv1_pad")(input)
    x = Conv2D(64, kernelSize: 7, strides: 2, name: "conv1_conv")(x)
    x = BatchNormalization(axis: 3, epsilon: 1.001e-5, name: "conv1_bn")(x)
    x = Activation(.relu, name: "conv1_relu")(x)
    x = ZeroPadding2D(padding: ((1, 1), (1, 1)), name: "pool1_pad")(x)
    x = MaxPooling2D(poolSize: (3, 3), strides: (2, 2), name: "pool1_pool")(x)
    x = stack(x, 64, 3, stride: 1, "conv2")
    x = stack(x, 128, 4, "conv3")
    x = stack(x, 256, 6, "conv4")
    x = stack(x, 512, 3, "conv5")
    x = applicationTop(x, includeTop: includeTop, pooling: pooling, classes: classes, classifierActivation: classifierActivation,
                       poolingNames: ("avg_pool", "max_pool"))
    return Model(inputs: input, outputs: x, name: name)
}
