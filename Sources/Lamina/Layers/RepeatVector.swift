import Foundation

/// Repeats a [batch, features] input `n` times: [batch, n, features]. Keras: `RepeatVector(n)`.
public final class RepeatVector: Layer {
    /// How many times the input is repeated.
    public let n: Int
    /// Keras: `keras.layers.RepeatVector(n)`; a non-positive `n` is reported through `argumentError`.
    public init(_ n: Int, inputShape: [Int]? = nil, name: String? = nil) {
        self.n = n
        super.init(name: name, inputShape: inputShape)
        if n <= 0 { reject("n must be positive, got \(n)") }
    }
    public override class func fromKerasConfig(_ r: ConfigReader) throws -> Layer { try RepeatVector(r.int("n", minimum: 1), name: r.layerName()) }
    public override func config() throws -> [String: Any] { ["n": n] }
    public override func computeOutputShape(_ s: [Int]) throws -> [Int] {
        guard s.count == 1 else { throw LaminaError.shape("\(name) expects [*, features], got \(describe(s))") }
        return [n, s[0]]
    }
    public override func call(_ x: Tensor, training: Bool) throws -> Tensor {
        x.expandingDims(axis: 1).broadcasted(to: [x.shape[0], n, x.shape[1]])
    }
}
