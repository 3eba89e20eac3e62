import Foundation

/// A learning rate that changes with the step count. Keras: `keras.optimizers.schedules`.
/// Spelled `schedule: .exponentialDecay(initial: 0.1, decaySteps: 1000, decayRate: 0.96)` or
/// `ExponentialDecay(initialLearningRate: 0.1, decaySteps: 1000, decayRate: 0.96)`. A schedule
/// is immutable once made (so it is shared safely); subclasses must keep it that way.
open class LearningRateSchedule: @unchecked Sendable {
    public init() {}

    /// The learning rate at `step` (0-based count of applied steps).
    open func callAsFunction(_ step: Int) -> Double { fatalError("\(type(of: self)) must override callAsFunction(_:)") }

    // MARK: - The class's own round trip

    /// The Keras class name this class saves as and loads from.
    open class var kerasClassName: String { String(describing: self) }
    /// Keras's config entries.
    open func config() -> [String: Any] { [:] }
    /// A schedule of this class from Keras's config. Registered classes
    /// (`ScheduleRegistry.register(MySchedule.self)`) override it.
    open class func fromKerasConfig(_ r: ConfigReader) throws -> LearningRateSchedule {
        throw LaminaError.configuration("\(kerasClassName) cannot be loaded: it does not override class func fromKerasConfig(_:)")
    }

    /// lr·rate^(step / decaySteps), floored to whole periods when `staircase`.
    public static func exponentialDecay(initial: Double, decaySteps: Int, decayRate: Double, staircase: Bool = false) -> LearningRateSchedule {
        ExponentialDecay(initialLearningRate: initial, decaySteps: decaySteps, decayRate: decayRate, staircase: staircase)
    }

    /// values[i] while step ≤ boundaries[i] (values has one more entry).
    public static func piecewiseConstant(boundaries: [Int], values: [Double]) -> LearningRateSchedule {
        PiecewiseConstantDecay(boundaries: boundaries, values: values)
    }
}

/// lr·rate^(step / decaySteps), floored to whole periods when `staircase`. Keras: `ExponentialDecay`.
public final class ExponentialDecay: LearningRateSchedule, @unchecked Sendable {
    public let initialLearningRate: Double, decaySteps: Int, decayRate: Double, staircase: Bool

    public init(initialLearningRate: Double, decaySteps: Int, decayRate: Double, staircase: Bool = false) {
        precondition(decaySteps > 0, "ExponentialDecay: decaySteps \(decaySteps) must be positive")
        (self.initialLearningRate, self.decaySteps, self.decayRate, self.staircase) = (initialLearningRate, decaySteps, decayRate, staircase)
    }

    public override func callAsFunction(_ step: Int) -> Double {
        var p = Double(step) / Double(decaySteps)
        if staircase { p.round(.down) }
        return initialLearningRate * pow(decayRate, p)
    }

    public override func config() -> [String: Any] {
        ["initial_learning_rate": initialLearningRate, "decay_steps": decaySteps, "decay_rate": decayRate, "staircase": staircase]
    }
    public override class func fromKerasConfig(_ r: ConfigReader) throws -> LearningRateSchedule {
        ExponentialDecay(initialLearningRate: try r.double("initial_learning_rate", in: 0...1e6), decaySteps: try r.int("decay_steps", minimum: 1),
                         decayRate: try r.double("decay_rate", in: 0...1e6), staircase: try r.bool("staircase", default: false))
    }
}

/// values[i] while step ≤ boundaries[i] (values has one more entry). Keras: `PiecewiseConstantDecay`.
public final class PiecewiseConstantDecay: LearningRateSchedule, @unchecked Sendable {
    public let boundaries: [Int], values: [Double]

    public init(boundaries: [Int], values: [Double]) {
        precondition(values.count == boundaries.count + 1, "PiecewiseConstantDecay: values must hold one number more than boundaries")
        (self.boundaries, self.values) = (boundaries, values)
    }

    public override func callAsFunction(_ step: Int) -> Double {
        for (i, b) in boundaries.enumerated() where step <= b { return values[i] }
        return values[values.count - 1]
    }

    public override func config() -> [String: Any] { ["boundaries": boundaries, "values": values] }
    public override class func fromKerasConfig(_ r: ConfigReader) throws -> LearningRateSchedule {
        let boundaries = try r.ints("boundaries")
        guard let list = r.value("values") as? [Any], list.count == boundaries.count + 1,
              case let values = list.compactMap({ ($0 as? NSNumber)?.doubleValue }), values.count == list.count else {
            throw r.error("'values' must hold one number more than 'boundaries'")
        }
        return PiecewiseConstantDecay(boundaries: boundaries, values: values)
    }
}

