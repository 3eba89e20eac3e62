

/// Merges of same-shaped (or broadcastable) inputs, element by element.
open class ElementwiseMerge: MergeLayer {
    /// Combines two batches of equal rank (broadcasting).
    open func combine(_ a: Tensor, _ b: Tensor) -> Tensor { fatalError("\(className) must override combine(_:_:)") }

    /// How the combined result is finished (`Average` divides by the count).
    open func finish(_ result: Tensor, count: Int) -> Tensor { result }

    public override func mergedShape(_ shapes: [[Int]]) throws -> [Int] {
        let rank = shapes.map(\.count).max() ?? 0
        var out = [Int](repeating: 1, count: rank)
        for shape in shapes {
            let padded = [Int](repeating: 1, count: rank - shape.count) + shape
            for (i, d) in padded.enumerated() {
                if out[i] == 1 { out[i] = d } else if d != 1 && d != out[i] {
                    throw LaminaError.shape("\(name) (\(className)): inputs have incompatible shapes \(shapes.map { describe($0) }.joined(separator: " and "))")
                }
            }
        }
        return out
    }

    public override func merge(_ inputs: [Tensor]) throws -> Tensor {
        let rank = inputs.map(\.rank).max() ?? 0
        // Keras inserts the missing axes after the batch axis.
        let aligned = inputs.map { x in x.rank == rank ? x : x.reshaped(to: [x.shape[0]] + [Int](repeating: 1, count: rank - x.rank) + x.shape.dropFirst()) }
        return finish(aligned.dropFirst().reduce(aligned[0]) { combine($0, $1) }, count: inputs.count)
    }

    open override class func fromKerasConfig(_ r: ConfigReader) throws -> Layer {
        guard self != ElementwiseMerge.self else { throw r.error("ElementwiseMerge is abstract") }
        return self.init(name: try r.layerName())
    }

    /// A merge layer named `name` (a unique name when nil).
    public required init(name: String? = nil) { super.init(name: name) }
}

/// Sum of the inputs. Keras: `keras.layers.Add`.
public final class Add: ElementwiseMerge {
    public override func combine(_ a: Tensor, _ b: Tensor) -> Tensor { a + b }
}

/// The first input minus the second. Keras: `keras.layers.Subtract`.
public final class Subtract: ElementwiseMerge {
    public override var minimumInputs: Int { 2 }
    public override func mergedShape(_ shapes: [[Int]]) throws -> [Int] {
        guard shapes.count == 2 else { throw LaminaError.shape("\(name) (Subtract) takes exactly 2 inputs, got \(shapes.count)") }
        return try super.mergedShape(shapes)
    }
    public override func combine(_ a: Tensor, _ b: Tensor) -> Tensor { a - b }
}

/// Product of the inputs. Keras: `keras.layers.Multiply`.
public final class Multiply: ElementwiseMerge {
    public override func combine(_ a: Tensor, _ b: Tensor) -> Tensor { a * b }
}

/// Mean of the inputs. Keras: `keras.layers.Average`.
public final class Average: ElementwiseMerge {
    public override func combine(_ a: Tensor, _ b: Tensor) -> Tensor { a + b }
    public override func finish(_ result: Tensor, count: Int) -> Tensor { result / Double(count) }
}

/// Elementwise maximum of the inputs. Keras: `keras.layers.Maximum`.
public final class Maximum: ElementwiseMerge {
    public override func combine(_ a: Tensor, _ b: Tensor) -> Tensor { LaminaCore.maximum(a, b) }
}

/// Elementwise minimum of the inputs. Keras: `keras.layers.Minimum`.
public final class Minimum: ElementwiseMerge {
    public override func combine(_ a: Tensor, _ b: Tensor) -> Tensor { LaminaCore.minimum(a, b) }
}
