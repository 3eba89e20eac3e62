import Foundation

/// 0.5·e² for |e| ≤ delta, delta·(|e| − 0.5·delta) beyond; mean over the last axis. Keras: `Huber`.
public final class Huber: Loss {
    public override class var kerasAliases: [String] { ["huber", "huber_loss"] }
    public override func config() -> [String: Any] { ["delta": delta] }
    public override class func fromKerasConfig(_ r: ConfigReader) throws -> Loss { Huber(delta: try r.double("delta", default: 1, in: 0...1e12)) }
    /// Where the loss turns from quadratic to linear (Keras `delta`, default 1).
    public let delta: Double
    /// Keras: `keras.losses.Huber(delta=1.0)`; PyTorch: `HuberLoss(delta=1.0)`.
    public init(delta: Double = 1) { self.delta = delta; super.init(name: "huber_loss") }
    public override func perSample(_ yTrue: Tensor, _ yPred: Tensor) -> Tensor {
        let e = (aligned(yTrue, yPred) - yPred).abs()
        let quadratic = e.clip(min: 0, max: delta)
        // 0.5·q² + delta·(e − q): equals both branches and has the right gradient.
        let l = quadratic.square() * 0.5 + (e - quadratic) * delta
        return l.reshaped(to: [yPred.shape[0], -1]).mean(axis: 1)
    }
}
