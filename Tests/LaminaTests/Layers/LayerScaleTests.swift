import Foundation
import Testing
import LaminaTestSupport
@testable import Lamina

/// ConvNeXt's `LayerScale` (keras.applications.convnext).
@Suite struct LayerScaleTests {
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
}
