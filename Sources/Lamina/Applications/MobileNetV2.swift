import Foundation

/// MobileNetV2 as `keras.applications.MobileNetV2(weights=None)` builds it: the same graph of
/// inverted residual blocks (1×1 expansion, 3×3 depthwise, 1×1 linear projection, each with
/// batch normalization and ReLU6), layer names (`block_3_depthwise`, ...), parameter count and
/// weight order, so weights move between the two with `getWeights` / `setWeights` and a
/// Keras-saved MobileNetV2 loads by name.
///
/// `alpha` is Keras's width multiplier (filters scaled and rounded to multiples of 8). The model
/// is named as Keras names it, `mobilenetv2_1.00_224` for the defaults, unless `name` is given.
/// `includeTop: false` stops after `out_relu` (with `pooling` adding global pooling, as Keras's
/// `pooling=`).
public func MobileNetV2(inputShape: [Int] = [224, 224, 3], alpha: Double = 1.0, includeTop: Bool = true,
                        pooling: ApplicationPooling? = nil, classes: Int = 1000,
                        classifierActivation: ActivationFunction = .softmax, name: String? = nil) -> Model {
    /// Keras's `_make_divisible`: the nearest multiple of `divisor` (at least `divisor`), one
    /// more step up where rounding down lost more than 10%.
    func divisible(_ v: Double, _ divisor: Int = 8) -> Int {
        var rounded = Swift.max(divisor, Int(v + Double(divisor) / 2) / divisor * divisor)
        if Double(rounded) < 0.9 * v { rounded += divisor }
        return rounded
    }
    func batchNorm(_ name: String) -> BatchNormalization { BatchNormalization(momentum: 0.999, epsilon: 1e-3, name: name) }
    /// Keras's `_inverted_res_block`.
    func block(_ inputs: SymbolicTensor, filters: Int, stride: Int, expansion: Int, id: Int) -> SymbolicTensor {
        let inChannels = inputs.shape.last ?? 0
        let pointwise = divisible(Double(Int(Double(filters) * alpha)))
        var prefix = "block_\(id)_", x = inputs
        if id > 0 {
            x = Conv2D(expansion * inChannels, kernelSize: 1, padding: .same, useBias: false, name: prefix + "expand")(x)
            x = batchNorm(prefix + "expand_BN")(x)
            x = ReLU(maxValue: 6, name: prefix + "expand_relu")(x)
        } else {
            prefix = "expanded_conv_"
        }
        if stride == 2 {  // imagenet_utils.correct_pad for a 3×3 kernel: one less before an even (or unknown) size
            let before = x.shape.count >= 3 ? x.shape[0...1].map { $0 > 0 && $0 % 2 == 1 ? 1 : 0 } : [0, 0]
            x = ZeroPadding2D(padding: ((before[0], 1), (before[1], 1)), name: prefix + "pad")(x)
        }
        x = DepthwiseConv2D(kernelSize: 3, strides: stride, padding: stride == 1 ? .same : .valid, useBias: false,
                            name: prefix + "depthwise")(x)
        x = batchNorm(prefix + "depthwise_BN")(x)
        x = ReLU(maxValue: 6, name: prefix + "depthwise_relu")(x)
        x = Conv2D(pointwise, kernelSize: 1, padding: .same, useBias: false, name: prefix + "project")(x)
        x = batchNorm(prefix + "project_BN")(x)
        if inChannels == pointwise && stride == 1 { return Add(name: prefix + "add")([inputs, x]) }
        return x
    }
    let input = Input(shape: inputShape, name: "input_layer")
    var x = Conv2D(divisible(32 * alpha), kernelSize: 3, strides: 2, padding: .same, useBias: false, name: "Conv1")(input)
    x = batchNorm("bn_Conv1")(x)
    x = ReLU(maxValue: 6, name: "Conv1_relu")(x)
    // (filters, stride, expansion) of blocks 0...16
    let blocks: [(Int, Int, Int)] = [(16, 1, 1), (24, 2, 6), (24, 1, 6), (32, 2, 6), (32, 1, 6), (32, 1, 6),
                                     (64, 2, 6), (64, 1, 6), (64, 1, 6), (64, 1, 6), (96, 1, 6), (96, 1, 6), (96, 1, 6),
                                     (160, 2, 6), (160, 1, 6), (160, 1, 6), (320, 1, 6)]
    for (id, (filters, stride, expansion)) in blocks.enumerated() {
        x = block(x, filters: filters, stride: stride, expansion: expansion, id: id)
    }
    x = Conv2D(alpha > 1 ? divisible(1280 * alpha) : 1280, kernelSize: 1, useBias: false, name: "Conv_1")(x)
    x = batchNorm("Conv_1_bn")(x)
    x = ReLU(maxValue: 6, name: "out_relu")(x)
    x = applicationTop(x, includeTop: includeTop, pooling: pooling, classes: classes, classifierActivation: classifierActivation,
                       poolingNames: ("global_average_pooling2d", "global_max_pooling2d"))
    let rows = inputShape.first ?? 224
    return Model(inputs: input, outputs: x, name: name ?? "mobilenetv2_\(String(format: "%.2f", alpha))_\(rows)")
}
