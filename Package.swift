// swift-tools-version: 6.0
// PEFTKit: parameter-efficient fine-tuning of pretrained transformers, native on Linux.
// No outside Swift packages; system C libraries come from Debian (see README / Makefile).
import PackageDescription

// MARK: - System libraries (each lives inside the domain that uses it)

let systemLibraries: [Target] = [
    .systemLibrary(
        name: "COpenBLAS", path: "Sources/Core/System/COpenBLAS", pkgConfig: "openblas",
        providers: [.apt(["libopenblas-dev"])]),
    .systemLibrary(
        name: "CPNG", path: "Sources/Vision/System/CPNG", pkgConfig: "libpng",
        providers: [.apt(["libpng-dev"])]),
    .systemLibrary(
        name: "CJPEG", path: "Sources/Vision/System/CJPEG", pkgConfig: "libturbojpeg",
        providers: [.apt(["libturbojpeg0-dev"])]),
    .systemLibrary(
        name: "CSndFile", path: "Sources/Audio/System/CSndFile", pkgConfig: "sndfile",
        providers: [.apt(["libsndfile1-dev"])]),
    .systemLibrary(
        name: "CEspeakNG", path: "Sources/Audio/System/CEspeakNG", pkgConfig: "espeak-ng",
        providers: [.apt(["libespeak-ng-dev"])]),
]

// MARK: - Libraries

let libraries: [Target] = [
    .target(name: "Core", dependencies: ["COpenBLAS"], path: "Sources/Core", exclude: ["System"]),
    .target(name: "Vision", dependencies: ["Core", "Text", "CPNG", "CJPEG"], path: "Sources/Vision", exclude: ["System"]),
    .target(name: "Audio", dependencies: ["Core", "CSndFile", "CEspeakNG"], path: "Sources/Audio", exclude: ["System"]),
    .target(name: "Text", dependencies: ["Core"], path: "Sources/Text"),
    .target(name: "Graph", dependencies: ["Core"], path: "Sources/Graph"),
    .target(
        name: "AppSupport", dependencies: ["Core", "Vision", "Audio", "Text", "Graph"],
        path: "Sources/Apps/AppSupport"),
]

// MARK: - Executables (each main.swift only forwards its arguments to an AppSupport command)

let appNames = [
    "peftkit-demo",
    "peftkit-bench",
    "peft-inspect",
    "ner-tune",
    "avsr-tune",
    "kg-query",
    "audio-adapt",
    "vision-adapt",
    "deepfake-detect",
    "face-adapt",
    "change-detect",
]
let executables: [Target] = appNames.map {
    .executableTarget(name: $0, dependencies: ["AppSupport"], path: "Sources/Apps/\($0)")
}

// MARK: - Tests

let tests: [Target] = [
    .target(name: "TestSupport", dependencies: ["Core"], path: "Tests/TestSupport"),
    .testTarget(name: "CoreTests", dependencies: ["Core", "TestSupport"], path: "Tests/CoreTests"),
    .testTarget(name: "VisionTests", dependencies: ["Vision", "Text", "TestSupport"], path: "Tests/VisionTests", exclude: ["Resources"]),
    .testTarget(name: "AudioTests", dependencies: ["Audio", "TestSupport"], path: "Tests/AudioTests"),
    .testTarget(name: "TextTests", dependencies: ["Text", "TestSupport"], path: "Tests/TextTests"),
    .testTarget(name: "GraphTests", dependencies: ["Graph", "TestSupport"], path: "Tests/GraphTests"),
    .testTarget(name: "AppsTests", dependencies: ["AppSupport", "Core", "TestSupport"], path: "Tests/AppsTests"),
]

let package = Package(
    name: "PEFTKit",
    products: appNames.map { .executable(name: $0, targets: [$0]) },
    targets: systemLibraries + libraries + executables + tests
)
