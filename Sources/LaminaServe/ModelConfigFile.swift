import Foundation

/// TensorFlow Serving's `--model_config_file`: the `model_config_list` of a `ModelServerConfig`
/// in protobuf text format, so the file a TF Serving deployment has works unchanged:
///
///     model_config_list {
///       config {
///         name: "mnist"
///         base_path: "/models/mnist"
///         model_platform: "tensorflow"
///         model_version_policy { specific { versions: 1 versions: 2 } }
///         version_labels { key: "stable" value: 1 }
///       }
///     }
///
/// Read: `name`, `base_path`, `model_version_policy` (`latest { num_versions }`, `all {}`,
/// `specific { versions }`), `version_labels`; `model_platform` is taken and ignored. Text
/// format's forms are accepted (`#` comments, `'` or `"` strings, `field: {`, `;` or `,` after a
/// field, `versions: [1, 2]`); anything else (an unknown field, a `custom_model_config`) is an
/// error naming its line, as TF Serving's parser refuses it.
public enum ModelConfigFile {
    /// The models a config file lists.
    public static func parse(_ text: String) throws(RequestError) -> [ModelConfig] {
        var parser = TextProtoParser(Array(text.utf8))
        let root = try parser.message(closing: nil)
        var configs: [ModelConfig] = []
        for field in root {
            guard field.name == "model_config_list" else {
                throw field.error(field.name == "custom_model_config" ? "custom_model_config is not supported; use model_config_list"
                                  : "unknown field '\(field.name)' (a model config file holds model_config_list { config { ... } })")
            }
            for config in try field.message() {
                guard config.name == "config" else { throw config.error("unknown field '\(config.name)' in model_config_list (config { ... })") }
                configs.append(try modelConfig(config))
            }
        }
        return configs
    }

    /// The models of the config file at `path`.
    public static func load(_ path: String) throws(RequestError) -> [ModelConfig] {
        let text: String
        do {
            text = try String(contentsOfFile: path, encoding: .utf8)
        } catch {
            throw RequestError(400, "cannot read \(path): \(error.localizedDescription)")
        }
        do {
            return try parse(text)
        } catch {
            throw RequestError(400, "\(path): \(error.message)")
        }
    }

    private static func modelConfig(_ config: TextProtoField) throws(RequestError) -> ModelConfig {
        var name: String?, basePath: String?
        var policy = VersionPolicy.latest(1)
        var labels: [String: Int] = [:]
        for field in try config.message() {
            switch field.name {
            case "name": name = try field.string()
            case "base_path": basePath = try field.string()
            case "model_platform": _ = try field.string()
            case "model_version_policy":
                let choices = try field.message()
                guard choices.count == 1, let choice = choices.first else { throw field.error("model_version_policy takes one of latest, all, specific") }
                switch choice.name {
                case "latest":
                    var count = 1
                    for option in try choice.message() {
                        guard option.name == "num_versions" else { throw option.error("unknown field '\(option.name)' in latest (num_versions)") }
                        count = try option.integer()
                        guard count >= 1 else { throw option.error("num_versions must be at least 1") }
                    }
                    policy = .latest(count)
                case "all":
                    guard try choice.message().isEmpty else { throw choice.error("all takes no fields: all {}") }
                    policy = .all
                case "specific":
                    var versions = Set<Int>()
                    for option in try choice.message() {
                        guard option.name == "versions" else { throw option.error("unknown field '\(option.name)' in specific (versions)") }
                        versions.formUnion(try option.integers())
                    }
                    guard !versions.isEmpty else { throw choice.error("specific needs at least one version: specific { versions: 1 }") }
                    policy = .specific(versions)
                default:
                    throw choice.error("unknown version policy '\(choice.name)' (latest, all, specific)")
                }
            case "version_labels":
                var key: String?, value: Int?
                for part in try field.message() {
                    switch part.name {
                    case "key": key = try part.string()
                    case "value": value = try part.integer()
                    default: throw part.error("unknown field '\(part.name)' in version_labels (key, value)")
                    }
                }
                guard let key, !key.isEmpty, let value else { throw field.error("version_labels needs a key and a value: version_labels { key: \"stable\" value: 1 }") }
                labels[key] = value
            default:
                throw field.error("unknown or unsupported field '\(field.name)' in config (name, base_path, model_platform, model_version_policy, version_labels)")
            }
        }
        guard let name, !name.isEmpty else { throw config.error("a config needs a name") }
        guard let basePath, !basePath.isEmpty else { throw config.error("config '\(name)' needs a base_path") }
        return ModelConfig(name: name, basePath: basePath, policy: policy, labels: labels)
    }
}

/// A field of a text-format message: a scalar (its token, and whether it was quoted) or a
/// message, or a list of scalars (`[1, 2]`).
struct TextProtoField {
    enum Value { case scalar(String, quoted: Bool), list([String]), message([TextProtoField]) }
    let name: String
    let value: Value
    let line: Int

    func error(_ message: String) -> RequestError { RequestError(400, "line \(line): \(message)") }

    func message() throws(RequestError) -> [TextProtoField] {
        guard case .message(let fields) = value else { throw error("'\(name)' must be a message: \(name) { ... }") }
        return fields
    }

    func string() throws(RequestError) -> String {
        guard case .scalar(let text, true) = value else { throw error("'\(name)' must be a quoted string") }
        return text
    }

    func integer() throws(RequestError) -> Int {
        guard case .scalar(let text, false) = value, let number = Int(text) else { throw error("'\(name)' must be an integer") }
        return number
    }

