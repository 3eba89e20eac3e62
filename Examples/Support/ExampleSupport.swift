import Foundation
import Lamina

@_exported import ArgumentParser
@_exported import LaminaData
@_exported import LaminaPlot

/// The options every example takes (swift-argument-parser: `--epochs 3` or `--epochs=3`,
/// `--help`; an unknown flag or a bad value is an error with the usage).
public struct CommonOptions: ParsableArguments {
    @Option(help: "Training epochs (each example has its own default).") public var epochs: Int?
    @Option(help: "Folder with the MNIST files or the example's CSV (default: $LAMINA_DATA, ~/.cache/lamina).") public var data: String?
    @Option(help: "Folder for plots, images and summary.json (default: out/<example>).") public var out: String?
    @Option(help: "Random seed.") public var seed: UInt64 = 1
    @Option(help: "Use only the first N training samples (0 = all; for quick runs).") public var limit: Int = 0
    public init() {}

    public func validate() throws {
        if let epochs, epochs < 0 { throw ValidationError("--epochs must be ≥ 0, got \(epochs)") }
        if limit < 0 { throw ValidationError("--limit must be ≥ 0, got \(limit)") }
    }
}

/// What every example shares: its common options, the MNIST location, the wall clock, and
/// the `summary.json` with the numbers a reader (or a test) checks. Each example parses its
/// own `ParsableCommand` (common options as an `@OptionGroup`) and hands them here.
public struct Example {
    public let name: String
    public let common: CommonOptions
    private let defaultEpochs: Int
    private let started = Date()
    private var results: [String: Any] = [:]

    public init(_ name: String, epochs: Int, common: CommonOptions) {
        (self.name, self.defaultEpochs, self.common) = (name, epochs, common)
        Lamina.setRandomSeed(common.seed)
        do {
            try FileManager.default.createDirectory(at: outputDirectory, withIntermediateDirectories: true)
        } catch {
            Example.fail("cannot create \(outputDirectory.path): \(error.localizedDescription)")
        }
    }

    public var epochs: Int { common.epochs ?? defaultEpochs }
    public var limit: Int { common.limit }
    public var seed: UInt64 { common.seed }
    public var dataPath: String? { common.data.flatMap { $0.isEmpty ? nil : $0 } }
    public var outputDirectory: URL { URL(fileURLWithPath: common.out ?? "out/\(name)") }
    public func output(_ file: String) -> URL { outputDirectory.appendingPathComponent(file) }
    public var elapsed: Double { Date().timeIntervalSince(started) }

    /// MNIST scaled to [0, 1] (shaped by `reshape`), the training set cut to `--limit`.
    public func mnist(trainShape: [Int], testLimit: Int? = nil) -> (train: (x: Tensor, y: Tensor), test: (x: Tensor, y: Tensor)) {
        do {
            let (train, test) = try MNIST.load(directory: dataPath)
            let n = limit > 0 ? min(limit, train.x.shape[0]) : train.x.shape[0]
            let m = min(testLimit ?? (limit > 0 ? max(limit / 4, 100) : test.x.shape[0]), test.x.shape[0])
            func prepare(_ x: Tensor, _ count: Int) -> Tensor {
                (x.sliced(axis: 0, 0..<count) / 255).reshaped(to: [count] + trainShape)
            }
            return ((prepare(train.x, n), train.y.sliced(axis: 0, 0..<n)), (prepare(test.x, m), test.y.sliced(axis: 0, 0..<m)))
        } catch {
            Example.fail("\(error)")
        }
    }

    /// Records a number or string for summary.json (and prints nothing).
    public mutating func record(_ key: String, _ value: Any) { results[key] = value }

    /// Writes summary.json (results + wall time + the files written) and prints the wall time.
    public mutating func finish(files: [String]) {
        results["wall_seconds"] = (elapsed * 10).rounded() / 10
        results["files"] = files
        results["example"] = name
        do {
            let json = try JSONSerialization.data(withJSONObject: results, options: [.prettyPrinted, .sortedKeys])
            try AtomicFile.write(json, to: output("summary.json"))
        } catch {
            Example.fail("cannot write summary.json: \(error)")
        }
        print("Wrote \((files + ["summary.json"]).map { output($0).path }.joined(separator: ", "))")
        print(String(format: "Wall time: %.1f s", elapsed))
    }

    public static func fail(_ message: String) -> Never {
        FileHandle.standardError.write(Data("error: \(message)\n".utf8))
        exit(1)
    }
}

/// Accuracy of class predictions (argmax of `probabilities`) against int labels.
public func accuracy(_ probabilities: Tensor, _ labels: Tensor) -> Double {
    let predicted = probabilities.argmax(axis: -1).asArray(Int32.self), truth = labels.asArray(Int32.self)
    return Double(zip(predicted, truth).filter { $0 == $1 }.count) / Double(max(truth.count, 1))
}

/// The confusion matrix (rows: true class, columns: predicted), as counts.
public func confusionMatrix(predicted: [Int32], truth: [Int32], classes: Int) -> [[Double]] {
    var m = [[Double]](repeating: [Double](repeating: 0, count: classes), count: classes)
    for (p, t) in zip(predicted, truth) { m[Int(t)][Int(p)] += 1 }
    return m
}

/// Remembers the loss of the very first training batch, so even a one-epoch run can show
/// that training lowered the loss (`first_loss` in summary.json).
public final class FirstBatchLoss: Callback {
    public private(set) var value: Double?
    public override func onBatchEnd(_ batch: Int, logs: [String: Double]) {
        if value == nil { value = logs["loss"] }
    }
}
