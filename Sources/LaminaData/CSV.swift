import Lamina
import Foundation

/// A table of numbers read from a CSV file: the column names and a float32 tensor
/// [rows, columns]. `table["price"]` is one column as [rows].
public struct CSVTable {
    /// The column names (from the header, or `column_0`, `column_1`, ... without one).
    public let columns: [String]
    /// The numbers, float32 `[rows, columns]`.
    public let values: Tensor

    /// The column of this name as `[rows]`, nil when there is none.
    public subscript(column: String) -> Tensor? {
        columns.firstIndex(of: column).map { values.sliced(axis: 1, $0..<($0 + 1)).reshaped(to: [values.shape[0]]) }
    }
}

/// Reads numeric CSV files (as `numpy.loadtxt` / `pandas.read_csv` for numeric data).
public enum CSV {
    /// - Parameters:
    ///   - url: the CSV file.
    ///   - hasHeader: whether the first line names the columns; `nil` decides by whether
    ///     the first line parses as numbers.
    ///   - delimiter: the field separator (`,` by default; `;` and tab are common).
    public static func read(_ url: URL, hasHeader: Bool? = nil, delimiter: Character = ",") throws -> CSVTable {
        let bytes = try readFileBytes(url)
        guard let text = String(validating: bytes, as: UTF8.self) else {
            throw LaminaError(.io, "\(url.lastPathComponent): not UTF-8 text")
        }
        return try parse(text, hasHeader: hasHeader, delimiter: delimiter, name: url.lastPathComponent)
    }

    /// Parses CSV text (RFC 4180 quoting) as `read` does a file; `name` names it in errors.
    public static func parse(_ text: String, hasHeader: Bool? = nil, delimiter: Character = ",",
                             name: String = "CSV") throws -> CSVTable {
        var lines = try records(text, delimiter, name: name).filter { !($0.fields.count == 1 && $0.fields[0].isEmpty) }
        guard let first = lines.first else { throw LaminaError(.io, "\(name): no data") }
        let header = hasHeader ?? first.fields.contains { number($0) == nil }
        let columns = header ? first.fields : (0..<first.fields.count).map { "column_\($0)" }
        if header { lines.removeFirst() }
        var values = [Float]()
        values.reserveCapacity(lines.count * columns.count)
        for line in lines {
            guard line.fields.count == columns.count else {
                throw LaminaError(.io, "\(name) line \(line.number): \(line.fields.count) fields, expected \(columns.count)")
            }
            for (column, field) in line.fields.enumerated() {
                guard let value = number(field) else {
                    throw LaminaError(.io, "\(name) line \(line.number), column \(column + 1) (\(columns[column])): "
                        + "'\(field.prefix(40))' is not a number")
                }
                values.append(value)
            }
        }
        return CSVTable(columns: columns, values: Tensor(shape: [lines.count, columns.count], scalars: values))
    }

    /// The records of CSV text as RFC 4180 writes them: fields split by `delimiter`, records by
    /// LF or CRLF; a field in double quotes keeps delimiters, line breaks and doubled quotes
    /// (`""`) as text. Unquoted fields are trimmed of spaces. `number` is the line a record starts on.
    static func records(_ text: String, _ delimiter: Character, name: String) throws -> [(number: Int, fields: [String])] {
        var out: [(number: Int, fields: [String])] = []
        var fields: [String] = [], field = ""
        var line = 1, recordLine = 1
        var quoted = false, inQuotes = false, afterQuote = false, quoteLine = 1
        func endField() {
            fields.append(quoted ? field : field.trimmingCharacters(in: .whitespaces))
            (field, quoted, afterQuote) = ("", false, false)
        }
        func endRecord() {
            endField()
            out.append((recordLine, fields))
            fields = []
        }
        var characters = text.makeIterator()
        var pending: Character? = nil
        while let c = pending ?? characters.next() {
            pending = nil
            let isBreak = c == "\n" || c == "\r\n"
            if inQuotes {
                if c == "\"" {
                    if let next = characters.next() {
                        if next == "\"" { field.append("\"") } else { (inQuotes, afterQuote, pending) = (false, true, next) }
                    } else {
                        (inQuotes, afterQuote) = (false, true)
                    }
                } else {
                    field.append(c)
                    if isBreak { line += 1 }
                }
                continue
            }
            if c == delimiter {
                endField()
            } else if isBreak {
                endRecord()
                line += 1
                recordLine = line
            } else if afterQuote {
                guard c == " " || c == "\t" else {
                    throw LaminaError(.io, "\(name) line \(line): '\(c)' after a closing quote (a quote inside a quoted field is written \"\")")
                }
            } else if c == "\"" && field.allSatisfy(\.isWhitespace) {
                (field, quoted, inQuotes, quoteLine) = ("", true, true, line)
            } else {
                field.append(c)
            }
        }
        if inQuotes { throw LaminaError(.io, "\(name) line \(quoteLine): a quoted field is not closed") }
        if !fields.isEmpty || !field.isEmpty || quoted { endRecord() }
        return out
    }

    private static func number(_ field: String) -> Float? {
        field.isEmpty ? nil : Float(field)
    }
}
