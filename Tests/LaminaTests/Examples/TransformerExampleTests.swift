import Foundation
import Testing
import LaminaTestSupport
@testable import Lamina

/// The two Transformer examples run with tiny settings (debug build, a few seconds each).
@Suite(.serialized) struct TransformerExampleTests {
    let runner = ExampleRunTests()

    /// Trains on the shipped Sonnets and on a text given as a file; the sample uses only the
    /// text's characters, and the loss fell.
    @Test func charTransformerTrainsAndSamples() throws {
        let tiny = ["--context", "32", "--embed-dim", "32", "--num-heads", "2", "--ff-dim", "32", "--blocks", "1", "--length", "40"]
        let r = try runner.run("char-transformer", ["--epochs", "2", "--samples", "128"] + tiny)
        #expect(r.number("final_loss") < r.number("first_loss"))
        #expect(r.number("windows") == 128 && r.number("sample_length") == 40)
        #expect(r.output.contains("--- sampled at temperature 0.8 ---"))
        let sonnetLetters = Set(defaultSonnetsForTest)
        let sample = try String(contentsOf: r.folder.appendingPathComponent("sample.txt"), encoding: .utf8)
        #expect(sample.count == 40 && sample.allSatisfy { sonnetLetters.contains($0) })

        let file = temporaryDirectory().appendingPathComponent("abc.txt")
        try String(repeating: "abc cab. ", count: 40).write(to: file, atomically: true, encoding: .utf8)
        let own = try runner.run("char-transformer", [file.path, "--epochs", "1", "--prompt", "ab"] + tiny)
        #expect(own.number("alphabet") == 5)
        let written = try String(contentsOf: own.folder.appendingPathComponent("sample.txt"), encoding: .utf8)
        #expect(written.count == 40 && written.allSatisfy { "abc .".contains($0) })
    }

    @Test func charTransformerRejectsBadArguments() throws {
        let cold = try runner.launch("char-transformer", ["--temperature", "0"])
        #expect(cold.status == 64 && cold.output.contains("--temperature must be positive"), "\(cold)")
        let short = temporaryDirectory().appendingPathComponent("short.txt")
        try "tiny".write(to: short, atomically: true, encoding: .utf8)
        let tooShort = try runner.launch("char-transformer", [short.path, "--out", temporaryDirectory().path])
        #expect(tooShort.status == 1 && tooShort.output.contains("needs more than --context + 1 = 65"), "\(tooShort)")
        let prompt = try runner.launch("char-transformer", ["--prompt", "€", "--out", temporaryDirectory().path])
        #expect(prompt.status == 1 && prompt.output.contains("the prompt's character \"€\" is not in the text"), "\(prompt)")
    }

    /// The Keras example's model (embed 32, 2 heads of key_dim 32, ff 32) on synthetic reviews:
    /// Keras's parameter count for that model, and a finished epoch with validation.
    @Test func transformerTextTrainsOnSyntheticReviews() throws {
        let r = try runner.run("transformer-text", ["--synthetic", "--samples", "64", "--epochs", "1"])
        // token 20000·32 + position 200·32, MHA 3·(32·2·32 + 2·32) + (2·32·32 + 32),
        // FFN 32·32+32 + 32·32+32, two LayerNorms 4·32, Dense(20) 32·20+20, Dense(2) 20·2+2
        #expect(r.number("parameters") == 657_758)
        #expect(r.output.contains("Total params: 657,758"))
        #expect(r.number("final_loss").isFinite && (0...1).contains(r.number("test_accuracy")))
        #expect(r.output.contains("64 Training sequences") && r.output.contains("val_accuracy"))
    }

    /// Without IMDB's file (and downloads off) the example says where to put it.
    @Test(.enabled(if: !imdbPresent, "imdb.npz is present here")) func transformerTextSaysWhereIMDBGoes() throws {
        let missing = try runner.launch("transformer-text", ["--no-download", "--data", temporaryDirectory().path,
                                                             "--out", temporaryDirectory().path])
        #expect(missing.status == 1, "\(missing)")
        #expect(missing.output.contains("imdb.npz") && missing.output.contains("--synthetic") && missing.output.contains("--data FOLDER"))
    }
}

private let imdbPresent: Bool = {
    var folders = [FileManager.default.homeDirectoryForCurrentUser.appendingPathComponent(".keras/datasets").path,
                   FileManager.default.homeDirectoryForCurrentUser.appendingPathComponent(".cache/lamina/imdb").path]
    if let data = ProcessInfo.processInfo.environment["LAMINA_DATA"] { folders += [data, data + "/imdb"] }
    return folders.contains { FileManager.default.fileExists(atPath: $0 + "/imdb.npz") }
}()

/// The example's default corpus, read from its source file (every character a sample may use).
private let defaultSonnetsForTest: String = {
    let url = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
        .appendingPathComponent("../../../Examples/CharTransformer/Corpus.swift").standardized
    return (try? String(contentsOf: url, encoding: .utf8)) ?? ""
}()
