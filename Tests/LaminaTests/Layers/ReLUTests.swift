import Foundation
import Testing
import LaminaTestSupport
@testable import Lamina

/// Keras's `ReLU` layer with its options (max_value, negative_slope, threshold).
@Suite struct ReLUTests {
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
}
