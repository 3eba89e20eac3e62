import Foundation
import Testing
import LaminaTestSupport
@testable import Lamina

/// The activations added for Keras 3 (relu6, hard_sigmoid, hard_silu, mish, exponential, silu,
/// log_softmax): Keras's definitions, names and aliases, and float64 gradients inside layers.
@Suite struct ActivationFunctionTests {
    func values(_ a: ActivationFunction, _ xs: [Double]) -> [Double] {
        a(Tensor(shape: [xs.count], scalars: xs)).asArray(Double.self)
    }

    /// Keras 3's definitions at chosen points.
    @Test func definitions() throws {
        let xs: [Double] = [-4, -3, -1.5, 0, 1.5, 3, 7]
        #expect(values(.relu6, xs) == [0, 0, 0, 0, 1.5, 3, 6])
        #expect(values(.hardSigmoid, xs) == [0, 0, 0.25, 0.5, 0.75, 1, 1])
        #expect(values(.hardSilu, xs) == [0, 0, -0.375, 0, 1.125, 3, 7])
        let mish = values(.mish, [1.0])[0]
        #expect(Swift.abs(mish - Foundation.tanh(Foundation.log(1 + Foundation.exp(1.0)))) < 1e-15)
        #expect(Swift.abs(values(.exponential, [1.0])[0] - M_E) < 1e-15)
        let ls = values(.logSoftmax, [1, 2, 3])
        #expect(Swift.abs(ls.map { Foundation.exp($0) }.reduce(0, +) - 1) < 1e-12)
    }

    /// Keras's names: `swish` saves as `silu`, `hard_swish` as `hard_silu`; all load.
    @Test func namesAndAliases() throws {
        for (name, saved) in [("swish", "silu"), ("silu", "silu"), ("hard_swish", "hard_silu"), ("hard_silu", "hard_silu"),
                              ("hard_sigmoid", "hard_sigmoid"), ("relu6", "relu6"), ("mish", "mish"), ("exponential", "exponential"),
                              ("log_softmax", "log_softmax"), ("gelu", "gelu")] {
            #expect(try ActivationFunction(named: name).description == saved)
            let dense = Dense(3, activation: ActivationFunction(stringLiteral: name))
            #expect(dense.argumentError == nil)
            let back = try #require(try LayerRegistry.make(dense.serialize()) as? Dense)
            #expect(back.activation.description == saved)
            let act = try #require(try LayerRegistry.make(Activation(ActivationFunction(stringLiteral: name)).serialize()) as? Activation)
            #expect(act.activation.description == saved)
        }
        #expect(ActivationFunction.silu == .swish && ActivationFunction.hardSwish == .hardSilu)
    }

    @Test func gradientsInsideLayers() throws {
        var worst = 0.0
        for a: ActivationFunction in [.relu6, .hardSigmoid, .hardSilu, .mish, .exponential, .silu, .logSoftmax, .gelu] {
            // Scaled inputs reach both sides of the kinks at ±3 and 0, 6.
            worst = max(worst, try checkLayerGradients(Sequential([Rescaling(3), Activation(a)]), [3, 5]).maxRelativeError)
            worst = max(worst, try checkLayerGradients(Dense(3, activation: a), [4, 5]).maxRelativeError)
            worst = max(worst, try checkLayerGradients(Conv2D(2, kernelSize: 2, activation: a), [2, 4, 3, 2]).maxRelativeError)
        }
        print("activation gradient check max relative error: \(worst)")
    }
}
