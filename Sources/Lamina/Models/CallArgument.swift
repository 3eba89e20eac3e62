import Foundation

/// One argument of a layer call, as Keras records it in a graph node (`Node.call_args` /
/// `call_kwargs`) and writes it in a saved functional config's `inbound_nodes`: a tensor, a
/// list of arguments (`initial_state=[h, c]`), or a plain value (`use_causal_mask=True`, a
/// number, a string, `None`).
///
/// `T` is what a tensor is at that stage: `SymbolicTensor` while a model is defined and saved,
/// `Tensor` when it runs, a per-sample shape (`[Int]`) when it is built. Layers that take more
/// than one tensor or keyword arguments in a graph (`MultiHeadAttention(q, v, attentionMask: m)`,
/// a recurrent layer's `initialState:`) read their call through `CallArguments`.
public indirect enum CallArgument<T> {
    /// A tensor.
    case tensor(T)
    /// A list of arguments (`initial_state=[h, c]`).
    case list([CallArgument<T>])
    /// A JSON value: `Bool`, `Int`, `Double`, `String` or `NSNull`.
    case value(Any)

    /// The same argument with each tensor replaced (in order).
    public func map<U>(_ transform: (T) throws -> U) rethrows -> CallArgument<U> {
        switch self {
        case .tensor(let t): return .tensor(try transform(t))
        case .list(let items): return .list(try items.map { try $0.map(transform) })
        case .value(let v): return .value(v)
        }
    }

    /// The tensors in the argument, in order.
    public var tensors: [T] {
        switch self {
        case .tensor(let t): return [t]
        case .list(let items): return items.flatMap(\.tensors)
        case .value: return []
        }
    }

    /// The tensor, when the argument is one.
    public var tensor: T? { if case .tensor(let t) = self { return t } else { return nil } }

    /// The plain value as a Bool, when it is one.
    public var bool: Bool? { if case .value(let v) = self { return v as? Bool } else { return nil } }
}

/// The arguments of one layer call: positional ones (`args`) and keyword ones (`kwargs`, in
/// the order given, with Keras's snake_case names as they are saved).
public struct CallArguments<T> {
    /// The positional arguments, in order.
    public var args: [CallArgument<T>]
    /// The keyword arguments, in the order given, by Keras's snake_case name.
    public var kwargs: [(name: String, value: CallArgument<T>)]

    /// A call with these positional and keyword arguments.
    public init(args: [CallArgument<T>], kwargs: [(name: String, value: CallArgument<T>)] = []) {
        (self.args, self.kwargs) = (args, kwargs)
    }

    /// The keyword argument `name`, if given.
    public subscript(name: String) -> CallArgument<T>? { kwargs.first { $0.name == name }?.value }

    /// Every tensor of the call: the positional arguments', then the keyword arguments', in order.
    public var tensors: [T] { args.flatMap(\.tensors) + kwargs.flatMap(\.value.tensors) }

    /// The same call with each tensor replaced (in `tensors` order).
    public func map<U>(_ transform: (T) throws -> U) rethrows -> CallArguments<U> {
        CallArguments<U>(args: try args.map { try $0.map(transform) }, kwargs: try kwargs.map { ($0.name, try $0.value.map(transform)) })
    }

    /// The same call with its tensors taken in order from `values` (which must hold `tensors.count`).
    public func replacingTensors<U>(with values: [U]) -> CallArguments<U> {
        var next = values.makeIterator()
        return map { _ in next.next()! }
    }
}
