import Foundation
import Packing
import Testing
import TokenMillTestSupport

/// ../shared/tokenizers beside the package (as in CI), or $TOKENMILL_SHARED_TOKENIZERS.
private let sharedTokenizers = ProcessInfo.processInfo.environment["TOKENMILL_SHARED_TOKENIZERS"]
    ?? packageRoot.deletingLastPathComponent().appendingPathComponent("shared/tokenizers").path

@Suite struct TokenizeCLITests {
    let dir: URL
    init() throws { dir = try makeTemporaryDirectory("tokenize") }

    @Test(arguments: [("pythia", IndexedDType.uint16), ("olmo2", .int32)])
    func datasetHoldsEncodeIDsPlusEOD(name: String, dtype: IndexedDType) throws {
        let tokenizer = "\(sharedTokenizers)/\(name)/tokenizer.json"
        let texts = ["Hello, world!\n\n  ", "", "数字 123456 and émoji 😀", "don'T stop"]
        let input = texts.map { "{\"text\":\"\($0.replacingOccurrences(of: "\n", with: "\\n"))\"}\n" }.joined()
        let prefix = dir.appendingPathComponent(name).path
        let r = try runTokenmill(["tokenize", "--tokenizer", tokenizer, "-o", prefix], stdin: Data(input.utf8))
        #expect(r.status == 0, "\(r.stderr)")
        #expect(r.stderr.contains("1 empty skipped"))
        let encoded = try runTokenmill(["encode", "--tokenizer", tokenizer], stdin: Data(input.utf8))
        let expected = try encoded.stdoutString.split(separator: "\n").map {
            try JSONSerialization.jsonObject(with: Data($0.utf8)) as! [String: Any]
        }.map { ($0["ids"] as! [Int]).map(Int32.init) }.filter { !$0.isEmpty }
        let dataset = try IndexedDatasetReader(prefix: prefix)
        #expect(dataset.dtype == dtype)
        #expect(dataset.documentCount == 3)
        let eod = Int32(name == "pythia" ? 0 : 100_257)  // <|endoftext|>
        #expect((0 ..< dataset.documentCount).map { dataset.document($0) } == expected.map { $0 + [eod] })
        let manifest = try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: prefix + ".json"))) as! [String: Any]
        #expect((manifest["counts"] as! [String: Int])["documents"] == 3)
        let inspect = try runTokenmill(["inspect", prefix, "--doc", "0", "--tokenizer", tokenizer])
        #expect(inspect.status == 0)
        #expect(inspect.stdoutString.hasSuffix("Hello, world!\n\n  <|endoftext|>\n"))
    }

    @Test func badUsageAndBadDataLeaveNoFiles() throws {
        let tokenizer = "\(sharedTokenizers)/pythia/tokenizer.json"
        let prefix = dir.appendingPathComponent("none").path
        let noEOD = try runTokenmill(["tokenize", "--tokenizer", tokenizer, "--eod-token", "<nope>", "-o", prefix], stdin: Data("{\"text\":\"x\"}\n".utf8))
        #expect(noEOD.status == 64)
        let bad = try runTokenmill(["tokenize", "--tokenizer", tokenizer, "-o", prefix], stdin: Data("{\"text\":\"x\"}\nnot json\n".utf8))
        #expect(bad.status == 1 && bad.stderr.hasPrefix("error: <stdin>:2"))
        #expect(try FileManager.default.contentsOfDirectory(atPath: dir.path).isEmpty)
        let missing = try runTokenmill(["inspect", dir.appendingPathComponent("absent").path])
        #expect(missing.status == 1 && missing.stderr.contains("absent.idx: cannot open"))
    }
}
