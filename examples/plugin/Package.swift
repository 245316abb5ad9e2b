// swift-tools-version: 6.1
import PackageDescription

// An outside node package built as a dynamic library and loaded at run time:
//   swift build --package-path examples/plugin
//   zflow run examples/plugin/blend.zflow --plugin examples/plugin/.build/debug/libZFlowExamplePlugin.so
// It links the *dynamic* ZFlowGraph, ZFlowTensor and ZFlowModels products, so that inside the
// zflow process it uses the host's types and registries (see docs/cli.md, "Plugins"), e.g. its
// `film` fusion goes into the host's FusionRegistry.shared (docs/plugins.md).
let package = Package(
    name: "ZFlowExamplePlugin",
    platforms: [.macOS(.v14)],
    products: [
        .library(name: "ZFlowExamplePlugin", type: .dynamic, targets: ["ZFlowExamplePlugin"]),
    ],
    dependencies: [
        .package(name: "ZFlow", path: "../.."),
    ],
    targets: [
        .target(name: "ZFlowExamplePlugin", dependencies: [.product(name: "ZFlowGraph", package: "ZFlow"),
                                                            .product(name: "ZFlowTensor", package: "ZFlow"),
                                                            .product(name: "ZFlowModels", package: "ZFlow")]),
    ]
)
