import Testing
import LaminaCore

/// Expects equal shapes and elementwise |a − b| ≤ atol + rtol·|b|, naming the worst offender.
/// The tolerances are explicit: float32 paths against references usually pass 1e-4, float64
/// kernels against naive loops 1e-9. NaN matches only NaN.
package func expectClose(_ a: Tensor, _ b: Tensor, atol: Double, rtol: Double, _ what: String = "",
                         sourceLocation: SourceLocation = #_sourceLocation) {
    #expect(a.shape == b.shape, "\(what.isEmpty ? "" : "\(what): ")shapes \(a.shape) vs \(b.shape)", sourceLocation: sourceLocation)
    guard a.shape == b.shape else { return }
    expectClose(a.scalarsAsDouble(), b.scalarsAsDouble(), atol: atol, rtol: rtol, what, sourceLocation: sourceLocation)
}

/// Expects equal counts and elementwise |a − b| ≤ atol + rtol·|b|, naming the worst offender.
package func expectClose(_ a: [Double], _ b: [Double], atol: Double, rtol: Double, _ what: String = "",
                         sourceLocation: SourceLocation = #_sourceLocation) {
    #expect(a.count == b.count, "\(what.isEmpty ? "" : "\(what): ")\(a.count) values vs \(b.count)", sourceLocation: sourceLocation)
    var worst = 0.0, at = -1
    for (i, (x, y)) in zip(a, b).enumerated() {
        let excess = Swift.abs(x - y) - (atol + rtol * Swift.abs(y))
        if excess > worst || x.isNaN != y.isNaN { worst = Swift.max(excess, 1); at = i }
    }
    #expect(at < 0, "\(what.isEmpty ? "" : "\(what): ")element \(at) is \(at >= 0 ? "\(a[at]), expected \(b[at])" : "")",
            sourceLocation: sourceLocation)
}

/// The largest elementwise |a − b| (infinity when the shapes differ).
package func maxDeviation(_ a: Tensor, _ b: Tensor) -> Double {
    guard a.shape == b.shape else { return .infinity }
    return zip(a.scalarsAsDouble(), b.scalarsAsDouble()).map { Swift.abs($0 - $1) }.max() ?? 0
}
