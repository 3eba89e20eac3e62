/// The classes of one kind (optimizers, losses, metrics, schedules, regularizers) by the names
/// they save and load under: the one table behind `OptimizerRegistry`, `LossRegistry`,
/// `MetricRegistry`, `ScheduleRegistry` and `RegularizerRegistry`. `Entry` is the kind's
/// metatype (`Loss.Type`).
final class KerasClasses<Entry: Sendable>: Sendable {
    private let table: Locked<[String: Entry]>
    private let kind: String, registry: String, caseInsensitive: Bool
    private let names: @Sendable (Entry) -> [String]

    /// `names` gives a class's names, the first being the one it saves under.
    init(_ kind: String, registry: String, caseInsensitive: Bool = false, names: @escaping @Sendable (Entry) -> [String],
         _ builtins: [Entry]) {
        (self.kind, self.registry, self.caseInsensitive, self.names) = (kind, registry, caseInsensitive, names)
        table = Locked([:])
        register(builtins)
    }

    private func key(_ name: String) -> String { caseInsensitive ? name.lowercased() : name }

    func register(_ entries: [Entry]) {
        table.withLock { t in for e in entries { for n in names(e) { t[key(n)] = e } } }
    }

    func type(named name: String) -> Entry? { table.withLock { $0[key(name)] } }

    /// The class registered under `name`, or an error listing the known names.
    func require(_ name: String) throws -> Entry {
        guard let type = type(named: name) else {
            let known = table.withLock { $0.keys.sorted().joined(separator: ", ") }
            throw LaminaError.configuration("unknown \(kind) '\(name)'; known: \(known)")
        }
        return type
    }

    /// Throws unless `type` is registered under its own first name (so that it loads back).
    func checkSavable(_ type: Entry) throws {
        let name = names(type)[0]
        guard let registered = self.type(named: name) as? Any.Type, let own = type as? Any.Type,
              ObjectIdentifier(registered) == ObjectIdentifier(own) else {
            throw LaminaError.configuration("\(name) cannot be saved: give it class func fromKerasConfig and register it "
                + "with \(registry).register(\(String(describing: type)).self)")
        }
    }
}
