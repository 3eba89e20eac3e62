import Foundation
import Synchronization

/// A small, fast, seedable generator (xoshiro256**, seeded through SplitMix64). The same
/// seed gives the same stream on every platform, so runs are reproducible.
public struct RandomGenerator: RandomNumberGenerator, Sendable {
    /// The full state, for saving a training run and resuming it exactly.
    public var state: (UInt64, UInt64, UInt64, UInt64)

    /// A generator whose sequence is fixed by `seed` (xoshiro256**, seeded through SplitMix64).
    public init(seed: UInt64) {
        var s = seed
        func splitmix() -> UInt64 {
            s &+= 0x9E37_79B9_7F4A_7C15
            var z = s
            z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
            z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
            return z ^ (z >> 31)
        }
        state = (splitmix(), splitmix(), splitmix(), splitmix())
    }

    /// The next 64 random bits.
    public mutating func next() -> UInt64 {
        let result = ((state.1 &* 5) << 7 | (state.1 &* 5) >> 57) &* 9
        let t = state.1 << 17
        state.2 ^= state.0; state.3 ^= state.1; state.1 ^= state.2; state.0 ^= state.3
        state.2 ^= t
        state.3 = state.3 << 45 | state.3 >> 19
        return result
    }

    /// Uniform in [0, 1) with 53 random bits.
    public mutating func nextUnit() -> Double { Double(next() >> 11) * 0x1.0p-53 }

    /// Standard normal by Box–Muller (one value per call; simple and exactly reproducible).
    public mutating func nextNormal() -> Double {
        let u1 = 1 - nextUnit(), u2 = nextUnit()
        return Self.boxMuller(u1, u2)
    }

    /// A standard normal from two uniforms, u1 in (0, 1] and u2 in [0, 1).
    @inline(__always) static func boxMuller(_ u1: Double, _ u2: Double) -> Double {
        (-2 * Foundation.log(u1)).squareRoot() * Foundation.cos(2 * Double.pi * u2)
    }
}

/// The process-wide default generator, guarded for concurrent use.
public enum GlobalRandom {
    static let generator = Locked(RandomGenerator(seed: 0x5EED_1A31_4A00_0001))

    /// Reseeds the default generator (`Lamina.setRandomSeed` calls this).
    public static func seed(_ seed: UInt64) { generator.withLock { $0 = RandomGenerator(seed: seed) } }

    /// A generator private to the current task, set by `withSeed`.
    final class Scoped: @unchecked Sendable { var generator: RandomGenerator; init(_ g: RandomGenerator) { generator = g } }
    @TaskLocal static var scoped: Scoped?

    /// Runs `body` with exclusive access to the default generator (the task's scoped one
    /// inside `withSeed`).
    public static func with<R>(_ body: (inout RandomGenerator) -> R) -> R {
        if let scoped { return body(&scoped.generator) }
        return generator.withLock { body(&$0) }
    }

    /// Runs `body` with `own` when the caller (a seeded layer or dataset stage) has its own
    /// generator, else with the default one.
    public static func with<R>(_ own: inout RandomGenerator?, _ body: (inout RandomGenerator) -> R) -> R {
        if own != nil { return body(&own!) }
        return with(body)
    }

    /// Runs `body` with a generator seeded by `seed` that only this task sees: the same seed
    /// gives the same weights, shuffles and dropout masks, whatever other tasks draw meanwhile.
    public static func withSeed<R>(_ seed: UInt64, _ body: () throws -> R) rethrows -> R {
        try $scoped.withValue(Scoped(RandomGenerator(seed: seed)), operation: body)
    }

    /// The current generator (the task's scoped one inside `withSeed`), to save a training
    /// run; `restore` puts it back so that shuffles and dropout continue the same stream.
    public static var current: RandomGenerator {
        get { with { $0 } }
        set { with { $0 = newValue } }
    }

    /// The generator to use: a fresh one from `seed`, or one split off the default.
    public static func make(seed: UInt64?) -> RandomGenerator {
        RandomGenerator(seed: seed ?? with { $0.next() })
    }
}

