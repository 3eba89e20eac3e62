import Foundation

// A functional model's config in Keras 3's schema (`Functional.get_config()`): every layer's
// serialized form plus its `inbound_nodes` — the calls, each with the `__keras_tensor__`
// references (`keras_history: [layer, node, tensor]`) it was called on — and the
// `input_layers` / `output_layers` references. Both directions sit side by side.

extension Model {
    /// Each call's index among its layer's calls in this model (Keras's node index in a saved config).
    private var nodeIndices: [ObjectIdentifier: Int] {
        var out: [ObjectIdentifier: Int] = [:], counts: [ObjectIdentifier: Int] = [:]
        for node in nodes.sorted(by: { $0.callIndex < $1.callIndex }) {
            let layer = ObjectIdentifier(node.layer)
            out[ObjectIdentifier(node)] = counts[layer, default: 0]
            counts[layer, default: 0] += 1
        }
        return out
    }

    /// Keras's `Functional.get_config()`.
    func functionalConfig() throws -> [String: Any] {
        try checkDefinition()
        let index = nodeIndices
        func history(_ t: SymbolicTensor) -> [Any] { [t.layer!.name, index[ObjectIdentifier(t.node!)]!, t.index] }
        func tensor(_ t: SymbolicTensor) -> [String: Any] {
            ["class_name": "__keras_tensor__",
             "config": ["shape": [NSNull()] + t.shape, "dtype": t.dtype.rawValue, "keras_history": history(t)] as [String: Any]]
        }
        var layerConfigs: [[String: Any]] = []
        for layer in layers {
            var object: [String: Any]
            if let op = layer as? NumPyOperation {
                object = op.kerasObject()
            } else if let input = layer as? Input {
                object = kerasObject("keras.layers", "InputLayer", ["batch_shape": [NSNull()] + (input.declaredInputShape ?? []),
                                                                    "dtype": input.dtype.rawValue, "sparse": false, "ragged": false,
                                                                    "name": input.name])
            } else {
                object = try layer.serialize()
            }
            let calls = nodes.filter { $0.layer === layer && !($0.layer is Input) }.sorted { $0.callIndex < $1.callIndex }
            object["name"] = layer.name
            if let op = layer as? NumPyOperation {
                // An operation's operands in place: its tensors in order, and its numbers.
                object["inbound_nodes"] = calls.map { node -> [String: Any] in
                    var next = node.inputs.makeIterator()
                    let args: [Any] = op.operands.map { $0.map { $0 as Any } ?? tensor(next.next()!) }
                    return ["args": args, "kwargs": [String: Any]()]
                }
                layerConfigs.append(object)
                continue
            }
            object["inbound_nodes"] = calls.map { node -> [String: Any] in
                if let arguments = node.arguments {   // a call with keyword arguments, as Keras writes it
                    func encode(_ a: CallArgument<SymbolicTensor>) -> Any {
                        switch a {
                        case .tensor(let t): return tensor(t)
                        case .list(let items): return items.map(encode)
                        case .value(let v): return v
                        }
                    }
                    return ["args": arguments.args.map(encode),
                            "kwargs": Dictionary(arguments.kwargs.map { ($0.name, encode($0.value)) }, uniquingKeysWith: { a, _ in a })]
                }
                // Layers of several inputs take one list argument, as Keras calls them.
                let several = layer is MergeLayer || ((layer as? Model)?.inputCount ?? 1) > 1
                let args: [Any] = several ? [node.inputs.map(tensor)] : node.inputs.map(tensor)
                return ["args": args, "kwargs": [String: Any]()]
            }
            layerConfigs.append(object)
        }
        func references(_ ts: [SymbolicTensor]) -> Any { ts.count == 1 ? history(ts[0]) : ts.map(history) }
        return ["layers": layerConfigs, "input_layers": references(inputs), "output_layers": references(outputs)]
    }

