// swift-tools-version:6.0
import PackageDescription

let package = Package(
    name: "Lamina",
    platforms: [.macOS(.v15)],
    products: [
        .library(name: "Lamina", targets: ["Lamina"]),
        // Reads Keras 3 `.keras` files; separate so that `import Lamina` needs no HDF5.
        .library(name: "LaminaKeras", targets: ["LaminaKeras"]),
        // Data: datasets and the input pipeline, memory-mapped .npy, image folders (PNG through
        // libpng, JPEG through libjpeg-turbo), MNIST, CSV and NumPy files.
        .library(name: "LaminaData", targets: ["LaminaData"]),
        .library(name: "LaminaDistributed", targets: ["LaminaDistributed"]),
        // SVG plots and PNG image grids (training curves, confusion matrices, samples).
        .library(name: "LaminaPlot", targets: ["LaminaPlot"]),
        // Serves models over HTTP (TensorFlow Serving's REST protocol) on Hummingbird; separate
        // so that `import Lamina` needs no server stack.
        .library(name: "LaminaServe", targets: ["LaminaServe"]),
        // TensorFlow Serving's gRPC API (PredictionService, ModelService): the services on grpc-swift 2, served
        // straight from swift-nio-http2's frames; separate
        // so that `import LaminaServe` needs no gRPC stack.
        .library(name: "LaminaServeGRPC", targets: ["LaminaServeGRPC"]),
        .executable(name: "lamina-serve", targets: ["lamina-serve"]),
    ],
    dependencies: [
        .package(url: "https://github.com/weichsel/ZIPFoundation", .upToNextMinor(from: "0.9.20")),
        .package(url: "https://github.com/hummingbird-project/hummingbird", from: "2.28.1"),
        .package(url: "https://github.com/swift-server/swift-service-lifecycle", from: "2.13.0"),
        .package(url: "https://github.com/apple/swift-log", from: "1.16.2"),
        .package(url: "https://github.com/swift-server/swift-prometheus", from: "2.4.1"),
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.8.2"),
        .package(url: "https://github.com/grpc/grpc-swift-2", from: "2.4.3"),
        .package(url: "https://github.com/grpc/grpc-swift-nio-transport", from: "2.9.2"),
        .package(url: "https://github.com/grpc/grpc-swift-protobuf", from: "2.4.1"),
        .package(url: "https://github.com/apple/swift-protobuf", from: "1.39.0"),
        .package(url: "https://github.com/apple/swift-nio", from: "2.101.3"),
        .package(url: "https://github.com/apple/swift-nio-http2", from: "1.46.0"),
        // `swift package generate-documentation --target Lamina` builds the DocC catalog.
        .package(url: "https://github.com/swiftlang/swift-docc-plugin", from: "1.5.0"),
    ],
    targets: [
        // MARK: - Public API
        .target(name: "Lamina", dependencies: ["LaminaCore", "CLaminaZlib", .product(name: "Logging", package: "swift-log")]),
        .target(name: "LaminaCore", dependencies: ["CLaminaBLAS", "CLaminaKernels"]),
        .target(name: "LaminaKeras", dependencies: ["Lamina", "LaminaZip", "CLaminaHDF5", .product(name: "ZIPFoundation", package: "ZIPFoundation")]),
        .target(name: "LaminaZip", dependencies: ["Lamina", .product(name: "ZIPFoundation", package: "ZIPFoundation")]),
        .target(name: "LaminaData", dependencies: ["Lamina", "LaminaZip", "CLaminaZlib", "CLaminaPNG", "CLaminaTurboJPEG"]),
        .target(name: "LaminaPlot", dependencies: ["Lamina"]),
        .target(name: "LaminaServe", dependencies: [
            "Lamina",
            .product(name: "Hummingbird", package: "hummingbird"),
            .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            .product(name: "Logging", package: "swift-log"),
            .product(name: "Prometheus", package: "swift-prometheus"),
        ]),
        // The Swift code in Sources/LaminaServeGRPC/Generated is made from Protos/ by
        // Protos/generate.sh (protoc and the plugins are needed only to change it, not to build).
        .target(name: "LaminaServeGRPC", dependencies: [
            "LaminaServe", "Lamina",
            .product(name: "GRPCCore", package: "grpc-swift-2"),
            .product(name: "GRPCNIOTransportHTTP2Posix", package: "grpc-swift-nio-transport"),
            .product(name: "GRPCProtobuf", package: "grpc-swift-protobuf"),
            .product(name: "SwiftProtobuf", package: "swift-protobuf"),
            .product(name: "NIOCore", package: "swift-nio"),
            .product(name: "NIOPosix", package: "swift-nio"),
            .product(name: "NIOHTTP2", package: "swift-nio-http2"),
            .product(name: "NIOHPACK", package: "swift-nio-http2"),
            .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            .product(name: "Logging", package: "swift-log"),
        ]),
        .executableTarget(name: "lamina-serve", dependencies: [
            "LaminaServe", "LaminaServeGRPC", "LaminaKeras", .product(name: "ArgumentParser", package: "swift-argument-parser"),
        ], path: "Sources/LaminaServeCLI"),

        // MARK: - Implementation details
        // Float32 and float64 kernels from one source, compiled per SIMD level (portable, AVX2, AVX-512) with clang's target
        // attribute and chosen at run time; also CPUID and OpenBLAS's kernel-set switch.
        .target(name: "CLaminaKernels", linkerSettings: [.linkedLibrary("dl", .when(platforms: [.linux]))]),
        .systemLibrary(
            name: "CLaminaBLAS",
            pkgConfig: "openblas",
            providers: [.apt(["libopenblas-dev"]), .brew(["openblas"]), .yum(["openblas-devel"])]
        ),
        .systemLibrary(name: "CLaminaZlib", pkgConfig: "zlib", providers: [.apt(["zlib1g-dev"]), .brew(["zlib"]), .yum(["zlib-devel"])]),
        .systemLibrary(name: "CLaminaHDF5", pkgConfig: "hdf5", providers: [.apt(["libhdf5-dev"]), .brew(["hdf5"]), .yum(["hdf5-devel"])]),
        .target(name: "LaminaDistributed", dependencies: ["Lamina", "CLaminaMPI"]),
        .systemLibrary(name: "CLaminaMPI", pkgConfig: "ompi-c", providers: [.apt(["libopenmpi-dev", "openmpi-bin"]), .brew(["open-mpi"]), .yum(["openmpi-devel"])]),
        .systemLibrary(name: "CLaminaPNG", pkgConfig: "libpng", providers: [.apt(["libpng-dev"]), .brew(["libpng"]), .yum(["libpng-devel"])]),
        .systemLibrary(name: "CLaminaTurboJPEG", pkgConfig: "libturbojpeg", providers: [.apt(["libturbojpeg0-dev"]), .brew(["jpeg-turbo"]), .yum(["turbojpeg-devel"])]),

        // MARK: - Examples
        .target(name: "ExampleSupport", dependencies: ["Lamina", "LaminaData", "LaminaPlot", .product(name: "ArgumentParser", package: "swift-argument-parser")],
                path: "Examples/Support"),
        .executableTarget(name: "linear-regression", dependencies: ["ExampleSupport"], path: "Examples/LinearRegression"),
        .executableTarget(name: "logistic-regression", dependencies: ["ExampleSupport"], path: "Examples/LogisticRegression"),
        .executableTarget(name: "mnist-cnn", dependencies: ["ExampleSupport", "LaminaDistributed"], path: "Examples/MNISTCNN"),
        .executableTarget(name: "rnn", dependencies: ["ExampleSupport"], path: "Examples/RNN"),
        .executableTarget(name: "gan", dependencies: ["ExampleSupport"], path: "Examples/GAN"),
        .executableTarget(name: "resnet", dependencies: ["ExampleSupport"], path: "Examples/ResNet"),
        .executableTarget(name: "transformer-text", dependencies: ["ExampleSupport"], path: "Examples/TransformerText"),
        .executableTarget(name: "char-transformer", dependencies: ["ExampleSupport"], path: "Examples/CharTransformer"),

        // MARK: - Benchmarks
        .executableTarget(name: "lamina-bench", dependencies: ["ExampleSupport", "Lamina", "LaminaData", "LaminaDistributed", "CLaminaBLAS", .product(name: "ArgumentParser", package: "swift-argument-parser")],
                          path: "Benchmarks/LaminaBench"),
        // A gRPC load generator for serve_bench.sh (TF Serving's Predict, many calls in flight).
        .executableTarget(name: "lamina-grpc-load", dependencies: [
            "LaminaServeGRPC", .product(name: "GRPCCore", package: "grpc-swift-2"),
            .product(name: "GRPCNIOTransportHTTP2Posix", package: "grpc-swift-nio-transport"),
            .product(name: "SwiftProtobuf", package: "swift-protobuf"),
        ], path: "Benchmarks/GRPCLoad"),

        // MARK: - Tests
        .executableTarget(name: "lamina-backend-check", dependencies: ["LaminaCore"], path: "Tests/Helpers/BackendCheck"),
        .executableTarget(name: "lamina-atomic-writer", dependencies: ["Lamina"], path: "Tests/Helpers/AtomicWriter"),
        .executableTarget(name: "lamina-mpi-helper", dependencies: ["Lamina", "LaminaData", "LaminaDistributed"], path: "Tests/Helpers/MPIHelper"),
        // Shared by the test targets: `expectClose` with explicit tolerances, gradient checks,
        // naive references, fixtures, seeded random values. Not in any product.
        .target(name: "LaminaTestSupport", dependencies: ["Lamina"], path: "Tests/LaminaTestSupport"),
        .testTarget(name: "LaminaCoreTests", dependencies: ["LaminaCore", "CLaminaKernels", "LaminaTestSupport"], exclude: ["Fixtures"]),
        .testTarget(name: "LaminaTests", dependencies: ["Lamina", "LaminaData", "LaminaTestSupport"], exclude: ["Fixtures"]),
        .testTarget(name: "LaminaKerasTests", dependencies: ["LaminaKeras", "LaminaData", "LaminaTestSupport"], exclude: ["Fixtures"]),
        // Shared by the two serving test targets: the graceful-shutdown probe.
        .target(name: "LaminaServeTestSupport", dependencies: ["LaminaServe", "Lamina"], path: "Tests/LaminaServeTestSupport"),
        .testTarget(name: "LaminaServeTests", dependencies: ["LaminaServe", "LaminaServeTestSupport"]),
        .testTarget(name: "LaminaServeGRPCTests", dependencies: [
            "LaminaServeGRPC", "LaminaServe", "Lamina", "LaminaServeTestSupport",
            .product(name: "GRPCCore", package: "grpc-swift-2"),
            .product(name: "GRPCNIOTransportHTTP2Posix", package: "grpc-swift-nio-transport"),
            .product(name: "SwiftProtobuf", package: "swift-protobuf"),
            .product(name: "NIOCore", package: "swift-nio"),
            .product(name: "NIOEmbedded", package: "swift-nio"),
            .product(name: "NIOPosix", package: "swift-nio"),
            .product(name: "NIOHTTP2", package: "swift-nio-http2"),
            .product(name: "NIOHPACK", package: "swift-nio-http2"),
            .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            .product(name: "Logging", package: "swift-log"),
        ], exclude: ["Python"]),
        .testTarget(name: "LaminaDataTests", dependencies: ["LaminaData", "LaminaTestSupport"], exclude: ["Fixtures"]),
        .testTarget(name: "LaminaDistributedTests", dependencies: ["LaminaDistributed", "LaminaTestSupport"]),
        .testTarget(name: "LaminaPlotTests", dependencies: ["LaminaPlot", "LaminaTestSupport"]),
    ]
)