/// initial / (1 + rate · step / decaySteps), the ratio floored when `staircase`. Keras: `InverseTimeDecay`.
public final class InverseTimeDecay: LearningRateSchedule, @unchecked Sendable {
    public let initialLearningRate: Double, decaySteps: Int, decayRate: Double, staircase: Bool

    public init(initialLearningRate: Double, decaySteps: Int, decayRate: Double, staircase: Bool = false) {
        precondition(decaySteps > 0, "InverseTimeDecay: decaySteps \(decaySteps) must be positive")
        (self.initialLearningRate, self.decaySteps, self.decayRate, self.staircase) = (initialLearningRate, decaySteps, decayRate, staircase)
    }
    public override func callAsFunction(_ step: Int) -> Double {
        var p = Double(step) / Double(decaySteps)
        if staircase { p.round(.down) }
        return initialLearningRate / (1 + decayRate * p)
    }
    public override func config() -> [String: Any] {
        ["initial_learning_rate": initialLearningRate, "decay_steps": decaySteps, "decay_rate": decayRate, "staircase": staircase]
    }
    public override class func fromKerasConfig(_ r: ConfigReader) throws -> LearningRateSchedule {
        InverseTimeDecay(initialLearningRate: try r.double("initial_learning_rate", in: 0...1e6), decaySteps: try r.int("decay_steps", minimum: 1),
                         decayRate: try r.double("decay_rate", in: 0...1e6), staircase: try r.bool("staircase", default: false))
    }
}

/// (initial − end)·(1 − step/decaySteps)^power + end, holding `end` afterwards (or restarting
/// with a longer period when `cycle`). Keras: `PolynomialDecay`.
public final class PolynomialDecay: LearningRateSchedule, @unchecked Sendable {
    public let initialLearningRate: Double, decaySteps: Int, endLearningRate: Double, power: Double, cycle: Bool

    public init(initialLearningRate: Double, decaySteps: Int, endLearningRate: Double = 1e-4, power: Double = 1, cycle: Bool = false) {
        precondition(decaySteps > 0, "PolynomialDecay: decaySteps \(decaySteps) must be positive")
        (self.initialLearningRate, self.decaySteps, self.endLearningRate, self.power, self.cycle) =
            (initialLearningRate, decaySteps, endLearningRate, power, cycle)
    }
    public override func callAsFunction(_ step: Int) -> Double {
        var period = Double(decaySteps), s = Double(step)
        if cycle {
            period *= Swift.max(1, (s / period).rounded(.up))
        } else {
            s = Swift.min(s, period)
        }
        return (initialLearningRate - endLearningRate) * Foundation.pow(1 - s / period, power) + endLearningRate
    }
    public override func config() -> [String: Any] {
        ["initial_learning_rate": initialLearningRate, "decay_steps": decaySteps, "end_learning_rate": endLearningRate,
         "power": power, "cycle": cycle]
    }
    public override class func fromKerasConfig(_ r: ConfigReader) throws -> LearningRateSchedule {
        PolynomialDecay(initialLearningRate: try r.double("initial_learning_rate", in: 0...1e6), decaySteps: try r.int("decay_steps", minimum: 1),
                        endLearningRate: try r.double("end_learning_rate", default: 1e-4, in: 0...1e6),
                        power: try r.double("power", default: 1, in: 0...1e6), cycle: try r.bool("cycle", default: false))
    }
}

/// Cosine decay from the initial rate (or, after a linear warmup of `warmupSteps` to
/// `warmupTarget`, from that) down to `alpha` × it over `decaySteps`. Keras: `CosineDecay`.
public final class CosineDecay: LearningRateSchedule, @unchecked Sendable {
    public let initialLearningRate: Double, decaySteps: Int, alpha: Double
    public let warmupTarget: Double?, warmupSteps: Int

