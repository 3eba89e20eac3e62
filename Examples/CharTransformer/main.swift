import ExampleSupport
import Foundation
import Lamina

// A character-level causal Transformer (a tiny GPT): it learns to continue a text one character
// at a time, then writes new text in its style, sampled with a temperature.
//   swift run -c release char-transformer [FILE] [--epochs 8] [--context 64] [--temperature 0.8]
// Without FILE it trains on fifteen of Shakespeare's Sonnets (Corpus.swift, public domain).
// Each training sample is `context` characters; the target at step t is the character after
// step t, and the causal mask (MultiHeadAttention's useCausalMask) keeps step t from seeing
// later characters, so every step of every window is a training example.

struct Options: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "char-transformer",
                                                    abstract: "A character-level causal Transformer trains on a text and writes more of it.")
    @OptionGroup var common: CommonOptions
    @Argument(help: "A UTF-8 text file to learn (default: Shakespeare's Sonnets, shipped with the example).") var file: String?
    @Option(help: "Characters the model sees at once.") var context = 64
    @Option(help: "Characters between the starts of two training windows.") var stride = 3
    @Option(help: "Use only the first N training windows (0 = all).") var samples = 0
    @Option(name: .customLong("embed-dim"), help: "Size of each character's vector.") var embedDim = 64
    @Option(name: .customLong("num-heads"), help: "Attention heads per block.") var numHeads = 4
    @Option(name: .customLong("ff-dim"), help: "Hidden size of each block's feed-forward network.") var ffDim = 128
    @Option(help: "Transformer blocks.") var blocks = 2
    @Option(help: "Sampling temperature: below 1 is safer, above 1 is wilder.") var temperature = 0.8
    @Option(help: "Characters to write after training.") var length = 400
    @Option(help: "The text the sample starts from (default: the first line of the text).") var prompt: String?

    func validate() throws {
        for (flag, value) in [("--context", context), ("--stride", stride), ("--embed-dim", embedDim), ("--num-heads", numHeads),
                              ("--ff-dim", ffDim), ("--blocks", blocks)] where value <= 0 {
            throw ValidationError("\(flag) must be positive, got \(value)")
        }
        if samples < 0 || length < 0 { throw ValidationError("--samples and --length must be ≥ 0") }
        if !(temperature > 0 && temperature.isFinite) { throw ValidationError("--temperature must be positive, got \(temperature)") }
    }
}
let options = Options.parseOrExit()
var example = Example("char-transformer", epochs: 8, common: options.common)

// ## The text and its alphabet

let text: String
if let file = options.file {
    guard let contents = try? String(contentsOfFile: file, encoding: .utf8) else {
        Example.fail("cannot read \(file) as UTF-8 text")
    }
    text = contents
} else {
    text = defaultCorpus
}
let characters = Array(text)
let context = options.context
guard characters.count > context + 1 else {
    Example.fail("the text has \(characters.count) characters; it needs more than --context + 1 = \(context + 1)")
}
let alphabet = Array(Set(characters)).sorted()
let index = Dictionary(uniqueKeysWithValues: alphabet.enumerated().map { ($1, $0) })
let ids = characters.map { index[$0]! }
print("\(characters.count) characters, \(alphabet.count) distinct")

// Windows of `context` characters and, for each, the same window one character later.
var starts = Array(stride(from: 0, to: ids.count - context - 1, by: options.stride))
if options.samples > 0 { starts = Array(starts.prefix(options.samples)) }
var xs = [Int32](), ys = [Int32]()
for s in starts {
    xs += ids[s..<(s + context)].map { Int32($0) }
    ys += ids[(s + 1)...(s + context)].map { Int32($0) }
}
let x = Tensor(shape: [starts.count, context], scalars: xs)
let y = Tensor(shape: [starts.count, context], scalars: ys)
print("\(starts.count) training windows of \(context) characters")

// ## The model: token + position embeddings, causal Transformer blocks, a softmax per step

// `TokenAndPositionEmbedding` (a vector per character plus one per position) is the Keras
// example's layer, in Examples/Support/TransformerLayers.swift.

