import Foundation
import Testing
@testable import Lamina

/// The `TensorBoard` callback's event files: the TFRecord framing and CRC-32C in Swift, and the
/// files read back by TensorBoard's own Python reader (`event_accumulator`), whose tags, steps
/// and values must equal what `fit` logged.
@Suite struct TensorBoardTests {
    static func directory() throws -> URL {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("lamina-tb-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        return dir
    }

    /// RFC 3720's CRC-32C vectors and the check value of "123456789".
    @Test func crc32cKnownVectors() {
        #expect(CRC32C.checksum(Array("123456789".utf8)) == 0xE306_9283)
        #expect(CRC32C.checksum([UInt8](repeating: 0, count: 32)) == 0x8A91_36AA)
        #expect(CRC32C.checksum([UInt8](repeating: 0xFF, count: 32)) == 0x62A8_AB43)
        #expect(CRC32C.checksum((0..<32).map { UInt8($0) }) == 0x46DD_794E)
        #expect(CRC32C.checksum((0..<32).map { UInt8(31 - $0) }) == 0x113F_DB5C)
        #expect(CRC32C.checksum([UInt8]()) == 0)
        // TFRecord's mask: rotate right 15, add 0xA282EAD8.
        let crc = CRC32C.checksum(Array("123456789".utf8))
        #expect(CRC32C.masked(Array("123456789".utf8)) == ((crc >> 15) | (crc << 17)) &+ 0xA282_EAD8)
    }

    /// length (UInt64 LE) · masked CRC of the length · data · masked CRC of the data.
    @Test func recordFraming() throws {
        let data = Array("hello".utf8)
        let record = TFRecord.frame(data)
        #expect(record.count == 8 + 4 + 5 + 4)
        #expect(Array(record[0..<8]) == [5, 0, 0, 0, 0, 0, 0, 0])
        func u32(_ at: Int) -> UInt32 { (0..<4).reduce(0) { $0 | UInt32(record[at + $1]) << (8 * $1) } }
        #expect(u32(8) == CRC32C.masked(Array(record[0..<8])))
        #expect(Array(record[12..<17]) == data)
        #expect(u32(17) == CRC32C.masked(data))
        #expect(TFRecord.records(record + TFRecord.frame([])) == [data, []])
        var corrupt = record
        corrupt[13] ^= 1
        #expect(TFRecord.records(corrupt) == nil, "a flipped data bit fails the data CRC")
        #expect(TFRecord.records(Array(record.dropLast())) == nil, "a cut record is refused")

        // A writer's file: the version event first, then a scalar event whose float is there.
        let dir = try Self.directory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let writer = try SummaryWriter(logDir: dir.appendingPathComponent("run").path)
        try writer.scalar("loss", value: 0.25, step: 7)
        try writer.close()
        #expect(writer.path.contains("tfevents"))
        let records = try #require(TFRecord.records(Array(try Data(contentsOf: URL(fileURLWithPath: writer.path)))))
        #expect(records.count == 2)
        // Event{wall_time (1, double), file_version (3) = "brain.Event:2"}
        #expect(records[0].count == 9 + 2 + 13 && records[0][0] == 0x09 && records[0][9] == 0x1A
                && Array(records[0][11...]) == Array("brain.Event:2".utf8))
        // Event{wall_time, step (2) = 7, summary (5){value (1){tag (1) "loss", simple_value (2) 0.25f}}}
        let scalar = Array(records[1][9...])
        let value = withUnsafeBytes(of: Float(0.25).bitPattern.littleEndian, Array.init)
        #expect(scalar == [0x10, 7, 0x2A, 13, 0x0A, 11, 0x0A, 4] + Array("loss".utf8) + [0x15] + value)
        #expect(throws: LaminaError.self) { try writer.scalar("loss", value: 1, step: 8) }
    }

