import Foundation

extension Tensor {
    /// exp(x) / sum(exp(x)) along `axis`. Keras: `activations.softmax`.
    public func softmax(axis: Int = -1) -> Tensor {
        let a = Shape.normalize(axis: axis, rank: rank, op: "softmax")
        let y = Kernels.softmax(self, axis: a, log: false)
        let yd = y.detached()
        return y.recorded("softmax", inputs: [self]) { g, _ in
            // dx = y ⊙ (g − Σ g⊙y)
            [yd * (g - (g * yd).sum(axes: [a], keepDims: true))]
        }
    }

    /// log(softmax(x)) along `axis`, computed as x − max − log Σ exp(x − max).
    public func logSoftmax(axis: Int = -1) -> Tensor {
        let a = Shape.normalize(axis: axis, rank: rank, op: "logSoftmax")
        let y = Kernels.softmax(self, axis: a, log: true)
        let yd = y.detached()
        return y.recorded("logSoftmax", inputs: [self]) { g, _ in
            // dx = g − softmax ⊙ Σ g
            [g - yd.exp() * g.sum(axes: [a], keepDims: true)]
        }
    }
}
