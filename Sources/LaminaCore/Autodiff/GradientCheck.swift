/// Compares the gradients autodiff computes with central finite differences, in float64.
///
/// Anyone writing a custom op or layer can call it:
/// ```swift
/// let result = GradientCheck.run(at: [x, w]) { t in t[0].matmul(t[1]).tanh() }
/// precondition(result.maxRelativeError < 1e-6)
/// ```
/// The function's output is reduced to a scalar with fixed random weights, so every output
/// element's gradient is exercised. For each input element the error is
/// `|analytic − numeric| / max(1, |analytic|, |numeric|)`: relative for large gradients,
/// absolute below 1 (so entries near zero do not divide by zero).
public enum GradientCheck {
    /// The worst element of a check: where it is and both gradients there.
    public struct Result: CustomStringConvertible, Sendable {
        /// Largest error over all input elements.
        public let maxRelativeError: Double
        /// Which input and element it was at.
        public let worstInput: Int, worstIndex: Int
        /// The autodiff gradient and the central-difference estimate at that element.
        public let analytic: Double, numeric: Double
        /// A one-line report.
        public var description: String {
            "max relative error \(maxRelativeError) at input \(worstInput)[\(worstIndex)] (analytic \(analytic), numeric \(numeric))"
        }
    }

    /// Checks `f` at `inputs` (converted to float64). `epsilon` is the finite-difference step.
    public static func run(at inputs: [Tensor], epsilon: Double = 1e-6, seed: UInt64 = 7,
                           _ f: ([Tensor]) -> Tensor) -> Result {
        let xs = inputs.map { $0.detached().cast(to: .float64) }
        let probe = withoutGradients { f(xs) }
        let weights = Tensor.randomUniform(probe.shape, lower: 0.5, upper: 1.5, dtype: .float64, seed: seed)
        func objective(_ args: [Tensor]) -> Double {
            withoutGradients { (f(args) * weights).sum().item(Double.self) }
        }

        let leaves = xs.map { x -> Tensor in var l = x; l.requiresGrad = true; return l }
        let analytic = (f(leaves) * weights).sum().gradients(wrt: leaves).map { $0.asArray(Double.self) }

        var worst = Result(maxRelativeError: 0, worstInput: 0, worstIndex: 0, analytic: 0, numeric: 0)
        for (i, x) in xs.enumerated() {
            let values = x.asArray(Double.self)
            for j in values.indices {
                var plus = values, minus = values
                plus[j] += epsilon; minus[j] -= epsilon
                var args = xs
                args[i] = Tensor(shape: x.shape, scalars: plus)
                let fp = objective(args)
                args[i] = Tensor(shape: x.shape, scalars: minus)
                let fm = objective(args)
                let numeric = (fp - fm) / (2 * epsilon)
                let a = analytic[i][j]
                let err = Swift.abs(a - numeric) / Swift.max(1, Swift.abs(a), Swift.abs(numeric))
                if err > worst.maxRelativeError || err.isNaN {
                    worst = Result(maxRelativeError: err.isNaN ? .infinity : err, worstInput: i, worstIndex: j,
                                   analytic: a, numeric: numeric)
                }
            }
        }
        return worst
    }
}
