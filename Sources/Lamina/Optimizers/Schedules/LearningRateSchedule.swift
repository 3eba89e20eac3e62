import Foundation

/// A learning rate that changes with the step count. Keras: `keras.optimizers.schedules`.
/// Spelled `schedule: .exponentialDecay(initial: 0.1, decaySteps: 1000, decayRate: 0.96)` or
/// `ExponentialDecay(initialLearningRate: 0.1, decaySteps: 1000, decayRate: 0.96)`. A schedule
/// is immutable once made (so it is shared safely); subclasses must keep it that way.
open class LearningRateSchedule: @unchecked Sendable {
    /// A schedule (for subclasses, which override `callAsFunction(_:)`).
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

/// Loadable learning-rate schedule classes by Keras class name; registering is naming the class.
public enum ScheduleRegistry {
    static let builtinTypes: [LearningRateSchedule.Type] = [ExponentialDecay.self, PiecewiseConstantDecay.self, InverseTimeDecay.self,
                                                           PolynomialDecay.self, CosineDecay.self, CosineDecayRestarts.self]
    static let classes = KerasClasses<LearningRateSchedule.Type>("learning rate schedule", registry: "ScheduleRegistry",
                                                                 names: { [$0.kerasClassName] }, builtinTypes)

    /// Makes these classes savable and loadable under their `kerasClassName`.
    public static func register(_ types: LearningRateSchedule.Type...) { classes.register(types) }
}
