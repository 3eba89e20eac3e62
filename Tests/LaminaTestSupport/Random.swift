import LaminaCore

/// Float64 normal values (standard deviation `scale`), reproducible from `seed`;
/// `awayFromZero` moves each value 0.1 further from zero so that the kinks of relu, abs and
/// clip are not straddled by a gradient check's finite differences.
package func randn(_ shape: [Int], seed: UInt64, scale: Double = 1, awayFromZero: Bool = false) -> Tensor {
    let normal = Tensor.randomNormal(shape, stddev: scale, dtype: .float64, seed: seed)
    guard awayFromZero else { return normal }
    return Tensor(shape: shape, scalars: normal.asArray(Double.self).map { $0 >= 0 ? $0 + 0.1 : $0 - 0.1 })
}
