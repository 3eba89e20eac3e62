import Foundation

/// Cosine decay with warm restarts (SGDR, Loshchilov & Hutter): a cosine from the initial rate
/// down to `alpha` × it over `firstDecaySteps`, then again from `mMul` × the previous peak
/// over a period `tMul` times longer, and so on. Keras: `CosineDecayRestarts(initial_learning_rate,
/// first_decay_steps, t_mul=2.0, m_mul=1.0, alpha=0.0)`.
public final class CosineDecayRestarts: LearningRateSchedule, @unchecked Sendable {
    /// The rate at step 0, the first period's length, the period growth, the peak decay and the floor (see `init`).
    public let initialLearningRate: Double, firstDecaySteps: Int, tMul: Double, mMul: Double, alpha: Double

    /// - Parameters:
    ///   - initialLearningRate: the rate at step 0.
    ///   - firstDecaySteps: the length of the first period (positive).
    ///   - tMul: each period's length over the previous one's (positive).
    ///   - mMul: each restart's peak over the previous one's (not negative).
    ///   - alpha: the floor, as a fraction of the period's peak (0...1).
    /// - Throws: `LaminaError` for a value outside those ranges (Keras raises at construction too).
    public init(initialLearningRate: Double, firstDecaySteps: Int, tMul: Double = 2, mMul: Double = 1, alpha: Double = 0) throws {
        guard firstDecaySteps > 0, tMul > 0, mMul >= 0, (0...1).contains(alpha), initialLearningRate.isFinite else {
            throw LaminaError.value("CosineDecayRestarts: firstDecaySteps \(firstDecaySteps) must be positive, tMul \(tMul) positive, "
                + "mMul \(mMul) not negative and alpha \(alpha) in 0...1")
        }
        (self.initialLearningRate, self.firstDecaySteps, self.tMul, self.mMul, self.alpha) = (initialLearningRate, firstDecaySteps, tMul, mMul, alpha)
    }

    public override func callAsFunction(_ step: Int) -> Double {
        var fraction = Double(step) / Double(firstDecaySteps)
        let restart: Double
        if tMul == 1 {
            restart = fraction.rounded(.down)
            fraction -= restart
        } else {
            // Periods 1, t, t², ...: the restart index solves Σ tᵏ ≤ fraction.
            restart = (Foundation.log(1 - fraction * (1 - tMul)) / Foundation.log(tMul)).rounded(.down)
            let done = (1 - Foundation.pow(tMul, restart)) / (1 - tMul)
            fraction = (fraction - done) / Foundation.pow(tMul, restart)
        }
        let cosine = 0.5 * Foundation.pow(mMul, restart) * (1 + Foundation.cos(Double.pi * fraction))
        return initialLearningRate * ((1 - alpha) * cosine + alpha)
    }

    public override func config() -> [String: Any] {
        ["initial_learning_rate": initialLearningRate, "first_decay_steps": firstDecaySteps, "t_mul": tMul, "m_mul": mMul, "alpha": alpha]
    }
    public override class func fromKerasConfig(_ r: ConfigReader) throws -> LearningRateSchedule {
        try CosineDecayRestarts(initialLearningRate: try r.double("initial_learning_rate", in: 0...1e6),
                            firstDecaySteps: try r.int("first_decay_steps", minimum: 1),
                            tMul: try r.double("t_mul", default: 2, in: 1e-6...1e6), mMul: try r.double("m_mul", default: 1, in: 0...1e6),
                            alpha: try r.double("alpha", default: 0, in: 0...1))
    }
}
