import Foundation
import Testing

/// `zflow-bench`'s own argument handling (it is no swift-argument-parser command): help on stdout with
/// exit 0, a usage error for what no suite takes, never a benchmark started by a mistyped option.
@Suite struct BenchHelpTests {
    static let bench = CLI.executable.deletingLastPathComponent().appendingPathComponent("zflow-bench")

    @Test func helpListsTheSuitesAndEachSuiteItsOptions() throws {
        let tool = try CLI.run(["--help"], executable: Self.bench)
        #expect(tool.status == 0, "\(tool.stderr)")
        #expect(tool.stdout.contains("<clip|models|ops|pipeline|splits|train-step>"), "\(tool.stdout)")
        for (suite, option) in [("ops", "--only TEXT"), ("train-step", "--trainable all|fusion"), ("models", "--weights DIR"),
                                ("clip", "--prompts"), ("pipeline", "--cold"), ("splits", "--splits N")] {
            let help = try CLI.run([suite, "--help"], executable: Self.bench)
            #expect(help.status == 0, "\(suite): \(help.stderr)")
            #expect(help.stdout.contains("usage: zflow-bench \(suite)") && help.stdout.contains(option), "\(suite): \(help.stdout)")
        }
    }

    @Test(arguments: [["ops", "--run", "5"], ["ops", "--runs", "0"], ["ops", "--only"], ["ops", "--only", "no such shape"],
                      ["splits", "--rounds", "0"], ["splits", "--splits", "x"], ["splits", "--runs", "3"]])
    func suitesRefuseWhatTheyDoNotTake(arguments: [String]) throws {
        let output = try CLI.run(arguments, executable: Self.bench)
        #expect(output.status == 2, "\(arguments): \(output.stdout) \(output.stderr)")
        #expect(output.stderr.contains("usage: zflow-bench \(arguments[0])"), "\(output.stderr)")
    }
}
