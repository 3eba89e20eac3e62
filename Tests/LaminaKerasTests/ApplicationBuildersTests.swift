import Foundation
import Testing
@testable import Lamina
@testable import LaminaData
@testable import LaminaKeras

/// Lamina's `ResNet50(...)` is keras.applications.ResNet50: the same parameter count always;
/// where the peers' Python exists, the same summary text, and Keras's saved weights set into
/// Lamina's model predict what Keras predicted (Fixtures/generate_applications.py makes the file).
@Suite struct ResNet50Tests {
    @Test func parameterCountsEqualKeras() {
        // keras.applications.ResNet50(weights=None).count_params(), and at 96x96x3 with 10 classes.
        #expect(ResNet50().countParams() == 25_636_712)
        let small = ResNet50(inputShape: [96, 96, 3], classes: 10)
        #expect(small.countParams() == 23_608_202 && small.layers.count == 177 && small.weights.count == 320)
    }

    @Test func kerasWeightsPredictKerasOutputs() throws {
        guard let python = KerasReadsLaminaTests.python else {
            print("ResNet50Tests: skipped the Keras comparison — no Python with Keras (../shared/peers/setup.sh or LAMINA_PEERS_PYTHON)")
            return
        }
        let dir = try KerasWriterTests.directory()
        let script = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .appendingPathComponent("LaminaTests/Fixtures/generate_applications.py")
        let process = Process()
        process.executableURL = URL(fileURLWithPath: python)
        process.arguments = [script.path, dir.path, "ResNet50"]
        process.standardOutput = FileHandle.nullDevice
        let errors = Pipe()
        process.standardError = errors
        try process.run()
        let log = String(decoding: errors.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        process.waitUntilExit()
        try #require(process.terminationStatus == 0, "generate_applications.py failed: \(log.suffix(2000))")

        let model = ResNet50(inputShape: [96, 96, 3], classes: 10)
        let summary = try String(contentsOf: dir.appendingPathComponent("ResNet50_summary.txt"), encoding: .utf8)
        let ours = model.summaryText(lineLength: 76)
        #expect(ours.trimmingCharacters(in: .whitespacesAndNewlines) == summary.trimmingCharacters(in: .whitespacesAndNewlines),
                "\(ours)\n---- Keras:\n\(summary)")
        let keras = try Model.loadKeras(dir.appendingPathComponent("ResNet50.keras").path)
        #expect(keras.layers.map(\.name) == model.layers.map(\.name))
        try model.setWeights(keras.getWeights())
        let x = try NumPy.load(dir.appendingPathComponent("ResNet50_input.npy"))
        let expected = try NumPy.load(dir.appendingPathComponent("ResNet50_output.npy"))
        let got = try model.predict(x)
        let worst = zip(got.scalarsAsDouble(), expected.scalarsAsDouble()).map { Swift.abs($0 - $1) }.max() ?? .infinity
        print("ResNet50Tests: Lamina's ResNet50 with Keras's weights: max |Lamina − Keras| = \(worst)")
        #expect(worst <= 1e-4, "\(worst)")
    }
}
