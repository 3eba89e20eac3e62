import Foundation
import Testing
import Lamina
@testable import LaminaData

@Suite struct ImageFolderTests {
    static let fixtures = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("Fixtures")
    static let folder = fixtures.appendingPathComponent("folder").path

    func maxError(_ a: Tensor, _ b: Tensor) -> Double {
        zip(a.scalarsAsDouble(), b.scalarsAsDouble()).map { Swift.abs($0 - $1) }.max() ?? .infinity
    }

    /// PNG (RGB, gray, RGBA) and JPEG files decode and resize to what Keras's
    /// image_dataset_from_directory gives (Fixtures/generate_image_folder.py), in RGB and gray.
    @Test(arguments: [ImageFolder.ColorMode.rgb, .grayscale])
    func decodesAndResizesLikeKeras(_ mode: ImageFolder.ColorMode) throws {
        let expected = try NumPy.loadArchive(Self.fixtures.appendingPathComponent("images.npz"))
        let (dataset, source) = try Dataset.imageDatasetFromDirectory(Self.folder, colorMode: mode, batchSize: nil, imageSize: (5, 6),
                                                                      shuffle: false)
        #expect(source.classNames == ["cats", "dogs"] && source.count == 6 && dataset.cardinality == 6)
        let (x, y) = try source.batch(at: Array(0..<6))
        let (kx, ky) = (try #require(expected[mode.rawValue + "_x"]), try #require(expected[mode.rawValue + "_y"]))
        #expect(x.shape == kx.shape && y!.asArray(Int32.self) == ky.asArray(Int32.self))
        // Exact but for float rounding — except gray from *color* PNGs: TensorFlow has libpng
        // convert in its gamma-aware way, Lamina takes libpng's Rec. 709 weights on the stored
        // values (up to 3 levels of 255 apart here; gray and JPEG files are exact).
        let tolerance = mode == .rgb ? 0.01 : 3.0
        #expect(maxError(x, kx) <= tolerance, "\(mode): max |Lamina − Keras| = \(maxError(x, kx)) on 0…255")
    }

    /// The row-cached resize equals bilinear sampling computed pixel by pixel (the formula of
    /// tf.image.resize, half-pixel centres, no antialias), bit for bit, up and down, 1–4 channels.
    @Test func resizeEqualsPerPixelBilinear() {
        func reference(_ image: DecodedImage, _ outH: Int, _ outW: Int) -> [Float] {
            let (c, src) = (image.channels, image.pixels)
            let (scaleY, scaleX) = (Float(image.height) / Float(outH), Float(image.width) / Float(outW))
            var out: [Float] = []
            for oy in 0..<outH {
                let y = max((Float(oy) + 0.5) * scaleY - 0.5, 0)
                let y0 = min(Int(y), image.height - 1), y1 = min(y0 + 1, image.height - 1), fy = y - Float(y0)
                for ox in 0..<outW {
                    let x = max((Float(ox) + 0.5) * scaleX - 0.5, 0)
                    let x0 = min(Int(x), image.width - 1), x1 = min(x0 + 1, image.width - 1), fx = x - Float(x0)
                    for ch in 0..<c {
                        func p(_ yy: Int, _ xx: Int) -> Float { Float(src[(yy * image.width + xx) * c + ch]) }
                        let top = p(y0, x0) + (p(y0, x1) - p(y0, x0)) * fx
                        let bottom = p(y1, x0) + (p(y1, x1) - p(y1, x0)) * fx
                        out.append(top + (bottom - top) * fy)
                    }
                }
            }
            return out
        }
        var state: UInt32 = 12345
        for (h, w, c) in [(12, 16, 3), (7, 5, 1), (1, 9, 4), (30, 2, 3), (5, 5, 2)] {
            let pixels = (0..<(h * w * c)).map { _ -> UInt8 in state = state &* 1_664_525 &+ 1_013_904_223; return UInt8(state >> 24) }
            let image = DecodedImage(height: h, width: w, channels: c, pixels: pixels)
            for (oh, ow) in [(8, 8), (13, 20), (1, 1), (h, w), (3 * h, 2), (2, 3 * w)] {
                #expect(image.resized(height: oh, width: ow) == reference(image, oh, ow), "\(h)×\(w)×\(c) → \(oh)×\(ow)")
            }
        }
    }

    @Test func labelModesBatchesAndSplits() throws {
        let (categorical, _) = try Dataset.imageDatasetFromDirectory(Self.folder, labelMode: .categorical, batchSize: 4, imageSize: (4, 4), seed: 3)
        let batch = try #require(try categorical.makeIterator().next())
        #expect(batch.x.shape == [4, 4, 4, 3] && batch.y!.shape == [4, 2] && batch.y!.asArray(Float.self).reduce(0, +) == 4)
        let (binary, _) = try Dataset.imageDatasetFromDirectory(Self.folder, labelMode: .binary, batchSize: 6, imageSize: (2, 2), shuffle: false)
        #expect(try #require(try binary.makeIterator().next()).y!.asArray(Float.self) == [0, 0, 0, 1, 1, 1])
        // One seeded shuffle, then disjoint parts.
        let (_, training) = try Dataset.imageDatasetFromDirectory(Self.folder, imageSize: (2, 2), seed: 7, validationSplit: 0.34, subset: .training)
        let (_, validation) = try Dataset.imageDatasetFromDirectory(Self.folder, imageSize: (2, 2), seed: 7, validationSplit: 0.34, subset: .validation)
        #expect(training.count == 4 && validation.count == 2 && Set(training.files).isDisjoint(with: validation.files))
        // Unlabeled folders and given labels (sorted file order).
        let (_, unlabeled) = try Dataset.imageDatasetFromDirectory(Self.folder + "/cats", labels: .none, imageSize: (2, 2))
        #expect(unlabeled.labels == nil && unlabeled.count == 3)
        let (_, listed) = try Dataset.imageDatasetFromDirectory(Self.folder + "/dogs", labels: .list([2, 0, 1]), imageSize: (2, 2), shuffle: false)
        #expect(listed.labels == [2, 0, 1] && listed.classNames == ["0", "1", "2"])
        // A model trains on it.
        let model = Sequential([Input(shape: [4, 4, 3]), Rescaling(1.0 / 255), Flatten(), Dense(2, activation: .softmax)])
        model.compile(optimizer: Adam(learningRate: 0.01), loss: .sparseCategoricalCrossentropy, metrics: [.accuracy])
        let (train, _) = try Dataset.imageDatasetFromDirectory(Self.folder, batchSize: 3, imageSize: (4, 4), seed: 1)
        let history = try model.fit(train.prefetch(), epochs: 2, verbose: 0)
        #expect(history.history["loss"]?.count == 2)
    }

    /// Empty folders, wrong labels and files that are not images are errors naming the
    /// problem; skipping them is asked for and counted.
    @Test func errorPathsNameTheProblem() throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("lamina-images-\(UUID().uuidString.prefix(8))")
        try FileManager.default.createDirectory(at: dir.appendingPathComponent("a"), withIntermediateDirectories: true)
        let empty = #expect(throws: LaminaError.self) { _ = try Dataset.imageDatasetFromDirectory(dir.path) }
        #expect(empty?.message.contains("holds no images") == true)
        let good = try Data(contentsOf: URL(fileURLWithPath: Self.folder + "/cats/a_rgb.png"))
        try good.write(to: dir.appendingPathComponent("a/good.png"))
        try Data("not an image".utf8).write(to: dir.appendingPathComponent("a/bad.png"))
        try good.prefix(good.count / 2).write(to: dir.appendingPathComponent("a/truncated.png"))
        let bad = #expect(throws: LaminaError.self) { _ = try Dataset.imageDatasetFromDirectory(dir.path, imageSize: (2, 2)) }
        #expect(bad?.message.contains("bad.png") == true, "\(bad?.message ?? "")")
        let (dataset, source) = try Dataset.imageDatasetFromDirectory(dir.path, imageSize: (2, 2), badFiles: .skip)
        #expect(source.count == 1 && source.skipped.map(\.lastPathComponent).sorted() == ["bad.png", "truncated.png"])
        #expect(try dataset.makeIterator().next()?.x.shape == [1, 2, 2, 3])
        let wrong = #expect(throws: LaminaError.self) { _ = try Dataset.imageDatasetFromDirectory(Self.folder + "/dogs", labels: .list([0])) }
        #expect(wrong?.message.contains("1 labels for 3 images") == true)
        let binary = #expect(throws: LaminaError.self) {
            _ = try Dataset.imageDatasetFromDirectory(Self.folder, labels: .inferred, labelMode: .binary, classNames: ["cats"])
        }
        #expect(binary?.message.contains("needs 2 classes") == true)
    }

    /// Random and mutated bytes never crash the decoders.
    @Test func decodersSurviveDamagedBytes() throws {
        var rng = RandomGenerator(seed: 5)
        let originals = try ["cats/a_rgb.png", "cats/c_photo.jpg", "dogs/d_rgba.png", "dogs/e_photo.jpeg"].map {
            try [UInt8](Data(contentsOf: URL(fileURLWithPath: Self.folder + "/" + $0)))
        }
        var decoded = 0, rejected = 0
        for trial in 0..<400 {
            var bytes = originals[trial % originals.count]
            if trial % 2 == 0 { bytes = Array(bytes.prefix(Int(rng.next() % UInt64(bytes.count)))) }
            else { for _ in 0..<3 { bytes[8 + Int(rng.next() % UInt64(bytes.count - 8))] ^= UInt8(truncatingIfNeeded: rng.next() | 1) } }
            do { _ = try ImageDecoder.decode(bytes, channels: [1, 3, 4][trial % 3]); decoded += 1 } catch is LaminaError { rejected += 1 }
        }
        #expect(decoded + rejected == 400 && rejected > 100)
    }
}
