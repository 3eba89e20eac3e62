import Foundation
import Testing
import LaminaTestSupport
@testable import Lamina
@testable import LaminaData

/// The real MNIST beside the repository (`../shared/data/mnist`), or `$LAMINA_DATA`.
let sharedMNIST = sharedMNISTFolder(where: MNIST.hasAllFiles)

/// Runs each example executable (built beside the test bundle by `swift test`) with tiny
/// settings, and checks that it finished, lowered its loss and wrote valid pictures.
@Suite(.serialized) struct ExampleRunTests {
    static let binaries = builtProducts

    struct Run {
        let status: Int32, output: String, summary: [String: Any], folder: URL
        func number(_ key: String) -> Double { (summary[key] as? NSNumber)?.doubleValue ?? .nan }
    }

    /// Runs an example binary; returns its exit status and its stdout and stderr together.
    func launch(_ name: String, _ arguments: [String]) throws -> (status: Int32, output: String) {
        let process = Process()
        process.executableURL = Self.binaries.appendingPathComponent(name)
        process.arguments = arguments
        let pipe = Pipe()
        process.standardOutput = pipe
        process.standardError = pipe
        try process.run()
        let output = String(decoding: pipe.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        process.waitUntilExit()
        return (process.terminationStatus, output)
    }

    func run(_ name: String, _ arguments: [String]) throws -> Run {
        let folder = temporaryDirectory(name)
        let (status, output) = try launch(name, arguments + ["--out", folder.path])
        let summaryURL = folder.appendingPathComponent("summary.json")
        let summary = (try? JSONSerialization.jsonObject(with: Data(contentsOf: summaryURL))) as? [String: Any] ?? [:]
        #expect(status == 0, "\(name) failed:\n\(output.suffix(2000))")
        for file in summary["files"] as? [String] ?? [] {
            let url = folder.appendingPathComponent(file)
            if file.hasSuffix(".svg") {
                #expect(throws: Never.self, "\(file)") { _ = try SVGCensus(String(contentsOf: url, encoding: .utf8)) }
            } else if file.hasSuffix(".png") {
                let png = try decodePNG([UInt8](Data(contentsOf: url)))
                #expect(png.width > 28 && png.chunks.last == "IEND", "\(file)")
            }
        }
        return Run(status: status, output: output, summary: summary, folder: folder)
    }

    @Test func linearRegressionFindsTheSlope() throws {
        let r = try run("linear-regression", ["--epochs=60", "--samples", "100"])
        #expect(r.number("final_loss") < r.number("first_loss"))
        #expect(abs(r.number("slope") - 2) < 0.3 && abs(r.number("intercept")) < 0.2)
        #expect((r.summary["files"] as? [String]) == ["fit.svg", "loss.svg"])
    }

    @Test func linearRegressionReadsACSV() throws {
        let csv = temporaryDirectory().appendingPathComponent("points.csv")
        try ("x,y\n" + (0..<50).map { i in let x = Double(i) / 25 - 1; return "\(x),\(3 * x + 0.5)" }.joined(separator: "\n"))
            .write(to: csv, atomically: true, encoding: .utf8)
        let r = try run("linear-regression", ["--epochs", "600", "--data", csv.path])
        #expect(abs(r.number("slope") - 3) < 0.3 && abs(r.number("intercept") - 0.5) < 0.1)
    }

    @Test func logisticRegressionSeparatesBothTasks() throws {
        let r = try run("logistic-regression", ["--epochs", "10", "--samples", "200"])
        #expect(r.number("final_loss") < r.number("first_loss"))
        #expect(r.number("x_positive_accuracy") > 0.9 && r.number("blobs_accuracy") > 0.9)
    }

    @Test func helpAndBadOptions() throws {
        let bad = try launch("mnist-cnn", ["--epochs", "lots"])
        #expect(bad.status == 64 && bad.output.contains("'lots' is invalid for '--epochs") && bad.output.contains("Usage:"), "\(bad)")
        let unknown = try launch("linear-regression", ["--epoch", "3"])
        #expect(unknown.status == 64 && unknown.output.contains("Unknown option '--epoch'") && unknown.output.contains("Usage:"), "\(unknown)")
        let help = try launch("gan", ["--help"])
        #expect(help.status == 0 && help.output.contains("--arch") && help.output.contains("--out"))
    }

    /// --from-disk: the same convnet trained from memory-mapped .npy files through a shuffled,
    /// prefetching Dataset with RandomRotation and RandomZoom.
    @Test(.enabled(if: sharedMNIST != nil, "needs ../shared/data/mnist or $LAMINA_DATA"))
    func mnistCNNTrainsFromDisk() throws {
        let r = try run("mnist-cnn", ["--epochs", "2", "--limit", "600", "--from-disk", "--data", sharedMNIST!.path])
        #expect(r.output.contains("Training from") && r.output.contains("memory-mapped"))
        #expect(FileManager.default.fileExists(atPath: r.folder.appendingPathComponent("train_x.npy").path))
        #expect(r.number("final_loss") < r.number("first_loss"))
        #expect(r.output.contains("Total params: 225,034"))   // augmentation layers have no weights
    }

    @Test(.enabled(if: sharedMNIST != nil, "needs ../shared/data/mnist or $LAMINA_DATA"))
    func mnistCNNTrainsOnASlice() throws {
        let r = try run("mnist-cnn", ["--epochs", "1", "--limit", "600", "--data", sharedMNIST!.path])
        #expect(r.number("final_loss") < r.number("first_loss"))
        #expect(r.number("test_accuracy") > 0.3)
        #expect((r.summary["files"] as? [String])?.contains("confusion.svg") == true)
        #expect(r.output.contains("Total params: 225,034"))
        // The saved model is the trained one, and the GAN takes it as its judge.
        let model = try Sequential.load(from: r.folder.appendingPathComponent("model.lamina"), restoreRandomState: false)
        #expect(model.countParams() == 225_034 && model.epoch == 1)
        let judged = try run("gan", ["--epochs", "1", "--steps", "3", "--limit", "600", "--judge-samples", "50",
                                     "--judge", r.folder.appendingPathComponent("model.lamina").path, "--data", sharedMNIST!.path])
        #expect(judged.output.contains("The judge: ") && judged.output.contains("225034 parameters"))
        #expect(Swift.abs(judged.number("judge_test_accuracy") - r.number("test_accuracy")) < 1e-6)
    }

    /// The functional-API ResNet trains, and the saved graph loads back predicting the same.
    @Test(.enabled(if: sharedMNIST != nil, "needs ../shared/data/mnist or $LAMINA_DATA"))
    func resnetTrainsSavesAndLoads() throws {
        let r = try run("resnet", ["--epochs", "1", "--limit", "600", "--data", sharedMNIST!.path])
        #expect(r.number("final_loss") < r.number("first_loss"))
        #expect(r.number("reload_difference") == 0)
        #expect(r.output.contains("Connected to") && r.output.contains("add (Add)"))
        #expect(r.number("parameters") == 78_426, "\(r.number("parameters"))")   // Keras: count_params() of the same graph
    }

    @Test(.enabled(if: sharedMNIST != nil, "needs ../shared/data/mnist or $LAMINA_DATA"))
    func rnnTrainsBothNetworks() throws {
        let r = try run("rnn", ["--epochs", "1", "--limit", "600", "--sine-epochs", "3", "--data", sharedMNIST!.path])
        #expect(r.number("lstm_final_loss") < r.number("lstm_first_loss"))
        #expect(r.number("sine_final_loss") < r.number("sine_first_loss"))
        #expect((r.summary["files"] as? [String]) == ["lstm_curves.svg", "sine_forecast.svg"])
    }

    @Test(.enabled(if: sharedMNIST != nil, "needs ../shared/data/mnist or $LAMINA_DATA"), arguments: ["dense", "dcgan"])
    func ganTrainsAndIsJudged(arch: String) throws {
        let r = try run("gan", ["--arch", arch, "--epochs", "1", "--steps", arch == "dense" ? "15" : "6",
                                "--limit", "600", "--judge-samples", "100",
                                "--data", sharedMNIST!.path])
        #expect(r.number("final_d_loss") < r.number("first_d_loss"))
        #expect((0...1).contains(r.number("confident_share")))
        #expect((r.summary["files"] as? [String])?.contains("samples_epoch_01.png") == true)
    }
}
