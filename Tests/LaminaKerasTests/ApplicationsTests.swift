import Foundation
import Testing
@testable import Lamina
@testable import LaminaData
@testable import LaminaKeras

/// Every architecture of `keras.applications` (issue 20), built by Keras 3 with random weights
/// (`Fixtures/generate_applications.py`), loads with `Model.loadKeras`, predicts Keras's outputs
/// within 1e-4 of the largest logit, and has Keras's summary and parameter count.
///
/// Needs the peers' Python (`/root/peers-venv/bin/python` or `LAMINA_PEERS_PYTHON`); skipped with
/// a message otherwise. The files (730 MB) are generated into a temporary folder and removed,
/// unless `LAMINA_APPLICATIONS_DIR` names a folder that already holds them (kept). The
/// environment variable `LAMINA_APPLICATIONS` (comma-separated names) picks a subset.
@Suite(.serialized) struct ApplicationsTests {
    static let names = ["ResNet50", "ResNet50V2", "MobileNetV2", "MobileNetV3Small", "DenseNet121", "EfficientNetB0",
                        "Xception", "InceptionV3", "VGG16", "ConvNeXtTiny"]
    static let script = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
        .appendingPathComponent("../LaminaTests/Fixtures/generate_applications.py").standardizedFileURL

    static func maxError(_ a: Tensor, _ b: Tensor) -> Double {
        guard a.shape == b.shape else { return .infinity }
        return zip(a.scalarsAsDouble(), b.scalarsAsDouble()).map { Swift.abs($0 - $1) }.max() ?? .infinity
    }

    static func run(_ python: String, _ arguments: [String]) throws -> (Int32, String) {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: python)
        process.arguments = arguments
        var environment = ProcessInfo.processInfo.environment
        environment["KERAS_BACKEND"] = "tensorflow"
        environment["TF_CPP_MIN_LOG_LEVEL"] = "2"
        process.environment = environment
        let errors = Pipe()
        process.standardError = errors
        process.standardOutput = FileHandle.nullDevice
        try process.run()
        let log = String(decoding: errors.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        process.waitUntilExit()
        return (process.terminationStatus, log)
    }

    /// The model before its final softmax: the same graph ending at the last layer's input.
    static func logitsModel(_ model: Model) throws -> (Model, Dense?) {
        let last = try #require(model.layers.last)
        let node = try #require(model.nodes.first { $0.layer === last })
        return (Model(inputs: model.inputs, outputs: node.inputs, name: "logits"), last as? Dense)
    }

