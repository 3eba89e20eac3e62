import Testing
import LaminaTestSupport
@testable import Lamina

/// Float64 gradient check of a merge layer with respect to every input; returns the result,
/// and records a failure above 1e-6.
@discardableResult
func checkMergeGradients(_ layer: MergeLayer, _ inputShapes: [[Int]], seed: UInt64 = 1,
                         sourceLocation: SourceLocation = #_sourceLocation) throws -> GradientCheck.Result {
    let xs = inputShapes.enumerated().map { i, s in randn(s, seed: seed + UInt64(i)) }
    _ = try layer(xs)
    let result = GradientCheck.run(at: xs) { args in try! layer(args) }
    #expect(result.maxRelativeError <= 1e-6, "\(layer.name): \(result)", sourceLocation: sourceLocation)
    return result
}
