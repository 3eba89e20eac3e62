@_exported import LaminaCore

/// Library-wide settings, as `keras.utils` / `keras.backend` offer them.
public enum Lamina {
    /// Seeds the default random generator: the same seed gives the same weights, shuffles
    /// and dropout masks run after run.
    public static func setRandomSeed(_ seed: UInt64) { GlobalRandom.seed(seed) }
}
