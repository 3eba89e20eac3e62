import Foundation

/// What every optimizer's Keras config holds, read once for all classes.
public struct OptimizerSettings: Sendable {
    /// The constant learning rate, or nil when the config has none (each class has its default).
    public var learningRate: Double?
    /// The learning-rate schedule, or nil when the config has a constant rate.
    public var schedule: LearningRateSchedule?
    /// The gradient clipping settings (Keras `clipnorm`, `clipvalue`), nil when absent.
    public var clipnorm: Double?, clipvalue: Double?
}

/// Base of the optimizers, following Keras: slots are made once per variable, `iterations`
/// counts applied steps, and each subclass writes its in-place update for one variable.
/// Spelled `optimizer: .adam` or `Adam(learningRate: 3e-4)`.
open class Optimizer {
    /// The constant learning rate (ignored while `schedule` is set). Callbacks may change it.
    public var learningRate: Double
    /// The learning-rate schedule, which replaces `learningRate` while set (Keras: a schedule passed as `learning_rate`).
    public var schedule: LearningRateSchedule?
    /// Clip each gradient to this L2 norm / to ±value before the update (Keras `clipnorm`, `clipvalue`).
    public var clipnorm: Double?, clipvalue: Double?
    /// Number of update steps applied.
    public package(set) var iterations = 0
    /// Keras's config name.
    public let name: String
    /// The slots of each variable updated so far, with the variable they belong to: keyed by
    /// the variable's identity, an entry whose variable is gone is never taken for a new
    /// variable that happens to reuse its address.
    private var slotTable: [ObjectIdentifier: SlotEntry] = [:]
    private struct SlotEntry {
        weak var variable: Variable?
        var tensors: [Tensor]
    }

    /// An optimizer with Keras's config `name`, a constant `learningRate` or a `schedule`, and optional gradient clipping (for subclasses).
    public init(name: String, learningRate: Double, schedule: LearningRateSchedule? = nil,
                clipnorm: Double? = nil, clipvalue: Double? = nil) {
        self.name = name
        self.learningRate = learningRate
        self.schedule = schedule
        self.clipnorm = clipnorm
        self.clipvalue = clipvalue
    }

    // MARK: - The class's own round trip

    /// Keras's config entries of this class beyond the shared ones (name, learning rate or
    /// schedule, clipnorm, clipvalue), which `serialize()` adds.
    open func config() -> [String: Any] { [:] }

    /// An optimizer of this class from Keras's config: the way back from `config()`. `shared`
    /// holds what every optimizer reads (nil learning rate: the class's default). Registered
    /// classes (`OptimizerRegistry.register(MyOptimizer.self)`) override it.
    open class func fromKerasConfig(_ r: ConfigReader, shared: OptimizerSettings) throws -> Optimizer {
        throw LaminaError.configuration("\(self) cannot be loaded: it does not override class func fromKerasConfig(_:shared:)")
    }

    /// The Keras class name this class saves as and loads from.
    open class var kerasClassName: String { String(describing: self) }

    /// Keras's names of the per-variable slots, used in saved files (`optimizer/dense/kernel/momentum`).
    open var slotNames: [String] { (0..<slotCount).map { "slot_\($0)" } }

    /// Keras's order of the slots in its saved optimizer variables: one group per
    /// `add_optimizer_variables` call; for each group, for each trained variable, the slots
    /// (indices into `slotNames`) of the group. The default, one group of all slots, is Keras's
    /// interleaved order (SGD, Adam, Nadam, Adamax, Adadelta, Lion, Adagrad, RMSprop).
    open var kerasSlotGroups: [[Int]] { [Array(0..<slotCount)] }

    /// Scalars Keras keeps after the slots (Nadam's momentum-schedule product); Lamina
    /// recomputes them from `iterations` when it loads.
    open var kerasTrailingScalars: [Double] { [] }

    /// The learning rate for the next step.
    public var currentLearningRate: Double { schedule?(iterations) ?? learningRate }

    /// Called once per step, after `iterations` counts it and before any variable is updated
    /// (for state shared by all variables, like Nadam's momentum-schedule product).
    open func willApplyStep() {}

    /// Number of slot tensors per variable (Adam: m, v).
    open var slotCount: Int { 0 }

    /// The value each slot starts at (zeros unless a subclass says otherwise: Ftrl's
    /// accumulator starts at `initialAccumulatorValue`).
    open var initialSlotValues: [Double] { [Double](repeating: 0, count: slotCount) }

    /// The slots of `v`, or nil before its first step.
    package func slots(for v: Variable) -> [Tensor]? {
        guard let entry = slotTable[ObjectIdentifier(v)], entry.variable === v else { return nil }
        return entry.tensors
    }

    /// Sets the slots of `v` (restored from a file, or shared by another process). Each slot
    /// has the variable's shape; a caller checks shapes it reads from outside first.
    package func setSlots(_ tensors: [Tensor], for v: Variable) {
        precondition(tensors.count == slotCount && tensors.allSatisfy { $0.shape == v.shape },
                     "\(name): slots for \(v.name) must be \(slotCount) tensors of shape \(v.shape)")
        slotTable[ObjectIdentifier(v)] = SlotEntry(variable: v, tensors: tensors)
    }

    /// Whether any variable has slots (false before the first step).
    package var hasSlots: Bool { slotTable.values.contains { $0.variable != nil } }

    /// A variable's slots before its first step.
    package func freshSlots(for v: Variable) -> [Tensor] {
        let values = initialSlotValues
        return (0..<slotCount).map { i in
            let value = i < values.count ? values[i] : 0
            return value == 0 ? Tensor.zeros(v.shape, dtype: v.value.dtype) : Tensor.full(v.shape, value: value, dtype: v.value.dtype)
        }
    }

