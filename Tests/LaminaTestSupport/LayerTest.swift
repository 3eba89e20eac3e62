import Foundation
import Testing
import Lamina

/// Float64 gradient check of `layer` with respect to its input and trainable weights (nonzero
/// random weights and moving statistics, so every term is exercised); `beforeCall` runs before
/// each evaluation. Returns the result, and records a failure above `tolerance`.
@discardableResult
package func checkLayerGradients(_ layer: Layer, _ inputShape: [Int], training: Bool = false, seed: UInt64 = 1,
                                 tolerance: Double = 1e-6, beforeCall: () -> Void = {},
                                 sourceLocation: SourceLocation = #_sourceLocation) throws -> GradientCheck.Result {
    try buildWithRandomWeights(layer, inputShape, seed: seed)
    let weights = layer.trainableWeights
    let x = randn(inputShape, seed: seed)
    let result = GradientCheck.run(at: [x] + weights.map(\.value)) { args in
        for (v, a) in zip(weights, args.dropFirst()) { v.value = a }
        beforeCall()
        return try! layer(args[0], training: training)
    }
    #expect(result.maxRelativeError <= tolerance, "\(layer.name): \(result)", sourceLocation: sourceLocation)
    return result
}

/// Builds `layer` in float64 for `inputShape` (batch first) and gives every weight random
/// nonzero values (moving variances positive).
package func buildWithRandomWeights(_ layer: Layer, _ inputShape: [Int], seed: UInt64) throws {
    try layer.buildIfNeeded(Array(inputShape.dropFirst()), dtype: .float64)
    try layer.setWeights(layer.getWeights().enumerated().map { i, w in
        var r = randn(w.shape, seed: seed + UInt64(i) + 10, scale: 0.5)
        if layer.weights[i].name.hasSuffix("moving_variance") { r = r.abs() + 0.5 }
        return r
    })
}

/// What `layerTest` measured.
package struct LayerTestResult: CustomStringConvertible {
    /// The float64 gradient check (nil when skipped).
    package var gradients: GradientCheck.Result?
    /// The largest output difference of the layer rebuilt from its config with the same
    /// weights (float64), and of a model holding it after save and load (float32).
    package var configDeviation = 0.0, saveDeviation = 0.0
    /// A one-line report.
    package var description: String {
        "gradients: \(gradients.map(\.description) ?? "not checked"); config round trip Δ \(configDeviation); save/load Δ \(saveDeviation)"
    }
}

/// Keras's `layer_test` for Lamina: runs an unbuilt layer through the whole layer
/// contract in one call, recording a failure for each point that does not hold.
///
/// 1. Shapes: built for `inputShape` (batch first) in float64, the output's shape is
///    `[batch] + computeOutputShape`, which equals `outputShape` and `expectedOutputShape`
///    (without the batch) when given; `weightShapes(for:)` predicts the weights built.
/// 2. Weights: `expectedTrainableWeights` / `expectedNonTrainableWeights` counts when given.
/// 3. Gradients: float64 central differences with respect to the input and every trainable
///    weight within `gradientTolerance` (`checkGradients: false` for layers with integer
///    inputs or no gradient).
/// 4. Config: `LayerRegistry.make(layer.serialize())` rebuilds a layer whose config
///    serializes to the same JSON and which, given the same weights, computes the same
///    output at inference (exactly).
/// 5. Save and load: a float32 `Sequential` of an `Input` and a float32 copy of the layer
///    from its config (given the same weights) predicts the same after `save` and `load`
///    (exactly).
@discardableResult
package func layerTest(_ layer: Layer, inputShape: [Int], expectedOutputShape: [Int]? = nil,
                       expectedTrainableWeights: Int? = nil, expectedNonTrainableWeights: Int? = nil,
                       checkGradients: Bool = true, gradientTolerance: Double = 1e-6, training: Bool = false,
                       seed: UInt64 = 1, beforeCall: () -> Void = {},
                       sourceLocation: SourceLocation = #_sourceLocation) throws -> LayerTestResult {
    var result = LayerTestResult()
    let features = Array(inputShape.dropFirst())

    // 1. Shapes, and 2. weight counts.
    try buildWithRandomWeights(layer, inputShape, seed: seed)
    let x = randn(inputShape, seed: seed)
    let y = try layer(x, training: training)
    let computed = try layer.computeOutputShape(features)
    #expect(y.shape == [inputShape[0]] + computed, "\(layer.name): output \(y.shape), computeOutputShape \(computed)",
            sourceLocation: sourceLocation)
    #expect(layer.outputShape == computed, "\(layer.name): outputShape \(layer.outputShape ?? [])", sourceLocation: sourceLocation)
    if let expectedOutputShape {
        #expect(computed == expectedOutputShape, "\(layer.name): output shape \(computed)", sourceLocation: sourceLocation)
    }
    #expect(try layer.weightShapes(for: features) == layer.weights.map(\.shape),
            "\(layer.name): weightShapes(for:) vs the weights built", sourceLocation: sourceLocation)
    if let expectedTrainableWeights {
        #expect(layer.trainableWeights.count == expectedTrainableWeights, "\(layer.name): trainable weights", sourceLocation: sourceLocation)
    }
    if let expectedNonTrainableWeights {
        #expect(layer.nonTrainableWeights.count == expectedNonTrainableWeights, "\(layer.name): non-trainable weights",
                sourceLocation: sourceLocation)
    }

    // 3. Gradients.
    if checkGradients {
        result.gradients = try checkLayerGradients(layer, inputShape, training: training, seed: seed, tolerance: gradientTolerance,
                                                   beforeCall: beforeCall, sourceLocation: sourceLocation)
    }

    // 4. Config round trip: the same JSON, and the same output from the same weights.
    let saved = try layer.serialize()
    let rebuilt = try LayerRegistry.make(saved)
    try rebuilt.buildIfNeeded(features, dtype: .float64)
    let (before, after) = (try canonicalJSON(saved), try canonicalJSON(rebuilt.serialize()))
    #expect(after == before, "\(layer.name): config changes in a round trip: \(before) became \(after)", sourceLocation: sourceLocation)
    try rebuilt.setWeights(layer.getWeights())
    let expected = try layer(x)
    result.configDeviation = maxDeviation(try rebuilt(x), expected)
    #expect(result.configDeviation == 0, "\(layer.name): the layer from its config computes another output",
            sourceLocation: sourceLocation)

    // 5. Save and load, float32, inside a model.
    let copy = try LayerRegistry.make(saved)
    try copy.buildIfNeeded(features, dtype: .float32)
    let model = Sequential([Input(shape: features), copy])
    try copy.setWeights(layer.getWeights().map { $0.cast(to: .float32) })
    let x32 = x.cast(to: .float32)
    let predicted = try model.predict(x32)
    let file = temporaryDirectory("layerTest-\(layer.name)").appendingPathComponent("model.lamina")
    defer { try? FileManager.default.removeItem(at: file.deletingLastPathComponent()) }
    try model.save(to: file)
    let loaded = try Sequential.load(from: file)
    result.saveDeviation = maxDeviation(try loaded.predict(x32), predicted)
    #expect(result.saveDeviation == 0, "\(layer.name): the saved and loaded model predicts another output", sourceLocation: sourceLocation)
    return result
}

/// A config as JSON text with sorted keys, so two configs compare as strings.
package func canonicalJSON(_ object: [String: Any]) throws -> String {
    String(decoding: try JSONSerialization.data(withJSONObject: object, options: [.sortedKeys]), as: UTF8.self)
}
