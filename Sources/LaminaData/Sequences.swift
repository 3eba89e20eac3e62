import Lamina
import Foundation

/// Which end of a sequence `padSequences` pads or cuts.
public enum SequenceEnd: String, Sendable { case pre, post }

/// Sequences of different lengths as one int32 tensor `[n, maxlen]`, as Keras's
/// `keras.utils.pad_sequences(sequences, maxlen=None, padding="pre", truncating="pre", value=0)`:
/// shorter ones are filled with `value` (before them, or after with `.post`), longer ones lose
/// their first (or last, `.post`) entries; `maxlen` defaults to the longest sequence.
public func padSequences(_ sequences: [[Int]], maxlen: Int? = nil, padding: SequenceEnd = .pre,
                         truncating: SequenceEnd = .pre, value: Int = 0) throws -> Tensor {
    let length = maxlen ?? sequences.map(\.count).max() ?? 0
    guard length >= 0 else { throw LaminaError.value("padSequences: maxlen must be ≥ 0, got \(length)") }
    for (i, s) in sequences.enumerated() {
        for v in s where Int32(exactly: v) == nil { throw LaminaError.value("padSequences: sequence \(i) holds \(v), outside int32") }
    }
    guard Int32(exactly: value) != nil else { throw LaminaError.value("padSequences: value \(value) is outside int32") }
    var out = [Int32](repeating: Int32(value), count: sequences.count * length)
    for (i, s) in sequences.enumerated() {
        let kept = s.count <= length ? s[...] : (truncating == .pre ? s.suffix(length) : s.prefix(length))
        let start = padding == .pre ? length - kept.count : 0
        for (j, v) in kept.enumerated() { out[i * length + start + j] = Int32(v) }
    }
    return Tensor(shape: [sequences.count, length], scalars: out)
}
