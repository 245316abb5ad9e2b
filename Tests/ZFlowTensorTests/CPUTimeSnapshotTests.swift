import Testing
@testable import ZFlowTensor

/// How busy other work kept the machine, from /proc/stat and /proc/self/stat texts.
@Suite struct CPUTimeSnapshotTests {
    static let machine = "cpu  100 5 50 800 20 3 2 20 0 0\ncpu0 50 2 25 400 10 1 1 10 0 0\nintr 1"
    // A command name with spaces and parentheses; utime 30 and stime 7 are fields 14 and 15.
    static let process = "1234 (my (odd) name) R 1 2 3 4 5 6 7 8 9 10 30 7 0 0 20 0 2 0 55"

    @Test func readsTheMachineAndProcessTicks() throws {
        let snapshot = try #require(CPUTimeSnapshot(procStat: Self.machine, selfStat: Self.process))
        #expect(snapshot == CPUTimeSnapshot(machineBusy: 180, machineTotal: 1000, process: 37))
    }

    @Test func othersShareIsTheBusyTimeThatWasNotThisProcess() {
        let start = CPUTimeSnapshot(machineBusy: 180, machineTotal: 1000, process: 37)
        // 100 ticks passed, 80 busy, 20 of them this process's: others used 60%.
        #expect(start.othersShare(until: .init(machineBusy: 260, machineTotal: 1100, process: 57)) == 0.6)
        #expect(start.othersShare(until: .init(machineBusy: 200, machineTotal: 1100, process: 57)) == 0)
        #expect(start.othersShare(until: start) == nil)
    }

    @Test func aWindowOfFewTicksTellsNothing() {
        let start = CPUTimeSnapshot(machineBusy: 180, machineTotal: 1000, process: 37)
        // 2 ticks, both busy, neither yet counted for this process: not "others used 100%".
        #expect(start.othersShare(until: .init(machineBusy: 182, machineTotal: 1002, process: 37)) == nil)
        #expect(start.othersShare(until: .init(machineBusy: 180 + 19, machineTotal: 1000 + 19, process: 37)) == nil)
        #expect(start.othersShare(until: .init(machineBusy: 180 + 20, machineTotal: 1000 + 20, process: 37)) == 1)
    }

    @Test(arguments: [("", process), ("cpu  1 2 3", process), ("cpu  1 2 3 x 5 6 7 8", process),
                      (machine, "1234 (name R 1"), (machine, "1234 (name) R 1 2 3")])
    func malformedTextsGiveNoSnapshot(_ texts: (String, String)) {
        #expect(CPUTimeSnapshot(procStat: texts.0, selfStat: texts.1) == nil)
    }

    @Test func thisMachineCanBeRead() throws {
        let first = try #require(CPUTimeSnapshot.now())
        var sum = 0.0
        for index in 0..<2_000_000 { sum += Double(index).squareRoot() }
        let second = try #require(CPUTimeSnapshot.now())
        #expect(sum > 0 && second.process >= first.process && second.machineTotal >= first.machineTotal)
    }
}
