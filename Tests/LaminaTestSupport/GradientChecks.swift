import Testing
import LaminaCore

/// Expects autodiff to agree with float64 central differences within `tolerance` (the
/// largest relative error).
package func expectGradients(_ inputs: [Tensor], tolerance: Double = 1e-6,
                             sourceLocation: SourceLocation = #_sourceLocation,
                             _ f: @escaping ([Tensor]) -> Tensor) {
    let result = GradientCheck.run(at: inputs, f)
    #expect(result.maxRelativeError <= tolerance, "\(result)", sourceLocation: sourceLocation)
}
