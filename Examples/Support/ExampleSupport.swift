import Foundation
import Lamina

/// What every example shares: its command line (`--help`, `--epochs`, `--data`, `--out`,
/// `--seed`, `--limit`, plus its own options), the MNIST location, the wall clock, and the
/// `summary.json` with the numbers a reader (or a test) checks.
public struct Example {
    public struct Option {
        let name: String, defaultValue: String, help: String
        public init(_ name: String, _ defaultValue: String, _ help: String) {
            (self.name, self.defaultValue, self.help) = (name, defaultValue, help)
        }
    }

    public let name: String
    private var values: [String: String] = [:]
    private let started = Date()
    private var results: [String: Any] = [:]

    /// Parses the command line; prints the help and exits for `--help`, and exits with
    /// status 2 and the help for anything it does not know.
    public init(_ name: String, about: String, epochs: Int, options: [Option] = [],
                arguments: [String] = Array(CommandLine.arguments.dropFirst())) {
        self.name = name
        let all = [
            Option("epochs", String(epochs), "training epochs"),
            Option("data", "", "folder with the MNIST files or the example's CSV (default: $LAMINA_DATA, ~/.cache/lamina)"),
            Option("out", "out/\(name)", "folder for plots, images and summary.json"),
            Option("seed", "1", "random seed"),
            Option("limit", "0", "use only the first N training samples (0 = all; for quick runs)"),
        ] + options
        let help = "\(name): \(about)\n\nOptions:\n" + all.map {
            "  --\($0.name.padding(toLength: 12, withPad: " ", startingAt: 0)) \($0.help)\($0.defaultValue.isEmpty ? "" : " (default \($0.defaultValue))")"
        }.joined(separator: "\n") + "\n  --help         show this text"
        for option in all { values[option.name] = option.defaultValue }
        var rest = arguments[...]
        while let flag = rest.popFirst() {
            if flag == "--help" || flag == "-h" { print(help); exit(0) }
            let key = String(flag.drop(while: { $0 == "-" }))
            guard flag.hasPrefix("--"), values[key] != nil, let value = rest.popFirst() else {
                FileHandle.standardError.write(Data("error: unknown option or missing value: \(flag)\n\n\(help)\n".utf8))
                exit(2)
            }
            if Double(values[key]!) != nil && Double(value) == nil {  // numeric option, checked up front
                FileHandle.standardError.write(Data("error: --\(key) needs a number, got '\(value)'\n\n\(help)\n".utf8))
                exit(2)
            }
            values[key] = value
        }
        Lamina.setRandomSeed(UInt64(int("seed")))
        do {
            try FileManager.default.createDirectory(at: outputDirectory, withIntermediateDirectories: true)
        } catch {
            Example.fail("cannot create \(outputDirectory.path): \(error.localizedDescription)")
        }
    }

    public func string(_ key: String) -> String { values[key]! }
    public func int(_ key: String) -> Int {
        guard let v = Int(values[key]!), v >= 0 else { Example.fail("--\(key) needs a non-negative integer, got \(values[key]!)") }
        return v
    }
    public func double(_ key: String) -> Double {
        guard let v = Double(values[key]!) else { Example.fail("--\(key) needs a number, got \(values[key]!)") }
        return v
    }
    public var epochs: Int { int("epochs") }
    public var limit: Int { int("limit") }
    public var dataPath: String? { values["data"]!.isEmpty ? nil : values["data"] }
    public var outputDirectory: URL { URL(fileURLWithPath: values["out"]!) }
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
