/// The error thrown by everything a user calls on a layer or a model: it names the layer and
/// the shapes involved ("dense_1 expects [*, 784], got [32, 28, 28]").
public struct LaminaError: Error, CustomStringConvertible, Equatable {
    /// What went wrong: shapes that do not fit, a bad argument value, a config that cannot be read
    /// or built, a file problem, or training that cannot go on.
    public enum Kind: String, Sendable { case shape, value, configuration, io, training }
    /// The kind of problem.
    public let kind: Kind
    /// What went wrong, naming the layer, file or argument and the shapes involved.
    public let message: String

    /// An error of `kind` with `message`.
    public init(_ kind: Kind, _ message: String) {
        self.kind = kind
        self.message = message
    }

    /// The message.
    public var description: String { message }

    package static func shape(_ message: String) -> LaminaError { LaminaError(.shape, message) }
    package static func value(_ message: String) -> LaminaError { LaminaError(.value, message) }
    package static func configuration(_ message: String) -> LaminaError { LaminaError(.configuration, message) }
}

/// Shapes as Keras prints them, with the batch dimension as `*` (errors) or `None` (summary).
func describe(_ shape: [Int], batch: String = "*") -> String {
    "[" + ([batch] + shape.map(String.init)).joined(separator: ", ") + "]"
}
