import Foundation
import Testing
import LaminaTestSupport
@testable import Lamina

/// Thrown by the test callback that plays a crash in the middle of an epoch.
private struct Interrupted: Error {}

@Suite struct BackupAndRestoreTests {
    /// Named layers, so that a fresh model (as after a restart) matches the backup's names.
    func make() -> Sequential {
        let m = Sequential([Dense(12, activation: .relu, inputShape: [3], name: "hidden"), Dropout(0.2, name: "drop"),
                            Dense(1, name: "out")])
        m.compile(optimizer: Adam(learningRate: 0.02), loss: .mse)
        return m
    }
    let x = Tensor.randomNormal([40, 3], seed: 1)
    var y: Tensor { (x.sum(axes: [1]) * 0.5).reshaped(to: [40, 1]) }

    /// Throws at `batch` of `epoch` (0-based), as a process killed mid-epoch.
    func crash(epoch: Int, batch: Int) -> LambdaCallback {
        var current = 0
        return LambdaCallback(onEpochBegin: { current = $0 }, onBatchEnd: { b, _ in
            if current == epoch && b == batch { throw Interrupted() }
        })
    }

    func slots(_ m: Model) -> [[Float]] {
        m.variablesToTrain.flatMap { m.optimizer!.slots(for: $0)! }.map { $0.asArray(Float.self) }
    }

    /// Keras's promise: interrupted in epoch 4 and started again with the same callback, `fit`
    /// resumes after epoch 3 with its weights, optimizer state and random state, and ends with
    /// exactly the weights of an uninterrupted run (shuffling and dropout included).
    @Test func aResumedRunEndsWithTheWeightsOfAnUninterruptedOne() throws {
        let (whole, wholeSlots, wholeIterations, wholeLosses) = try Lamina.withRandomSeed(7) {
            let m = make()
            let h = try m.fit(x, y, epochs: 6, batchSize: 8, verbose: 0)
            return (m.getWeights().map { $0.asArray(Float.self) }, slots(m), m.optimizer!.iterations, h.history["loss"]!)
        }
        let dir = temporaryDirectory().appendingPathComponent("backup").path
        let backup = BackupAndRestore(backupDir: dir)
        #expect(throws: Interrupted.self) {
            try Lamina.withRandomSeed(7) {
                _ = try make().fit(x, y, epochs: 6, batchSize: 8, verbose: 0, callbacks: [backup, crash(epoch: 3, batch: 2)])
            }
        }
        #expect(FileManager.default.fileExists(atPath: backup.backupPath))
        #expect(try FileManager.default.contentsOfDirectory(atPath: dir) == ["latest.lamina"])   // no temporary file left