    /// `updateFreq` reads as Keras's `update_freq`.
    /// A negative histogramFreq is an error thrown by fit, not a crash.
    @Test func badArgumentsAreErrors() throws {
        let model = Sequential([Input(shape: [2]), Dense(1)])
        model.compile(optimizer: SGD(), loss: .meanSquaredError)
        let callback = TensorBoard(logDir: FileManager.default.temporaryDirectory.appendingPathComponent("lamina-tb-bad").path, histogramFreq: -1)
        #expect { _ = try model.fit(Tensor.zeros([4, 2]), Tensor.zeros([4, 1]), verbose: 0, callbacks: [callback]) } throws: {
            ($0 as? LaminaError)?.message.contains("histogramFreq -1") == true
        }
    }

    @Test func updateFrequencySpellings() {
        let epoch: UpdateFrequency = "epoch", batch: UpdateFrequency = "batch", hundred: UpdateFrequency = 100
        #expect(epoch == .epoch && batch == .batches(1) && batch == .batch && hundred == .batches(100))
        #expect(TensorBoard(logDir: "x").updateFreq == .epoch)
    }

    /// The peers' Python, when it has TensorBoard.
    static var python: String? {
        let candidates = [ProcessInfo.processInfo.environment["LAMINA_PEERS_PYTHON"], "/root/peers-venv/bin/python"].compactMap { $0 }
        for path in candidates where FileManager.default.isExecutableFile(atPath: path) {
            if (try? run(path, ["-c", "import tensorboard.backend.event_processing.event_accumulator"]))?.status == 0 { return path }
        }
        return nil
    }

    static func run(_ python: String, _ arguments: [String]) throws -> (status: Int32, output: String, errors: String) {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: python)
        process.arguments = arguments
        var environment = ProcessInfo.processInfo.environment
        environment["TF_CPP_MIN_LOG_LEVEL"] = "3"
        process.environment = environment
        // Errors go to a file, so that reading the output pipe to its end cannot block on them.
        let errorFile = FileManager.default.temporaryDirectory.appendingPathComponent("lamina-tb-\(UUID().uuidString).err")
        FileManager.default.createFile(atPath: errorFile.path, contents: nil)
        defer { try? FileManager.default.removeItem(at: errorFile) }
        let output = Pipe()
        process.standardOutput = output
        process.standardError = try FileHandle(forWritingTo: errorFile)
        try process.run()
        let out = output.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        let errorData = (try? Data(contentsOf: errorFile)) ?? Data()
        return (process.terminationStatus, String(decoding: out, as: UTF8.self), String(decoding: errorData, as: UTF8.self))
    }

    /// Reads each run of a log folder with TensorBoard's `EventAccumulator`, printing JSON.
    static let reader = """
        import glob, json, os, sys
        from tensorboard.backend.event_processing import event_accumulator as ea
        from tensorboard.backend.event_processing import event_file_loader as efl
        out = {}
        for run in sorted(os.listdir(sys.argv[1])):
            d = os.path.join(sys.argv[1], run)
            acc = ea.EventAccumulator(d, size_guidance={ea.SCALARS: 0, ea.HISTOGRAMS: 0, ea.TENSORS: 0})
            acc.Reload()
            tags = acc.Tags()
            files = sorted(glob.glob(os.path.join(d, "*tfevents*")))
            loader = getattr(efl, "LegacyEventFileLoader", efl.EventFileLoader)
            first = next(iter(loader(files[0]).Load()))
            out[run] = {
                "files": len(files), "file_version": first.file_version,
                "scalars": {t: [[e.step, e.value] for e in acc.Scalars(t)] for t in tags["scalars"]},
                "histograms": {t: [[e.step, e.histogram_value.min, e.histogram_value.max, e.histogram_value.num,
                                    e.histogram_value.sum, sum(e.histogram_value.bucket)] for e in acc.Histograms(t)]
                               for t in tags["histograms"]},
                "tensors": {t: [[e.step, e.tensor_proto.string_val[0].decode()] for e in acc.Tensors(t)] for t in tags["tensors"]},
            }
        print(json.dumps(out))
        """

    struct Run: Decodable {
        let files: Int
        let file_version: String
        let scalars: [String: [[Double]]]
        let histograms: [String: [[Double]]]
        let tensors: [String: [[Tensorish]]]
    }
    /// A `[step, text]` pair's element.
    enum Tensorish: Decodable {
        case number(Double), text(String)
        init(from decoder: Decoder) throws {
            let c = try decoder.singleValueContainer()
            if let d = try? c.decode(Double.self) { self = .number(d) } else { self = .text(try c.decode(String.self)) }
        }
        var text: String? { if case .text(let s) = self { return s } else { return nil } }
    }

    static func close(_ a: Double, _ b: Double) -> Bool { Swift.abs(a - b) <= 1e-6 * Swift.max(1, Swift.abs(b)) }

    /// Trains with `TensorBoard(histogramFreq: 2, updateFreq: 3)` and validation, then reads the
    /// files with TensorBoard's reader: Keras 3's tags in train/ and validation/, at Keras's
    /// steps, with the History's values (as float32, which TensorBoard stores).
    @Test func tensorBoardReadsTheFiles() throws {
        guard let python = Self.python else {
            print("TensorBoardTests: skipped — no Python with tensorboard (pip install tensorboard in /root/peers-venv, "
                  + "Benchmarks/peers/setup.sh, or set LAMINA_PEERS_PYTHON)")
            return
        }
        let dir = try Self.directory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let logDir = dir.appendingPathComponent("logs")
        let x = Tensor.randomNormal([40, 4], seed: 3)
        let y = Tensor(shape: [40], scalars: (0..<40).map { Int32($0 % 3) })
        let model = Lamina.withRandomSeed(5) {
            Sequential([Dense(8, activation: .relu, inputShape: [4]), Dense(3, activation: .softmax)], name: "tb_model")
        }
        try model.compile(optimizer: Adam(learningRate: 1e-2), loss: "sparse_categorical_crossentropy", metrics: ["accuracy"])
        let tensorBoard = TensorBoard(logDir: logDir.path, histogramFreq: 2, updateFreq: 3)
        var batchLogs: [[String: Double]] = [], weightsAtEpoch: [[String: [Double]]] = []
        let recorder = LambdaCallback(onEpochEnd: { _, _ in
            weightsAtEpoch.append(Dictionary(uniqueKeysWithValues: model.weights.map { ($0.name, $0.value.scalarsAsDouble()) }))
        }, onBatchEnd: { _, logs in batchLogs.append(logs) })
        // 30 training rows in batches of 8: 4 batches an epoch, 12 in all.
        let history = try model.fit(x, y, epochs: 3, batchSize: 8, verbose: 0, validationSplit: 0.25,
                                    callbacks: [tensorBoard, recorder])
        #expect(tensorBoard.eventFiles.count == 2)

        let script = dir.appendingPathComponent("read.py")
        try Self.reader.write(to: script, atomically: true, encoding: .utf8)
        let (status, output, errors) = try Self.run(python, [script.path, logDir.path])
        try #require(status == 0, "reader failed: \(errors)")
        let runs = try JSONDecoder().decode([String: Run].self, from: Data(output.utf8))
        print("TensorBoardTests: read by TensorBoard's event_accumulator: \(runs.keys.sorted()), "
              + "train tags \(runs["train"].map { $0.scalars.keys.sorted() + $0.histograms.keys.sorted() + $0.tensors.keys.sorted() } ?? [])")
        #expect(Set(runs.keys) == ["train", "validation"])
        let train = try #require(runs["train"]), validation = try #require(runs["validation"])
        #expect(train.file_version == "brain.Event:2" && validation.file_version == "brain.Event:2")
        #expect(train.files == 1 && validation.files == 1)

        func expectSeries(_ series: [[Double]]?, _ values: [Double], steps: [Int], _ what: String) {
            guard let series else { Issue.record("\(what) missing"); return }
            #expect(series.map { Int($0[0]) } == steps, "\(what) steps")
            #expect(series.count == values.count && zip(series, values).allSatisfy { Self.close($0[1], Double(Float($1))) },
                    "\(what): \(series.map { $0[1] }) vs \(values)")
        }
        // Epoch scalars: Keras 3's tags at step = epoch, validation's without the val_ prefix.
        #expect(Set(train.scalars.keys) == ["epoch_loss", "epoch_accuracy", "epoch_learning_rate", "batch_loss", "batch_accuracy"])
        expectSeries(train.scalars["epoch_loss"], history.history["loss"]!, steps: [0, 1, 2], "epoch_loss")
        expectSeries(train.scalars["epoch_accuracy"], history.history["accuracy"]!, steps: [0, 1, 2], "epoch_accuracy")
        expectSeries(train.scalars["epoch_learning_rate"], [1e-2, 1e-2, 1e-2], steps: [0, 1, 2], "epoch_learning_rate")
        expectSeries(validation.scalars["epoch_loss"], history.history["val_loss"]!, steps: [0, 1, 2], "validation epoch_loss")
        expectSeries(validation.scalars["epoch_accuracy"], history.history["val_accuracy"]!, steps: [0, 1, 2], "validation epoch_accuracy")
        // Keras's evaluation_<name>_vs_iterations, at the optimizer's step count.
        expectSeries(validation.scalars["evaluation_loss_vs_iterations"], history.history["val_loss"]!, steps: [4, 8, 12],
                     "evaluation_loss_vs_iterations")
        #expect(Set(validation.scalars.keys) == ["epoch_loss", "epoch_accuracy", "evaluation_loss_vs_iterations",
                                                 "evaluation_accuracy_vs_iterations"])
        // Batch scalars every 3 batches, at the 1-based batch count since fit began.
        #expect(batchLogs.count == 12)
        expectSeries(train.scalars["batch_loss"], [2, 5, 8, 11].map { batchLogs[$0]["loss"]! }, steps: [3, 6, 9, 12], "batch_loss")
        expectSeries(train.scalars["batch_accuracy"], [2, 5, 8, 11].map { batchLogs[$0]["accuracy"]! }, steps: [3, 6, 9, 12], "batch_accuracy")
        // Histograms of every weight at epochs 0 and 2, of the weights as they were then.
        // Keras 3's tags: the weight's path inside the Sequential model's name scope.
        let names = model.weights.map(\.name)
        #expect(Set(train.histograms.keys) == Set(names.map { "tb_model/\($0)/histogram" }), "\(train.histograms.keys.sorted())")
        for name in names {
            guard let series = train.histograms["tb_model/\(name)/histogram"] else { continue }
            #expect(series.map { Int($0[0]) } == [0, 2], "\(name) steps")
            for (row, epoch) in zip(series, [0, 2]) {
                let w = weightsAtEpoch[epoch][name]!
                #expect(row[1] == w.min()! && row[2] == w.max()! && row[3] == Double(w.count) && row[5] == Double(w.count), "\(name) \(row)")
                #expect(Self.close(row[4], w.reduce(0, +)) || Swift.abs(row[4] - w.reduce(0, +)) < 1e-9, "\(name) sum")
            }
        }
        // The model's Keras config for the Graphs dashboard.
        let graph = try #require(train.tensors["keras"]?.first)
        #expect(graph.last?.text?.contains("\"class_name\":\"Sequential\"") == true)
    }

    /// Without validation there is no validation/ folder; with "epoch" no batch scalars; each
    /// fit writes a new file.
    @Test func layoutWithoutValidation() throws {
        let dir = try Self.directory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let model = Sequential([Dense(1, inputShape: [2])])
        model.compile(optimizer: .sgd, loss: .mse)
        let tb = TensorBoard(logDir: dir.path, writeGraph: false)
        let x = Tensor.randomNormal([8, 2], seed: 1), y = Tensor.randomNormal([8, 1], seed: 2)
        try model.fit(x, y, epochs: 2, batchSize: 4, verbose: 0, callbacks: [tb])
        try model.fit(x, y, epochs: 1, batchSize: 4, verbose: 0, callbacks: [tb])
        #expect(try FileManager.default.contentsOfDirectory(atPath: dir.path) == ["train"])
        #expect(tb.eventFiles.count == 2 && tb.eventFiles.allSatisfy { $0.hasPrefix(dir.appendingPathComponent("train").path) })
        let records = try #require(TFRecord.records(Array(try Data(contentsOf: URL(fileURLWithPath: tb.eventFiles[0])))))
        // Version, then epoch_learning_rate and epoch_loss for each of 2 epochs.
        #expect(records.count == 1 + 2 * 2)
    }
}
