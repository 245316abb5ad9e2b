// swift-tools-version: 6.1
import PackageDescription

// Kernels are compiled optimized even in debug builds: parity tests run real
// model-sized math, and -Onone loops are ~50x slower.
let optimized: [SwiftSetting] = [.unsafeFlags(["-O"])]

let package = Package(
    name: "ZFlow",
    platforms: [.macOS(.v14)],
    products: [
        .executable(name: "zflow", targets: ["zflow"]),
        // Dynamic so that plugins and the zflow host share one copy of ZFlowGraph's types.
        .library(name: "ZFlowGraph", type: .dynamic, targets: ["ZFlowGraph"]),
        .library(name: "ZFlowNodes", targets: ["ZFlowNodes"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.8.2"),
    ],
    targets: [
        // C shims: the only places that see C libraries.
        .systemLibrary(
            name: "CBLAS", pkgConfig: "openblas",
            providers: [.apt(["libopenblas-dev", "pkg-config"])]),
        .target(
            name: "CImageCodecs",
            linkerSettings: [.linkedLibrary("png16"), .linkedLibrary("jpeg")]),

        // Numerics: tensors and ops on BLAS.
        .target(name: "ZFlowTensor", dependencies: ["CBLAS"], swiftSettings: optimized),
        // Outside data: safetensors, PyTorch checkpoints.
        .target(name: "ZFlowIO", dependencies: ["ZFlowTensor"], swiftSettings: optimized),
        // Images: PNG/JPEG codecs, Pillow-exact resampling.
        .target(name: "ZFlowImage", dependencies: ["ZFlowTensor", "CImageCodecs"], swiftSettings: optimized),
        // Stable Diffusion v1 components and LD-ZNet.
        .target(name: "ZFlowModels", dependencies: ["ZFlowTensor", "ZFlowIO"],
                resources: [.copy("CLIP/Resources/clip-merges.txt"), .copy("CLIP/Resources/clip-merges.LICENSE")], swiftSettings: optimized),
        // Evaluation metrics (CLIPSeg protocol), dataset manifests, shards: no graph, no images.
        .target(name: "ZFlowEval", dependencies: ["ZFlowTensor"]),
        // Batch runs of graphs: eval over datasets, sweeps, shards and merges, the HTML report.
        .target(name: "ZFlowBatch", dependencies: ["ZFlowEval", "ZFlowGraph", "ZFlowImage", "ZFlowTensor"]),
        // The graph engine: knows nothing about tensors or models.
        .target(name: "ZFlowGraph", swiftSettings: optimized),
        // Node plugins: the only place models meet the graph.
        .target(name: "ZFlowNodes", dependencies: ["ZFlowGraph", "ZFlowModels", "ZFlowImage", "ZFlowIO", "ZFlowTensor"]),
        .executableTarget(
            name: "zflow",
            dependencies: ["ZFlowGraph", "ZFlowNodes", "ZFlowBatch", "ZFlowEval", "ZFlowIO", "ZFlowTensor",
                           .product(name: "ArgumentParser", package: "swift-argument-parser")],
            // Exports the host's ZFlowGraph symbols so that `--plugin` libraries bind to them.
            linkerSettings: [.unsafeFlags(["-Xlinker", "--export-dynamic"], .when(platforms: [.linux]))]),
        .executableTarget(
            name: "zflow-bench",
            dependencies: ["CBLAS", "ZFlowTensor", "ZFlowModels", "ZFlowIO"], swiftSettings: optimized),

        // Shared test helpers: tolerance assertions and fixture loading.
        .target(name: "ZFlowTestSupport", dependencies: ["ZFlowTensor", "ZFlowIO"], path: "Tests/ZFlowTestSupport"),
        .testTarget(name: "ZFlowTensorTests", dependencies: ["ZFlowTensor", "ZFlowIO", "ZFlowTestSupport"], resources: [.copy("Fixtures")]),
        .testTarget(name: "ZFlowIOTests", dependencies: ["ZFlowIO", "ZFlowTestSupport"], resources: [.copy("Fixtures")]),
        .testTarget(name: "ZFlowImageTests", dependencies: ["ZFlowImage", "ZFlowIO", "ZFlowTestSupport"], resources: [.copy("Fixtures")]),
        .testTarget(name: "ZFlowModelsTests", dependencies: ["ZFlowModels", "ZFlowTestSupport"], resources: [.copy("Fixtures")]),
        .testTarget(name: "ZFlowNodesTests",
                    dependencies: ["ZFlowNodes", "ZFlowGraph", "ZFlowIO", "ZFlowImage", "ZFlowTensor", "ZFlowTestSupport"]),
        .testTarget(name: "ZFlowEvalTests", dependencies: ["ZFlowEval", "ZFlowIO", "ZFlowTestSupport"],
                    resources: [.copy("Fixtures")]),
        .testTarget(name: "ZFlowBatchTests", dependencies: ["ZFlowBatch", "ZFlowEval", "ZFlowGraph", "ZFlowNodes"],
                    resources: [.copy("Fixtures")]),
        .testTarget(name: "ZFlowGraphTests", dependencies: ["ZFlowGraph"], resources: [.copy("Fixtures")]),
        // Runs the built zflow binary: help/catalogue goldens, exit codes, the plugin example.
        .testTarget(name: "ZFlowCLITests", dependencies: ["ZFlowIO"], resources: [.copy("Fixtures")]),
    ]
)
