/// Permutes the axes of each sample: `dims` is a permutation of `1...rank` (1-based, the batch
/// axis stays first). `Permute([2, 1])` swaps time and features. Keras: `Permute(dims)` —
/// as in Keras, a mask on the input ends here.
public final class Permute: Layer {
    /// The new order of the per-sample axes, 1-based.
    public let dims: [Int]

    /// Keras: `keras.layers.Permute(dims)`; PyTorch: `x.permute(0, *dims)`. A `dims` that is not a permutation of `1...n` is reported through `argumentError`.
    public init(_ dims: [Int], inputShape: [Int]? = nil, name: String? = nil) {
        self.dims = dims
        super.init(name: name, inputShape: inputShape)
        if dims.sorted() != Array(1...max(dims.count, 1)) || dims.isEmpty {
            reject("dims must be a permutation of 1...\(dims.count) (the batch axis is not permuted), got \(dims)")
        }
    }
    public override class func fromKerasConfig(_ r: ConfigReader) throws -> Layer {
        let made = Permute(try r.ints("dims"), name: try r.layerName())
        if let error = made.argumentError { throw r.error(error.message) }
        return made
    }
    public override func config() throws -> [String: Any] { ["dims": dims] }

    public override func computeOutputShape(_ s: [Int]) throws -> [Int] {
        guard s.count == dims.count else {
            throw LaminaError.shape("\(name) permutes \(dims.count) axes per sample, got \(describe(s))")
        }
        return dims.map { s[$0 - 1] }
    }
    public override func call(_ x: Tensor, training: Bool) throws -> Tensor { x.permuted([0] + dims) }
}