    /// A functional model from Keras's config: the layers made from their configs, then called
    /// on the tensors their `inbound_nodes` name, in an order where each call's inputs exist.
    static func functional(from r: ConfigReader) throws -> Model {
        guard let list = r.value("layers") as? [Any] else { throw r.error("'layers' must be a list") }
        var layers: [(layer: Layer, calls: [[String: Any]])] = []
        var byName: [String: Layer] = [:]
        var planned = 0
        for item in list {
            guard var object = item as? [String: Any] else { throw r.error("each layer must be an object") }
            guard let calls = (object.removeValue(forKey: "inbound_nodes") ?? [Any]()) as? [[String: Any]] else {
                throw r.error("inbound_nodes of \(object["name"] ?? "?") must be a list of {args, kwargs}")
            }
            object["name"] = nil
            let layer: Layer
            if object["module"] as? String == NumPyOperation.module {
                // keras.ops calls (`x + 3.0`): the operands are the first call's arguments.
                guard let args = calls.first?["args"] as? [Any] else {
                    throw r.error("the operation \(ConfigReader.show(object["config"] ?? "?")) has no call")
                }
                func operands(_ args: [Any]) throws -> [Double?] {
                    try args.map { arg in
                        if let number = arg as? NSNumber { return number.doubleValue }
                        if let t = arg as? [String: Any], t["class_name"] as? String == "__keras_tensor__" { return nil }
                        throw r.error("the operation \(ConfigReader.show(object["config"] ?? "?")) has an argument Lamina cannot take: \(ConfigReader.show(arg))")
                    }
                }
                let first = try operands(args)
                do {
                    layer = try NumPyOperation.make(object, operands: first)
                } catch let error as LaminaError { throw r.error(error.message) }
                for call in calls.dropFirst() where try operands((call["args"] as? [Any]) ?? []) != first {
                    throw r.error("the operation \(layer.name) is called with different operands; Lamina keeps one set per operation")
                }
            } else {
                layer = try LayerRegistry.make(object)
            }
            guard byName[layer.name] == nil else { throw r.error("two layers are named '\(layer.name)'") }
            byName[layer.name] = layer
            layers.append((layer, calls))
        }
        // Each layer's outputs, per call in order.
        var produced: [String: [[SymbolicTensor]]] = [:]
        for (layer, _) in layers { if let input = layer as? Input { produced[input.name] = [[input.symbolic]] } }
        func resolve(_ reference: Any) throws -> SymbolicTensor? {
            guard let ref = reference as? [Any], ref.count == 3, let name = ref[0] as? String,
                  let node = (ref[1] as? NSNumber)?.intValue, let index = (ref[2] as? NSNumber)?.intValue else {
                throw r.error("a tensor reference must be [layer, node, tensor], got \(ConfigReader.show(reference))")
            }
            guard byName[name] != nil else { throw r.error("a call refers to an unknown layer '\(name)'") }
            guard let calls = produced[name], node < calls.count else { return nil }   // not made yet
            guard index >= 0 && index < calls[node].count else { throw r.error("\(name) has no output \(index)") }
            return calls[node][index]
        }
        /// The tensors of one call's argument list: a tensor, or a list of tensors (merge layers).
        func tensors(_ args: Any, numbers: Bool) throws -> [SymbolicTensor]? {
            func one(_ arg: Any) throws -> [SymbolicTensor]? {
                if let object = arg as? [String: Any], object["class_name"] as? String == "__keras_tensor__" {
                    guard let c = object["config"] as? [String: Any], let h = c["keras_history"] else { throw r.error("a __keras_tensor__ has no keras_history") }
                    return try resolve(h).map { [$0] }
                }
                if numbers, arg is NSNumber { return [] }   // an operation's number operand
                if let list = arg as? [Any] {
                    var out: [SymbolicTensor] = []
                    for item in list { guard let ts = try one(item) else { return nil }; out += ts }
                    return out
                }
                throw r.error("Lamina calls layers on tensors only, got the argument \(ConfigReader.show(arg))")
            }
            guard let list = args as? [Any] else { throw r.error("'args' must be a list") }
            return try one(list)
        }
        /// A call's args and kwargs as `CallArguments` (nil while a tensor it reads is not made yet).
        func callArguments(_ call: [String: Any], _ kwargs: [String: Any]) throws -> CallArguments<SymbolicTensor>? {
            func argument(_ arg: Any) throws -> CallArgument<SymbolicTensor>? {
                if let object = arg as? [String: Any], object["class_name"] as? String == "__keras_tensor__" {
                    guard let c = object["config"] as? [String: Any], let h = c["keras_history"] else { throw r.error("a __keras_tensor__ has no keras_history") }
                    return try resolve(h).map { .tensor($0) }
                }
                if let list = arg as? [Any] {
                    var items: [CallArgument<SymbolicTensor>] = []
                    for item in list { guard let a = try argument(item) else { return nil }; items.append(a) }
                    return .list(items)
                }
                if arg is NSNumber || arg is String || arg is NSNull { return .value(ConfigReader.isBool(arg) ? ((arg as? NSNumber)?.boolValue ?? false) as Any : arg) }
                throw r.error("a call argument Lamina cannot take: \(ConfigReader.show(arg))")
            }
            var args: [CallArgument<SymbolicTensor>] = []
            for a in (call["args"] as? [Any]) ?? [] { guard let x = try argument(a) else { return nil }; args.append(x) }
            var named: [(name: String, value: CallArgument<SymbolicTensor>)] = []
            for key in kwargs.keys.sorted() { guard let x = try argument(kwargs[key]!) else { return nil }; named.append((key, x)) }
            return CallArguments(args: args, kwargs: named)
        }
        var pending = layers.filter { !($0.layer is Input) }.map { ($0.layer, $0.calls[...]) }
        while !pending.isEmpty {
            var progressed = false
            for i in pending.indices {
                while let call = pending[i].1.first {
                    if let kwargs = call["kwargs"] as? [String: Any], !kwargs.isEmpty {   // keyword arguments: CallArguments
                        guard let arguments = try callArguments(call, kwargs) else { break }
                        let outputs = pending[i].0.callSymbolic(arguments: arguments)
                        if let error = outputs.first?.error { throw error }
                        produced[pending[i].0.name, default: []].append(outputs)
                        pending[i].1 = pending[i].1.dropFirst()
                        progressed = true
                        continue
                    }
                    guard let inputs = try tensors(call["args"] ?? [Any](), numbers: pending[i].0 is NumPyOperation) else { break }
                    let layer = pending[i].0
                    if !layer.isBuilt, inputs.count == 1 {   // refuse a config asking for more weights than the file holds
                        planned += try layer.weightShapes(for: inputs[0].shape).reduce(0) { $0 + $1.reduce(1) { $0 * Swift.max($1, 0) } }
                        if planned > LayerRegistry.weightElementLimit {
                            throw r.error("the layers would hold over \(LayerRegistry.weightElementLimit) weight values, more than the file supplies")
                        }
                    }
                    let outputs = layer.callSymbolic(inputs)
                    if let error = outputs.first?.error { throw error }
                    produced[layer.name, default: []].append(outputs)
                    pending[i].1 = pending[i].1.dropFirst()
                    progressed = true
                }
            }
            pending.removeAll { $0.1.isEmpty }
            guard progressed || pending.isEmpty else {
                throw r.error("the calls of \(pending.map { $0.0.name }.joined(separator: ", ")) refer to tensors no layer makes")
            }
        }
        func endpoints(_ key: String) throws -> [SymbolicTensor] {
            guard let value = r.value(key) as? [Any] else { throw r.error("'\(key)' must be a list") }
            let refs: [Any] = value.first is String ? [value] : value
            return try refs.map { ref in
                guard let t = try resolve(ref) else { throw r.error("'\(key)' refers to a tensor no layer makes: \(ConfigReader.show(ref))") }
                return t
            }
        }
        let model = Model(inputs: try endpoints("input_layers"), outputs: try endpoints("output_layers"), name: try r.layerName())
        try model.checkDefinition()
        return model
    }
}
