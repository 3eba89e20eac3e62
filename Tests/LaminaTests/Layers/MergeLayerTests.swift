import Foundation
import Testing
import LaminaTestSupport
@testable import Lamina

/// The merge layers (Add, Subtract, Multiply, Average, Maximum, Minimum, Concatenate, Dot):
/// float64 gradients with respect to every input, Keras's broadcasting, Keras's batched dot,
/// shape errors that name both shapes, and configs both ways.
@Suite struct MergeLayerTests {
    @Test func elementwiseMergeGradients() throws {
        var worst = 0.0
        for make in [{ Add() as MergeLayer }, { Multiply() }, { Average() }, { Maximum() }, { Minimum() }] {
            worst = max(worst, try checkMergeGradients(make(), [[2, 3, 4], [2, 3, 4], [2, 3, 4]]).maxRelativeError)
            // Broadcasting: [B, 1, 4] with [B, 3, 4], and a rank-2 input gaining an axis after the batch axis.
            worst = max(worst, try checkMergeGradients(make(), [[2, 1, 4], [2, 3, 4]]).maxRelativeError)
            worst = max(worst, try checkMergeGradients(make(), [[2, 4], [2, 3, 4]]).maxRelativeError)
        }
        worst = max(worst, try checkMergeGradients(Subtract(), [[2, 3, 4], [2, 1, 4]]).maxRelativeError)
        worst = max(worst, try checkMergeGradients(Subtract(), [[2, 5], [2, 5]]).maxRelativeError)
        print("merge gradient check max relative error (elementwise): \(worst)")
    }

    @Test func concatenateGradients() throws {
        var worst = try checkMergeGradients(Concatenate(), [[2, 3, 2], [2, 3, 4]]).maxRelativeError
        worst = max(worst, try checkMergeGradients(Concatenate(axis: 1), [[2, 2, 3], [2, 4, 3], [2, 1, 3]]).maxRelativeError)
        print("merge gradient check max relative error (Concatenate): \(worst)")
    }

    @Test func dotGradients() throws {
        var worst = 0.0
        for (layer, shapes) in [(Dot(axes: 1), [[3, 4], [3, 4]]), (Dot(axes: 1, normalize: true), [[3, 4], [3, 4]]),
                                (Dot(axes: (2, 2)), [[2, 3, 4], [2, 5, 4]]), (Dot(axes: 1), [[2, 4, 3], [2, 4, 5]]),
                                (Dot(axes: (2, 1)), [[2, 3, 4], [2, 4]]), (Dot(axes: (1, 2)), [[2, 4], [2, 3, 4]]),
                                (Dot(axes: -1, normalize: true), [[2, 3, 4], [2, 5, 4]]), (Dot(axes: (1, 2)), [[2, 4, 3], [2, 5, 4]])] {
            worst = max(worst, try checkMergeGradients(layer, shapes).maxRelativeError)
        }
        print("merge gradient check max relative error (Dot): \(worst)")
    }

    /// Keras's `batch_dot` against a plain loop, and its output shapes.
    @Test func dotMatchesALoopAndKerasShapes() throws {
        let a = randn([2, 3, 4], seed: 1), b = randn([2, 5, 4], seed: 2)
        let y = try Dot(axes: (2, 2))([a, b])
        #expect(y.shape == [2, 3, 5])
        let (av, bv, yv) = (a.asArray(Double.self), b.asArray(Double.self), y.asArray(Double.self))
        for n in 0..<2 { for i in 0..<3 { for j in 0..<5 {
            let s = (0..<4).reduce(0.0) { $0 + av[(n * 3 + i) * 4 + $1] * bv[(n * 5 + j) * 4 + $1] }
            #expect(Swift.abs(yv[(n * 3 + i) * 5 + j] - s) < 1e-12)
        } } }
        #expect(try Dot(axes: 1)([randn([3, 4], seed: 1), randn([3, 4], seed: 2)]).shape == [3, 1])
        #expect(try Dot(axes: (2, 1))([randn([2, 3, 4], seed: 1), randn([2, 4], seed: 2)]).shape == [2, 3])
        #expect(try Dot(axes: (1, 2))([randn([2, 4], seed: 1), randn([2, 3, 4], seed: 2)]).shape == [2, 3])
        #expect(try Dot(axes: 1).buildAll([[4, 3], [4, 5]], dtype: nil) == [[3, 5]])
        // normalize: a cosine similarity.
        let c = try Dot(axes: 1, normalize: true)([Tensor(shape: [1, 2], scalars: [3, 4] as [Double]),
                                                   Tensor(shape: [1, 2], scalars: [6, 8] as [Double])])
        #expect(Swift.abs(c.asArray(Double.self)[0] - 1) < 1e-12)
    }

