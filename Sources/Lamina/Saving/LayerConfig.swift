import Foundation
import Synchronization

// Each built-in layer's config in Keras's schema (`get_config()` keys and spellings), and
// the way back. Both directions sit side by side so that a new argument is added to both.

extension Layer {
    /// Keras's serialized form: `{"module": "keras.layers", "class_name": "Dense", "config": {...},
    /// "build_config": {"input_shape": [null, 784]}}`.
    public func serialize() throws -> [String: Any] {
        if let model = self as? Model, model.isSubclassed { _ = try model.config() }   // says to save the weights, unless overridden
        guard LayerRegistry.isRegistered(className) else {
            throw LaminaError.configuration("\(name): \(className) cannot be saved; give it class func fromKerasConfig and register it with LayerRegistry.register(\(className).self)")
        }
        var c = try config()
        c["name"] = name
        c["trainable"] = trainable
        c["dtype"] = dtype.rawValue
        let module = type(of: self).kerasModule
        var object = kerasObject(module, className, c)
        if module != "keras" && module != "keras.layers" { object["registered_name"] = className }
        if let inputShape { object["build_config"] = ["input_shape": [NSNull()] + inputShape] }
        return object
    }
}

extension ConfigReader {
    /// The `name` entry, if any.
    public func layerName() throws -> String? { value("name") == nil ? nil : try string("name") }
}

extension Sequential {
    /// A model from its config (Lamina's or Keras's `config.json` "config"), built when the
    /// config gives the input shape. Weights are freshly initialized.
    public static func fromConfig(_ r: ConfigReader) throws -> Sequential {
        guard let list = r.value("layers") as? [Any] else { throw r.error("'layers' must be a list") }
        let model = Sequential(name: try r.layerName())
        model.dtype = try r.dtype()   // before building
        var input = try r.value("build_input_shape") == nil ? nil : Array(r.ints("build_input_shape", allowNull: true).dropFirst())
        for item in list {
            let layer = try LayerRegistry.make(item)
            if let declared = layer as? Input {
                guard model.layers.isEmpty else { throw r.error("InputLayer must come first") }
                input = declared.declaredInputShape
            } else {
                model.appendWithoutBuilding(layer)
            }
        }
        if let input {
            guard !input.contains(where: { $0 <= 0 }) else { throw r.error("build_input_shape \(input) must be fully known") }
            // Refuse absurd sizes from a file before allocating anything.
            let planned = try model.plannedWeightCount(input)
            if planned > LayerRegistry.weightElementLimit {
                throw r.error("the layers would hold \(planned == .max ? "over \(Int.max)" : "\(planned)") weight values, "
                    + "more than this file can supply (\(LayerRegistry.weightElementLimit))")
            }
            try model.setDeclaredInput(input)
            try model.checkDeclaredWeights(input)
        }
        return model
    }

    /// The number of weight values the layers would create for `input`, from their declared
    /// `weightShapes(for:)` alone (`.max` on overflow).
    func plannedWeightCount(_ input: [Int]) throws -> Int {
        var total = 0
        for weight in try weightShapes(for: input) {
            var n = 1
            for d in weight {
                let (p, o) = n.multipliedReportingOverflow(by: Swift.max(d, 0))
                n = o ? .max : p
            }
            let (t, o) = total.addingReportingOverflow(n)
            total = o ? .max : t
        }
        return total
    }

    /// After building: every layer holds exactly the weights it declared, so the size guard
    /// above cannot be bypassed by a layer that creates more than it says.
    func checkDeclaredWeights(_ input: [Int]) throws {
        var shape = input
        for layer in layers {
            if let nested = layer as? Sequential {
                try nested.checkDeclaredWeights(shape)
            } else {
                let declared = try layer.weightShapes(for: shape), built = layer.weights.map(\.shape)
                guard declared == built else {
                    throw LaminaError.configuration("\(layer.name) (\(layer.className)) created weights \(built) but declares \(declared) "
                        + "in weightShapes(for:); a loadable layer must declare what it creates")
                }
            }
            shape = try layer.computeOutputShape(shape)
        }
    }
}
