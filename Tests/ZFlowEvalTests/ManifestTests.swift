import Foundation
import Testing
import ZFlowEval

private let base = URL(fileURLWithPath: "/data/set/manifest.jsonl")

@Test func manifestResolvesPathsAndSkipsBlankLines() throws {
    let text = """
        {"id": "a", "image": "img/a.png", "phrase": "a horse", "mask": "masks/a.png"}

        {"id": "b", "image": "/abs/b.jpg", "phrase": "", "mask": "../b.png"}
        """
    let manifest = try DatasetManifest(text: text, url: base)
    #expect(manifest.samples.map(\.id) == ["a", "b"])
    #expect(manifest.samples.map(\.index) == [0, 1])
    #expect(manifest.samples.map(\.line) == [1, 3])
    #expect(manifest.samples[0].image.path == "/data/set/img/a.png")
    #expect(manifest.samples[1].image.path == "/abs/b.jpg")
    #expect(manifest.samples[1].mask.path == "/data/b.png")
}

@Test(arguments: [
    ("{\"id\": \"a\", \"image\": \"x\", \"phrase\": \"p\"}", 1, 1, "missing \"mask\""),
    ("{\"id\": \"a\", \"image\": 3, \"phrase\": \"p\", \"mask\": \"m\"}", 1, 13, "\"image\" must be a string"),
    ("{\"id\": \"a\", \"image\": \"x\", \"phrase\": \"p\", \"mask\": \"m\"}\n{\"id\": \"a\", \"image\": \"x\", \"phrase\": \"p\", \"mask\": \"m\"}", 2, 1, "duplicate id"),
    ("[1, 2]", 1, 1, "expected a JSON object"),
    ("{\"id\": \"a\", \"image\": \"x\", \"phrase\": \"p\", \"mask\": \"m\"}\n{\"id\": \"b\" \"image\"}", 2, nil, "invalid JSON"),
])
func manifestErrorsPointAtLineAndColumn(text: String, line: Int, column: Int?, message: String) throws {
    let errors = try #require(throws: ManifestErrors.self) { try DatasetManifest(text: text, url: base) }
    #expect(errors.errors.count == 1, "\(errors)")
    let error = try #require(errors.errors.first)
    #expect(error.line == line, "\(error)")
    if let column { #expect(error.column == column, "\(error)") }
    #expect(error.message.contains(message), "\(error)")
    #expect(error.description.hasPrefix("/data/set/manifest.jsonl:\(line):"))
}

@Test func manifestReportsEveryBadLineAtOnce() throws {
    let text = """
        {"id": "a", "image": "a.png", "phrase": "p", "mask": "a-mask.png"}
        {"id": "b", "image": 2, "phrase": "p", "mask": "b-mask.png"}
        {"id": "c", "image": "c.png", "phrase": "p", "mask": "c-mask.png"}
        not json
        {"id": "a", "image": "d.png", "phrase": "p", "mask": "d-mask.png"}
        """
    // The file check sees the files of the lines that parse; "c"'s mask is missing.
    var checked: [String] = []
    let errors = try #require(throws: ManifestErrors.self) {
        try DatasetManifest(text: text, url: base) { field, url in
            checked.append(url.lastPathComponent)
            return url.lastPathComponent == "c-mask.png" ? "no such file or folder: \(url.path)" : nil
        }
    }
    #expect(checked == ["a.png", "a-mask.png", "c.png", "c-mask.png"])
    #expect(errors.errors.map(\.line) == [2, 3, 4, 5])
    #expect(errors.errors[1].description == "/data/set/manifest.jsonl:3:46: mask: no such file or folder: /data/set/c-mask.png")
    #expect(errors.errors[3].message.contains("duplicate id \"a\" (first on line 1)"))
}

@Test func shardsPartitionPositions() throws {
    let shards = try (0..<3).map { try Shard(parsing: "\($0)/3") }
    for position in 0..<10 {
        #expect(shards.filter { $0.contains(position: position) }.count == 1)
    }
    for bad in ["3/3", "-1/2", "1", "a/b", "0/0"] {
        #expect(throws: MetricsError.self) { try Shard(parsing: bad) }
    }
}
