import Foundation
import Testing
import LaminaTestSupport
@testable import Lamina

@Suite struct ModelCheckpointTests {
    func make() -> Sequential {
        let m = Sequential([Dense(12, activation: .relu, inputShape: [3]), Dropout(0.2), Dense(1)])
        m.compile(optimizer: Adam(learningRate: 0.02), loss: .mse)
        return m
    }
    let x = Tensor.randomNormal([40, 3], seed: 1)
    var y: Tensor { (x.sum(axes: [1]) * 0.5).reshaped(to: [40, 1]) }

    @Test func fileNamesFollowPythonFormat() throws {
        let logs = ["val_loss": 0.123456, "loss": 12345.0]
        #expect(try ModelCheckpoint.format("ckpt-{epoch:02d}-{val_loss:.3f}.lamina", epoch: 3, logs: logs) == "ckpt-03-0.123.lamina")
        #expect(try ModelCheckpoint.format("m{epoch}-{loss:.2e}", epoch: 12, logs: logs) == "m12-1.23e+04")
        #expect(throws: LaminaError.self) { try ModelCheckpoint.format("{val_acc}", epoch: 1, logs: logs) }
        #expect(throws: LaminaError.self) { try ModelCheckpoint.format("{epoch:x}", epoch: 1, logs: logs) }
        #expect(throws: LaminaError.self) { try ModelCheckpoint.format("{epoch", epoch: 1, logs: logs) }
    }

    /// Keras's `save_freq=N`: a save every N batches counted across epochs, named with the
    /// epoch and the 1-based batch within it; with saveBestOnly, judged on the batch logs.
    @Test func saveFreqSavesEveryNBatches() throws {
        let dir = temporaryDirectory()
        // 40 rows in batches of 8: 5 batches an epoch, 15 in 3 epochs; every 4th batch saves.
        let checkpoint = ModelCheckpoint(filepath: dir.appendingPathComponent("m-{epoch}-{batch:02d}.lamina").path, saveFreq: 4)
        try make().fit(x, y, epochs: 3, batchSize: 8, verbose: 0, shuffle: false, callbacks: [checkpoint])
        #expect(checkpoint.saved.map { URL(fileURLWithPath: $0).lastPathComponent } == ["m-1-04.lamina", "m-2-03.lamina", "m-3-02.lamina"])
        #expect(try ModelCheckpoint.format("b{batch}", epoch: 1, batch: 7, logs: [:]) == "b7")

        var losses: [Double] = []
        let best = ModelCheckpoint(filepath: dir.appendingPathComponent("best-{epoch}-{batch}.lamina").path, monitor: "loss",
                                   saveBestOnly: true, saveFreq: 2)
        try make().fit(x, y, epochs: 2, batchSize: 8, verbose: 0, shuffle: false,
                       callbacks: [LambdaCallback(onBatchEnd: { _, logs in losses.append(logs["loss"]!) }), best])
        var lowest = Double.infinity, expected: [String] = []
        for i in stride(from: 1, to: losses.count, by: 2) where losses[i] < lowest {
            lowest = losses[i]
            expected.append("best-\(i / 5 + 1)-\(i % 5 + 1).lamina")
        }
        #expect(best.saved.map { URL(fileURLWithPath: $0).lastPathComponent } == expected && !expected.isEmpty)
        #expect(ModelCheckpoint(filepath: "x.lamina").saveFreq == .epoch)
    }

    @Test func saveBestOnlyWritesWhenTheMonitorImproves() throws {
        let dir = temporaryDirectory()
        let checkpoint = ModelCheckpoint(filepath: dir.appendingPathComponent("best-{epoch}.lamina").path, saveBestOnly: true)
        let history = try Lamina.withRandomSeed(2) {
            try make().fit(x, y, epochs: 8, batchSize: 8, verbose: 0, validationSplit: 0.25, callbacks: [checkpoint]).history
        }
        var best = Double.infinity, expected: [String] = []
        for (i, v) in history["val_loss"]!.enumerated() where v < best {
            best = v
            expected.append(dir.appendingPathComponent("best-\(i + 1).lamina").path)
        }
        #expect(checkpoint.saved == expected && !expected.isEmpty)
        #expect(checkpoint.best! == best)
        let files = try FileManager.default.contentsOfDirectory(atPath: dir.path).sorted()
        #expect(files == expected.map { URL(fileURLWithPath: $0).lastPathComponent }.sorted())
    }

    /// A run checkpointed every epoch can be resumed from any checkpoint with the same losses.
    @Test func resumingFromACheckpointContinuesTheRun() throws {
        let dir = temporaryDirectory()
        let checkpoint = ModelCheckpoint(filepath: dir.appendingPathComponent("e{epoch}.lamina").path)
        let whole = try Lamina.withRandomSeed(3) {
            try make().fit(x, y, epochs: 5, batchSize: 8, verbose: 0, callbacks: [checkpoint]).history["loss"]!
        }
        #expect(checkpoint.saved.count == 5)
        let rest = try Lamina.withRandomSeed(99) {
            let m = try Sequential.load(dir.appendingPathComponent("e2.lamina").path)
            return try m.fit(x, y, epochs: 5, batchSize: 8, verbose: 0, initialEpoch: m.epoch).history["loss"]!
        }
        #expect(Array(whole[2...]) == rest)
    }

    @Test func aFailedSaveEndsFitWithTheError() throws {
        let checkpoint = ModelCheckpoint(filepath: "/nonexistent-lamina-dir/m.lamina", saveWeightsOnly: true)
        let error = #expect(throws: LaminaError.self) {
            try Lamina.withRandomSeed(4) { try make().fit(x, y, epochs: 3, verbose: 0, callbacks: [checkpoint]) }
        }
        #expect(error?.kind == .io && error?.message.contains("/nonexistent-lamina-dir") == true)
    }
}
