import Foundation
import Testing
import LaminaTestSupport
@testable import Lamina
@testable import LaminaData

@Suite struct PreprocessingTests {
    /// adapt gives Keras's mean and variance (tensors, and a dataset in batches), and the
    /// layer then outputs what Keras's does.
    @Test(arguments: Fixture.keras.normalization.map(\.name))
    func normalizationAdaptsLikeKeras(_ name: String) throws {
        let c = Fixture.keras.normalization.first { $0.name == name }!
        let layer = Normalization(axis: name == "normalization_all" ? nil : -1)
        try layer.adapt(c.data.tensor)
        expectClose(try #require(layer.mean).value, c.mean.tensor, atol: 1e-4, rtol: 1e-4, "\(name) mean")
        expectClose(try #require(layer.variance).value, c.variance.tensor, atol: 1e-4, rtol: 1e-4, "\(name) variance")
        expectClose(try layer(c.input.tensor), c.output.tensor, atol: 1e-4, rtol: 1e-4, "\(name) output")
        let batched = Normalization(axis: name == "normalization_all" ? nil : -1)
        try batched.adapt(try Dataset.fromTensors(c.data.tensor).batch(4))   // Chan's combination over batches
        expectClose(try #require(batched.mean).value, c.mean.tensor, atol: 1e-4, rtol: 1e-4, "\(name) mean from batches")
        expectClose(try #require(batched.variance).value, c.variance.tensor, atol: 1e-4, rtol: 1e-4, "\(name) variance from batches")
        // Given statistics, and the inverse.
        let given = Normalization(mean: [1, 2], variance: [4, 9])
        #expect(try given(Tensor(shape: [1, 2], scalars: [3, 8] as [Float])).asArray(Float.self) == [1, 2])
        let inverse = Normalization(mean: [1, 2], variance: [4, 9], invert: true)
        #expect(try inverse(Tensor(shape: [1, 2], scalars: [1, 2] as [Float])).asArray(Float.self) == [3, 8])
    }

    /// Rotation, translation and zoom at fixed factors equal Keras's (TensorFlow's projective
    /// transform: bilinear or nearest sampling, each fill mode).
    @Test(arguments: Fixture.keras.augmentation.map(\.name))
    func affineAugmentationsMatchKeras(_ name: String) throws {
        let c = Fixture.keras.augmentation.first { $0.name == name }!
        let layer: Layer
        switch name {
        case "rotation_reflect": layer = RandomRotation(factor: (0.1, 0.1))
        case "rotation_wrap_nearest": layer = RandomRotation(factor: (-0.3, -0.3), fillMode: .wrap, interpolation: .nearest)
        case "rotation_constant": layer = RandomRotation(factor: (0.2, 0.2), fillMode: .constant, fillValue: 17)
        case "rotation_nearest_fill": layer = RandomRotation(factor: (0.45, 0.45), fillMode: .nearest)
        case "translation_reflect": layer = RandomTranslation(heightFactor: (0.2, 0.2), widthFactor: (-0.3, -0.3))
        case "translation_constant": layer = RandomTranslation(heightFactor: (-0.35, -0.35), widthFactor: (0.25, 0.25), fillMode: .constant)
        case "zoom_in_out": layer = RandomZoom(heightFactor: (-0.25, -0.25), widthFactor: (0.3, 0.3))
        default: layer = RandomZoom(heightFactor: (0.4, 0.4), fillMode: .wrap)
        }
        let x = c.input.tensor.cast(to: .float32)
        expectClose(try layer(x, training: true), c.output.tensor, atol: 1e-2, rtol: 1e-4, "\(name)")
        #expect(try layer(x).asArray(Float.self) == x.asArray(Float.self), "\(name) is the identity at inference")
    }

    @Test func augmentationActsOnlyInTraining() throws {
        let x = Tensor.randomUniform([16, 4, 5, 3], seed: 3) * 255
        for layer: Layer in [RandomFlip(seed: 1), RandomContrast(0.5, seed: 2)] {
            #expect(try layer(x).asArray(Float.self) == x.asArray(Float.self), "\(layer.name) at inference")
            #expect(try layer(x, training: true).asArray(Float.self) != x.asArray(Float.self), "\(layer.name) in training")
        }
        // Each image is flipped (both axes, one draw) or left alone.
        let flipped = try RandomFlip(seed: 4)(x, training: true)
        let both = x.reversed(axis: 1).reversed(axis: 2)
        var changed = 0
        for i in 0..<16 {
            let (a, o, f) = (flipped.sliced(axis: 0, i..<(i + 1)), x.sliced(axis: 0, i..<(i + 1)), both.sliced(axis: 0, i..<(i + 1)))
            let isFlip = a.asArray(Float.self) == f.asArray(Float.self), isSame = a.asArray(Float.self) == o.asArray(Float.self)
            #expect(isFlip || isSame)
            if isFlip { changed += 1 }
        }
        #expect(changed > 2 && changed < 14)
        let horizontal = try RandomFlip(mode: .horizontal, seed: 4)(x, training: true)
        #expect(horizontal.sliced(axis: 1, 0..<1).asArray(Float.self) != x.sliced(axis: 1, 0..<1).asArray(Float.self))
        // Contrast keeps each image's per-channel mean (before clipping) and stays in range.
        let contrast = try RandomContrast(factor: (0.5, 0.5), valueRange: (-1000, 1000), seed: 5)(x, training: true)
        expectClose(contrast.mean(axes: [1, 2]), x.mean(axes: [1, 2]), atol: 1e-4, rtol: 1e-4, "contrast keeps the mean")
        let clipped = try RandomContrast(factor: (0.9, 0.9), seed: 6)(x * 2, training: true).asArray(Float.self)
        #expect(clipped.allSatisfy { $0 >= 0 && $0 <= 255 })
        // Bad arguments are deferred errors, as for every layer.
        #expect(RandomContrast(1.5).argumentError != nil && Normalization(mean: [1]).argumentError != nil)
    }

    /// The preprocessing layers save and load (seeds and statistics included).
    @Test func preprocessingLayersRoundTrip() throws {
        let normalization = Normalization()
        try normalization.adapt(Tensor.randomNormal([20, 4, 4, 1], seed: 1) * 3 + 1)
        let model = Sequential([Input(shape: [4, 4, 1]), normalization, RandomFlip(mode: .horizontal, seed: 3),
                                RandomContrast(factor: (0.2, 0.4), seed: 4), RandomRotation(0.2, fillMode: .constant, seed: 5),
                                RandomTranslation(heightFactor: (0, 0.1), widthFactor: (-0.2, 0)), RandomZoom(0.3, widthFactor: 0.1, interpolation: .nearest),
                                Flatten(), Dense(2)])
        let url = temporaryDirectory().appendingPathComponent("preprocessing.lamina")
        try model.save(url.path)
        let back = try Sequential.load(url.path)
        let x = Tensor.randomNormal([3, 4, 4, 1], seed: 2)
        #expect(try back.predict(x).asArray(Float.self) == model.predict(x).asArray(Float.self))
        #expect((back.layers[1] as? RandomFlip)?.mode == .horizontal && (back.layers[2] as? RandomContrast)?.upper == 0.4)
        #expect((back.layers[3] as? RandomRotation)?.fillMode == .constant && (back.layers[5] as? RandomZoom)?.interpolation == .nearest)
        #expect(try ModelFile.json(back.serialize()) == ModelFile.json(model.serialize()))
    }
}
