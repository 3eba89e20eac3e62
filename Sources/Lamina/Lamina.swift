@_exported import LaminaCore

/// Library-wide settings, as `keras.utils` / `keras.backend` offer them.
public enum Lamina {
    /// Seeds the default random generator: the same seed gives the same weights, shuffles
    /// and dropout masks run after run.
    public static func setRandomSeed(_ seed: UInt64) { GlobalRandom.seed(seed) }

    /// Runs `body` with its own generator seeded by `seed`, isolated from other tasks
    /// (reproducible even while other code draws random numbers concurrently).
    public static func withRandomSeed<R>(_ seed: UInt64, _ body: () throws -> R) rethrows -> R {
        try GlobalRandom.withSeed(seed, body)
    }
}
