import Testing
import LaminaTestSupport
@testable import Lamina

/// Float64 gradient check of `layer` with respect to its input and trainable weights (nonzero
/// random weights and moving statistics, so every term is exercised); `beforeCall` runs before
/// each evaluation. Returns the result, and records a failure above 1e-6.
@discardableResult
func checkLayerGradients(_ layer: Layer, _ inputShape: [Int], training: Bool = false, seed: UInt64 = 1,
                         beforeCall: () -> Void = {}, sourceLocation: SourceLocation = #_sourceLocation) throws -> GradientCheck.Result {
    try layer.buildIfNeeded(Array(inputShape.dropFirst()), dtype: .float64)
    try layer.setWeights(layer.getWeights().enumerated().map { i, w in
        var r = randn(w.shape, seed: seed + UInt64(i) + 10, scale: 0.5)
        if layer.weights[i].name.hasSuffix("moving_variance") { r = r.abs() + 0.5 }
        return r
    })
    let weights = layer.trainableWeights
    let x = randn(inputShape, seed: seed)
    let result = GradientCheck.run(at: [x] + weights.map(\.value)) { args in
        for (v, a) in zip(weights, args.dropFirst()) { v.value = a }
        beforeCall()
        return try! layer(args[0], training: training)
    }
    #expect(result.maxRelativeError <= 1e-6, "\(layer.name): \(result)", sourceLocation: sourceLocation)
    return result
}

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
