import Foundation
import Testing
import LaminaTestSupport
@testable import Lamina

/// `SeparableConv2D`: a depthwise convolution then a 1×1 convolution, gradient checks, weights
/// in Keras's order, config both ways.
@Suite struct SeparableConv2DTests {
    @Test func isDepthwiseThenPointwise() throws {
        let layer = SeparableConv2D(4, kernelSize: (3, 2), strides: (2, 1), padding: .same, depthMultiplier: 2, activation: .relu)
        let x = randn([2, 7, 6, 3], seed: 1)
        try layer.buildIfNeeded([7, 6, 3], dtype: .float64)
        try layer.setWeights(layer.getWeights().enumerated().map { randn($0.element.shape, seed: UInt64($0.offset) + 5) })
        let (dw, pw, b) = (layer.weights[0].value, layer.weights[1].value, layer.weights[2].value)
        let expected = x.depthwiseConv2d(dw, strides: (2, 1), padding: .same).conv2d(pw, bias: b).relu()
        expectClose(try layer(x), expected, atol: 1e-12, rtol: 1e-12, "separable")
        #expect(layer.weights.map(\.shape) == [[3, 2, 3, 2], [1, 1, 6, 4], [4]])
        #expect(layer.weights.map(\.name) == ["\(layer.name)/depthwise_kernel", "\(layer.name)/pointwise_kernel", "\(layer.name)/bias"])
        #expect(try layer.weightShapes(for: [7, 6, 3]) == layer.weights.map(\.shape))
    }

    @Test func layerGradients() throws {
        var worst = 0.0
        for (layer, shape) in [(SeparableConv2D(4, kernelSize: 3), [2, 6, 5, 3]),
                               (SeparableConv2D(3, kernelSize: (3, 2), strides: (2, 2), padding: .same, depthMultiplier: 2, activation: .tanh), [2, 7, 6, 2]),
                               (SeparableConv2D(2, kernelSize: 3, dilationRate: 2, useBias: false), [1, 7, 7, 3])] {
            worst = max(worst, try layerTest(layer, inputShape: shape).gradients?.maxRelativeError ?? .infinity)
        }
        print("SeparableConv2D gradient check max relative error: \(worst)")
    }

    @Test func configRoundTripAndErrors() throws {
        let layer = SeparableConv2D(8, kernelSize: 3, strides: 2, padding: .same, depthMultiplier: 2, activation: .hardSilu,
                                    pointwiseRegularizer: .l1(0.01), name: "sep")
        try layer.buildIfNeeded([9, 9, 4])
        let back = try #require(try LayerRegistry.make(layer.serialize()) as? SeparableConv2D)
        #expect(back.filters == 8 && back.kernelSize == (3, 3) && back.strides == (2, 2) && back.depthMultiplier == 2)
        #expect(back.activation == .hardSilu && (back.pointwiseRegularizer as? L1)?.l1 == 0.01)
        #expect(NSDictionary(dictionary: try back.config()) == NSDictionary(dictionary: try layer.config()))
        #expect(try layer.config()["activation"] as? String == "hard_silu")
        let x = randn([1, 5, 5, 2], seed: 1)
        for bad in [SeparableConv2D(0, kernelSize: 3), SeparableConv2D(2, kernelSize: 3, depthMultiplier: -1),
                    SeparableConv2D(2, kernelSize: 3, dataFormat: "channels_first"), SeparableConv2D(2, kernelSize: 7)] {
            #expect(throws: LaminaError.self) { _ = try bad(x) }
        }
    }
}
