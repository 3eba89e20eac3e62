import Foundation

/// values[i] while step ≤ boundaries[i] (values has one more entry). Keras: `PiecewiseConstantDecay`.
public final class PiecewiseConstantDecay: LearningRateSchedule, @unchecked Sendable {
    /// The steps where the rate changes, and the rates (one more than the boundaries).
    public let boundaries: [Int], values: [Double]

    /// Keras: `keras.optimizers.schedules.PiecewiseConstantDecay(boundaries, values)`; traps unless `values` has one entry more than `boundaries`.
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
