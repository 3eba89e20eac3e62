import Foundation
import Lamina

// Test helper for AtomicFileTests: rewrites one file forever (or N times) through
// AtomicFile.write, each generation 4 MiB of one repeated byte, so a torn file shows.
//   lamina-atomic-writer PATH [GENERATIONS]

let arguments = CommandLine.arguments
guard arguments.count >= 2 else {
    FileHandle.standardError.write(Data("usage: lamina-atomic-writer PATH [GENERATIONS]\n".utf8))
    exit(2)
}
let url = URL(fileURLWithPath: arguments[1])
let generations = arguments.count > 2 ? Int(arguments[2]) ?? Int.max : Int.max
var generation = 1
while generation <= generations {
    try AtomicFile.write(Data(repeating: UInt8(generation % 251), count: 4 << 20), to: url)
    generation += 1
}
