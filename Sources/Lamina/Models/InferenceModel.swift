import Foundation

/// A frozen copy of a model for serving: `Sendable`, so any number of tasks may call
/// `predict` at once — request handlers, actors, a task group — while the original model goes
/// on training. Make one with `model.inferenceModel()` (or load one from a model file).
///
/// Why a copy rather than a lock on `Sequential`: prediction on a built model reads only
/// weights, so concurrent predictions need no lock at all; what must never happen is a
/// prediction reading weights an optimizer is writing. A snapshot makes that impossible by
/// construction (the trainer cannot reach it) and costs one copy of the weights, while
/// `Sequential` itself stays a plain, non-Sendable class that Swift 6 will not let two tasks
/// share. To serve newer weights, take a new snapshot and swap it in.
public final class InferenceModel: @unchecked Sendable {
    // `@unchecked`, and why it holds: `model` is a private deep copy made and built in `init`
    // and never handed out; it is only run for inference, which on a built model writes no
    // state (no building, no dropout, no moving statistics, no optimizer) — the only
    // mutations a Sequential has. Tensors are Sendable; the kernels' thread pool and buffer
    // pool are internally synchronized.
    private let model: Model
    /// The model's name, per-sample input and output shapes (the first input's and output's),
    /// and weights' dtype.
    public let name: String, inputShape: [Int], outputShape: [Int], dtype: DType
    /// The number of weights the model holds.
    public let parameterCount: Int
    /// Every input's and output's name and per-sample shape, in order (Keras's `input_names`).
    public let inputNames: [String], inputShapes: [[Int]], outputNames: [String], outputShapes: [[Int]]

    init(copying source: Model, rebuiltBy make: (() throws -> Model)? = nil) throws {
        try source.checkDefinition()
        guard let inputs = source.inputShapes else {
            throw LaminaError.configuration("\(source.name) has no input shape yet: build it (Input(shape:), inputShape:, or one predict) before taking a snapshot")
        }
        let copy: Model
        if let make {
            copy = try make()
            guard type(of: copy) == type(of: source), copy !== source else {
                throw LaminaError.configuration("inferenceModel(rebuiltBy:): the closure must make a new \(source.className), got \(copy === source ? "the model itself" : copy.className)")
            }
        } else {
            guard !source.isSubclassed else {
                throw LaminaError.configuration("\(source.name) is a subclassed model (\(source.className)), whose architecture is code: "
                    + "take the snapshot with inferenceModel(rebuiltBy: { \(source.className)() })")
            }
            guard let made = try LayerRegistry.make(try source.serialize()) as? Model else {
                throw LaminaError.configuration("\(source.name) did not copy as a model")
            }
            copy = made
        }
        copy.dtype = source.dtype
        if copy is Sequential { try copy.buildIfNeeded(inputs[0], dtype: source.dtype) }
        if copy.isSubclassed { _ = try copy.buildAll(inputs, dtype: source.dtype) }
        try copy.setWeights(source.getWeights())
        model = copy
        (name, dtype, parameterCount) = (source.name, source.dtype, copy.countParams())
        (inputNames, inputShapes, outputNames) = (copy.inputNames, inputs, copy.outputNames)
        outputShapes = copy.outputShapes ?? []
        (inputShape, outputShape) = (inputs[0], outputShapes.first ?? [])
    }

    /// The model's outputs for a batch `[n] + inputShape`, in batches of `batchSize`
    /// (Keras: `model.predict`). Safe to call from many tasks at once.
    public func predict(_ x: Tensor, batchSize: Int = 32) throws -> Tensor {
        try model.predict(x, batchSize: batchSize)
    }

    /// Outputs of a model with several inputs or outputs: one tensor per output.
    public func predict(_ x: [Tensor], batchSize: Int = 32) throws -> [Tensor] {
        try model.predict(x, batchSize: batchSize)
    }

    /// Keras's summary table of the frozen model.
    public func summaryText(lineLength: Int? = nil) -> String { model.summaryText(lineLength: lineLength) }

    /// A snapshot of the model saved in `path` (a `.lamina` file).
    public static func load(_ path: String) throws -> InferenceModel {
        try Model.load(path, restoreRandomState: false).inferenceModel()
    }
}

extension Model {
    /// A `Sendable` snapshot of this model's architecture and current weights for concurrent
    /// inference (see `InferenceModel`). Training this model afterwards does not change it.
    public func inferenceModel() throws -> InferenceModel { try InferenceModel(copying: self) }

    /// The snapshot of a subclassed model, whose architecture is code: `make` returns a new
    /// instance of the same class (`inferenceModel(rebuiltBy: { MyModel() })`), which is
    /// built and given this model's weights. Its `call` must not change the model's state
    /// at inference (the snapshot is run from many tasks at once).
    public func inferenceModel(rebuiltBy make: () throws -> Model) throws -> InferenceModel {
        try withoutActuallyEscaping(make) { try InferenceModel(copying: self, rebuiltBy: $0) }
    }
}
