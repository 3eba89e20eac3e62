import Foundation
import Testing
@testable import Lamina
@testable import LaminaData
@testable import LaminaKeras

/// Lamina's builders `ResNet50(...)` and `MobileNetV2(...)` are keras.applications': the same
/// parameter counts always; where the peers' Python exists, the same summary text and layer
/// names, and Keras's saved weights set into Lamina's model predict what Keras predicted
/// (Fixtures/generate_applications.py makes the files: 96×96×3, 10 classes).
@Suite struct ApplicationBuildersTests {
    /// The builders at the fixtures' size, by the name generate_applications.py knows them.
    static let builders: [String: @Sendable () -> Model] = [
        "ResNet50": { ResNet50(inputShape: [96, 96, 3], classes: 10) },
        "MobileNetV2": { MobileNetV2(inputShape: [96, 96, 3], classes: 10) },
    ]

    @Test func resNet50ParameterCountsEqualKeras() {
        // keras.applications.ResNet50(weights=None).count_params(), and at 96x96x3 with 10 classes.
        #expect(ResNet50().countParams() == 25_636_712)
        let small = ResNet50(inputShape: [96, 96, 3], classes: 10)
        #expect(small.countParams() == 23_608_202 && small.layers.count == 177 && small.weights.count == 320)
    }

    @Test func mobileNetV2MatchesKerasCountsAndNames() {
        // keras.applications.MobileNetV2(weights=None): count_params(), len(model.layers),
        // len(model.weights) and the model's name, at the defaults, at 96x96x3 with 10 classes,
        // and with alpha 0.35 and 1.4 (the widths round to multiples of 8).
        let full = MobileNetV2()
        #expect(full.countParams() == 3_538_984 && full.name == "mobilenetv2_1.00_224")
        let small = MobileNetV2(inputShape: [96, 96, 3], classes: 10)
        #expect(small.countParams() == 2_270_794 && small.layers.count == 156 && small.weights.count == 262)
        #expect(MobileNetV2(alpha: 0.35).countParams() == 1_691_208)
        #expect(MobileNetV2(alpha: 1.4).countParams() == 6_156_712)
        let headless = MobileNetV2(inputShape: [96, 96, 3], includeTop: false, pooling: .max)
        #expect(headless.countParams() == 2_257_984 && headless.layers.count == 155 && headless.layers.last?.name == "global_max_pooling2d")
        // Odd sizes pad one pixel before as well as after (imagenet_utils.correct_pad).
        let odd = MobileNetV2(inputShape: [97, 97, 3], includeTop: false)
        #expect(odd.outputShape == [4, 4, 1280] && odd.layers.count == 154)
    }

    @Test(arguments: ["ResNet50", "MobileNetV2"])
    func kerasWeightsPredictKerasOutputs(_ name: String) throws {
        guard let python = KerasReadsLaminaTests.python else {
            print("ApplicationBuildersTests: skipped the Keras comparison — no Python with Keras (../shared/peers/setup.sh or LAMINA_PEERS_PYTHON)")
            return
        }
        let dir = try KerasWriterTests.directory()
        let script = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .appendingPathComponent("LaminaTests/Fixtures/generate_applications.py")
        let process = Process()
        process.executableURL = URL(fileURLWithPath: python)
        process.arguments = [script.path, dir.path, name]
        process.standardOutput = FileHandle.nullDevice
        let errors = Pipe()
        process.standardError = errors
        try process.run()
        let log = String(decoding: errors.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        process.waitUntilExit()
        try #require(process.terminationStatus == 0, "generate_applications.py failed: \(log.suffix(2000))")

        let build = try #require(Self.builders[name])
        let model = build()
        let summary = try String(contentsOf: dir.appendingPathComponent(name + "_summary.txt"), encoding: .utf8)
        let ours = model.summaryText(lineLength: 76)
        #expect(ours.trimmingCharacters(in: .whitespacesAndNewlines) == summary.trimmingCharacters(in: .whitespacesAndNewlines),
                "\(ours)\n---- Keras:\n\(summary)")
        let keras = try Model.loadKeras(dir.appendingPathComponent(name + ".keras").path)
        #expect(keras.layers.map(\.name) == model.layers.map(\.name))
        try model.setWeights(keras.getWeights())
        let x = try NumPy.load(dir.appendingPathComponent(name + "_input.npy"))
        let expected = try NumPy.load(dir.appendingPathComponent(name + "_output.npy"))
        let got = try model.predict(x)
        let worst = zip(got.scalarsAsDouble(), expected.scalarsAsDouble()).map { Swift.abs($0 - $1) }.max() ?? .infinity
        print("ApplicationBuildersTests: Lamina's \(name) with Keras's weights: max |Lamina − Keras| = \(worst)")
        #expect(worst <= 1e-4, "\(worst)")
    }
}