    func integers() throws(RequestError) -> [Int] {
        if case .list(let items) = value {
            var numbers: [Int] = []
            for item in items {
                guard let number = Int(item) else { throw error("'\(name)' must hold integers, not '\(item.prefix(40))'") }
                numbers.append(number)
            }
            return numbers
        }
        return [try integer()]
    }
}

/// Reads protobuf text format into `TextProtoField`s (no schema: the caller checks names).
struct TextProtoParser {
    let bytes: [UInt8]
    var at = 0
    var line = 1
    var depth = 0

    init(_ bytes: [UInt8]) { self.bytes = bytes }

    func error(_ message: String) -> RequestError { RequestError(400, "line \(line): \(message)") }

    mutating func skipSpace() {
        while at < bytes.count {
            switch bytes[at] {
            case UInt8(ascii: "\n"): line += 1; at += 1
            case UInt8(ascii: " "), UInt8(ascii: "\t"), UInt8(ascii: "\r"): at += 1
            case UInt8(ascii: "#"):
                while at < bytes.count && bytes[at] != UInt8(ascii: "\n") { at += 1 }
            default: return
            }
        }
    }

    mutating func consume(_ byte: UInt8) -> Bool {
        skipSpace()
        guard at < bytes.count, bytes[at] == byte else { return false }
        at += 1
        return true
    }

    /// Fields up to `closing` (`}` or `>`), or the end of the text.
    mutating func message(closing: UInt8?) throws(RequestError) -> [TextProtoField] {
        depth += 1
        defer { depth -= 1 }
        guard depth <= 32 else { throw error("nested too deeply") }
        var fields: [TextProtoField] = []
        while true {
            skipSpace()
            if at == bytes.count {
                guard closing == nil else { throw error("unexpected end of file: missing '\(Character(UnicodeScalar(closing!)))'") }
                return fields
            }
            if let closing, consume(closing) { return fields }
            let name = try identifier()
            let fieldLine = line
            let colon = consume(UInt8(ascii: ":"))
            skipSpace()
            let value: TextProtoField.Value
            if consume(UInt8(ascii: "{")) {
                value = .message(try message(closing: UInt8(ascii: "}")))
            } else if consume(UInt8(ascii: "<")) {
                value = .message(try message(closing: UInt8(ascii: ">")))
            } else {
                guard colon else { throw error("expected ':' or '{' after '\(name)'") }
                if consume(UInt8(ascii: "[")) {
                    var items: [String] = []
                    if !consume(UInt8(ascii: "]")) {
                        repeat { items.append(try scalar().0) } while consume(UInt8(ascii: ","))
                        guard consume(UInt8(ascii: "]")) else { throw error("expected ',' or ']' in the list of '\(name)'") }
                    }
                    value = .list(items)
                } else {
                    let (text, quoted) = try scalar()
                    value = .scalar(text, quoted: quoted)
                }
            }
            fields.append(TextProtoField(name: name, value: value, line: fieldLine))
            _ = consume(UInt8(ascii: ";")) || consume(UInt8(ascii: ","))
        }
    }

    mutating func identifier() throws(RequestError) -> String {
        skipSpace()
        let start = at
        while at < bytes.count, bytes[at] == UInt8(ascii: "_") || (0x30...0x39).contains(bytes[at]) || (0x41...0x5A).contains(bytes[at] & 0xDF) {
            at += 1
        }
        guard at > start else {
            throw error(at < bytes.count ? "unexpected '\(String(decoding: bytes[at..<min(at + 1, bytes.count)], as: UTF8.self))'" : "unexpected end of file")
        }
        return String(decoding: bytes[start..<at], as: UTF8.self)
    }

    /// A quoted string (adjacent strings joined, as text format does) or a bare token.
    mutating func scalar() throws(RequestError) -> (String, Bool) {
        skipSpace()
        guard at < bytes.count else { throw error("unexpected end of file: expected a value") }
        let quote = bytes[at]
        guard quote == UInt8(ascii: "\"") || quote == UInt8(ascii: "'") else {
            let start = at
            while at < bytes.count, bytes[at] == UInt8(ascii: "-") || bytes[at] == UInt8(ascii: "+") || bytes[at] == UInt8(ascii: ".")
                    || bytes[at] == UInt8(ascii: "_") || (0x30...0x39).contains(bytes[at]) || (0x41...0x5A).contains(bytes[at] & 0xDF) {
                at += 1
            }
            guard at > start else { throw error("expected a value, not '\(String(decoding: bytes[at..<(at + 1)], as: UTF8.self))'") }
            return (String(decoding: bytes[start..<at], as: UTF8.self), false)
        }
        var text: [UInt8] = []
        repeat {
            let quote = bytes[at]
            at += 1
            while true {
                guard at < bytes.count, bytes[at] != UInt8(ascii: "\n") else { throw error("unterminated string") }
                let byte = bytes[at]
                at += 1
                if byte == quote { break }
                if byte == UInt8(ascii: "\\") {
                    guard at < bytes.count else { throw error("unterminated string") }
                    let escaped = bytes[at]
                    at += 1
                    switch escaped {
                    case UInt8(ascii: "n"): text.append(0x0A)
                    case UInt8(ascii: "t"): text.append(0x09)
                    case UInt8(ascii: "r"): text.append(0x0D)
                    case UInt8(ascii: "\\"), UInt8(ascii: "'"), UInt8(ascii: "\""): text.append(escaped)
                    default: throw error("unsupported escape '\\\(Character(UnicodeScalar(escaped)))' in a string")
                    }
                } else {
                    text.append(byte)
                }
            }
            skipSpace()
        } while at < bytes.count && (bytes[at] == UInt8(ascii: "\"") || bytes[at] == UInt8(ascii: "'"))
        return (String(decoding: text, as: UTF8.self), true)
    }
}