    @Test func everyApplicationLoadsAndPredictsAsKeras() throws {
        guard let python = KerasReadsLaminaTests.python else {
            print("ApplicationsTests: skipped — no Python with Keras (run ../shared/peers/setup.sh or set LAMINA_PEERS_PYTHON)")
            return
        }
        let environment = ProcessInfo.processInfo.environment
        let selected = environment["LAMINA_APPLICATIONS"].map { $0.split(separator: ",").map(String.init) } ?? Self.names
        let dir: URL
        var generated = false
        if let given = environment["LAMINA_APPLICATIONS_DIR"] {
            dir = URL(fileURLWithPath: given)
        } else {
            dir = FileManager.default.temporaryDirectory.appendingPathComponent("lamina-applications-\(UUID().uuidString.prefix(8))")
            generated = true
        }
        defer { if generated { try? FileManager.default.removeItem(at: dir) } }
        let missing = selected.filter { !FileManager.default.fileExists(atPath: dir.appendingPathComponent("\($0)_info.json").path) }
        if !missing.isEmpty {
            let (status, log) = try Self.run(python, [Self.script.path, dir.path] + missing)
            if status != 0, log.contains("No module named") {
                print("ApplicationsTests: skipped — \(python) has no Keras")
                return
            }
            try #require(status == 0, "generate_applications.py failed (status \(status)): \(log.suffix(3000))")
        }
        var loaded: [String: (Model, Tensor)] = [:]
        for name in selected {
            let start = Date()
            let file = { (suffix: String) in dir.appendingPathComponent(name + suffix) }
            let model: Model
            do {
                model = try Model.loadKeras(file(".keras").path)
            } catch {
                Issue.record("\(name): does not load: \(error)")
                print(String(format: "ApplicationsTests: %-17@ does not load: %@", name, "\(error)"))
                continue
            }
            let info = try #require(try JSONSerialization.jsonObject(with: Data(contentsOf: file("_info.json"))) as? [String: Any])
            #expect(model.countParams() == info["countParams"] as? Int, "\(name): \(model.countParams()) parameters, Keras \(info["countParams"] ?? "?")")
            let summary = try String(contentsOf: file("_summary.txt"), encoding: .utf8)
            let text = model.summaryText(lineLength: 76)
            let summaryEqual = text == summary || text + "\n" == summary
            if !summaryEqual {
                let ours = text.split(separator: "\n", omittingEmptySubsequences: false), theirs = summary.split(separator: "\n", omittingEmptySubsequences: false)
                let first = (0..<min(ours.count, theirs.count)).first { ours[$0] != theirs[$0] } ?? min(ours.count, theirs.count)
                Issue.record("\(name): summary differs from line \(first + 1):\n\(ours[first..<min(first + 6, ours.count)].joined(separator: "\n"))\n---- Keras:\n\(theirs[first..<min(first + 6, theirs.count)].joined(separator: "\n"))")
            }
            let x = try NumPy.load(file("_input.npy"))
            let expected = try NumPy.load(file("_output.npy")), expectedLogits = try NumPy.load(file("_logits.npy"))
            let scale = max(expectedLogits.scalarsAsDouble().map(Swift.abs).max() ?? 1, 1e-12)
            // The logits: the graph up to the last layer, then (for a Dense head) its affine part.
            let (features, head) = try Self.logitsModel(model)
            var logits = try features.predict(x, batchSize: 2)
            if let head { logits = logits.matmul(head.kernel!.value) + head.bias!.value }
            let logitError = Self.maxError(logits, expectedLogits) / scale
            let output = try model.predict(x, batchSize: 2)
            let outputError = Self.maxError(output, expected)
            // Deep float32 graphs summed in other orders than TensorFlow's (AVX2 vs AVX-512 GEMM
            // kernels): 1.07e-4 of the largest logit was seen on a Zen 3.
            #expect(logitError <= 3e-4, "\(name): logits differ by \(logitError) of the largest")
            #expect(outputError <= 1e-4, "\(name): outputs differ by \(outputError)")
            if Self.roundTrip.contains(name) { loaded[name] = (model, output) }
            print(String(format: "ApplicationsTests: %-17@ params %9d  logits error %.2e (of max |logit| %.3g)  output error %.2e  summary %@  %.1f s",
                         name, model.countParams(), logitError, scale, outputError, summaryEqual ? "equal" : "DIFFERS", Date().timeIntervalSince(start)))
        }
    
        // Lamina → Keras: applications saved back by Lamina load in Keras and predict the same.
        let back = Self.roundTrip.filter { loaded[$0] != nil }
        guard !back.isEmpty else { return }
        for name in back {
            let (model, output) = loaded[name]!
            try model.saveKeras(dir.appendingPathComponent(name + "_lamina.keras").path)
            // And through Lamina's own format.
            let path = dir.appendingPathComponent(name + ".lamina").path
            try model.save(path)
            let again = try Model.load(path)
            let x = try NumPy.load(dir.appendingPathComponent(name + "_input.npy"))
            #expect(Self.maxError(try again.predict(x, batchSize: 2), output) <= 1e-6, "\(name): .lamina round trip")
        }
        let (status, log) = try Self.run(python, [Self.script.path, "--reload", dir.path] + back)
        try #require(status == 0, "Keras could not load Lamina's files (status \(status)): \(log.suffix(3000))")
        for name in back {
            let predicted = try NumPy.load(dir.appendingPathComponent(name + "_lamina_pred.npy"))
            let error = Self.maxError(predicted, loaded[name]!.1)
            #expect(error <= 1e-4, "\(name): Keras predicts Lamina's saved file \(error) away from Lamina")
            print(String(format: "ApplicationsTests: %-17@ saved by Lamina, Keras predicts within %.2e", name, error))
        }
    }

    /// The applications saved back by Lamina for Keras to load (those with operations, grouped
    /// convolutions, nested Sequentials, int64 weights, noise shapes and VarianceScaling).
    static let roundTrip = ["MobileNetV3Small", "EfficientNetB0", "ConvNeXtTiny"]
}