    /// The number of optimizer variables, as Keras's summary counts them (slots + iterations + learning rate).
    public var variableCount: Int {
        slotTable.values.reduce(2) { $0 + ($1.variable == nil ? 0 : $1.tensors.reduce(0) { $0 + $1.count }) }
    }

    /// Applies one step: updates each variable in place from its gradient (the training loop's
    /// path; the gradients come from the variables, so they fit — `apply(_:to:)` checks a user's).
    /// A variable whose shape changed since its slots were made is an error, as in Keras
    /// (its slots no longer fit), raised before any variable is updated.
    package func step(_ gradients: [Tensor], to variables: [Variable]) throws {
        for v in variables {
            if let s = slots(for: v), let slot = s.first(where: { $0.shape != v.shape }) {
                throw LaminaError.shape("\(name): the slots of \(v.name) have shape \(slot.shape), the variable now \(v.shape); "
                                        + "variables keep their shape while an optimizer trains them")
            }
        }
        let lr = currentLearningRate
        iterations += 1
        willApplyStep()
        for (g0, v) in zip(gradients, variables) {
            var g = g0
            if let clipvalue { g = g.clip(min: -clipvalue, max: clipvalue) }
            if let clipnorm {
                let norm = g.square().sum().sqrt().scalarsAsDouble()[0]
                if norm > clipnorm { g = g * (clipnorm / norm) }
            }
            let key = ObjectIdentifier(v)
            var s = slots(for: v) ?? freshSlots(for: v)
            slotTable[key] = nil   // drop the table's reference so the slots update in place
            if v.value.dtype == .float64 {
                update(&v.value, g, &s, lr: lr, as: Double.self)
            } else {
                update(&v.value, g, &s, lr: lr, as: Float.self)
            }
            slotTable[key] = SlotEntry(variable: v, tensors: s)
        }
    }

    private func update<T: FloatScalar>(_ w: inout Tensor, _ g: Tensor, _ s: inout [Tensor], lr: Double, as _: T.Type) {
        let n = w.count
        g.withUnsafeBuffer(as: T.self) { gp in
            w.withUnsafeMutableBuffer(as: T.self) { wp in
                Self.withMutablePointers(to: &s, as: T.self) { slots in
                    // Large variables are updated in chunks on all cores (the rules are elementwise).
                    let (w, g) = (wp.baseAddress!, gp.baseAddress!)
                    Kernels.parallelFor(n, grain: 1 << 15) { r in
                        updateStep(w + r.lowerBound, g + r.lowerBound, slots.map { $0 + r.lowerBound },
                                   count: r.count, lr: lr)
                    }
                }
            }
        }
    }

    /// Runs `body` with a pointer to each tensor's elements, valid only inside it. Each tensor
    /// leaves the array while its buffer is open, so that it is uniquely referenced and
    /// updated in place (no copy on write).
    private static func withMutablePointers<T: FloatScalar>(to tensors: inout [Tensor], as _: T.Type,
                                                            _ body: ([UnsafeMutablePointer<T>]) -> Void) {
        func open(_ rest: inout [Tensor], _ opened: [UnsafeMutablePointer<T>]) {
            guard !rest.isEmpty else { return body(opened) }
            var first = rest.removeFirst()
            first.withUnsafeMutableBuffer(as: T.self) { open(&rest, opened + [$0.baseAddress!]) }
            rest.insert(first, at: 0)
        }
        open(&tensors, [])
    }

    /// The update rule for `count` elements of one variable. `iterations` is the 1-based step.
    /// It is called on contiguous chunks of a large variable, possibly concurrently, so a
    /// rule must be elementwise (each output element depends on the same index only).
    /// Overrides should carry `@_specialize(where T == Float) @_specialize(where T == Double)`,
    /// as the built-in ones do: a call through the vtable otherwise runs the generic body
    /// with every arithmetic operation going through witness tables (the GAN example ran 8×
    /// slower that way).
    open func updateStep<T: FloatScalar>(_ w: UnsafeMutablePointer<T>, _ g: UnsafePointer<T>,
                                         _ slots: [UnsafeMutablePointer<T>], count: Int, lr: Double) {
        fatalError("\(Self.self) must override updateStep")
    }

    /// An optimizer with Keras's defaults by its Keras name, case-insensitive as Keras's
    /// `keras.optimizers.get` (`"adam"`, `"Nadam"`, `"adamax"`, `"lion"`), including classes
    /// registered with `OptimizerRegistry.register`. An unknown name throws, listing the known ones.
    public static func named(_ name: String) throws -> Optimizer {
        try OptimizerRegistry.classes.require(name).fromKerasConfig(ConfigReader(className: name, values: [:]), shared: OptimizerSettings())
    }
}

/// Loadable optimizer classes by Keras class name (case-insensitive, as Keras's `get`). Each class
/// owns its round trip (`config()`, `fromKerasConfig`, `slotNames`); registering is naming it.
public enum OptimizerRegistry {
    static let builtinTypes: [Optimizer.Type] = [SGD.self, Adam.self, AdamW.self, RMSprop.self, Adagrad.self, Nadam.self, Adamax.self,
                                                 Adadelta.self, Lion.self, Ftrl.self]
    static let classes = KerasClasses<Optimizer.Type>("optimizer", registry: "OptimizerRegistry", caseInsensitive: true,
                                                      names: { [$0.kerasClassName] }, builtinTypes)

    /// Makes these classes savable and loadable, each under its `kerasClassName`.
    public static func register(_ types: Optimizer.Type...) { classes.register(types) }
}
