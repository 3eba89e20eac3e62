import Logging

extension Lamina {
    private static let loggerBox = Locked(Logger(label: "lamina"))

    /// Where Lamina's own warnings and notes go (swift-log): a NaN loss, a dataset that ran
    /// out, a checkpoint that found no monitored value, a download. An application routes them
    /// with `LoggingSystem.bootstrap`, or silences them with `Lamina.logger.logLevel = .error`.
    /// (Progress bars and epoch lines are `verbose:` output, not log messages.)
    public static var logger: Logger {
        get { loggerBox.withLock { $0 } }
        set { loggerBox.withLock { $0 = newValue } }
    }
}