    @Test func incompatibleShapesThrowNamingBothShapes() throws {
        let cases: [(MergeLayer, [[Int]])] = [(Add(), [[2, 3, 4], [2, 2, 4]]), (Subtract(), [[2, 3], [2, 4]]),
                                              (Multiply(), [[2, 3], [2, 3, 4]]), (Average(), [[2, 5], [2, 4]]),
                                              (Maximum(), [[2, 2, 3], [2, 3, 3]]), (Minimum(), [[2, 4], [2, 5]]),
                                              (Concatenate(), [[2, 3, 2], [2, 4, 2]]), (Dot(axes: 1), [[2, 3], [2, 4]]),
                                              (Dot(axes: (2, 1)), [[2, 3, 4], [2, 5, 4]])]
        for (layer, shapes) in cases {
            let inputs = shapes.enumerated().map { randn($0.element, seed: UInt64($0.offset)) }
            let error = #expect(throws: LaminaError.self, "\(layer.className)") { _ = try layer(inputs) }
            let message = error?.message ?? ""
            let named = shapes.allSatisfy { message.contains(describe(Array($0.dropFirst()))) }
            #expect(named, "\(layer.className): \(message)")
        }
        // Other misuse: too few inputs, a single tensor, batch sizes that differ, Dot over the batch axis.
        #expect(throws: LaminaError.self) { _ = try Subtract()([randn([2, 3], seed: 1)]) }
        #expect(throws: LaminaError.self) { _ = try Subtract()([randn([2, 3], seed: 1), randn([2, 3], seed: 2), randn([2, 3], seed: 3)]) }
        #expect(throws: LaminaError.self) { _ = try Dot(axes: 1)([randn([2, 3], seed: 1)]) }
        #expect(throws: LaminaError.self) { _ = try Add()(randn([2, 3], seed: 1)) }
        #expect(throws: LaminaError.self) { _ = try Add()([randn([2, 3], seed: 1), randn([3, 3], seed: 2)]) }
        #expect(throws: LaminaError.self) { _ = try Dot(axes: 0)([randn([2, 3], seed: 1), randn([2, 3], seed: 2)]) }
        #expect(throws: LaminaError.self) { _ = try Dot(axes: 3)([randn([2, 3], seed: 1), randn([2, 3], seed: 2)]) }
    }

    @Test func configsRoundTrip() throws {
        for layer in [Dot(axes: 1, name: "d1"), Dot(axes: (1, 2), normalize: true, name: "d2"), Concatenate(axis: 1, name: "c")] as [Layer] {
            let back = try LayerRegistry.make(layer.serialize())
            #expect(back.className == layer.className && back.name == layer.name)
            #expect(NSDictionary(dictionary: try back.config()) == NSDictionary(dictionary: try layer.config()))
        }
        let dot = try #require(try LayerRegistry.make(Dot(axes: (1, 2), normalize: true).serialize()) as? Dot)
        #expect(dot.axes == (1, 2) && dot.normalize)
        #expect(try Dot(axes: -1).config()["axes"] as? Int == -1)
        // Keras's own config of Dot(axes=(1, 2)).
        let keras: [String: Any] = ["module": "keras.layers", "class_name": "Dot", "registered_name": NSNull(),
                                    "config": ["name": "dot", "trainable": true, "dtype": "float32", "axes": [1, 2], "normalize": false]]
        #expect(try #require(try LayerRegistry.make(keras) as? Dot).axes == (1, 2))
        for type in [Add.self, Subtract.self, Multiply.self, Average.self, Maximum.self, Minimum.self] as [ElementwiseMerge.Type] {
            #expect(try LayerRegistry.make(type.init(name: "m").serialize()).className == type.kerasClassName)
        }
    }
}
