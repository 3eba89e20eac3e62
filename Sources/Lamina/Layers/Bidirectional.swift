import Foundation

/// Runs a recurrent layer over the sequence in both directions and merges the two outputs.
/// Keras: `Bidirectional(LSTM(64), merge_mode="concat")`.
///
/// As in Keras, the wrapped layer is copied from its config into `forwardLayer`
/// (`forward_<name>`) and, with `goBackwards` flipped, into `backwardLayer`
/// (`backward_<name>`); the backward sequence output is flipped back to time order before
/// merging. Weights: the forward layer's, then the backward layer's.
public final class Bidirectional: Layer {
    /// How the two directions combine. Keras's `merge_mode` (`None`, a pair of outputs, is not offered).
    public enum MergeMode: String, Sendable, CaseIterable {
        case concat, sum, mul, ave
    }

    public let forwardLayer: Recurrent, backwardLayer: Recurrent
    public let mergeMode: MergeMode
    public override var sublayers: [Layer] { [forwardLayer, backwardLayer] }

    public init(_ layer: Recurrent, mergeMode: MergeMode = .concat, backwardLayer: Recurrent? = nil,
                inputShape: [Int]? = nil, name: String? = nil) {
        self.mergeMode = mergeMode
        var failure: String?
        func copy(_ prefix: String, goBackwards: Bool?) -> Recurrent {
            do {
                var object = try layer.serialize()
                var config = object["config"] as? [String: Any] ?? [:]
                let base = layer.name.hasPrefix(prefix) ? String(layer.name.dropFirst(prefix.count)) : layer.name
                config["name"] = prefix + base
                if let goBackwards { config["go_backwards"] = goBackwards }
                object["config"] = config
                object["build_config"] = nil
                if let copy = try LayerRegistry.make(object) as? Recurrent { return copy }
                failure = "\(layer.className) did not copy as a recurrent layer"
            } catch let error as LaminaError {
                failure = "cannot copy \(layer.name): \(error.message)"
            } catch {
                failure = "cannot copy \(layer.name): \(error)"
            }
            return layer
        }
        forwardLayer = copy("forward_", goBackwards: nil)
        self.backwardLayer = backwardLayer ?? copy("backward_", goBackwards: !layer.goBackwards)
        super.init(name: name, inputShape: inputShape)
        if let failure { reject(failure) }
        if let argumentError = layer.argumentError { reject(argumentError.message) }
        if forwardLayer.goBackwards == self.backwardLayer.goBackwards {
            reject("the forward and backward layers must differ in goBackwards")
        }
        if forwardLayer.returnSequences != self.backwardLayer.returnSequences {
            reject("the forward and backward layers must agree in returnSequences")
        }
    }

    public override class func fromKerasConfig(_ r: ConfigReader) throws -> Layer {
        guard let object = r.value("layer") else { throw r.error("missing 'layer'") }
        guard let layer = try LayerRegistry.make(object) as? Recurrent else { throw r.error("'layer' must be SimpleRNN, LSTM or GRU") }
        var backward: Recurrent?
        if let object = r.value("backward_layer") {
            guard let b = try LayerRegistry.make(object) as? Recurrent else { throw r.error("'backward_layer' must be SimpleRNN, LSTM or GRU") }
            backward = b
        }
        let mode = try r.string("merge_mode", default: "concat")
        guard let mergeMode = MergeMode(rawValue: mode) else {
            throw r.error("'merge_mode' must be one of concat, sum, mul, ave (None is not supported), got \"\(mode)\"")
        }
        let made = Bidirectional(layer, mergeMode: mergeMode, backwardLayer: backward, name: try r.layerName())
        if let error = made.argumentError { throw r.error(error.message) }
        return made
    }
    public override func config() throws -> [String: Any] {
        ["layer": try forwardLayer.serialize(), "backward_layer": try backwardLayer.serialize(), "merge_mode": mergeMode.rawValue]
    }

    public override func weightShapes(for s: [Int]) throws -> [[Int]] {
        try forwardLayer.weightShapes(for: s) + backwardLayer.weightShapes(for: s)
    }
    /// Keras's groups: `forward_layer/cell/vars/<i>` then `backward_layer/cell/vars/<i>`.
    public override var kerasWeightPaths: [String] {
        forwardLayer.kerasWeightPaths.map { "forward_layer/" + $0 } + backwardLayer.kerasWeightPaths.map { "backward_layer/" + $0 }
    }

    public override func build(inputShape: [Int]) throws {
        try forwardLayer.buildIfNeeded(inputShape, dtype: dtype)
        try backwardLayer.buildIfNeeded(inputShape, dtype: dtype)
    }
    public override func checkInputShape(_ shape: [Int]) throws {
        try forwardLayer.checkInputShape(shape)
    }
    public override func computeOutputShape(_ s: [Int]) throws -> [Int] {
        var out = try forwardLayer.computeOutputShape(s)
        let backward = try backwardLayer.computeOutputShape(s)
        if mergeMode == .concat {
            out[out.count - 1] += backward[backward.count - 1]
        } else if out != backward {
            throw LaminaError.shape("\(name): forward output \(describe(out)) and backward output \(describe(backward)) differ; \(mergeMode) needs equal shapes")
        }
        return out
    }

    public override func call(_ x: Tensor, training: Bool) throws -> Tensor {
        let y = try forwardLayer(x, training: training)
        var reverse = try backwardLayer(x, training: training)
        if backwardLayer.returnSequences { reverse = reverse.reversed(axis: 1) }
        switch mergeMode {
        case .concat: return Tensor.concatenated([y, reverse], axis: -1)
        case .sum: return y + reverse
        case .mul: return y * reverse
        case .ave: return (y + reverse) * 0.5
        }
    }
}
