// swift-tools-version:6.0
import PackageDescription

let package = Package(
    name: "Lamina",
    platforms: [.macOS(.v15)],
    products: [
        .library(name: "Lamina", targets: ["Lamina"]),
    ],
    targets: [
        // MARK: - Public API
        .target(name: "Lamina", dependencies: ["LaminaCore", "CLaminaZlib"]),
        .target(name: "LaminaCore", dependencies: ["CLaminaBLAS"]),

        // MARK: - Implementation details
        .systemLibrary(
            name: "CLaminaBLAS",
            pkgConfig: "openblas",
            providers: [.apt(["libopenblas-dev", "liblapacke-dev"])]
        ),
        .systemLibrary(name: "CLaminaZlib", pkgConfig: "zlib", providers: [.apt(["zlib1g-dev"])]),

        // MARK: - Examples
        .executableTarget(name: "linear-regression", dependencies: ["Lamina"], path: "Examples/LinearRegression"),

        // MARK: - Benchmarks
        .executableTarget(name: "lamina-bench", dependencies: ["Lamina", "CLaminaBLAS"],
                          path: "Benchmarks/LaminaBench"),

        // MARK: - Tests
        .testTarget(name: "LaminaCoreTests", dependencies: ["LaminaCore"], exclude: ["Fixtures"]),
        .testTarget(name: "LaminaTests", dependencies: ["Lamina"], exclude: ["Fixtures"]),
    ]
)
