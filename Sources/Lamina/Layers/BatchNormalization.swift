/// Normalizes over the batch (and spatial axes) per feature of the last axis.
/// Keras: `BatchNormalization(axis=-1, momentum=0.99, epsilon=1e-3)`.
///
/// Training: batch mean and biased variance; moving statistics updated as
/// `moving = moving·momentum + batch·(1 − momentum)`. Inference (and when frozen): the
/// moving statistics. Weights in Keras order: gamma, beta (trainable), moving_mean,
/// moving_variance (non-trainable).
public final class BatchNormalization: Layer {
    /// Passes a padded batch's mask on unchanged (Keras: `supports_masking = True`).
    public override var supportsMasking: Bool { true }
    /// `nn.BatchNorm1d/2d`: weight, bias, running mean and variance.
    public override func weightsFromPyTorch(_ module: inout PyTorchModule, flattenedFrom: [Int]?) throws -> [Tensor] {
        var out: [Tensor] = []
        if scale { out.append(try module.take("weight", rank: 1)) }
        if center { out.append(try module.take("bias", rank: 1)) }
        out += [try module.take("running_mean", rank: 1), try module.take("running_var", rank: 1)]
        module.ignore("num_batches_tracked")
        return out
    }

    public override class func fromKerasConfig(_ r: ConfigReader) throws -> Layer {
        let axis = try r.int("axis", default: -1)
        guard axis == -1 || axis >= 1 else { throw r.error("only the last axis (channels-last) is supported, got axis \(axis)") }
        return try BatchNormalization(axis: axis, momentum: r.double("momentum", default: 0.99, in: 0...1),
                                      epsilon: r.double("epsilon", default: 1e-3, in: 0...1),
                                      center: r.bool("center", default: true), scale: r.bool("scale", default: true),
                                      name: r.layerName())
    }
    public override func weightShapes(for s: [Int]) throws -> [[Int]] {
        let c = s.last ?? 0
        return Array(repeating: [c], count: 2 + (center ? 1 : 0) + (scale ? 1 : 0))
    }

    /// The feature axis: -1, or the last axis counted with the batch axis (3 for images), as
    /// Keras's applications write it.
    public let axis: Int
    /// The moving statistics' momentum (`moving = moving·momentum + batch·(1 − momentum)`) and the variance epsilon.
    public let momentum: Double, epsilon: Double
    /// Whether the layer has `beta` (an offset) and `gamma` (a scale).
    public let center: Bool, scale: Bool
    /// The learned scale and offset (nil before building, or when `scale`/`center` is false).
    public private(set) var gamma: Variable?, beta: Variable?
    /// The statistics used at inference (non-trainable weights).
    public private(set) var movingMean: Variable?, movingVariance: Variable?

    /// Keras: `BatchNormalization(axis=-1, momentum=0.99, epsilon=1e-3, center=True, scale=True)`.
    public init(axis: Int = -1, momentum: Double = 0.99, epsilon: Double = 1e-3, center: Bool = true, scale: Bool = true,
                inputShape: [Int]? = nil, name: String? = nil) {
        self.axis = axis
        self.momentum = momentum
        self.epsilon = epsilon
        self.center = center
        self.scale = scale
        super.init(name: name, inputShape: inputShape)
        if axis != -1 && axis < 1 { reject("only the last axis (channels-last) is supported, got axis \(axis)") }
        if !(0...1).contains(momentum) { reject("momentum must be in [0, 1], got \(momentum)") }
        if !(epsilon > 0) { reject("epsilon must be positive, got \(epsilon)") }
    }

    public override func config() throws -> [String: Any] {
        ["axis": axis, "momentum": momentum, "epsilon": epsilon, "center": center, "scale": scale]
    }
    public override func build(inputShape: [Int]) throws {
        guard let c = inputShape.last else { throw LaminaError.shape("\(name) expects a feature axis, got \(describe(inputShape))") }
        guard axis == -1 || axis == inputShape.count else {
            throw LaminaError.shape("\(name) normalizes axis \(axis), which is not the last axis of \(describe(inputShape)) (Lamina normalizes the last axis only)")
        }
        if scale { gamma = addWeight("gamma", shape: [c], initializer: .ones) }
        if center { beta = addWeight("beta", shape: [c], initializer: .zeros) }
        movingMean = addWeight("moving_mean", shape: [c], initializer: .zeros, trainable: false)
        movingVariance = addWeight("moving_variance", shape: [c], initializer: .ones, trainable: false)
    }

    public override func checkInputShape(_ shape: [Int]) throws {
        if shape.last != movingMean?.shape[0] {
            throw LaminaError.shape("\(name) expects [*, ..., \(movingMean?.shape[0] ?? 0)], got \(describe(shape))")
        }
    }

    /// The moving statistics, scale and offset as the operands of a fused inference op
    /// (`Tensor.conv2d(_:…normalizedBy:…)`); nil where the layer is not built, invalid or not
    /// float32.
    var inferenceOperands: BatchNormInference? {
        guard let movingMean, let movingVariance, argumentError == nil, dtype == .float32 else { return nil }
        return BatchNormInference(mean: movingMean.value, variance: movingVariance.value, gamma: gamma?.value, beta: beta?.value,
                                  epsilon: epsilon)
    }

    public override func call(_ x: Tensor, training: Bool) throws -> Tensor {
        guard let movingMean, let movingVariance else { throw LaminaError.configuration("\(name) is not built") }
        if isTrainingMode(training) {
            // One op: the batch statistics and the normalization, with a fused backward.
            let (y, mean, variance) = Tensor.batchNormalizationTraining(x, gamma: gamma?.value, beta: beta?.value, epsilon: epsilon)
            withoutGradients {
                movingMean.value = movingMean.value * momentum + mean * (1 - momentum)
                movingVariance.value = movingVariance.value * momentum + variance * (1 - momentum)
            }
            return y
        } else {
            // Inference: one pass with the moving statistics (differentiable in every input).
            return Tensor.batchNormalizationInference(x, mean: movingMean.value, variance: movingVariance.value,
                                                      gamma: gamma?.value, beta: beta?.value, epsilon: epsilon)
        }
    }
}
