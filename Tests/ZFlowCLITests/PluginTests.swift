import Foundation
import Testing
import ZFlowIO

/// Builds examples/plugin as a dynamic library (a separate SwiftPM package
/// depending on this one by path) and uses its nodes through the real zflow.
@Suite(.serialized) struct PluginTests {
    static let library: Result<URL, PluginBuildError> = {
        let package = CLI.packageRoot.appendingPathComponent("examples/plugin")
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = ["swift", "build", "--package-path", package.path]
        // swift build prints compiler errors on stdout: keep both for the failure message.
        let output = Pipe()
        process.standardOutput = output
        process.standardError = output
        do {
            try process.run()
        } catch {
            return .failure(PluginBuildError(message: "cannot start swift build: \(error)"))
        }
        let message = String(decoding: output.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        process.waitUntilExit()
        guard process.terminationStatus == 0 else {
            return .failure(PluginBuildError(message: "swift build of examples/plugin failed: \(message)"))
        }
        #if os(macOS)
        let name = "libZFlowExamplePlugin.dylib"
        #else
        let name = "libZFlowExamplePlugin.so"
        #endif
        return .success(package.appendingPathComponent(".build/debug/\(name)"))
    }()

    struct PluginBuildError: Error { var message: String }

    private func plugin() throws -> String { try Self.library.get().path }

    @Test func theCatalogueListsThePluginNodes() throws {
        let summary = try CLI.run(["nodes", "--plugin", try plugin()])
        #expect(summary.status == 0, "\(summary.stderr)")
        expectGolden(summary.stdout, "nodes-plugin.txt")
        let blend = try CLI.run(["nodes", "Blend", "--plugin", try plugin()])
        expectGolden(blend.stdout, "nodes-blend.txt")
    }

    @Test func aGraphUsingPluginNodesRunsAndIsCachedAcrossProcesses() throws {
        let directory = try CLI.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        let graph = CLI.packageRoot.appendingPathComponent("examples/plugin/blend.zflow").path
        let base = ["run", graph, "--plugin", try plugin(), "--cache-dir", "cache", "--events", "json"]

        let first = try CLI.run(base + ["--dump", "fused=fused.txt"], in: directory)
        #expect(first.status == 0, "\(first.stderr)")
        #expect(try String(contentsOf: directory.appendingPathComponent("blend.txt"), encoding: .utf8) == "1.5\n3.0\n3.0\n")
        #expect(try String(contentsOf: directory.appendingPathComponent("fused.txt"), encoding: .utf8) == "[1.5, 3.0, 3.0]\n")
        #expect(statuses(first.stdout) == ["fused": "ran", "WriteScores (line 7)": "ran"])

        let second = try CLI.run(base, in: directory)
        #expect(second.status == 0, "\(second.stderr)")
        #expect(statuses(second.stdout) == ["fused": "disk", "WriteScores (line 7)": "ran"])

        let edited = try CLI.run(base + ["--set", "weight=0.5", "--set", "out=half.txt"], in: directory)
        #expect(statuses(edited.stdout) == ["fused": "ran", "WriteScores (line 7)": "ran"])
        #expect(try String(contentsOf: directory.appendingPathComponent("half.txt"), encoding: .utf8) == "2.0\n4.0\n2.0\n")
    }

    @Test func explainCacheSaysWhatChanged() throws {
        let directory = try CLI.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        let graph = CLI.packageRoot.appendingPathComponent("examples/plugin/blend.zflow").path
        let base = ["run", graph, "--plugin", try plugin(), "--cache-dir", "cache", "--explain-cache", "--quiet"]
        _ = try CLI.run(base, in: directory)
        let output = try CLI.run(base + ["--set", "weight=0.75"], in: directory)
        #expect(output.stderr == """
            cache: fused: miss: argument 'weight' changed (float:0.25 -> float:0.75)
            cache: WriteScores (line 7): miss: WriteScores is not cacheable

            """)
    }

    @Test func badValuesAndFailingNodesHaveMeaningfulExitCodes() throws {
        let directory = try CLI.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        let graph = CLI.packageRoot.appendingPathComponent("examples/plugin/blend.zflow").path
        let outOfRange = try CLI.run(["run", graph, "--plugin", try plugin(), "--no-cache", "--set", "weight=2"], in: directory)
        #expect(outOfRange.status == 3)
        #expect(outOfRange.stderr.contains("error: parameter 'weight' = 2.0 is out of range 0...1 for argument 'weight' of Blend"))
        let unknownParam = try CLI.run(["run", graph, "--plugin", try plugin(), "--no-cache", "--set", "wieght=1"], in: directory)
        #expect(unknownParam.status == 2)
        #expect(unknownParam.stderr.contains("has no parameter 'wieght'; did you mean 'weight'?"))

        try """
            bad = Blend(a: [1.0], b: [1.0, 2.0])
            ok = Blend(a: [1.0], b: [3.0])
            WriteScores(scores: bad, path: "bad.txt")
            WriteScores(scores: ok, path: "ok.txt")
            """.write(to: directory.appendingPathComponent("failing.zflow"), atomically: true, encoding: .utf8)
        let failing = try CLI.run(["run", "failing.zflow", "--plugin", try plugin(), "--no-cache"], in: directory)
        #expect(failing.status == 1)
        #expect(failing.stderr.contains("""
            failing.zflow:1:1: error: node 'bad' (Blend) failed: a has 1 scores but b has 2
            bad = Blend(a: [1.0], b: [1.0, 2.0])
            ^~~
            """))
        #expect(FileManager.default.fileExists(atPath: directory.appendingPathComponent("ok.txt").path))
        #expect(!FileManager.default.fileExists(atPath: directory.appendingPathComponent("bad.txt").path))
    }

    @Test func aPluginNodeComputesOnTheHostsTensors() throws {
        let directory = try CLI.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        let root = CLI.packageRoot
        let graph = root.appendingPathComponent("examples/plugin/ldznet-temperature.zflow").path
        let run = try CLI.run(["run", graph, "--plugin", try plugin(), "--no-cache", "--quiet",
                               "--set", "image=\(root.appendingPathComponent("examples/images/chelsea.png").path)",
                               "--set", "sd=\(root.appendingPathComponent("models/tiny/sd-v1-tiny.safetensors").path)",
                               "--set", "ldznet=\(root.appendingPathComponent("models/tiny/ldznet-tiny.safetensors").path)",
                               "--set", "temperature=2", "--set", "mask_path=mask.png", "--set", "overlay_path=overlay.png",
                               "--dump", "logits=logits.safetensors", "--dump", "tempered=tempered.safetensors"], in: directory)
        #expect(run.status == 0, "\(run.stderr)")
        let logits = try SafeTensorsFile(contentsOf: directory.appendingPathComponent("logits.safetensors")).tensor("logits")
        let tempered = try SafeTensorsFile(contentsOf: directory.appendingPathComponent("tempered.safetensors")).tensor("logits")
        #expect(tempered.shape == logits.shape)
        // Halving is exact in binary floating point.
        #expect(tempered.scalars == logits.scalars.map { $0 / 2 })
        #expect(logits.scalars.contains { $0 != 0 })
        #expect(FileManager.default.fileExists(atPath: directory.appendingPathComponent("mask.png").path))
    }

    /// Node name -> final status, from `--events json` lines.
    private func statuses(_ jsonLines: String) -> [String: String] {
        var result: [String: String] = [:]
        for line in jsonLines.split(separator: "\n") {
            guard let object = try? JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any],
                  let event = object["event"] as? String, event == "finished" || event == "cached",
                  let node = object["node"] as? String, let status = object["status"] as? String else { continue }
            result[node] = status
        }
        return result
    }
}
