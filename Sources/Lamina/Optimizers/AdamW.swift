import Foundation

/// Adam with decoupled weight decay. Keras: `AdamW(learning_rate=1e-3, weight_decay=0.004)`.
public final class AdamW: Adam {
    /// Keras: `keras.optimizers.AdamW(learning_rate=1e-3, weight_decay=0.004, beta_1=0.9, beta_2=0.999, epsilon=1e-7, amsgrad=False)`; PyTorch: `AdamW`.
    public init(learningRate: Double = 1e-3, weightDecay: Double = 0.004, beta1: Double = 0.9, beta2: Double = 0.999,
                epsilon: Double = 1e-7, amsgrad: Bool = false, schedule: LearningRateSchedule? = nil,
                clipnorm: Double? = nil, clipvalue: Double? = nil) {
        super.init(name: "AdamW", learningRate: learningRate, weightDecay: weightDecay, beta1: beta1, beta2: beta2,
                   epsilon: epsilon, amsgrad: amsgrad, schedule: schedule, clipnorm: clipnorm, clipvalue: clipvalue)
    }
}
