import Lamina
import Foundation

/// A table of numbers read from a CSV file: the column names and a float32 tensor
/// [rows, columns]. `table["price"]` is one column as [rows].
public struct CSVTable {
    public let columns: [String]
    public let values: Tensor

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

    public static func parse(_ text: String, hasHeader: Bool? = nil, delimiter: Character = ",",
                             name: String = "CSV") throws -> CSVTable {
        var lines = text.split(omittingEmptySubsequences: false, whereSeparator: { $0 == "\n" || $0 == "\r\n" })
            .enumerated().map { (number: $0.offset + 1, fields: fields(of: $0.element, delimiter)) }
            .filter { !($0.fields.count == 1 && $0.fields[0].isEmpty) }
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

    private static func fields(of line: Substring, _ delimiter: Character) -> [String] {
        line.split(separator: delimiter, omittingEmptySubsequences: false).map {
            var field = $0.trimmingCharacters(in: .whitespaces)
            if field.count >= 2, field.hasPrefix("\""), field.hasSuffix("\"") { field = String(field.dropFirst().dropLast()) }
            return field
        }
    }

    private static func number(_ field: String) -> Float? {
        field.isEmpty ? nil : Float(field)
    }
}
