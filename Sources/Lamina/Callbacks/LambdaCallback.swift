import Foundation

/// A callback from closures. Keras: `LambdaCallback`.
public final class LambdaCallback: Callback {
    /// The metric values passed to the epoch and batch closures.
    public typealias Logs = [String: Double]
    let epochBegin: ((Int) throws -> Void)?, epochEnd: ((Int, Logs) throws -> Void)?
    let batchEnd: ((Int, Logs) throws -> Void)?, trainBegin: (() throws -> Void)?, trainEnd: (() throws -> Void)?
    /// Each closure may throw to end `fit` with its error.
    public init(onEpochBegin: ((Int) throws -> Void)? = nil, onEpochEnd: ((Int, Logs) throws -> Void)? = nil,
                onBatchEnd: ((Int, Logs) throws -> Void)? = nil, onTrainBegin: (() throws -> Void)? = nil,
                onTrainEnd: (() throws -> Void)? = nil) {
        (epochBegin, epochEnd, batchEnd, trainBegin, trainEnd) = (onEpochBegin, onEpochEnd, onBatchEnd, onTrainBegin, onTrainEnd)
    }
    public override func onEpochBegin(_ epoch: Int) throws { try epochBegin?(epoch) }
    public override func onEpochEnd(_ epoch: Int, logs: Logs) throws { try epochEnd?(epoch, logs) }
    public override func onBatchEnd(_ batch: Int, logs: Logs) throws { try batchEnd?(batch, logs) }
    public override func onTrainBegin() throws { try trainBegin?() }
    public override func onTrainEnd() throws { try trainEnd?() }
}
