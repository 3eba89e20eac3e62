/// Flattens each sample: `[batch, d1, d2, ...]` → `[batch, d1·d2·...]`. Keras: `Flatten`.
public final class Flatten: Layer {
    public override class func fromKerasConfig(_ r: ConfigReader) throws -> Layer { try Flatten(name: r.layerName()) }
    public override init(name: String? = nil, inputShape: [Int]? = nil) { super.init(name: name, inputShape: inputShape) }
    public override func computeOutputShape(_ s: [Int]) throws -> [Int] { [s.reduce(1, *)] }
    public override func config() throws -> [String: Any] { [:] }
    public override func call(_ x: Tensor, training: Bool) throws -> Tensor { x.reshaped(to: [x.shape[0], -1]) }
}