        // The restart: a new model, another random seed; the backup decides.
        var epochsRun: [Int] = []
        let (resumed, resumedSlots, resumedIterations, resumedLosses) = try Lamina.withRandomSeed(12345) {
            let m = make()
            let h = try m.fit(x, y, epochs: 6, batchSize: 8, verbose: 0,
                              callbacks: [backup, LambdaCallback(onEpochBegin: { epochsRun.append($0) })])
            return (m.getWeights().map { $0.asArray(Float.self) }, slots(m), m.optimizer!.iterations, h.history["loss"]!)
        }
        #expect(backup.restoredEpoch == 3)
        #expect(epochsRun == [3, 4, 5])
        #expect(resumed == whole)
        #expect(resumedSlots == wholeSlots)
        #expect(resumedIterations == wholeIterations && wholeIterations == 30)
        #expect(resumedLosses == Array(wholeLosses[3...]))
        // Deleted at the successful end, folder included (it held nothing else).
        #expect(!FileManager.default.fileExists(atPath: dir))
    }

    /// `saveFreq: n` backs up every n batches; a restart repeats the interrupted epoch from its
    /// first batch, starting from the last backup's weights and optimizer state (as Keras).
    @Test func batchBackupsRestoreTheLastBackedUpState() throws {
        let dir = temporaryDirectory().appendingPathComponent("b").path
        let backup = BackupAndRestore(backupDir: dir, saveFreq: 3)
        var atBackup: [[Float]] = [], iterationsAtBackup = 0, batches = 0
        let m = make()
        // 5 batches an epoch; backups after batches 3, 6, 9 (counted across epochs): the last
        // one before the crash at epoch 2, batch 0 (the 11th) is after the 9th.
        let watch = LambdaCallback(onBatchEnd: { _, _ in
            batches += 1
            if batches == 9 { atBackup = m.getWeights().map { $0.asArray(Float.self) }; iterationsAtBackup = m.optimizer!.iterations }
        })
        #expect(throws: Interrupted.self) {
            try m.fit(x, y, epochs: 4, batchSize: 8, verbose: 0, callbacks: [backup, watch, crash(epoch: 2, batch: 0)])
        }
        let fresh = make()
        var restored: [[Float]] = [], restoredIterations = 0
        try fresh.fit(x, y, epochs: 4, batchSize: 8, verbose: 0, callbacks: [backup, LambdaCallback(onTrainBegin: {
            restored = fresh.getWeights().map { $0.asArray(Float.self) }
            restoredIterations = fresh.optimizer!.iterations
        })])
        #expect(iterationsAtBackup == 9 && restoredIterations == 9)
        #expect(restored == atBackup && !atBackup.isEmpty)
        // The 9th batch is the 4th of epoch 1 (0-based): one epoch had completed, and the restart
        // runs epochs 1, 2 and 3 again (15 batches).
        #expect(backup.restoredEpoch == 1)
        #expect(fresh.optimizer!.iterations == 9 + 3 * 5)
    }

    @Test func deleteCheckpointFalseKeepsTheBackup() throws {
        let dir = temporaryDirectory().appendingPathComponent("keep").path
        let backup = BackupAndRestore(backupDir: dir, deleteCheckpoint: false)
        let m = make()
        try m.fit(x, y, epochs: 2, batchSize: 8, verbose: 0, callbacks: [backup])
        #expect(FileManager.default.fileExists(atPath: backup.backupPath))
        let weights = m.getWeights().map { $0.asArray(Float.self) }
        // Fitting again to the same epoch count finds training complete: nothing changes.
        let again = make()
        let h = try again.fit(x, y, epochs: 2, batchSize: 8, verbose: 0, callbacks: [backup])
        #expect(backup.restoredEpoch == 2 && h.epoch.isEmpty)
        #expect(again.getWeights().map { $0.asArray(Float.self) } == weights)
    }

    @Test func badUseIsALaminaError() throws {
        #expect(throws: LaminaError.self) {
            try make().fit(x, y, epochs: 1, verbose: 0, callbacks: [BackupAndRestore(backupDir: "")])
        }
        // A backup of another model does not fit: an error naming the weights, nothing changed.
        let dir = temporaryDirectory().appendingPathComponent("other").path
        let backup = BackupAndRestore(backupDir: dir, deleteCheckpoint: false)
        try make().fit(x, y, epochs: 1, batchSize: 8, verbose: 0, callbacks: [backup])
        let other = Sequential([Dense(4, inputShape: [3], name: "hidden"), Dense(1, name: "out")])
        other.compile(optimizer: Adam(), loss: .mse)
        let before = other.getWeights().map { $0.asArray(Float.self) }
        #expect(throws: LaminaError.self) { try other.fit(x, y, epochs: 2, verbose: 0, callbacks: [backup]) }
        #expect(other.getWeights().map { $0.asArray(Float.self) } == before)
        // A model without an input shape is built from the first batch before callbacks start
        // (Keras requires it built beforehand): it takes the backup too.
        let unbuilt = Sequential([Dense(12, activation: .relu, name: "hidden"), Dropout(0.2, name: "drop"), Dense(1, name: "out")])
        unbuilt.compile(optimizer: Adam(learningRate: 0.02), loss: .mse)
        try unbuilt.fit(x, y, epochs: 2, batchSize: 8, verbose: 0, callbacks: [backup])
        #expect(backup.restoredEpoch == 1 && unbuilt.optimizer!.iterations == 5 + 5)
    }
}