    public init(initialLearningRate: Double, decaySteps: Int, alpha: Double = 0, warmupTarget: Double? = nil, warmupSteps: Int = 0) {
        precondition(decaySteps > 0 && warmupSteps >= 0, "CosineDecay: decaySteps \(decaySteps) must be positive, warmupSteps \(warmupSteps) not negative")
        (self.initialLearningRate, self.decaySteps, self.alpha, self.warmupTarget, self.warmupSteps) =
            (initialLearningRate, decaySteps, alpha, warmupTarget, warmupSteps)
    }
    public override func callAsFunction(_ step: Int) -> Double {
        func decay(_ s: Double, from lr: Double) -> Double {
            let cosine = 0.5 * (1 + Foundation.cos(Double.pi * s / Double(decaySteps)))
            return lr * ((1 - alpha) * cosine + alpha)
        }
        guard let target = warmupTarget else { return decay(Swift.min(Double(step), Double(decaySteps)), from: initialLearningRate) }
        let s = Swift.min(Double(step), Double(decaySteps + warmupSteps))
        if s < Double(warmupSteps) { return (target - initialLearningRate) * s / Double(warmupSteps) + initialLearningRate }
        return decay(s - Double(warmupSteps), from: target)
    }
    public override func config() -> [String: Any] {
        ["initial_learning_rate": initialLearningRate, "decay_steps": decaySteps, "alpha": alpha,
         "warmup_target": warmupTarget ?? NSNull(), "warmup_steps": warmupSteps]
    }
    public override class func fromKerasConfig(_ r: ConfigReader) throws -> LearningRateSchedule {
        CosineDecay(initialLearningRate: try r.double("initial_learning_rate", in: 0...1e6), decaySteps: try r.int("decay_steps", minimum: 1),
                    alpha: try r.double("alpha", default: 0, in: 0...1), warmupTarget: try r.optionalDouble("warmup_target"),
                    warmupSteps: try r.int("warmup_steps", default: 0))
    }
}

/// What every optimizer's Keras config holds, read once for all classes.
public struct OptimizerSettings: Sendable {
    /// The constant learning rate, or nil when the config has none (each class has its default).
    public var learningRate: Double?
    public var schedule: LearningRateSchedule?
    public var clipnorm: Double?, clipvalue: Double?
}

/// Base of the optimizers, following Keras: slots are made once per variable, `iterations`
/// counts applied steps, and each subclass writes its in-place update for one variable.
/// Spelled `optimizer: .adam` or `Adam(learningRate: 3e-4)`.
open class Optimizer {
    /// The constant learning rate (ignored while `schedule` is set). Callbacks may change it.
    public var learningRate: Double
    public var schedule: LearningRateSchedule?
    /// Clip each gradient to this L2 norm / to ±value before the update (Keras `clipnorm`, `clipvalue`).
    public var clipnorm: Double?, clipvalue: Double?
    /// Number of update steps applied.
    public package(set) var iterations = 0
    /// Keras's config name.
    public let name: String
    package var slots: [ObjectIdentifier: [Tensor]] = [:]

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

    /// A variable's slots before its first step.
    package func freshSlots(for v: Variable) -> [Tensor] {
        let values = initialSlotValues
        return (0..<slotCount).map { i in
            let value = i < values.count ? values[i] : 0
            return value == 0 ? Tensor.zeros(v.shape, dtype: v.value.dtype) : Tensor.full(v.shape, value: value, dtype: v.value.dtype)
        }
    }

    /// The number of optimizer variables, as Keras's summary counts them (slots + iterations + learning rate).
    public var variableCount: Int { slots.values.reduce(2) { $0 + $1.reduce(0) { $0 + $1.count } } }

    /// Applies one step: updates each variable in place from its gradient (the training loop's
    /// path; the gradients come from the variables, so they fit — `apply(_:to:)` checks a user's).
    package func step(_ gradients: [Tensor], to variables: [Variable]) {
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
            var s = slots[key] ?? freshSlots(for: v)
            slots[key] = nil   // drop the dictionary's reference so the slots update in place
            if v.value.dtype == .float64 {
                update(&v.value, g, &s, lr: lr, as: Double.self)
            } else {
                update(&v.value, g, &s, lr: lr, as: Float.self)
            }
            slots[key] = s
        }
    }

    private func update<T: FloatScalar>(_ w: inout Tensor, _ g: Tensor, _ s: inout [Tensor], lr: Double, as _: T.Type) {
        // Grab raw pointers to every buffer (each unique, so no copies), then run the rule.
        let n = w.count
        var slotPointers: [UnsafeMutablePointer<T>] = []
        for i in s.indices { slotPointers.append(s[i].withUnsafeMutableBuffer(as: T.self) { $0.baseAddress! }) }
        g.withUnsafeBuffer(as: T.self) { gp in
            w.withUnsafeMutableBuffer(as: T.self) { wp in
                // Large variables are updated in chunks on all cores (the rules are elementwise).
                nonisolated(unsafe) let (w, g, slots) = (wp.baseAddress!, gp.baseAddress!, slotPointers)
                Kernels.parallelFor(n, grain: 1 << 15) { r in
                    updateStep(w + r.lowerBound, g + r.lowerBound, slots.map { $0 + r.lowerBound },
                               count: r.count, lr: lr)
                }
            }
        }
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