extension Tensor {
    /// Uniform values in `[lower, upper)`. With `seed`, the values depend on it alone;
    /// without, they come from the default generator (see `GlobalRandom.seed`).
    public static func randomUniform(_ shape: [Int], lower: Double = 0, upper: Double = 1,
                                     dtype: DType = .float32, seed: UInt64? = nil) -> Tensor {
        var rng = GlobalRandom.make(seed: seed)
        return randomUniform(shape, lower: lower, upper: upper, dtype: dtype, using: &rng)
    }

    /// Uniform draws in [lower, upper), from `seed` or the default generator. Keras: `keras.random.uniform`.
    public static func randomUniform(_ shape: [Int], lower: Double = 0, upper: Double = 1,
                                     dtype: DType = .float32, using rng: inout RandomGenerator) -> Tensor {
        if dtype == .float32 {
            // Straight into the tensor: the same draws, each rounded to float32 as the array path does.
            return withUnsafeMutablePointer(to: &rng) { g in
                Tensor.build(shape, as: Float.self) { out in
                    for i in out.indices { out[i] = Float(lower + (upper - lower) * g.pointee.nextUnit()) }
                }
            }
        }
        return (0..<Shape.count(shape)).map { _ in lower + (upper - lower) * rng.nextUnit() }.tensor(shape: shape, dtype: dtype)
    }

    /// Normal values with the given mean and standard deviation.
    public static func randomNormal(_ shape: [Int], mean: Double = 0, stddev: Double = 1,
                                    dtype: DType = .float32, seed: UInt64? = nil) -> Tensor {
        var rng = GlobalRandom.make(seed: seed)
        return randomNormal(shape, mean: mean, stddev: stddev, dtype: dtype, using: &rng)
    }

    /// Normal draws with `mean` and `stddev`, from `seed` or the default generator. Keras: `keras.random.normal`.
    public static func randomNormal(_ shape: [Int], mean: Double = 0, stddev: Double = 1,
                                    dtype: DType = .float32, using rng: inout RandomGenerator) -> Tensor {
        switch dtype {
        case .float32: return build(shape, as: Float.self) { fillNormal($0, mean: mean, stddev: stddev, &rng) }
        case .float64: return build(shape, as: Double.self) { fillNormal($0, mean: mean, stddev: stddev, &rng) }
        case .int32:  // the float64 draws, truncated as `cast` does
            return randomNormal(shape, mean: mean, stddev: stddev, dtype: .float64, using: &rng).cast(to: .int32)
        }
    }

    /// `out[i] = mean + stddev · rng.nextNormal()` in order, rounded to `T`: the same values as
    /// one call at a time. The draws are sequential (xoshiro's stream), but Box–Muller's log,
    /// square root and cosine, about twenty times a draw's cost, run on every core, a block of
    /// draws at a time (a GAN's latent noise was a twentieth of its step on one core).
    private static func fillNormal<T: FloatScalar>(_ out: UnsafeMutableBufferPointer<T>, mean: Double, stddev: Double,
                                                   _ rng: inout RandomGenerator) {
        let block = 1 << 15
        let bits = UnsafeMutableBufferPointer<UInt64>.allocate(capacity: 2 * Swift.min(out.count, block))
        defer { bits.deallocate() }
        nonisolated(unsafe) let (o, b) = (out, bits)
        for start in stride(from: 0, to: out.count, by: block) {
            let count = Swift.min(block, out.count - start)
            for i in 0..<(2 * count) { bits[i] = rng.next() }
            Kernels.parallelFor(count, grain: 2048) { r in
                for i in r {
                    let u1 = 1 - Double(b[2 * i] >> 11) * 0x1.0p-53, u2 = Double(b[2 * i + 1] >> 11) * 0x1.0p-53
                    o[start + i] = T(mean + stddev * RandomGenerator.boxMuller(u1, u2))
                }
            }
        }
    }
}