/// A decoder block as in GPT (pre-norm): x + attention(norm(x)) with the causal mask, then
/// x + ffn(norm(x)).
final class CausalBlock: Layer {
    let att: MultiHeadAttention, ffn: Sequential
    let norm1 = LayerNormalization(epsilon: 1e-6), norm2 = LayerNormalization(epsilon: 1e-6)
    let dropout1: Dropout, dropout2: Dropout
    init(embedDim: Int, numHeads: Int, ffDim: Int, rate: Double = 0.1) {
        att = MultiHeadAttention(numHeads: numHeads, keyDim: embedDim / numHeads)
        ffn = Sequential([Dense(ffDim, activation: .gelu), Dense(embedDim)])
        (dropout1, dropout2) = (Dropout(rate), Dropout(rate))
        super.init()
    }
    override var sublayers: [Layer] { [att, ffn, norm1, norm2, dropout1, dropout2] }

    /// Builds the nested layers (their weights exist before `compile`) with one forward pass of zeros.
    override func build(inputShape: [Int]) throws {
        _ = try call(Tensor.zeros([1] + inputShape, dtype: dtype), training: false)
    }
    override func call(_ x: Tensor, training: Bool) throws -> Tensor {
        let h = try norm1(x, training: training)
        let attended = try att(h, h, training: training, useCausalMask: true)
        let x1 = x + (try dropout1(attended, training: training))
        let f = try ffn(norm2(x1, training: training), training: training)
        return x1 + (try dropout2(f, training: training))
    }
}

guard options.embedDim % options.numHeads == 0 else {
    Example.fail("--embed-dim \(options.embedDim) must be a multiple of --num-heads \(options.numHeads)")
}
let inputs = Input(shape: [context], dtype: .int32)
var h = TokenAndPositionEmbedding(maxlen: context, vocabSize: alphabet.count, embedDim: options.embedDim)(inputs)
for _ in 0..<options.blocks {
    h = CausalBlock(embedDim: options.embedDim, numHeads: options.numHeads, ffDim: options.ffDim)(h)
}
h = LayerNormalization(epsilon: 1e-6)(h)
let model = Model(inputs: inputs, outputs: Dense(alphabet.count)(h))   // logits per step
model.compile(optimizer: Adam(learningRate: 3e-3), loss: SparseCategoricalCrossentropy(fromLogits: true))
model.summary()

// The prompt, checked before training: it may only use the text's characters.
let promptText = options.prompt ?? String(characters.prefix { $0 != "\n" }) + "\n"
let promptIDs = promptText.map { c -> Int in
    guard let i = index[c] else { Example.fail("the prompt's character \(c.debugDescription) is not in the text") }
    return i
}
guard !promptIDs.isEmpty else { Example.fail("--prompt must not be empty") }
guard example.epochs > 0 else { Example.fail("--epochs must be at least 1") }

// ## Training, then writing

let firstBatch = FirstBatchLoss()
let history = try model.fit(x, y, epochs: example.epochs, batchSize: 32, verbose: 2, callbacks: [firstBatch])

/// `length` characters after `prompt`: each from the softmax of the last step's logits / temperature.
@MainActor func sample(prompt: [Int], length: Int, temperature: Double, seed: UInt64) throws -> String {
    var rng = RandomGenerator(seed: seed)
    var tokens = prompt
    var written = [Character]()
    for _ in 0..<length {
        // The last `context` characters, padded at the end: the causal mask keeps the padding
        // from reaching the step we read.
        let window = Array(tokens.suffix(context))
        let padded = window.map { Int32($0) } + [Int32](repeating: 0, count: context - window.count)
        let logits = try model.predict(Tensor(shape: [1, context], scalars: padded), batchSize: 1)
            .asArray(Float.self)[((window.count - 1) * alphabet.count)..<(window.count * alphabet.count)]
        let scaled = logits.map { Double($0) / temperature }
        let top = scaled.max()!
        let weights = scaled.map { exp($0 - top) }
        var r = Double(rng.next() >> 11) / Double(1 << 53) * weights.reduce(0, +)
        var next = weights.count - 1
        for (i, w) in weights.enumerated() {
            r -= w
            if r < 0 { next = i; break }
        }
        tokens.append(next)
        written.append(alphabet[next])
    }
    return String(written)
}

let written = try sample(prompt: promptIDs, length: options.length, temperature: options.temperature, seed: example.seed)
print("\n--- sampled at temperature \(options.temperature) ---\n\(promptText)\(written)\n---")
try written.write(to: example.output("sample.txt"), atomically: true, encoding: .utf8)
try history.plot(to: example.output("loss.svg"))

example.record("first_loss", firstBatch.value ?? .nan)
example.record("final_loss", Double(history.history["loss"]!.last!))
example.record("alphabet", alphabet.count)
example.record("windows", starts.count)
example.record("sample_length", written.count)
example.finish(files: ["loss.svg", "sample.txt"])
