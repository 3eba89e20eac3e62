import Foundation
import Testing
@testable import Lamina

/// The activations added for Keras 3 (relu6, hard_sigmoid, hard_silu, mish, exponential, silu,
/// log_softmax), the `ReLU` layer with its options, `LayerScale`, and BatchNormalization
/// without center or scale.
@Suite struct ActivationLayerTests {
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

    /// Keras's ReLU layer: the docstring's example and each option.
    @Test func reluLayerOptions() throws {
        let x = Tensor(shape: [1, 5], scalars: [-10, -5, 0, 5, 10] as [Double])
        #expect(try ReLU(maxValue: 10, negativeSlope: 0.5)(x).asArray(Double.self) == [-5, -2.5, 0, 5, 10])
        #expect(try ReLU()(x).asArray(Double.self) == [0, 0, 0, 5, 10])
        #expect(try ReLU(maxValue: 5)(x).asArray(Double.self) == [0, 0, 0, 5, 5])
        #expect(try ReLU(threshold: 5)(x).asArray(Double.self) == [0, 0, 0, 0, 10])
        let options = try ReLU(maxValue: 6, negativeSlope: 0.1, threshold: 1)(x).asArray(Double.self)
        #expect(zip(options, [-1.1, -0.6, -0.1, 5, 6]).allSatisfy { Swift.abs($0 - $1) < 1e-12 }, "\(options)")
        var worst = 0.0
        for layer in [ReLU(), ReLU(maxValue: 1.5), ReLU(negativeSlope: 0.2), ReLU(maxValue: 1, negativeSlope: 0.3, threshold: 0.5)] {
            worst = max(worst, try checkLayerGradients(Sequential([Rescaling(2), layer]), [3, 6]).maxRelativeError)
        }
        print("ReLU gradient check max relative error: \(worst)")
        for bad in [ReLU(maxValue: -1), ReLU(negativeSlope: -0.1), ReLU(threshold: -1)] {
            #expect(throws: LaminaError.self) { _ = try bad(x) }
        }
        let layer = ReLU(maxValue: 6, negativeSlope: 0.1, threshold: 0.5, name: "r")
        let back = try #require(try LayerRegistry.make(layer.serialize()) as? ReLU)
        #expect(back.maxValue == 6 && back.negativeSlope == 0.1 && back.threshold == 0.5)
        #expect(try ReLU().config()["max_value"] is NSNull)
        let keras: [String: Any] = ["module": "keras.layers", "class_name": "ReLU", "registered_name": NSNull(), "config": [
            "name": "re_lu", "trainable": true, "dtype": "float32", "max_value": NSNull(), "negative_slope": 0.0, "threshold": 0.0]]
        #expect((try LayerRegistry.make(keras) as? ReLU)?.maxValue == nil)
        #expect(ReLU().name.hasPrefix("re_lu"))
    }

    /// ConvNeXt's LayerScale: gamma starts at init_values, saves under Keras's module.
    @Test func layerScale() throws {
        let layer = LayerScale(initValues: 1e-6, projectionDim: 4, name: "ls")
        let y = try layer(Tensor.ones([2, 3, 3, 4]))
        #expect(y.asArray(Float.self).allSatisfy { $0 == Float(1e-6) })
        #expect(layer.weights.map(\.shape) == [[4]] && layer.weights[0].name == "ls/gamma")
        #expect(try layer.weightShapes(for: [3, 3, 4]) == [[4]])
        let saved = try layer.serialize()
        #expect(saved["module"] as? String == "keras.src.applications.convnext" && saved["registered_name"] as? String == "LayerScale")
        let back = try #require(try LayerRegistry.make(saved) as? LayerScale)
        #expect(back.initValues == 1e-6 && back.projectionDim == 4)
        // Keras's own serialization of keras.src.applications.convnext.LayerScale(1e-6, 8).
        let keras: [String: Any] = ["module": "keras.src.applications.convnext", "class_name": "LayerScale", "registered_name": "LayerScale",
                                    "config": ["name": "layer_scale", "trainable": true, "dtype": "float32", "init_values": 1e-06, "projection_dim": 8]]
        #expect((try LayerRegistry.make(keras) as? LayerScale)?.projectionDim == 8)
        let r = try checkLayerGradients(LayerScale(initValues: 0.5, projectionDim: 3), [2, 4, 3])
        print("LayerScale gradient check max relative error: \(r.maxRelativeError)")
        #expect(throws: LaminaError.self) { _ = try LayerScale(initValues: 1, projectionDim: 3)(Tensor.ones([2, 4])) }
        #expect(throws: LaminaError.self) { _ = try LayerScale(initValues: 1, projectionDim: 0)(Tensor.ones([2, 4])) }
    }

    /// BatchNormalization with `center: false` / `scale: false` has no beta / gamma (Keras).
    @Test func batchNormalizationWithoutCenterOrScale() throws {
        var worst = 0.0
        for (center, scale) in [(false, true), (true, false), (false, false)] {
            let bn = BatchNormalization(center: center, scale: scale)
            try bn.buildIfNeeded([3])
            #expect(bn.weights.count == 2 + (center ? 1 : 0) + (scale ? 1 : 0))
            #expect(try bn.weightShapes(for: [3]) == bn.weights.map(\.shape))
            worst = max(worst, try checkLayerGradients(BatchNormalization(center: center, scale: scale), [5, 3], training: true).maxRelativeError)
            worst = max(worst, try checkLayerGradients(BatchNormalization(center: center, scale: scale), [2, 2, 2, 3]).maxRelativeError)
        }
        print("BatchNormalization (center/scale off) gradient check max relative error: \(worst)")
    }
}
